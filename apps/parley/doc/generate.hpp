#pragma once
// parley --generate ...: writes the documentation that is derived from the command tree. The
// build runs `parley --generate tree DIR` after linking (apps/parley/CMakeLists.txt); it is left
// out of --help, since only builds and packagers need it.
//
//   --generate man DIR                   parley.1 and parley-COMMAND.1 for every command
//   --generate completion bash|zsh|fish  the completion script on stdout
//   --generate tree DIR                  all of it, laid out as under /usr/share
//   --generate check                     lists options without a description (exit 1 if any)
//   --generate flags                     a Markdown table of every flag of every command
//
// Every form but `flags` fails (exit 1) when an option has no description, so documentation
// cannot fall behind the options.

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace parley::doc {

int generate(const CLI::App& root, const std::vector<std::string>& args);

}  // namespace parley::doc
