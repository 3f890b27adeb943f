#include "doc/model.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>

#include <CLI/CLI.hpp>

namespace parley::doc {
namespace {

// The type names CLI11 makes up by itself; a command that names its value ("FILE", "PORT") is
// shown as it named it.
bool generic_type(const std::string& t) {
  static const char* const kGeneric[] = {"TEXT", "INT",  "UINT",    "FLOAT",
                                         "ENUM", "CHAR", "BOOLEAN", "NUMBER"};
  return t.empty() || t.front() == '[' ||
         std::find(std::begin(kGeneric), std::end(kGeneric), t) != std::end(kGeneric);
}

bool numeric_type(const std::string& t) {
  return t == "INT" || t == "UINT" || t == "FLOAT" || t == "NUMBER";
}

bool mentions(const std::string& text, const std::string& word) {
  std::string lower = text;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find(word) != std::string::npos;
}

// CLI11 2.1 has no const way to list an option's validators; get_validator(index) throws past the
// last one.
std::vector<std::string> validator_descriptions(const CLI::Option* opt) {
  auto* o = const_cast<CLI::Option*>(opt);
  std::vector<std::string> out;
  for (int i = 0; i < 64; ++i) {
    try {
      out.push_back(o->get_validator(i)->get_description());
    } catch (const CLI::OptionNotFound&) {
      break;
    }
  }
  return out;
}

// get_type_name() is the value name followed by ":" and each validator's description.
std::string base_type(const CLI::Option* opt, const std::vector<std::string>& validators) {
  std::string full = opt->get_type_name();
  for (auto it = validators.rbegin(); it != validators.rend(); ++it) {
    if (it->empty()) continue;
    std::string suffix = ":" + *it;
    if (full.size() >= suffix.size() &&
        full.compare(full.size() - suffix.size(), suffix.size(), suffix) == 0)
      full.resize(full.size() - suffix.size());
  }
  return full;
}

std::vector<std::string> split_set(const std::string& set) {
  std::vector<std::string> out;
  std::string inner = set.substr(1, set.size() - 2);
  std::size_t start = 0;
  while (start <= inner.size()) {
    std::size_t comma = inner.find(',', start);
    std::string item = inner.substr(start, comma - start);
    item = item.substr(0, item.find("->"));  // A map (CLI::Transformer) lists key->value.
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Reads what the validators say into the option: a set, a range, a kind of path, a sign.
void apply_validators(OptionDoc& d, const std::vector<std::string>& validators,
                      std::string* path_kind) {
  static const std::regex kRange(R"(^\w+ in \[(.*) - (.*)\]$)");
  for (const auto& v : validators) {
    std::smatch m;
    if (v.size() >= 2 && v.front() == '{' && v.back() == '}') {
      d.choices = split_set(v);
    } else if (std::regex_match(v, m, kRange)) {
      d.range = m[1].str() + " to " + m[2].str();
    } else if (v == "FILE" || v == "DIR" || v == "PATH") {
      *path_kind = v;
      if (v == "DIR") d.constraint = "an existing directory";
      if (v == "FILE") d.constraint = "an existing file";
    } else if (v == "POSITIVE") {
      d.constraint = "positive";
    } else if (v == "NONNEGATIVE") {
      d.constraint = "0 or more";
    } else if (!v.empty()) {
      d.constraint = v;
    }
  }
}

int count_of(int n) {
  return n >= CLI::detail::expected_max_vector_size / 2 ? -1 : n;
}

// The word a usage line shows for a positional: its own value name when the command gave one,
// otherwise its name in capitals; "..." when it takes several words, [] when it may be left out.
std::string usage_word(const OptionDoc& d, const std::string& name, const std::string& type) {
  std::string word = generic_type(type) ? upper(name) : type;
  if (generic_type(type) && d.max_count != 1) word += "...";
  return d.min_count == 0 ? "[" + word + "]" : word;
}

OptionDoc describe_option(const CLI::Option* opt,
                          const std::map<const CLI::Option*, std::size_t>& order) {
  OptionDoc d;
  d.positional = !opt->nonpositional();
  for (const auto& s : opt->get_snames()) d.shorts.push_back("-" + s);
  for (const auto& l : opt->get_lnames()) d.longs.push_back("--" + l);
  d.description = opt->get_description();
  d.group = opt->get_group();
  d.required = opt->get_required();
  d.default_value = opt->get_default_str();
  auto validators = validator_descriptions(opt);
  std::string type = base_type(opt, validators);
  std::string path_kind;
  apply_validators(d, validators, &path_kind);
  const bool flag = opt->get_type_size_max() == 0 || opt->get_expected_max() == 0;
  if (d.positional) {
    d.min_count = d.required ? std::max(1, opt->get_expected_min()) : 0;
    d.max_count = count_of(opt->get_expected_max());
    d.value = usage_word(d, opt->get_name(true, false), type);
  } else if (!flag) {
    if (!opt->get_option_text().empty())
      d.value = opt->get_option_text();
    else if (!generic_type(type))
      d.value = type;
    else if (!d.choices.empty())
      d.value = join(d.choices, "|");
    else if (!path_kind.empty())
      d.value = path_kind;
    else
      d.value = numeric_type(type) ? "N" : type.empty() ? "VALUE" : type;
    d.value_optional = opt->get_expected_min() == 0;
    if (path_kind == "DIR" && d.value == "DIR") d.constraint.clear();  // Said by the name.
  }
  auto policy = opt->get_multi_option_policy();
  d.repeatable = !d.positional && (policy == CLI::MultiOptionPolicy::TakeAll ||
                                   policy == CLI::MultiOptionPolicy::Join ||
                                   (count_of(opt->get_items_expected_max()) != 1 && !flag));
  auto names_of = [&order](const std::set<CLI::Option*>& set) {
    std::vector<const CLI::Option*> sorted(set.begin(), set.end());
    sorted.erase(std::remove_if(sorted.begin(), sorted.end(),
                                [](const CLI::Option* o) { return o->get_group().empty(); }),
                 sorted.end());
    std::sort(sorted.begin(), sorted.end(), [&order](const CLI::Option* a, const CLI::Option* b) {
      return order.at(a) < order.at(b);
    });
    std::vector<std::string> out;
    for (const auto* o : sorted)
      out.push_back(o->nonpositional() ? o->get_name() : upper(o->get_name(true, false)));
    return out;
  };
  d.excludes = names_of(opt->get_excludes());
  d.needs = names_of(opt->get_needs());
  return d;
}

}  // namespace

std::string OptionDoc::label() const {
  if (positional) return value;
  return join(names(), ", ");
}

std::vector<std::string> OptionDoc::names() const {
  std::vector<std::string> all = shorts;
  all.insert(all.end(), longs.begin(), longs.end());
  return all;
}

bool OptionDoc::takes_file() const {
  return value == "FILE" || value == "PATH";
}

bool OptionDoc::takes_directory() const {
  return value == "DIR";
}

std::vector<std::string> OptionDoc::notes() const {
  std::vector<std::string> out;
  if (!choices.empty() && value != join(choices, "|"))
    out.push_back("one of: " + join(choices, ", "));
  if (!range.empty()) out.push_back(range);
  if (!constraint.empty()) out.push_back(constraint);
  if (!default_value.empty() && !mentions(description, "default"))
    out.push_back("default: " + default_value);
  if (repeatable && !mentions(description, "repeat")) out.push_back("repeatable");
  if (!needs.empty()) out.push_back("needs " + join(needs, ", "));
  if (!excludes.empty()) out.push_back("not with " + join(excludes, ", "));
  return out;
}

std::string CommandDoc::synopsis() const {
  if (!commands.empty()) return "COMMAND [OPTIONS] [ARGUMENTS]";
  std::string out = options.empty() ? "" : "[OPTIONS]";
  for (const auto& p : positionals) out += (out.empty() ? "" : " ") + p.value;
  return out;
}

const CommandDoc* CommandDoc::find(const std::string& command) const {
  for (const auto& c : commands)
    if (c.name == command) return &c;
  return nullptr;
}

CommandDoc describe(const CLI::App& app) {
  CommandDoc d;
  d.name = app.get_parent() == nullptr ? "" : app.get_name();
  d.path = app.get_parent() == nullptr ? app.get_name() : "parley " + app.get_name();
  d.description = app.get_description();
  d.footer = app.get_footer();
  auto all = app.get_options();
  std::map<const CLI::Option*, std::size_t> order;
  for (std::size_t i = 0; i < all.size(); ++i) order[all[i]] = i;
  // --help and --version lead, wherever the command's options put them.
  std::stable_partition(all.begin(), all.end(), [&app](const CLI::Option* o) {
    return o == app.get_help_ptr() || o == app.get_version_ptr();
  });
  d.groups.push_back("Options");
  for (const CLI::Option* opt : all) {
    if (opt->get_group().empty()) continue;  // Hidden.
    OptionDoc o = describe_option(opt, order);
    if (opt == app.get_help_ptr()) o.description = "Print this help and exit";
    if (opt == app.get_version_ptr()) o.description = "Print parley's version and exit";
    if (o.positional) {
      d.positionals.push_back(std::move(o));
      continue;
    }
    if (std::find(d.groups.begin(), d.groups.end(), o.group) == d.groups.end())
      d.groups.push_back(o.group);
    d.options.push_back(std::move(o));
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name().empty() || sub->get_disabled()) continue;
    d.commands.push_back(describe(*sub));
  }
  return d;
}

std::vector<std::string> undocumented(const CommandDoc& root) {
  std::vector<std::string> out;
  auto check = [&out](const CommandDoc& c) {
    std::string who = c.name.empty() ? "parley" : c.name;
    if (c.description.empty()) out.push_back(who + ": the command itself");
    for (const auto& o : c.positionals)
      if (o.description.empty()) out.push_back(who + ": " + o.value);
    for (const auto& o : c.options)
      if (o.description.empty()) out.push_back(who + ": " + o.label());
  };
  check(root);
  for (const auto& c : root.commands) check(c);
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace parley::doc
