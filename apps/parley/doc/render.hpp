#pragma once
// Renderers of the command-line description (model.hpp) into the files parley ships: manual
// pages in man(7) markup, completion scripts for bash, zsh and fish, and a Markdown table of every
// flag. Pure functions: text in, text out.

#include <string>

#include "doc/model.hpp"

namespace parley::doc {

// The page of `command` (a subcommand of root), or parley(1) itself when command is null.
// date: "YYYY-MM-DD" for the page footer.
std::string man_page(const CommandDoc& root, const CommandDoc* command, const std::string& version,
                     const std::string& date);

// Commands that get no page of their own and no completion of their options (help).
bool is_meta_command(const CommandDoc& command);

std::string bash_completion(const CommandDoc& root);
std::string zsh_completion(const CommandDoc& root);
std::string fish_completion(const CommandDoc& root);

// Every flag of every command, one row per flag, one column per command (docs/FLAGS.md).
std::string flag_table(const CommandDoc& root);

}  // namespace parley::doc
