#include "doc/help.hpp"

#include <memory>

#include "doc/model.hpp"

namespace parley::doc {
namespace {

constexpr std::size_t kColumn = 30;  // Where descriptions start, as CLI11 has it.
constexpr std::size_t kWidth = 100;  // Descriptions wrap here.

// Appends "  label   text", the text wrapped at kWidth and continued under itself; a label too
// wide for the column puts the text on the next line.
void row(std::string& out, const std::string& label, const std::string& text) {
  std::string line = "  " + label;
  if (line.size() + 1 > kColumn) {
    out += line + "\n";
    line.clear();
  }
  line.resize(kColumn, ' ');
  std::size_t start = 0;
  bool first = true;
  while (start < text.size()) {
    std::size_t room = kWidth - kColumn;
    std::size_t end = text.size();
    if (end - start > room) {
      end = text.rfind(' ', start + room);
      if (end == std::string::npos || end <= start) end = text.find(' ', start + room);
      if (end == std::string::npos) end = text.size();
    }
    if (!first) line.assign(kColumn, ' ');
    line += text.substr(start, end - start);
    out += line + "\n";
    first = false;
    start = end < text.size() ? end + 1 : end;
  }
  if (first) out += line.substr(0, line.find_last_not_of(' ') + 1) + "\n";
}

std::string option_text(const OptionDoc& o) {
  std::string text = o.description;
  auto notes = o.notes();
  if (!notes.empty()) {
    text += " [";
    for (std::size_t i = 0; i < notes.size(); ++i) text += (i ? "; " : "") + notes[i];
    text += "]";
  }
  return text;
}

std::string option_label(const OptionDoc& o) {
  if (o.positional) return o.value;
  std::string label = o.label();
  if (!o.value.empty()) label += o.value_optional ? " [" + o.value + "]" : " " + o.value;
  return label;
}

}  // namespace

std::string HelpFormatter::make_help(const CLI::App* app, std::string name,
                                     CLI::AppFormatMode) const {
  CommandDoc d = describe(*app);
  std::string out;
  if (!d.description.empty()) out += d.description + "\n";
  out += "Usage: " + (name.empty() ? d.path : name) + " " + d.synopsis() + "\n";
  if (!d.positionals.empty()) {
    out += "\nArguments:\n";
    for (const auto& p : d.positionals) row(out, option_label(p), option_text(p));
  }
  for (const auto& group : d.groups) {
    std::string rows;
    for (const auto& o : d.options)
      if (o.group == group) row(rows, option_label(o), option_text(o));
    if (!rows.empty()) out += "\n" + group + ":\n" + rows;
  }
  if (!d.commands.empty()) {
    out += "\nCommands:\n";
    for (const auto& c : d.commands) row(out, c.name, c.description);
  }
  if (!d.footer.empty()) out += "\n" + d.footer + "\n";
  return out;
}

void use_help_formatter(CLI::App& app) {
  auto formatter = std::make_shared<HelpFormatter>();
  app.formatter(formatter);
  for (CLI::App* sub : app.get_subcommands({})) sub->formatter(formatter);
}

}  // namespace parley::doc
