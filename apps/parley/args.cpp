#include "args.hpp"

#include <algorithm>
#include <cctype>

namespace parley {
namespace {

// "-l", "-lvk", "-vl": a group of single-letter flags that contains l.
bool is_listen_flag(const std::string& a) {
  if (a.size() < 2 || a[0] != '-' || a[1] == '-') return false;
  if (!std::all_of(a.begin() + 1, a.end(), [](unsigned char c) { return std::isalpha(c); }))
    return false;
  return a.find('l') != std::string::npos;
}

bool looks_like_word(const std::string& a) {
  return !a.empty() && std::all_of(a.begin(), a.end(), [](unsigned char c) {
    return std::islower(c) || c == '-';
  }) && a[0] != '-';
}

}  // namespace

std::vector<std::string> normalize_args(std::vector<std::string> args,
                                        const std::vector<std::string>& known,
                                        std::string* unknown) {
  if (args.empty()) return args;
  const std::string& first = args.front();
  if (std::find(known.begin(), known.end(), first) != known.end()) return args;
  if (first == "-h" || first == "--help" || first == "--version" || first == "-V") return args;
  bool listen = std::any_of(args.begin(), args.end(), is_listen_flag);
  // "parley frobnicate" (one lower-case word and nothing else) is a typo, not a host name.
  std::size_t positionals = std::count_if(
      args.begin(), args.end(), [](const std::string& a) { return a.empty() || a[0] != '-'; });
  if (!listen && positionals == 1 && looks_like_word(first) &&
      first.find('.') == std::string::npos) {
    *unknown = first;
    return args;
  }
  args.insert(args.begin(), listen ? "listen" : "connect");
  return args;
}

}  // namespace parley
