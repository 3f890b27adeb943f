// parley: one binary, many subcommands. main() only wires the command line to the subcommands and
// turns parse errors into exit status 2; each subcommand's run() owns its own errors.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "args.hpp"
#include "cmd/commands.hpp"
#include "cmd/output.hpp"
#include "parley/version.hpp"

namespace {

// CLI11 counts arguments in its own words ("port: At Most 1 required but received 2"); say it
// as a person would. Other messages pass unchanged.
std::string plain_words(const std::string& what) {
  const std::string key = ": At Most ";
  auto at = what.find(key);
  auto mid = what.find(" required but received ", at);
  if (at == std::string::npos || mid == std::string::npos) return what;
  std::string most = what.substr(at + key.size(), mid - at - key.size());
  std::string got = what.substr(mid + 23);
  return fmt::format("too many arguments: {} takes at most {}, got {}", what.substr(0, at), most,
                     got);
}

// A program started with fd 0, 1 or 2 closed would hand that number to its first socket and then
// read from or write to the socket by accident; park /dev/null there instead (a closed stdin then
// reads as EOF at once).
void ensure_standard_fds() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) == -1) {
      int n = open("/dev/null", O_RDWR);
      if (n >= 0 && n != fd) {
        dup2(n, fd);
        close(n);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ensure_standard_fds();
  // Writes to a closed socket or pipe report EPIPE instead of killing the process.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "parley: netcat, echo server, line client, socket lister, load tester and network "
      "doctor in one.",
      "parley"};
  app.set_version_flag("--version", std::string("parley ") + parley::kVersion);
  app.require_subcommand(1);
  app.footer(
      "netcat habits work too: 'parley HOST PORT' connects, 'parley -l PORT' listens.\n"
      "Run 'parley COMMAND --help' for a command's options.");
  std::vector<parley::cmd::Subcommand> commands = {
      parley::cmd::connect_command(app), parley::cmd::listen_command(app),
      parley::cmd::echo_command(app),    parley::cmd::conns_command(app),
      parley::cmd::talk_command(app),    parley::cmd::bench_command(app),
      parley::cmd::chat_command(app),    parley::cmd::doctor_command(app),
      parley::cmd::scan_command(app),    parley::cmd::forward_command(app)};

  std::vector<std::string> names;
  for (const auto& c : commands) names.push_back(c.app->get_name());
  std::string unknown;
  auto args =
      parley::normalize_args(std::vector<std::string>(argv + 1, argv + argc), names, &unknown);
  if (!unknown.empty()) {
    std::string guess = parley::closest(unknown, names);
    parley::cmd::say("unknown command '{}'{}. Commands: {}. See parley --help.", unknown,
                     guess.empty() ? "" : " (did you mean '" + guess + "'?)",
                     fmt::join(names, ", "));
    return 2;
  }
  for (const auto& c : commands) {
    if (args.empty() || args.front() != c.app->get_name()) continue;
    std::string bad =
        parley::find_unknown_option(*c.app, std::vector<std::string>(args.begin() + 1, args.end()));
    if (bad.empty()) break;
    std::string guess =
        bad.rfind("--", 0) == 0 ? parley::closest(bad, parley::option_names(*c.app)) : "";
    parley::cmd::say("{}: unknown option '{}'{}\nRun 'parley {} --help' for usage.", args.front(),
                     bad, guess.empty() ? "" : "; did you mean '" + guess + "'?", args.front());
    return 2;
  }
  if (args.empty()) {
    parley::cmd::write_all(STDERR_FILENO, app.help());
    return 2;
  }
  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector.
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::string where;
    for (const auto& c : commands)
      if (c.app->parsed()) where = c.app->get_name() + ": ";
    parley::cmd::say("{}{}\nRun 'parley {}--help' for usage.", where, plain_words(e.what()),
                     where.empty() ? "" : where.substr(0, where.size() - 2) + " ");
    return 2;
  }
  // A result that could not be written (a full disk) is a failure whatever the command thought.
  for (const auto& c : commands)
    if (c.app->parsed()) return parley::cmd::finish_output(c.run());
  return 2;
}
