// parley help [COMMAND]: the same text as `parley COMMAND --help`, for people (and scripts) used to
// git's and go's spelling.

#include "commands.hpp"
#include "netcat.hpp"
#include "output.hpp"

namespace parley::cmd {

Subcommand help_command(CLI::App& root) {
  auto command = std::make_shared<std::string>();
  std::vector<std::string> names;
  for (const CLI::App* sub : root.get_subcommands({})) names.push_back(sub->get_name());
  auto* app = root.add_subcommand("help", "Show the help of a command (parley help COMMAND)");
  app->footer(
      "Examples:\n"
      "  parley help conns          the same as: parley conns --help\n"
      "  parley help                the list of commands");
  app->add_option("command", *command, "The command to explain")
      ->check(CLI::IsMember(names))
      ->type_name("COMMAND");
  return {app, [&root, command] {
            // Straight to the formatter: root.help() would describe the command that ran (help).
            const CLI::App* target = command->empty() ? &root : root.get_subcommand(*command);
            out_text(target->get_formatter()->make_help(
                target, target->get_parent() ? "parley " + *command : "parley",
                CLI::AppFormatMode::Normal));
            return kExitOk;
          }};
}

}  // namespace parley::cmd
