// parley scan: which ports of a host answer. TCP connect scan or UDP scan, many probes at once,
// optionally through a proxy; OpenBSD nc -z's output and exit status.

#include "scan.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/dial.hpp"
#include "parley/errors.hpp"
#include "parley/ports.hpp"
#include "parley/scan.hpp"
#include "proxy_options.hpp"

namespace parley::cmd {
namespace {

// Descriptors left for stdio, the epoll instance and the resolver.
constexpr rlim_t kReservedFds = 32;

// Lifts the soft descriptor limit to the hard one (capped) and returns how many probes fit.
std::size_t probes_that_fit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 64;
  rlim_t want = std::min<rlim_t>(rl.rlim_max, 65536);
  if (rl.rlim_cur < want) {
    rlimit raised = rl;
    raised.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur > kReservedFds + 1 ? static_cast<std::size_t>(rl.rlim_cur - kReservedFds) : 1;
}

// HOST PORTS [PORTS...] or HOST:PORTS: the host, and the port list text ("20-30,80").
bool split_target(const std::vector<std::string>& args, std::string* host, std::string* ports) {
  if (args.size() >= 2) {
    *host = args[0];
    if (host->size() > 2 && host->front() == '[' && host->back() == ']')
      *host = host->substr(1, host->size() - 2);
    for (std::size_t i = 1; i < args.size(); ++i) *ports += (i > 1 ? "," : "") + args[i];
    return true;
  }
  if (args.size() != 1) return false;
  const std::string& a = args[0];
  if (!a.empty() && a.front() == '[') {
    auto close = a.find("]:");
    if (close == std::string::npos) return false;
    *host = a.substr(1, close - 1);
    *ports = a.substr(close + 2);
    return true;
  }
  auto colon = a.rfind(':');
  if (colon == std::string::npos || a.find(':') != colon) return false;
  *host = a.substr(0, colon);
  *ports = a.substr(colon + 1);
  return true;
}

struct Printer {
  std::string host;
  const char* proto;
  bool json;
  int verbose;
  bool quiet;
  bool any_open = false;

