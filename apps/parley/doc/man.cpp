// Manual pages in man(7) markup. Every character that roff would read as markup is escaped, so
// any description or example is safe: hyphens become \- (so options copied from the page are
// real minus signs), quotes \(aq and \(ga, backslashes \e, non-ASCII \[uXXXX].

#include <cctype>
#include <regex>

#include "doc/footer.hpp"
#include "doc/model.hpp"
#include "doc/render.hpp"

namespace parley::doc {
namespace {

// Decodes one UTF-8 sequence at s[i] (advancing i); invalid bytes come out as U+FFFD.
unsigned decode_utf8(const std::string& s, std::size_t& i) {
  auto byte = [&s](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned c = byte(i);
  int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
  if (extra == 0 || i + extra >= s.size()) {  // A stray continuation byte, or cut short.
    ++i;
    return 0xFFFD;
  }
  unsigned cp = c & (0x3F >> extra);
  for (int k = 1; k <= extra; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += extra + 1;
  return cp;
}

// Text for a roff text line (not a request): escaped, never starting with a control character.
std::string roff(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\[u%04X]", decode_utf8(text, i));
      out += buf;
      continue;
    }
    ++i;
    switch (c) {
      case '\\':
        out += "\\e";
        break;
      case '-':
        out += "\\-";
        break;
      case '\'':
        out += "\\(aq";
        break;
      case '`':
        out += "\\(ga";
        break;
      case '\n':
        out += ' ';
        break;
      case ',':  // "a,b,c" lists (JSON field names) may break after a comma, not overflow.
        out += i < text.size() && text[i] != ' ' ? ",\\:" : ",";
        break;
      default:
        out += static_cast<char>(c);
    }
  }
  if (!out.empty() && out.front() == '.') out.insert(0, "\\&");
  return out;
}

std::string bold(const std::string& s) {
  return "\\fB" + roff(s) + "\\fR";
}

std::string italic(const std::string& s) {
  return "\\fI" + roff(s) + "\\fR";
}

// "[OPTIONS] TARGET..." with the placeholders in italics.
std::string synopsis_words(const std::string& synopsis) {
  static const std::regex kPlaceholder("[A-Z][A-Z0-9_]*");
  std::string out;
  std::size_t last = 0;
  for (auto it = std::sregex_iterator(synopsis.begin(), synopsis.end(), kPlaceholder);
       it != std::sregex_iterator(); ++it) {
    out += roff(synopsis.substr(last, it->position() - last)) + italic(it->str());
    last = it->position() + it->length();
  }
  return out + roff(synopsis.substr(last));
}

std::string sentence(std::string s) {
  if (s.empty()) return s;
  s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  if (s.back() != '.' && s.back() != '!' && s.back() != '?') s += '.';
  return s;
}

// The root's description starts "parley: ..."; the page says who it is already.
std::string without_name(std::string s) {
  if (s.rfind("parley: ", 0) == 0) s.erase(0, 8);
  return s;
}

// The NAME line's summary: lower case first, unless it starts with an acronym ("TCP ..."), and
// no full stop.
std::string summary(std::string s) {
  s = without_name(s);
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s.size() > 1 && std::isupper(static_cast<unsigned char>(s[0])) &&
      std::islower(static_cast<unsigned char>(s[1])))
    s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string page_name(const CommandDoc* command) {
  return command == nullptr ? "parley" : "parley-" + command->name;
}

void option_entry(std::string& out, const OptionDoc& o) {
  out += ".TP\n";
  if (o.positional) {
    out += italic(o.value) + "\n";
  } else {
    std::string label;
    for (const auto& n : o.names()) label += (label.empty() ? "" : ", ") + bold(n);
    if (!o.value.empty())
      label += " " + (o.value_optional ? "[" + italic(o.value) + "]" : italic(o.value));
    out += label + "\n";
  }
  out += roff(sentence(o.description)) + "\n";
  auto notes = o.notes();
  if (!notes.empty()) {
    std::string text;
    for (std::size_t i = 0; i < notes.size(); ++i) text += (i ? "; " : "") + notes[i];
    out += roff(sentence(text)) + "\n";
  }
}

void blocks(std::string& out, const Footer& f) {
  for (const auto& b : f.blocks) {
    switch (b.kind) {
      case Block::Kind::paragraph:
        out += ".PP\n" + roff(b.text) + "\n";
        break;
      case Block::Kind::table:
        for (const auto& [term, text] : b.rows)
          out += ".TP\n" + bold(term) + "\n" + roff(sentence(text)) + "\n";
        out += ".PP\n";
        break;
      case Block::Kind::verbatim:
        out += ".PP\n.RS 4\n.nf\n";
        for (const auto& l : b.lines) out += roff(l) + "\n";
        out += ".fi\n.RE\n";
        break;
    }
  }
}

void options_section(std::string& out, const CommandDoc& c) {
  out += ".SH OPTIONS\n";
  for (const auto& p : c.positionals) option_entry(out, p);
  for (const auto& group : c.groups) {
    bool first = true;
    for (const auto& o : c.options) {
      if (o.group != group) continue;
      if (first && group != "Options") out += ".SS \"" + roff(group) + "\"\n";
      first = false;
      option_entry(out, o);
    }
  }
}

void examples_section(std::string& out, const Footer& f) {
  if (f.examples.empty()) return;
  out += ".SH EXAMPLES\n";
  for (const auto& e : f.examples) {
    out += ".PP\n.nf\n" + bold(e.command) + "\n.fi\n";
    if (!e.comment.empty()) out += ".RS 4\n" + roff(sentence(e.comment)) + "\n.RE\n";
  }
}

void exit_section(std::string& out, const Footer& f) {
  out += ".SH \"EXIT STATUS\"\n";
  for (const auto& [code, meaning] : f.exit_codes.empty() ? default_exit_codes() : f.exit_codes)
    out += ".TP\n" + bold(code) + "\n" + roff(sentence(meaning)) + "\n";
}

void see_also(std::string& out, const CommandDoc& root, const CommandDoc* command) {
  std::vector<std::string> refs;
  if (command != nullptr) refs.push_back(bold("parley") + "(1)");
  for (const auto& c : root.commands)
    if (!is_meta_command(c) && &c != command) refs.push_back(bold(page_name(&c)) + "(1)");
  if (command == nullptr)  // The tools parley stands in for.
    for (const char* peer : {"nc(1)", "ncat(1)", "socat(1)", "ss(8)"}) {
      std::string p = peer;
      refs.push_back(bold(p.substr(0, p.find('('))) + p.substr(p.find('(')));
    }
  out += ".SH \"SEE ALSO\"\n";
  for (std::size_t i = 0; i < refs.size(); ++i)
    out += refs[i] + (i + 1 < refs.size() ? ",\n" : "\n");
}

}  // namespace

bool is_meta_command(const CommandDoc& command) {
  return command.name == "help";
}

std::string man_page(const CommandDoc& root, const CommandDoc* command, const std::string& version,
                     const std::string& date) {
  const CommandDoc& c = command == nullptr ? root : *command;
  const Footer f = parse_footer(c.footer);
  std::string out =
      ".\\\" Generated by 'parley --generate man' from parley's command-line "
      "definitions; do not edit.\n";
  out += ".TH " + roff(upper(page_name(command))) + " 1 \"" + date + "\" \"parley " + version +
         "\" \"User Commands\"\n.nh\n.ad l\n";
  out += ".SH NAME\n" + roff(page_name(command)) + " \\- " + roff(summary(c.description)) + "\n";
  out += ".SH SYNOPSIS\n";
  out += ".B " + roff(c.path) + "\n" + synopsis_words(c.synopsis()) + "\n";
  if (command == nullptr) {
    for (const auto& sub : root.commands)
      if (is_meta_command(sub))
        out += ".br\n.B " + roff(sub.path) + "\n" + synopsis_words(sub.synopsis()) + "\n";
    std::string flags;
    for (const auto& o : root.options)
      if (!o.longs.empty()) flags += (flags.empty() ? "" : " | ") + bold(o.longs.front());
    out += ".br\n.B parley\n" + flags + "\n";
  }
  out += ".SH DESCRIPTION\n" + roff(sentence(without_name(c.description))) + "\n";
  if (command == nullptr) {
    out += ".PP\nEach command has its own options and manual page:\n";
    for (const auto& sub : root.commands) {
      out += ".TP\n" + bold(sub.path) + "\n" + roff(sentence(sub.description));
      if (!is_meta_command(sub)) out += "\nSee " + bold(page_name(&sub)) + "(1).";
      out += "\n";
    }
  }
  blocks(out, f);
  options_section(out, c);
  exit_section(out, f);
  examples_section(out, f);
  see_also(out, root, command);
  return out;
}

}  // namespace parley::doc
