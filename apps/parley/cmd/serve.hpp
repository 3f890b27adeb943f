#pragma once
// What every server command shares around parley::Server: the access-control options, the
// timestamped log line, the startup lines, and the loop that waits for signals (the first
// SIGINT/SIGTERM drains, the second stops at once; SIGUSR1 and --stats-interval print counters).

#include <signal.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "parley/access.hpp"
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

// Builds the list; on a bad rule or file prints one line naming it and returns false.
bool build_access(const char* command, const AccessArgs& a, AccessList* out);

// One log line: local time with milliseconds, then the event, written with one write(2) so lines
// from different worker threads never interleave.
void log_line(std::string_view event);

// "Listening on ..." for every address, a warning when that is loopback only (`fix` says how to
// listen on every address), and (when bound to every address) "Reachable at ..." for each
// interface address a classmate could use.
void print_addresses(const Server& server, bool wildcard, std::string_view fix);

void print_stats(const ServerStats& s, std::string_view prefix);

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
          const std::function<void()>& on_stop = {});

}  // namespace parley::cmd
