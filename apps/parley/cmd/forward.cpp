// parley forward: port forwarding and relays (socat's everyday job), on the server runtime.
// Options, target resolution, startup and exit lines live here; the relaying is
// parley::forward_service().

#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/address_scope.hpp"
#include "parley/connector.hpp"
#include "parley/duration.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "parley/forward.hpp"
#include "parley/tls.hpp"
#include "serve.hpp"
#include "tls_options.hpp"
#include "unlink_on_exit.hpp"

namespace parley::cmd {
namespace {

struct ForwardArgs {
  std::vector<std::string> sides;  // LISTEN TARGET...
  bool udp = false, ipv4 = false, ipv6 = false, numeric = false;
  int verbose = 0;
  std::string io = "epoll";
  ServerConfig server;
  ForwardOptions forward;
  std::string proxy_protocol;
  AccessArgs access;
  ProxyProtocolArgs proxy_protocol_in;
  std::string metrics;
  std::chrono::milliseconds stats_interval{0};
  LogFormat log_format = LogFormat::text;
  bool activated = false;  // The listening sockets came from systemd; every side is a target.
  TlsArgs tls;             // --tls: terminate TLS on the listening side.
  // --target-tls: originate TLS to the targets, verified as connect --tls verifies.
  struct TargetTls {
    bool on = false, insecure = false;
    std::string ca, pin, servername, cert, key;
  } target_tls;
};

// The --target-tls client context, or false after one line (exit 2).
bool target_tls_or_say(ForwardArgs& o) {
  const auto& t = o.target_tls;
  if (!t.on) return true;
  tls::ClientConfig c;
  c.ca = t.ca, c.pin = t.pin, c.servername = t.servername, c.cert = t.cert, c.key = t.key;
  c.insecure = t.insecure;
  auto ctx = tls::Context::client(c);
  if (!ctx) {
    say("forward: --target-tls: {}", describe(ctx.error()));
    return false;
  }
  if (t.insecure)
    say("forward: warning: --target-tls-insecure: the targets' certificates are NOT verified");
  o.forward.target_tls = *ctx;
  return true;
}

void add_target_tls_options(CLI::App& app, ForwardArgs::TargetTls& t) {
  const char* group = "TLS to the targets";
  auto* on =
      app.add_flag("--target-tls", t.on, "Speak TLS to the targets, verifying them")->group(group);
  auto need = [&](CLI::Option* option) { return option->group(group)->needs(on); };
  auto* ca = need(app.add_option("--target-tls-ca", t.ca,
                                 "Trust these CA certificates for the targets (PEM file or dir)")
                      ->type_name("FILE|DIR"));
  auto* pin = need(app.add_option("--target-tls-pin", t.pin,
                                  "Accept exactly the target certificate with this fingerprint")
                       ->type_name("sha256:HEX"));
  need(app.add_option("--target-tls-servername", t.servername,
                      "Name sent as SNI and checked (default: the target's host)")
           ->type_name("NAME"));
  auto* cert = need(
      app.add_option("--target-tls-cert", t.cert, "Client certificate (PEM)")->type_name("FILE"));
  need(app.add_option("--target-tls-key", t.key, "Key for --target-tls-cert (PEM)")
           ->type_name("FILE"))
      ->needs(cert);
  need(app.add_flag("--target-tls-insecure", t.insecure, "Verify nothing (says so on stderr)"))
      ->excludes(pin)
      ->excludes(ca);
}

Family family_of(const ForwardArgs& o) {
  return o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
}

// Every address of every target, resolved once now. A target that does not resolve is a usage
// error (exit 2). Whether one answers is learnt from the clients (no test connection is made,
// which a backend would log as an empty client): one that does not is logged and rested.
bool resolve_targets(ForwardArgs& o) {
  for (std::size_t i = o.activated ? 0 : 1; i < o.sides.size(); ++i) {
    const std::string& text = o.sides[i];
    auto e = parse_forward_endpoint(text, false);
    if (!e) {
      say("forward: target '{}': {}", text, describe(e.error()));
      return false;
    }
    ForwardTarget t{text, e->host, {}};
    if (e->is_unix()) {
      if (o.udp) {
        say("forward: -u forwards UDP to UDP; '{}' is a Unix socket", text);
        return false;
      }
      t.addresses.push_back(SocketAddress::unix_path(e->unix_path).value());
    } else {
      ResolveOptions ro{family_of(o), o.numeric, o.udp ? SOCK_DGRAM : SOCK_STREAM, false};
      auto addresses = resolve(e->host, e->port, ro);
      if (!addresses) {
        say("forward: target '{}': {}", text, describe(addresses.error()));
        return false;
      }
      t.addresses = std::move(*addresses);
    }
    o.forward.targets.push_back(std::move(t));
  }
  return true;
}

// Whether ip (the port aside) is an address of this machine: only those can be bound.
bool local_address(const SocketAddress& ip) {
  Fd probe(::socket(ip.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
  SocketAddress any_port = ip;
  any_port.set_port(0);
  return probe && ::bind(probe.get(), any_port.get(), any_port.size()) == 0;
}

// A target that is one of the forwarder's own listeners: the same address, or the port of a
// wildcard listener at an address of this machine. Each client would be forwarded to the
// forwarder again, opening connections until descriptors ran out ('forward 8080 8080').
const ForwardTarget* target_to_itself(const std::vector<ForwardTarget>& targets,
                                      const std::vector<SocketAddress>& listening) {
  for (const auto& t : targets) {
    for (const auto& a : t.addresses) {
      for (const auto& l : listening) {
        if (l.family() != a.family()) continue;
        if (l.to_string() == a.to_string()) return &t;
        if (l.port() == a.port() && classify(l) == AddressScope::unspecified && local_address(a))
          return &t;
      }
    }
  }
  return nullptr;
}

// The listening side: a Unix socket is opened here (shared by the workers); an address and port
// go to the runtime, which opens one SO_REUSEPORT set per worker.
bool listening_side(ForwardArgs& o, std::string* unix_path) {
  auto e = parse_forward_endpoint(o.sides.front(), true);
  if (!e) {
    say("forward: listen on '{}': {}", o.sides.front(), describe(e.error()));
    return false;
  }
  if (e->is_unix()) {
    if (o.udp) {
      say("forward: -u forwards UDP to UDP; '{}' is a Unix socket", o.sides.front());
      return false;
    }
    auto l = open_unix_listener(e->unix_path, SOCK_STREAM);
    if (!l) {
      say("forward: cannot listen on {}: {}", e->unix_path, describe(l.error()));
      return false;
    }
    *unix_path = e->unix_path;
    o.server.listeners.push_back(std::move(*l));
    return true;
  }
  if (!e->host.empty()) o.server.bind.push_back(e->host);
  o.server.port = e->port;
  return true;
}

// Under systemd the listening sockets come from the .socket unit, and every side given is a
// target. False (after one line) on a conflict.
bool take_activated_sockets(ForwardArgs& o) {
  ActivatedSockets sockets;
  if (!activated_sockets("forward", &sockets)) return false;
  if (sockets.listeners.empty()) return true;
  if ((sockets.socktype == SOCK_DGRAM) != o.udp) {
    say("forward: systemd passed {} sockets: {}",
        sockets.socktype == SOCK_DGRAM ? "datagram" : "stream", o.udp ? "leave out -u" : "add -u");
    return false;
  }
  o.activated = true;
  o.server.listeners = std::move(sockets.listeners);
  return true;
}

// The text log: one line per connection when it ends (-v).
void log_forward_event(const ServerEvent& e) {
  switch (e.kind) {
    case ServerEvent::Kind::closed:
      return log_line(fmt::format("{} {} ({:.2f} s)", e.peer, e.detail, e.seconds));
    case ServerEvent::Kind::refused:
      return log_line(fmt::format("{} refused: {}", e.peer, e.detail));
    case ServerEvent::Kind::denied:
      return log_line(fmt::format("{} refused by {}", e.peer, e.detail));
    case ServerEvent::Kind::connected:
      return log_line(fmt::format("{} connected", e.peer));
  }
}

// The log, text or JSON (which, like listen's, has every connection).
void set_log(ForwardArgs& o) {
  o.server.log_connects = false;  // One line per connection, when it ends.
  if (o.log_format == LogFormat::json) return use_json_log(o.server, false);
  o.server.log_connections = o.verbose > 0;
  o.server.log = log_line;
  o.server.on_event = log_forward_event;
}

// In the log's format.
void say_line(const ForwardArgs& o, std::string_view event, const std::string& text) {
  if (o.log_format == LogFormat::json) return log_json(event, text);
  say("{}", text);
}

// Applies the options that need more than CLI11's rules: systemd's sockets or the listening
// side, the targets (resolved), access lists, PROXY protocol both ways, --io, TLS on either
// side. False: it said why (exit 2).
bool prepare_forward(ForwardArgs& o) {
  if (!take_activated_sockets(o)) return false;
  if (o.activated && o.sides.empty()) {
    say("forward: the listening sockets come from systemd (LISTEN_FDS): give the targets "
        "(e.g. 127.0.0.1:80)");
    return false;
  }
  if (!o.activated && o.sides.size() < 2) {
    say("forward: give where to listen and at least one target: LISTEN TARGET... "
        "(e.g. 8080 127.0.0.1:80)");
    return false;
  }
  if (!o.proxy_protocol.empty())
    o.forward.proxy_protocol =
        o.proxy_protocol == "v1" ? ProxyProtocolVersion::v1 : ProxyProtocolVersion::v2;
  if (!build_access("forward", o.access, &o.server.access)) return false;
  if (!apply_proxy_protocol("forward", o.proxy_protocol_in, &o.server)) return false;
  if (o.proxy_protocol_in.on && o.udp) {
    say("forward: --proxy-protocol is for TCP connections, not UDP");
    return false;
  }
  o.server.udp = o.udp;
  if (!apply_io("forward", o.io, o.tls.enabled,
                "TCP and Unix streams; UDP forwarding runs on epoll", &o.server))
    return false;
  if (!resolve_targets(o)) return false;
  if (!target_tls_or_say(o)) return false;
  if (o.tls.enabled && !(o.server.tls = tls_server_or_say("forward", o.tls, true))) return false;
  return true;
}

int run_forward(ForwardArgs& o) {
  const auto start = std::chrono::steady_clock::now();
  if (!prepare_forward(o)) return kExitUsage;
  std::string unix_path;
  auto held = std::make_unique<ExitSignalsHeld>();  // Until the socket file's cleanup is armed.
  if (!o.activated && !listening_side(o, &unix_path)) return kExitUsage;
  UnlinkOnExit cleanup(unix_path);
  held.reset();
  o.forward.udp = o.udp;
  o.server.refusal.clear();  // A relay never puts bytes of its own into the stream.
  set_log(o);
  const bool wildcard = o.server.bind.empty() && unix_path.empty() && !o.activated;
  const std::string from = o.activated ? "systemd's sockets" : o.sides.front();
  const Family family = o.server.family;
  auto server = Server::open(std::move(o.server), forward_service(o.forward));
  if (!server) {
    say("forward: cannot listen on {}: {}{}", from, describe(server.error()),
        listen_failure_hint(server.error(), family));
    return kExitUsage;
  }
  if (const auto* t = target_to_itself(o.forward.targets, (*server)->local_addresses())) {
    say("forward: target '{}' is this forwarder's own listening address: each client would be "
        "forwarded to itself",
        t->text);
    return kExitUsage;
  }
  if (o.verbose) say_line(o, "message", fmt::format("I/O: {}", (*server)->io()));
  sigset_t signals = block_server_signals();
  print_addresses(
      **server, wildcard,
      o.activated ? kActivatedLoopback : "give the port alone to listen on every address",
      o.log_format);
  std::vector<std::string> names;
  for (const auto& t : o.forward.targets) names.push_back(t.text);
  say_line(o, "started",
           fmt::format("Forwarding {} to {} ({}, {} thread{}). Stop with Ctrl-C; kill -USR1 {} "
                       "prints counters.",
                       from, fmt::join(names, ", "), o.udp ? "UDP" : "TCP", (*server)->workers(),
                       (*server)->workers() == 1 ? "" : "s", getpid()));
  bool failed = false;
  auto metrics = start_metrics("forward", o.metrics, **server, "forward", &failed);
  if (failed) return kExitUsage;
  (*server)->start();
  serve(
      **server, signals, o.stats_interval,
      [&o] {
        say_line(o, "stopping",
                 "Stopping: finishing the connections in flight (signal again to stop now).");
      },
      o.log_format);
  ServerStats s = (*server)->stats();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (o.log_format == LogFormat::json) {
    log_json_stats("summary", s, std::chrono::duration<double>(elapsed).count());
    return kExitOk;
  }
  say("{} connection{} forwarded ({} refused, {} denied{}), {} bytes up, {} bytes down in {} s.",
      s.total, s.total == 1 ? "" : "s", s.refused, s.denied, handshakes_text(s), s.bytes_in,
      s.bytes_out, format_seconds(elapsed));
  return kExitOk;
}

// The examples and the rules that do not fit an option's line, under `forward --help`.
constexpr const char* kForwardFooter =
    "Sides: [HOST:]PORT, [IPv6]:PORT, unix:PATH, unix:@NAME (abstract). A bare PORT listens on\n"
    "every address; as a target it means this machine.\n"
    "Examples:\n"
    "  parley forward 8080 10.0.0.5:80                a port to a backend\n"
    "  parley forward 8080 10.0.0.5:80 10.0.0.6:80    round robin; a refusing target is skipped\n"
    "  parley forward 127.0.0.1:5432 unix:/run/postgresql/.s.PGSQL.5432\n"
    "  parley forward unix:/tmp/web.sock 127.0.0.1:80 a Unix socket in front of a TCP service\n"
    "  parley forward -u 5353 10.0.0.1:53             UDP, a session per client\n"
    "  parley forward --proxy-protocol-send v2 443 10.0.0.5:443\n"
    "  parley forward --tls --tls-cert c.pem --tls-key k.pem 443 127.0.0.1:80   terminate TLS\n"
    "  parley forward 8080 --target-tls example.org:443   originate TLS (verified)\n"
    "Each direction half-closes on its own; a session ends when both are done, or when either\n"
    "side resets (the reset is passed on). A side that does not read pauses the other (at most\n"
    "1 MiB in flight per direction). -v logs one line per connection when it ends; SIGUSR1 or\n"
    "--stats-interval prints counters; SIGTERM finishes the connections in flight (up to\n"
    "--drain-timeout, 30s); a second signal stops at once, and a connection cut then is reset\n"
    "on both sides, so no one takes it for a whole transfer. --log-format json writes one\n"
    "object per event, every connection included.\n"
    "Under systemd socket activation (LISTEN_FDS) forward serves the sockets it is given and\n"
    "every side is a target: ExecStart=/usr/bin/parley forward 10.0.0.5:80.\n"
    "Exit status: 0 ok, 2 usage or local error (a target that does not answer is not fatal).";

}  // namespace

Subcommand forward_command(CLI::App& root) {
  auto o = std::make_shared<ForwardArgs>();
  o->server.threads = std::max(1u, std::thread::hardware_concurrency());
  o->server.drain_timeout = std::chrono::seconds(30);
  auto* app = root.add_subcommand(
      "forward", "Forward a port to one or more targets (relay, like socat fork or HAProxy tcp)");
  app->footer(kForwardFooter);
  app->add_option("sides", o->sides, "LISTEN TARGET...")->expected(0, -1);
  app->add_flag("-u,--udp", o->udp, "Forward UDP (a session per client address)");
  auto* v4 = app->add_flag("-4", o->ipv4, "Targets: IPv4 addresses only");
  app->add_flag("-6", o->ipv6, "Targets: IPv6 addresses only")->excludes(v4);
  app->add_flag("-n,--nodns", o->numeric, "Numeric addresses only, never ask DNS");
  app->add_option("--threads", o->server.threads, "Event loops, one per thread (default: cores)")
      ->check(CLI::Range(1, 256));
  add_io_option(*app, o->io);
  app->add_option("-m,--max-conns", o->server.max_conns,
                  "Most clients at once (default 10000); more are closed at once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  add_duration_option(*app, "--connect-timeout", o->forward.connect_timeout,
                      "A target that does not answer within this is skipped (default 5s)")
      ->check(positive_time());
  add_duration_option(*app, "--idle-timeout", o->server.idle_timeout,
                      "Close connections with no data either way for this long");
  add_duration_option(*app, "--udp-timeout", o->forward.udp_timeout,
                      "-u: a client's session ends after this long without traffic (default 60s)")
      ->check(positive_time())
      ->needs("-u");
  add_duration_option(*app, "--drain-timeout", o->server.drain_timeout,
                      "On SIGTERM, time allowed to finish the connections (default 30s)");
  add_duration_option(*app, "--stats-interval", o->stats_interval, "Print counters this often");
  app->add_option("--proxy-protocol-send", o->proxy_protocol,
                  "Tell the target who the client is: a PROXY protocol v1 or v2 header first")
      ->check(CLI::IsMember({"v1", "v2"}));
  add_access_options(*app, o->access);
  add_proxy_protocol_options(*app, o->proxy_protocol_in);
  add_metrics_option(*app, o->metrics);
  add_log_format_option(*app, o->log_format);
  app->add_flag("-v,--verbose", o->verbose, "One log line per connection");
  add_tls_options(*app, o->tls, TlsRole::server);
  add_target_tls_options(*app, o->target_tls);
  tls_excludes(*app, {"-u"});
  app->get_option("--target-tls")->excludes("-u");
  return {app, [o] { return run_forward(*o); }};
}

}  // namespace parley::cmd
