// parley: one binary, many subcommands. main() only wires the command line to the subcommands and
// turns parse errors into exit status 2; each subcommand's run() owns its own errors.

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "args.hpp"
#include "cmd/commands.hpp"
#include "cmd/output.hpp"
#include "doc/generate.hpp"
#include "doc/help.hpp"
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
      // No /dev/null (a chroot, or a broken /dev): any descriptor will do as long as the slot is
      // not left for a socket; one opened with O_PATH fails every read and write.
      if (n < 0) n = open("/", O_PATH | O_CLOEXEC);
      if (n >= 0 && n != fd) {
        dup2(n, fd);
        close(n);
      }
    }
  }
}

const std::string kVersionLine = std::string("parley ") + parley::kVersion;

using Factory = parley::cmd::Subcommand (*)(CLI::App&);
struct Command {
  const char* name;
  Factory make;
};
// Every command, in the order --help lists them. Only the one that runs is built (its options,
// validators and callbacks): building all ten touched ~1 MB more of the binary at every start,
// which `conns` pays against ss's memory. --help, help, --generate and errors build them all.
constexpr Command kCommands[] = {
    {"connect", parley::cmd::connect_command}, {"listen", parley::cmd::listen_command},
    {"echo", parley::cmd::echo_command},       {"conns", parley::cmd::conns_command},
    {"talk", parley::cmd::talk_command},       {"bench", parley::cmd::bench_command},
    {"chat", parley::cmd::chat_command},       {"doctor", parley::cmd::doctor_command},
    {"scan", parley::cmd::scan_command},       {"forward", parley::cmd::forward_command}};

// -V and --version on every command (only --version where a command uses -V for itself).
void add_version_flags(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_option_no_throw("--version") != nullptr) continue;
    sub->set_version_flag(sub->get_option_no_throw("-V") ? "--version" : "-V,--version",
                          kVersionLine);
  }
}

// An option the named command does not have is named as such, with a guess, before CLI11 would
// report it as an extra argument ("At Most 2 required but received 3"). False: it said so.
bool options_known(const std::vector<parley::cmd::Subcommand>& commands,
                   const std::vector<std::string>& args) {
  for (const auto& c : commands) {
    if (args.empty() || args.front() != c.app->get_name()) continue;
    std::string bad =
        parley::find_unknown_option(*c.app, std::vector<std::string>(args.begin() + 1, args.end()));
    if (bad.empty()) return true;
    std::string guess =
        bad.rfind("--", 0) == 0 ? parley::closest(bad, parley::option_names(*c.app)) : "";
    parley::cmd::say("{}: unknown option '{}'{}\nRun 'parley {} --help' for usage.", args.front(),
                     bad, guess.empty() ? "" : "; did you mean '" + guess + "'?", args.front());
    return false;
  }
  return true;
}

// CLI11 parses; --help and --version are results (written through out(), so that a full disk is
// reported), a usage error is said in plain words (exit 2), else the parsed command runs.
int parse_and_run(CLI::App& app, std::vector<std::string> args,
                  const std::vector<parley::cmd::Subcommand>& commands) {
  try {
    std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector.
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    parley::cmd::out_text(app.help());  // The help of the command asked about.
    return parley::cmd::finish_output(0);
  } catch (const CLI::CallForVersion& e) {
    parley::cmd::out_text(std::string(e.what()) + "\n");
    return parley::cmd::finish_output(0);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      // --help and --version are results: through out(), so that a full disk is reported.
      std::ostringstream text, errors;
      app.exit(e, text, errors);
      parley::cmd::out_text(text.str());
      return parley::cmd::finish_output(0);
    }
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

}  // namespace

int main(int argc, char** argv) {
  ensure_standard_fds();
  // Writes to a closed socket or pipe report EPIPE instead of killing the process.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{
      "parley: netcat, echo server, line client, socket lister, load tester and network "
      "doctor in one.",
      "parley"};
  parley::doc::use_help_formatter(app);  // Before the commands: each copies it when added.
  app.set_version_flag("-V,--version", kVersionLine);
  app.require_subcommand(1);
  app.footer(
      "netcat habits work too: 'parley HOST PORT' connects, 'parley -l PORT' listens.\n"
      "Run 'parley help COMMAND' (or 'parley COMMAND --help') for a command's options.\n"
      "Examples:\n"
      "  parley example.org 80            connect, as nc does (parley connect example.org 80)\n"
      "  parley -lk 12345                 listen for many clients (parley listen -k 12345)\n"
      "  parley echo                      an echo server on port 12345, every core\n"
      "  parley conns -tanp               TCP sockets with their processes, as ss -tanp\n"
      "  parley help conns                the options of one command");
  std::vector<std::string> names;  // As error messages list them (help is not a tool).
  for (const auto& c : kCommands) names.push_back(c.name);
  std::vector<std::string> known = names;
  known.push_back("help");

  std::vector<std::string> raw(argv + 1, argv + argc);
  const bool generating = !raw.empty() && raw.front() == "--generate";
  std::string unknown;
  auto args = generating ? raw : parley::normalize_args(std::move(raw), known, &unknown);
  const bool one =
      !args.empty() && std::find(names.begin(), names.end(), args.front()) != names.end();
  std::vector<parley::cmd::Subcommand> commands;
  for (const auto& c : kCommands)
    if (!one || args.front() == c.name) commands.push_back(c.make(app));
  if (commands.size() == std::size(kCommands)) commands.push_back(parley::cmd::help_command(app));
  add_version_flags(app);
  // Build-time use (and packagers'): man pages and completions from this very command tree.
  if (generating)
    return parley::doc::generate(app, std::vector<std::string>(args.begin() + 1, args.end()));
  if (!unknown.empty()) {
    std::string guess = parley::closest(unknown, names);
    parley::cmd::say("unknown command '{}'{}. Commands: {}. See parley --help.", unknown,
                     guess.empty() ? "" : " (did you mean '" + guess + "'?)",
                     fmt::join(names, ", "));
    return 2;
  }
  if (!options_known(commands, args)) return 2;
  if (args.empty()) {
    parley::cmd::write_all(STDERR_FILENO, app.help());
    return 2;
  }
  return parse_and_run(app, std::move(args), commands);
}
