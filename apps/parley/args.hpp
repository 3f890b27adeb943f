#pragma once
// netcat muscle memory: "parley -l 12345", "parley -lvk 12345" and "parley host port" have no
// subcommand. normalize_args() inserts "listen" or "connect" so CLI11 sees a regular command line.

#include <string>
#include <vector>

namespace parley {

// args excludes the program name. known: the subcommand names. Returns the rewritten arguments;
// sets *unknown to the offending word when the first word looks like a mistyped subcommand.
std::vector<std::string> normalize_args(std::vector<std::string> args,
                                        const std::vector<std::string>& known,
                                        std::string* unknown);

}  // namespace parley
