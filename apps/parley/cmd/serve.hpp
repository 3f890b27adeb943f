#pragma once
// What every server command shares around parley::Server: the access-control options, the log
// (timestamped text lines, or one JSON object per event with --log-format json), the startup
// lines, the sockets systemd hands over (socket activation), and the loop that waits for signals
// (the first SIGINT/SIGTERM drains, the second stops at once; SIGUSR1 and --stats-interval print
// counters).

#include <signal.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "parley/access.hpp"
#include "parley/listener.hpp"
#include "parley/metrics.hpp"
#include "parley/server.hpp"

namespace parley::cmd {

struct AccessArgs {
  std::vector<std::string> allow, deny, allow_files, deny_files;
};

// --allow, --deny, --allowfile, --denyfile.
void add_access_options(CLI::App& app, AccessArgs& a);

struct ProxyProtocolArgs {
  bool on = false;
  std::vector<std::string> from;  // Trusted proxies.
};

// --proxy-protocol, --proxy-protocol-from.
void add_proxy_protocol_options(CLI::App& app, ProxyProtocolArgs& p);
// Into the server's configuration; on a bad --proxy-protocol-from prints one line, false.
bool apply_proxy_protocol(const char* command, const ProxyProtocolArgs& p, ServerConfig* config);

// --io epoll|uring|auto (echo, forward).
CLI::Option* add_io_option(CLI::App& app, std::string& io);
// Into config->io. --io uring with what runs on epoll only (UDP, TLS on the listening side,
// --proxy-protocol), or on a kernel that cannot give it, prints one line and returns false;
// `streams` names what io_uring serves ("TCP; UDP echo runs on epoll").
bool apply_io(const char* command, const std::string& io, bool tls, const char* streams,
              ServerConfig* config);

// Builds the list; on a bad rule or file prints one line naming it and returns false.
bool build_access(const char* command, const AccessArgs& a, AccessList* out);

// How the server log is written: text lines in the command's words, or (--log-format json) one
// JSON object per line: {"time":"2025-01-31T12:00:00.123Z","event":"closed","peer":"...",
// "detail":"closed by peer","bytes_in":5,"bytes_out":5,"seconds":0.25}. Events: listening,
// started, connected, closed, refused, denied, message (any other line of the server), stats,
// stopping, summary, warning. Lines that are not JSON are errors that stop the command before
// it serves.
enum class LogFormat { text, json };

// --log-format text|json.
CLI::Option* add_log_format_option(CLI::App& app, LogFormat& format);

// One log line: local time with milliseconds, then the event, written with one write(2) so lines
// from different worker threads never interleave.
void log_line(std::string_view event);

// The JSON form of the log: one object per call, one write(2), from any thread.
void log_json_event(const ServerEvent& e);
void log_json(std::string_view event, std::string_view detail);
void log_json_stats(std::string_view event, const ServerStats& s, double seconds = -1);

// Points config.log and config.on_event at the JSON log (connection events are then logged
// whatever config.log_connections said, unless quiet).
void use_json_log(ServerConfig& config, bool quiet);

// "Listening on ..." for every address, a warning when that is loopback only (`fix` says how to
// listen on every address, or -- socket activation -- that the socket unit chose it), and (when
// bound to every address, text log only) "Reachable at ..." for each interface address a
// classmate could use.
void print_addresses(const Server& server, bool wildcard, std::string_view fix,
                     LogFormat format = LogFormat::text);
// The `fix` for sockets from systemd.
inline constexpr std::string_view kActivatedLoopback =
    "the socket unit listens on a loopback address";

void print_stats(const ServerStats& s, std::string_view prefix, LogFormat format = LogFormat::text);
// ", 3 failed handshakes" (PROXY header or TLS), or "" when there were none.
std::string handshakes_text(const ServerStats& s);
// What to do about Server::open's error, for "COMMAND: cannot listen on WHERE: ERROR{hint}"
// (echo, forward): " (not an address of this machine)", " (-4: give IPv4 addresses)", ...; ""
// when the error says it all. family: the one asked for (-4/-6).
std::string listen_failure_hint(const std::error_code& e, Family family);

// systemd socket activation (sd_listen_fds(3)): the sockets this process was started with
// (LISTEN_PID is ours; LISTEN_FDS sockets from descriptor 3; LISTEN_FDNAMES their names), ready
// for ServerConfig::listeners: close-on-exec, non-blocking, with their local addresses. The
// variables are removed from the environment, so programs started for clients (-e/-c) never
// take the sockets for theirs. `listeners` is empty when parley was not socket-activated.
struct ActivatedSockets {
  std::vector<Listener> listeners;
  std::vector<std::string> names;  // LISTEN_FDNAMES, one per listener ("" when not given).
  int socktype = 0;                // SOCK_STREAM or SOCK_DGRAM: the same for all of them.
};
// On a descriptor that is not a listening stream socket or a datagram socket (an Accept=yes
// unit passes connections, which parley does not serve), or a mix of both kinds, prints one
// line naming `command` and returns false.
bool activated_sockets(const char* command, ActivatedSockets* out);

// --metrics ADDR:PORT.
void add_metrics_option(CLI::App& app, std::string& address);
// Opens and starts the endpoint if asked for (null otherwise, or on failure with *failed set and
// one line printed). `service` names the server on the live page.
std::unique_ptr<MetricsServer> start_metrics(const char* command, const std::string& address,
                                             const Server& server, std::string service,
                                             bool* failed);

// Blocks SIGINT, SIGTERM and SIGUSR1 in the calling thread (and the workers it starts later);
// call before Server::start().
sigset_t block_server_signals();

// Waits until the server finishes, handling signals as described above; on_stop runs at the
// first SIGINT/SIGTERM (before the server drains). Returns the number of stop signals seen.
int serve(Server& server, const sigset_t& signals, std::chrono::milliseconds stats_interval,
          const std::function<void()>& on_stop = {}, LogFormat format = LogFormat::text);

}  // namespace parley::cmd
