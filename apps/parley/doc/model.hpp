#pragma once
// The one description of parley's command line that --help, the man pages, the shell completions
// and the flag table are all rendered from. It is read out of the CLI11 App tree the commands
// built (names, value names, validators, groups, exclusions, footers), so nothing here repeats a
// command's options: a new option or command shows up everywhere by itself.
//
// Pure functions over a finished App tree; any thread; nothing is kept.

#include <string>
#include <vector>

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace parley::doc {

struct OptionDoc {
  std::vector<std::string> shorts;  // "-o"
  std::vector<std::string> longs;   // "--output"
  // What the option takes: "FILE", "PORT", "N", "lf|crlf"; empty for a flag. For a positional,
  // the word the usage line shows ("TARGET...", "[PORT]").
  std::string value;
  bool value_optional = false;       // --watch [N]
  std::vector<std::string> choices;  // A fixed set of values (CLI::IsMember).
  std::string range;                 // "0-65535" (CLI::Range)
  std::string constraint;            // Other validators: "positive", "an existing directory".
  std::string default_value;
  std::string description;
  std::string group;
  std::vector<std::string> excludes, needs;  // Other options, named as the user types them.
  bool positional = false, required = false, repeatable = false;
  int min_count = 0, max_count = 0;  // Positionals: how many words (max_count < 0: no limit).

  // "-o, --output" (a positional: its usage word).
  std::string label() const;
  // Every name a user can type: shorts, then longs.
  std::vector<std::string> names() const;
  // Completion: the value is a file name / a directory name.
  bool takes_file() const;
  bool takes_directory() const;
  // The facts a reader needs beyond the description, as short phrases without a final period:
  // "one of: http, socks4", "0-65535", "not with -6, --unixsock", "needs --lines", "default: 1",
  // "repeatable". Phrases the description already says are left out.
  std::vector<std::string> notes() const;
};

struct CommandDoc {
  std::string name;  // "connect"; empty for parley itself.
  std::string path;  // "parley connect"
  std::string description;
  std::string footer;
  std::vector<OptionDoc> positionals;
  std::vector<OptionDoc> options;    // --help and --version first, then in definition order.
  std::vector<std::string> groups;   // Option groups in order, "Options" first.
  std::vector<CommandDoc> commands;  // parley's subcommands (the root only).

  // "[OPTIONS] TARGET..." (the root: "COMMAND [OPTIONS] [ARGUMENTS]").
  std::string synopsis() const;
  const CommandDoc* find(const std::string& command) const;
};

// The description of one App (and, for the root, of every subcommand). Hidden options (those in
// the empty group) are left out.
CommandDoc describe(const CLI::App& app);

// Options and positionals that have no description: "conns: --foo". Empty when all are
// documented.
std::vector<std::string> undocumented(const CommandDoc& root);

// The items with sep between them.
std::string join(const std::vector<std::string>& items, const std::string& sep = " ");

// ASCII upper case, for placeholders (PORT) and page titles (PARLEY-ECHO).
std::string upper(std::string s);

}  // namespace parley::doc
