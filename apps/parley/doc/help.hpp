#pragma once
// parley's --help layout, for every command: the usage line names the arguments as the user
// types them ("TARGET...", "[PORT]") instead of CLI11's "target(1x)", options show their value
// name once ("-p, --source-port PORT") with ranges, choices and exclusions after the
// description, and long descriptions wrap. Rendered from doc::CommandDoc, like the man pages.

#include <string>

#include <CLI/CLI.hpp>

namespace parley::doc {

class HelpFormatter : public CLI::FormatterBase {
 public:
  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
};

// Installs HelpFormatter on app and every subcommand it has so far (a subcommand copies its
// parent's formatter when it is created).
void use_help_formatter(CLI::App& app);

}  // namespace parley::doc
