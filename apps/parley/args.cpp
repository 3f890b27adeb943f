#include "args.hpp"

#include <algorithm>
#include <cctype>

#include <CLI/CLI.hpp>

namespace parley {
namespace {

// "-l", "-lvk", "-vl", "-4lp": a group of single-letter flags that contains l.
bool is_listen_flag(const std::string& a) {
  if (a.size() < 2 || a[0] != '-' || a[1] == '-') return false;
  if (!std::all_of(a.begin() + 1, a.end(), [](unsigned char c) { return std::isalnum(c); }))
    return false;
  return a.find('l') != std::string::npos;
}

bool looks_like_word(const std::string& a) {
  return !a.empty() && std::all_of(a.begin(), a.end(), [](unsigned char c) {
    return std::islower(c) || c == '-';
  }) && a[0] != '-';
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// True when the option takes a value (so the rest of a short cluster, or the next argument, is
// that value). Flags are options that expect no value.
bool takes_value(const CLI::Option* opt) {
  return opt->get_expected_max() > 0;
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
  std::size_t positionals = std::count_if(
      args.begin(), args.end(), [](const std::string& a) { return a.empty() || a[0] != '-'; });
  if (!listen && looks_like_word(first) && first.find('.') == std::string::npos) {
    // "parley frobnicate" (one lower-case word and nothing else) is a typo, not a host name; so
    // is "parley conect h 1", a word one or two letters away from a command.
    if (positionals == 1 || (first.size() >= 4 && !closest(first, known).empty())) {
      *unknown = first;
      return args;
    }
  }
  args.insert(args.begin(), listen ? "listen" : "connect");
  return args;
}

std::string find_unknown_option(const CLI::App& app, const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    if (a[1] == '-') {
      std::string name = a.substr(0, a.find('='));
      if (name == "--help") continue;
      const CLI::Option* opt = app.get_option_no_throw(name);
      if (opt == nullptr) return name;
      if (takes_value(opt) && a.find('=') == std::string::npos && opt->get_expected_min() > 0)
        ++i;  // Its value may itself start with '-'.
      continue;
    }
    if (std::isdigit(static_cast<unsigned char>(a[1])) && app.get_option_no_throw("-4") == nullptr)
      continue;  // A negative number, for a command without -4/-6.
    for (std::size_t k = 1; k < a.size(); ++k) {
      std::string name = std::string("-") + a[k];
      if (name == "-h") continue;
      const CLI::Option* opt = app.get_option_no_throw(name);
      if (opt == nullptr) return name;
      if (takes_value(opt)) {
        if (k + 1 == a.size() && opt->get_expected_min() > 0) ++i;
        break;  // The rest of the cluster is the value.
      }
    }
  }
  return {};
}

std::vector<std::string> option_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames()) names.push_back("--" + l);
    for (const auto& s : opt->get_snames()) names.push_back("-" + s);
  }
  return names;
}

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = 3;  // At most two edits away...
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance && d < std::max<std::size_t>(c.size(), 2) / 2 + 1) {
      best = c;  // ...and not more edits than half the name.
      best_distance = d;
    }
  }
  return best;
}

}  // namespace parley
