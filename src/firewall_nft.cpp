// Reading the ruleset: libnftables in a dry-run context (so even a mistaken command could not be
// committed), asked only "list ruleset", once as JSON for the evaluator and once as text for
// showing rules the way `nft list ruleset` does.
//
// libnftables is loaded (dlopen) the first time a ruleset is read, not linked: linked, it and
// its five dependencies were loaded at every start of every parley command, ~0.6 MB of resident
// memory and ~0.5 ms each time (bench/conns.sh), for the one command that reads a firewall.

#include <dlfcn.h>
#include <linux/capability.h>
#include <nftables/libnftables.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <sstream>
#include <type_traits>

#include "firewall_internal.hpp"
#include "parley/firewall.hpp"

namespace parley {
namespace {

// The libnftables functions used here, looked up once; null when the library is not there.
struct Nft {
  decltype(&nft_ctx_new) ctx_new;
  decltype(&nft_ctx_free) ctx_free;
  decltype(&nft_ctx_set_dry_run) set_dry_run;
  decltype(&nft_ctx_buffer_output) buffer_output;
  decltype(&nft_ctx_buffer_error) buffer_error;
  decltype(&nft_ctx_output_set_flags) output_set_flags;
  decltype(&nft_run_cmd_from_buffer) run_cmd_from_buffer;
  decltype(&nft_ctx_get_output_buffer) get_output_buffer;
  decltype(&nft_ctx_get_error_buffer) get_error_buffer;
};

const Nft* nft() {
  static const Nft* loaded = []() -> const Nft* {
    void* lib = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) return nullptr;
    static Nft n;
    auto sym = [lib](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      return fn != nullptr;
    };
    bool ok = sym(n.ctx_new, "nft_ctx_new") && sym(n.ctx_free, "nft_ctx_free") &&
              sym(n.set_dry_run, "nft_ctx_set_dry_run") &&
              sym(n.buffer_output, "nft_ctx_buffer_output") &&
              sym(n.buffer_error, "nft_ctx_buffer_error") &&
              sym(n.output_set_flags, "nft_ctx_output_set_flags") &&
              sym(n.run_cmd_from_buffer, "nft_run_cmd_from_buffer") &&
              sym(n.get_output_buffer, "nft_ctx_get_output_buffer") &&
              sym(n.get_error_buffer, "nft_ctx_get_error_buffer");
    return ok ? &n : nullptr;
  }();
  return loaded;
}

struct CtxFree {
  void operator()(nft_ctx* c) const { nft()->ctx_free(c); }
};

Result<std::string> list_ruleset(nft_ctx* ctx, unsigned flags) {
  nft()->output_set_flags(ctx, flags);
  if (nft()->run_cmd_from_buffer(ctx, "list ruleset") != 0) {
    std::string why = nft()->get_error_buffer(ctx);
    if (why.find("Operation not permitted") != std::string::npos)
      return std::make_error_code(std::errc::operation_not_permitted);
    if (why.find("Protocol not supported") != std::string::npos)
      return std::make_error_code(std::errc::protocol_not_supported);
    return std::make_error_code(std::errc::io_error);
  }
  const char* out = nft()->get_output_buffer(ctx);
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
    if (nft() == nullptr) return std::error_code(ELIBACC, std::system_category());
    std::unique_ptr<nft_ctx, CtxFree> ctx(nft()->ctx_new(NFT_CTX_DEFAULT));
    if (!ctx) return std::make_error_code(std::errc::not_enough_memory);
    nft()->set_dry_run(ctx.get(), true);  // Read-only, whatever the command.
    nft()->buffer_output(ctx.get());
    nft()->buffer_error(ctx.get());
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
