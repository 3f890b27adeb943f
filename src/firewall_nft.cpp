// Reading the ruleset: libnftables in a dry-run context (so even a mistaken command could not be
// committed), asked only "list ruleset", once as JSON for the evaluator and once as text for
// showing rules the way `nft list ruleset` does.

#include <linux/capability.h>
#include <nftables/libnftables.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>

#include "firewall_internal.hpp"
#include "parley/firewall.hpp"

namespace parley {
namespace {

struct CtxFree {
  void operator()(nft_ctx* c) const { nft_ctx_free(c); }
};

Result<std::string> list_ruleset(nft_ctx* ctx, unsigned flags) {
  nft_ctx_output_set_flags(ctx, flags);
  if (nft_run_cmd_from_buffer(ctx, "list ruleset") != 0) {
    std::string why = nft_ctx_get_error_buffer(ctx);
    if (why.find("Operation not permitted") != std::string::npos)
      return std::make_error_code(std::errc::operation_not_permitted);
    if (why.find("Protocol not supported") != std::string::npos)
      return std::make_error_code(std::errc::protocol_not_supported);
    return std::make_error_code(std::errc::io_error);
  }
  const char* out = nft_ctx_get_output_buffer(ctx);
  return std::string(out == nullptr ? "" : out);
}

// Listing the ruleset needs CAP_NET_ADMIN. Asked first, because libnftables prints its own
// "you must be root" line on stderr when it finds out by itself.
bool may_read_ruleset() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (::syscall(SYS_capget, &header, data) != 0) return true;  // Let libnftables find out.
  return (data[0].effective & (1u << CAP_NET_ADMIN)) != 0;
}

bool legacy_tables_exist() {
  std::ifstream in("/proc/net/ip_tables_names");
  std::string name;
  return static_cast<bool>(in >> name);
}

}  // namespace

namespace firewall_detail {

std::map<std::string, std::string> index_rule_texts(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line, family, table, chain;
  while (std::getline(in, line)) {
    auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    line = line.substr(first);
    std::istringstream words(line);
    std::string word;
    words >> word;
    if (word == "table") {
      words >> family >> table;
      continue;
    }
    if (word == "chain") {
      words >> chain;
      continue;
    }
    auto mark = line.rfind(" # handle ");
    if (mark == std::string::npos || word == "set" || word == "map" || word == "flowtable" ||
        word == "#")
      continue;
    unsigned long long handle = std::strtoull(line.c_str() + mark + 10, nullptr, 10);
    out[rule_key(family, table, chain, handle)] = line.substr(0, mark);
  }
  return out;
}

}  // namespace firewall_detail

RulesetReader live_ruleset() {
  return []() -> Result<Ruleset> {
    if (!may_read_ruleset()) return std::make_error_code(std::errc::operation_not_permitted);
    std::unique_ptr<nft_ctx, CtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
    if (!ctx) return std::make_error_code(std::errc::not_enough_memory);
    nft_ctx_set_dry_run(ctx.get(), true);  // Read-only, whatever the command.
    nft_ctx_buffer_output(ctx.get());
    nft_ctx_buffer_error(ctx.get());
    Ruleset r;
    auto json = list_ruleset(ctx.get(), NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_STATELESS);
    if (!json) return json.error();
    r.json = std::move(*json);
    auto text = list_ruleset(ctx.get(), NFT_CTX_OUTPUT_HANDLE | NFT_CTX_OUTPUT_STATELESS);
    if (!text) return text.error();
    r.text = std::move(*text);
    r.legacy_iptables = legacy_tables_exist();
    return r;
  };
}

}  // namespace parley
