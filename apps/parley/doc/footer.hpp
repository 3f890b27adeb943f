#pragma once
// Reads the free text of a command's footer (what --help prints after the options) into the parts
// a manual page has: prose paragraphs, two-column tables ("  open     the server accepted ..."),
// verbatim lines, the examples after "Examples:" and the codes after "Exit status:". The footer
// stays written for the terminal; this finds its structure by the layout conventions the
// commands already follow (see docs/ARCHITECTURE.md, "Manual pages and completions").

#include <string>
#include <utility>
#include <vector>

namespace parley::doc {

struct Example {
  std::string command;  // "parley conns -tanp"
  std::string comment;  // What it does; may be empty.
};

struct ExitCode {
  std::string code;     // "0"
  std::string meaning;  // "ok"
};

struct Block {
  enum class Kind { paragraph, table, verbatim };
  Kind kind = Kind::paragraph;
  std::string text;                                       // paragraph: one line, unwrapped
  std::vector<std::pair<std::string, std::string>> rows;  // table: term, description
  std::vector<std::string> lines;                         // verbatim, common indent removed
};

struct Footer {
  std::vector<Block> blocks;
  std::vector<Example> examples;
  std::vector<ExitCode> exit_codes;  // Empty when the footer does not say.
};

Footer parse_footer(const std::string& text);

// The project's exit status policy, for commands whose footer does not state their own.
std::vector<ExitCode> default_exit_codes();

}  // namespace parley::doc
