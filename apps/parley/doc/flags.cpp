// The Markdown table of every flag of every command (parley --generate flags, docs/FLAGS.md).

#include <algorithm>
#include <set>

#include "doc/render.hpp"

namespace parley::doc {

std::string flag_table(const CommandDoc& root) {
  std::vector<const CommandDoc*> cmds;
  for (const auto& c : root.commands)
    if (!is_meta_command(c)) cmds.push_back(&c);
  // Rows: every name, short options first, then long ones, alphabetically.
  std::set<std::string> shorts, longs;
  for (const auto* c : cmds)
    for (const auto& o : c->options)
      for (const auto& n : o.names()) (n.size() == 2 ? shorts : longs).insert(n);
  std::string out = "| flag |";
  for (const auto* c : cmds) out += " " + c->name + " |";
  out += "\n|---|";
  for (std::size_t i = 0; i < cmds.size(); ++i) out += "---|";
  out += "\n";
  // A cell says what the flag means in a few words: the description up to its first aside.
  auto cell = [](const OptionDoc& o) {
    std::string text = o.description;
    for (const char* stop : {" (", "; ", ": "}) {
      std::size_t at = text.find(stop);
      if (at != std::string::npos && at >= 12) text.resize(at);
    }
    if (std::count(text.begin(), text.end(), '(') > std::count(text.begin(), text.end(), ')'))
      text.resize(text.rfind(" ("));  // Cut inside an aside: drop the aside.
    if (text.size() > 48) text = text.substr(0, text.rfind(' ', 45)) + " ...";
    if (!o.value.empty()) text = "`" + o.value + "` " + text;
    std::string escaped;
    for (char ch : text) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
    return escaped;
  };
  for (const auto* names : {&shorts, &longs}) {
    for (const auto& n : *names) {
      out += "| `" + n + "` |";
      for (const auto* c : cmds) {
        std::string text;
        for (const auto& o : c->options) {
          auto all = o.names();
          if (std::find(all.begin(), all.end(), n) != all.end()) text = cell(o);
        }
        out += " " + text + " |";
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace parley::doc
