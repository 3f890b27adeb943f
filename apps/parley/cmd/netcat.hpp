#pragma once
// What `connect` and `listen` share: the netcat options, their translation into library options,
// and the top-level error policy (one "parley: ..." line on stderr, exit 0/1/2 as ncat).

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "output.hpp"
#include "parley/endpoint.hpp"
#include "parley/relay.hpp"

namespace parley::cmd {

inline constexpr int kExitOk = 0;
inline constexpr int kExitNetwork = 1;
inline constexpr int kExitUsage = 2;

struct NetcatOptions {
  std::vector<std::string> args;  // Positionals: HOST PORT, HOST:PORT, [V6]:PORT, or PORT.
  bool ipv4 = false, ipv6 = false, numeric = false, udp = false, crlf = false;
  std::string unix_path;
  std::string source;    // -s: local address.
  int port_option = -1;  // -p: source port (connect) or listen port (listen).
  std::chrono::milliseconds wait{0}, idle{0};
  bool send_only = false, recv_only = false, no_shutdown = false;
  int verbose = 0;
  // Traffic logs: -o FILE, -x FILE / --hex-dump FILE (connect reads -x as the proxy with -X).
  std::string output_file, x_arg, hex_dump;
  bool append_output = false;
  std::chrono::milliseconds delay{0};  // -d: between lines sent.
  bool telnet = false;                 // -t
  bool shutdown_flag = false;          // -N: OpenBSD nc's "shut down at EOF", the default here.
  std::optional<std::chrono::milliseconds> quit_after;  // -q: quit this long after stdin EOF.
};

// Adds an option taking a time ("500ms", "2s", "1m", "1h", plain seconds).
CLI::Option* add_duration_option(CLI::App& app, const std::string& name,
                                 std::chrono::milliseconds& out, const std::string& help);

// -o, -x/--hex-dump and --append-output, under their own heading in --help (listening: -x has
// no proxy to dump).
void add_traffic_log_options(CLI::App& app, NetcatOptions& o, bool listening);

// For a time option where 0 means nothing useful (bench -d 0 would end the run before it began,
// doctor -w 0 would call every port filtered, forward --connect-timeout 0 would skip every
// target): refused at parse time.
CLI::Validator positive_time();

// A repeatable option that takes exactly one value each time it is given. CLI11 lets a vector
// option swallow every following word, so `--bind 127.0.0.1 12345` took the port as a second
// address; this makes the next word a positional again.
CLI::Option* one_value_each(CLI::Option* option);

// Adds the options both subcommands have, with their exclusion rules.
void add_common_options(CLI::App& app, NetcatOptions& o, bool listening);

Family family_of(const NetcatOptions& o);
// The relay's options, with the -o/-x files opened (shared by every relay of the command). On a
// failure to open one, prints one line naming the command and returns nullopt (exit 2).
// hex_path: the hex dump file (-x or --hex-dump, as the command reads them).
std::optional<RelayOptions> relay_options_or_say(const char* command, const NetcatOptions& o,
                                                 const std::string& hex_path);
// The -o/-x traffic log (null when neither is given). On a failure to open a file, prints one
// line naming the command and sets *bad.
std::shared_ptr<TrafficLog> traffic_log_or_say(const char* command, const NetcatOptions& o,
                                               const std::string& hex_path, bool* bad);
// The hex dump file named by -x or --hex-dump; on both, prints one line and sets *bad.
std::string hex_dump_path_or_say(const char* command, const NetcatOptions& o, bool* bad);

// The positional HOST PORT / HOST:PORT of a client command; on a mistake prints one usage line
// naming the command and returns nullopt.
std::optional<HostPort> target_or_say(const char* command, const std::vector<std::string>& args);

// "host:port", or "[v6]:port" for IPv6 literals, as messages show a target.
std::string format_target(const HostPort& hp);

// Exit status for a failure: 1 for network errors, 2 for everything else.
int exit_code_for(const std::error_code& ec);

// Prints the -v exit line ("6 bytes sent, 12 bytes received in 0.06 seconds.") and turns the
// relay's outcome into an exit status, with one line for a failure.
int finish_relay(const NetcatOptions& o, const RelayResult& r,
                 std::chrono::steady_clock::time_point start);

}  // namespace parley::cmd
