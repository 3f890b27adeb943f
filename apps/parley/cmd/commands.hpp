#pragma once
// Every subcommand registers its options on the root app and hands back what runs it. run() is
// called only after a successful parse and returns the process exit status.

#include <functional>

#include <CLI/CLI.hpp>

namespace parley::cmd {

struct Subcommand {
  CLI::App* app;
  std::function<int()> run;
};

Subcommand connect_command(CLI::App& root);
Subcommand listen_command(CLI::App& root);
Subcommand chat_command(CLI::App& root);
Subcommand forward_command(CLI::App& root);
Subcommand echo_command(CLI::App& root);
Subcommand conns_command(CLI::App& root);
Subcommand bench_command(CLI::App& root);
Subcommand talk_command(CLI::App& root);
Subcommand doctor_command(CLI::App& root);
Subcommand scan_command(CLI::App& root);
// Registered last: it offers every command registered before it.
Subcommand help_command(CLI::App& root);

}  // namespace parley::cmd
