#include "doc/generate.hpp"

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "cmd/output.hpp"
#include "doc/model.hpp"
#include "doc/render.hpp"
#include "parley/version.hpp"

namespace parley::doc {
namespace {

using cmd::say;

constexpr int kFailed = 1;
constexpr int kUsage = 2;

// The pages' date: SOURCE_DATE_EPOCH when set (reproducible builds), otherwise today.
std::string page_date() {
  std::time_t t = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) t = std::strtoll(epoch, nullptr, 10);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) {
    say("--generate: cannot write {}", path.string());
    return false;
  }
  return true;
}

bool write_man(const CommandDoc& root, const std::filesystem::path& dir) {
  const std::string date = page_date();
  if (!write_file(dir / "parley.1", man_page(root, nullptr, kVersion, date))) return false;
  for (const auto& c : root.commands) {
    if (is_meta_command(c)) continue;
    if (!write_file(dir / ("parley-" + c.name + ".1"), man_page(root, &c, kVersion, date)))
      return false;
  }
  return true;
}

std::string completion(const CommandDoc& root, const std::string& shell) {
  if (shell == "bash") return bash_completion(root);
  if (shell == "zsh") return zsh_completion(root);
  if (shell == "fish") return fish_completion(root);
  return {};
}

bool documented(const CommandDoc& root) {
  auto missing = undocumented(root);
  for (const auto& m : missing)
    say("--generate: {} has no description (the description is its documentation)", m);
  return missing.empty();
}

}  // namespace

int generate(const CLI::App& app, const std::vector<std::string>& args) {
  const CommandDoc root = describe(app);
  const std::string what = args.empty() ? "" : args[0];
  if (what == "flags" && args.size() == 1) {
    cmd::out_text(flag_table(root));
    return cmd::finish_output(0);
  }
  if (what == "check" && args.size() == 1) return documented(root) ? 0 : kFailed;
  if (what == "man" && args.size() == 2) {
    if (!documented(root)) return kFailed;
    return write_man(root, args[1]) ? 0 : kFailed;
  }
  if (what == "completion" && args.size() == 2 && !completion(root, args[1]).empty()) {
    if (!documented(root)) return kFailed;
    cmd::out_text(completion(root, args[1]));
    return cmd::finish_output(0);
  }
  if (what == "tree" && args.size() == 2) {
    if (!documented(root)) return kFailed;
    const std::filesystem::path dir = args[1];
    bool ok =
        write_man(root, dir / "man" / "man1") &&
        write_file(dir / "bash-completion" / "completions" / "parley", bash_completion(root)) &&
        write_file(dir / "zsh" / "vendor-completions" / "_parley", zsh_completion(root)) &&
        write_file(dir / "fish" / "vendor_completions.d" / "parley.fish", fish_completion(root));
    return ok ? 0 : kFailed;
  }
  say("--generate: use man DIR, completion bash|zsh|fish, tree DIR, check or flags");
  return kUsage;
}

}  // namespace parley::doc
