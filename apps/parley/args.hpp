#pragma once
// The command line before CLI11 sees it.
//  * netcat muscle memory: "parley -l 12345", "parley -lvk 12345" and "parley host port" have no
//    subcommand. normalize_args() inserts "listen" or "connect" so CLI11 sees a regular command.
//  * Mistakes named as such: CLI11 2.1 reports an unknown option as a positional-count error
//    ("target: At Most 2 required but received 3"); find_unknown_option() finds it first, and
//    closest() offers the option or command that was probably meant.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace parley {

// args excludes the program name. known: the subcommand names. Returns the rewritten arguments;
// sets *unknown to the offending word when the first word looks like a mistyped subcommand.
std::vector<std::string> normalize_args(std::vector<std::string> args,
                                        const std::vector<std::string>& known,
                                        std::string* unknown);

// The first option in args (a subcommand's arguments, after its name) that `app` does not know:
// "--proxy", or "-Z" out of a cluster like "-vZ". Empty when every option is known.
std::string find_unknown_option(const CLI::App& app, const std::vector<std::string>& args);

// Every option name of app ("--verbose", "-v", ...), for suggestions.
std::vector<std::string> option_names(const CLI::App& app);

// The candidate closest to word by edit distance, if it is close enough to be a likely typo;
// empty otherwise.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace parley