  bool operator()(const PortResult& r) {
    std::string service = system_service_name(r.port, proto);
    if (r.state == PortState::open || r.state == PortState::open_filtered) any_open = true;
    if (quiet) return true;
    if (json) {
      nlohmann::json j = {{"host", host},
                          {"port", r.port},
                          {"proto", proto},
                          {"state", port_state_name(r.state)},
                          {"service", service.empty() ? nlohmann::json() : nlohmann::json(service)},
                          {"rtt_us", r.rtt ? nlohmann::json(r.rtt->count()) : nlohmann::json()}};
      return out_text(j.dump() + "\n");
    }
    const std::string tag = fmt::format("[{}/{}]", proto, service.empty() ? "*" : service);
    switch (r.state) {
      case PortState::open:
        say("Connection to {} {} port {} succeeded!", host, r.port, tag);
        break;
      case PortState::open_filtered:
        say("{} {} port {} open|filtered: no answer", host, r.port, tag);
        break;
      case PortState::closed:
      case PortState::filtered:
        if (verbose > 0) {
          say("connect to {} port {} ({}) failed: {}{}", host, r.port, proto, describe(r.why),
              r.state == PortState::filtered ? " (filtered)" : "");
        }
        break;
    }
    return true;
  }
};

// The -s/-p source of every probe; an exit code if it cannot be used.
std::optional<int> set_source(const char* command, const ScanArgs& a, Family family,
                              ScanOptions& so) {
  if (a.source.empty() && a.source_port < 0) return std::nullopt;
  auto src = resolve(a.source, static_cast<std::uint16_t>(std::max(a.source_port, 0)),
                     {family, a.numeric, so.socktype, true});
  if (!src) {
    say("{}: source {}: {}", command, a.source, describe(src.error()));
    return exit_code_for(src.error());
  }
  so.source = src->front();
  return std::nullopt;
}

// Where the probes go: the host's address, or the proxy that asks for the host (so.proxy); an
// exit code if neither can be found.
std::optional<int> set_target(const char* command, const ScanArgs& a, const std::string& host,
                              const std::optional<ProxySpec>& proxy, Family family, ScanOptions& so,
                              SocketAddress& address) {
  if (proxy) {
    auto request = proxy_request_target({host, 0}, *proxy, family, a.numeric);
    auto server = request ? resolve(proxy->server.host, proxy->server.port,
                                    {family, a.numeric, SOCK_STREAM, false})
                          : Result<std::vector<SocketAddress>>(request.error());
    if (!server) {
      say("{}: {} through proxy {}: {}", command, host, proxy_text(*proxy),
          describe(server.error()));
      return exit_code_for(server.error());
    }
    if (so.source && so.source->family() != server->front().family()) so.source.reset();
    so.proxy = ScanProxy{server->front(), proxy->type, request->host, proxy->auth};
    return std::nullopt;
  }
  auto resolved = resolve(host, 0, {family, a.numeric, so.socktype, false});
  if (!resolved) {
    say("{}: {}: {}", command, host, describe(resolved.error()));
    return exit_code_for(resolved.error());
  }
  address = resolved->front();
  // A source of the other family cannot reach this address.
  if (so.source && so.source->family() != address.family()) {
    say("{}: the source address is not of {}'s family", command, host);
    return kExitUsage;
  }
  return std::nullopt;
}

}  // namespace

int run_scan(const char* command, const ScanArgs& a, const std::optional<ProxySpec>& proxy) {
  std::string host, port_text;
  if (!split_target(a.args, &host, &port_text)) {
    say("{}: give the host and the ports: HOST PORTS (e.g. 20-30,80,443,http)", command);
    return kExitUsage;
  }
  if (host.empty()) {  // getaddrinfo would take it for this machine without a word.
    say("{}: no host given: HOST PORTS (e.g. 20-30,80,443,http)", command);
    return kExitUsage;
  }
  const char* proto = a.udp ? "udp" : "tcp";
  std::string why;
  auto ports = parse_port_list(
      port_text, [&](std::string_view name) { return system_service_port(name, proto); }, &why);
  if (!ports) {
    say("{}: bad port list '{}': {}", command, port_text, why);
    return kExitUsage;
  }
  if (a.random) std::shuffle(ports->begin(), ports->end(), std::mt19937(std::random_device{}()));

  const Family family = a.ipv4 ? Family::v4 : a.ipv6 ? Family::v6 : Family::any;
  const int socktype = a.udp ? SOCK_DGRAM : SOCK_STREAM;
  ScanOptions so;
  so.socktype = socktype;
  so.timeout = a.wait.count() > 0 ? a.wait : kDefaultScanWait;
  const std::size_t fit = probes_that_fit();
  so.parallel = std::min(a.parallel > 0 ? a.parallel : kDefaultParallel, fit);
  if (a.source_port > 0) so.parallel = 1;  // One local port can make one connection at a time.
  if (auto rc = set_source(command, a, family, so)) return *rc;
  SocketAddress address;
  if (auto rc = set_target(command, a, host, proxy, family, so, address)) return *rc;
  Printer print{host, proto, a.json, a.verbose, a.quiet};
  auto ec = scan_ports(address, *ports, so, [&](const PortResult& r) { return print(r); });
  if (ec) {
    if (proxy)
      say("{}: {} through proxy {}: {}", command, host, proxy_text(*proxy), describe(ec));
    else
      say("{}: {}", command, describe(ec));
    return exit_code_for(ec) == kExitNetwork ? kExitNetwork : kExitUsage;
  }
  return print.any_open ? kExitOk : kExitNetwork;
}

namespace {

struct ScanCommandArgs : ScanArgs {
  ProxyArgs proxy;
  std::string x_arg;
};

int run_scan_command(const ScanCommandArgs& o) {
  bool bad = false;
  auto proxy = proxy_spec_or_say("scan", o.proxy, o.x_arg, &bad);
  if (bad) return kExitUsage;
  if (proxy && o.udp) {
    say("scan: proxies carry TCP only; drop -u or the proxy");
    return kExitUsage;
  }
  return run_scan("scan", o, proxy);
}

}  // namespace

void add_scan_options(CLI::App& app, ScanArgs& o) {
  app.add_flag("-r,--randomize", o.random, "Probe the ports in random order");
  app.add_option("--parallel", o.parallel,
                 "Probes at once (default 500, bounded by the descriptor limit)")
      ->type_name("N")
      ->check(CLI::Range(1, 65535));
  app.add_flag("--json", o.json,
               "One JSON object per port on stdout: host, port, proto, state (open, closed, "
               "filtered, open|filtered), service, rtt_us");
}

Subcommand scan_command(CLI::App& root) {
  auto o = std::make_shared<ScanCommandArgs>();
  auto* app = root.add_subcommand("scan", "Which ports of a host are open (nc -z)");
  app->footer(
      "PORTS: a port, a range, a list or a mix: 22, 20-30, 80,443,http, -1024, 8000-.\n"
      "Examples:\n"
      "  parley scan example.org 20-30,80,443       (or: parley connect -z example.org 20-30)\n"
      "  parley scan -v -w 500ms 10.0.0.5 1-1024    closed and filtered ports too\n"
      "  parley scan -u 127.0.0.1 53,123,161        UDP\n"
      "  parley scan --json localhost 1-1024 | jq -c 'select(.state == \"open\")'\n"
      "  parley scan --quiet db.lan 5432 && echo up   the exit status only\n"
      "Open ports print as OpenBSD nc does (\"Connection to HOST 22 port [tcp/ssh] succeeded!\")\n"
      "on stderr. Exit status: 0 if a port is open, 1 if none, 2 for a bad port list.");
  app->add_option("target", o->args, "HOST PORTS... or HOST:PORTS")->expected(0, -1);
  auto* v4 = app->add_flag("-4", o->ipv4, "Use IPv4 only");
  app->add_flag("-6", o->ipv6, "Use IPv6 only")->excludes(v4);
  app->add_flag("-n,--nodns", o->numeric, "Numeric addresses only, never ask DNS");
  add_duration_option(*app, "-w,--wait", o->wait, "Time to wait for each port (default 2s)");
  app->add_flag("-u,--udp", o->udp,
                "UDP scan (silence is open|filtered, ICMP port unreachable closed)");
  add_scan_options(*app, *o);
  app->add_option("-s,--source", o->source, "Local address to scan from")->type_name("ADDR");
  app->add_option("-p,--source-port", o->source_port,
                  "Local port to scan from (one probe at a time)")
      ->type_name("PORT")
      ->check(CLI::Range(0, 65535));
  auto* verbose =
      app->add_flag("-v,--verbose", o->verbose, "Also report closed and filtered ports");
  app->add_flag("--quiet", o->quiet, "Print nothing: the exit status says whether a port is open")
      ->excludes(verbose)
      ->excludes("--json");
  add_proxy_options(*app, o->proxy);
  app->add_option("-x", o->x_arg, "With -X: the proxy's HOST:PORT (OpenBSD nc)")
      ->type_name("HOST:PORT")
      ->group("Proxy");
  return {app, [o] { return run_scan_command(*o); }};
}

}  // namespace parley::cmd
