// parley echo: the multi-client echo server (RFC 862), with a reply template per chunk or per
// line for the seed's "You told me: ..." servers. Options, startup messages and the summary live
// here; the server is parley::Server running the echo service.

#include <unistd.h>

#include <memory>
#include <thread>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/duration.hpp"
#include "parley/echo_server.hpp"
#include "parley/errors.hpp"
#include "serve.hpp"
#include "tls_options.hpp"

namespace parley::cmd {
namespace {

struct EchoArgs {
  std::vector<std::string> positional;  // [PORT]
  int port = -1;
  ServerConfig server;
  EchoOptions echo;
  AccessArgs access;
  ProxyProtocolArgs proxy_protocol;
  TlsArgs tls;
  bool quiet = false;
  bool verbose = false;
  bool ipv4 = false, ipv6 = false;
  std::string io = "epoll";
  LogFormat log_format = LogFormat::text;
  std::string metrics;
  std::chrono::milliseconds stats_interval{0};
};

// Under systemd the listening sockets come from the .socket unit: they replace the port and
// --bind, and say whether this is a TCP or a UDP echo. False (after one line) on a conflict.
bool take_activated_sockets(EchoArgs& o, bool* activated) {
  ActivatedSockets sockets;
  if (!activated_sockets("echo", &sockets)) return false;
  *activated = !sockets.listeners.empty();
  if (!*activated) return true;
  if (!o.positional.empty() || o.port >= 0 || !o.server.bind.empty()) {
    say("echo: the listening sockets come from systemd (LISTEN_FDS): leave out the port and "
        "--bind");
    return false;
  }
  if (o.server.udp && sockets.socktype == SOCK_STREAM) {
    say("echo: -u: systemd passed stream sockets (ListenStream=); use ListenDatagram= for UDP");
    return false;
  }
  o.server.udp = sockets.socktype == SOCK_DGRAM;
  o.server.listeners = std::move(sockets.listeners);
  return true;
}

// Text: the runtime's timestamped lines; JSON: one object per event.
void set_log(EchoArgs& o) {
  if (o.log_format == LogFormat::json) return use_json_log(o.server, o.quiet);
  o.server.log_connections = !o.quiet;
  o.server.log = log_line;
}

// The line that says the server runs, in the log's format.
void say_started(const EchoArgs& o, const Server& server, bool udp) {
  const unsigned threads = server.workers();
  std::string text = fmt::format(
      "Echo server{} ({}, {} thread{}). Stop with Ctrl-C; kill -USR1 {} "
      "prints counters.",
      o.echo.lines ? " in line mode" : "",
      udp             ? "UDP"
      : o.tls.enabled ? "TLS over TCP"
                      : "TCP",
      threads, threads == 1 ? "" : "s", getpid());
  if (o.log_format == LogFormat::json) return log_json("started", text);
  say("{}", text);
}

// Applies the options that need more than CLI11's rules: the port (argument or -p), repeated
// --bind addresses, systemd's sockets, access lists, PROXY protocol, --io, TLS. False: it said
// why (exit 2).
bool prepare_echo(EchoArgs& o, bool* activated) {
  if (!o.positional.empty()) {
    auto port = parse_port(o.positional.front());
    if (!port) {
      say("echo: {}", describe(port.error()));
      return false;
    }
    o.server.port = *port;
  }
  if (o.port >= 0) o.server.port = static_cast<std::uint16_t>(o.port);
  // The same address twice would collide with itself ("Address already in use").
  auto& bind = o.server.bind;
  for (std::size_t i = 0; i < bind.size(); ++i)
    bind.erase(std::remove(bind.begin() + i + 1, bind.end(), bind[i]), bind.end());
  o.server.family = o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
  if (!take_activated_sockets(o, activated)) return false;
  if (*activated && (o.ipv4 || o.ipv6)) {
    say("echo: -4/-6: the listening sockets come from systemd (LISTEN_FDS); choose the family "
        "in the .socket unit");
    return false;
  }
  if (!build_access("echo", o.access, &o.server.access)) return false;
  if (!apply_proxy_protocol("echo", o.proxy_protocol, &o.server)) return false;
  if (o.proxy_protocol.on && o.server.udp) {
    say("echo: --proxy-protocol is for TCP connections, not UDP");
    return false;
  }
  if (!apply_io("echo", o.io, o.tls.enabled, "TCP; UDP echo runs on epoll", &o.server))
    return false;
  if (o.tls.enabled && !(o.server.tls = tls_server_or_say("echo", o.tls, true))) return false;
  return true;
}

int run_echo(EchoArgs& o) {
  const auto start = std::chrono::steady_clock::now();
  bool activated = false;
  if (!prepare_echo(o, &activated)) return kExitUsage;
  set_log(o);
  const bool json = o.log_format == LogFormat::json;
  auto service = echo_service(o.echo);
  if (!service) {
    say("echo: --reply: unknown field or unmatched brace (fields: {{line}} {{peer}} {{n}} "
        "{{len}})");
    return kExitUsage;
  }
  const bool wildcard = o.server.bind.empty() && !activated;
  std::string where =
      wildcard ? fmt::format("port {}", o.server.port)
               : fmt::format("{} port {}", fmt::join(o.server.bind, ", "), o.server.port);
  const bool udp = o.server.udp;
  const Family family = o.server.family;
  auto server = Server::open(std::move(o.server), *service);
  if (!server) {
    if (server.error() == make_error_code(Errc::name_not_resolved)) {
      say("echo: --bind takes a local IP address");
      return kExitUsage;
    }
    say("echo: cannot listen on {}: {}{}", where, describe(server.error()),
        listen_failure_hint(server.error(), family));
    return kExitUsage;
  }
  if (o.verbose) say("I/O: {}", (*server)->io());
  sigset_t signals = block_server_signals();
  print_addresses(**server, wildcard,
                  activated ? kActivatedLoopback : "leave out --bind to listen on every address",
                  o.log_format);
  say_started(o, **server, udp);
  bool failed = false;
  auto metrics = start_metrics("echo", o.metrics, **server, "echo", &failed);
  if (failed) return kExitUsage;
  (*server)->start();
  const char* stopping = "Stopping: finishing what clients sent (signal again to stop now).";
  serve(
      **server, signals, o.stats_interval,
      [json, stopping] { json ? log_json("stopping", stopping) : say("{}", stopping); },
      o.log_format);
  ServerStats s = (*server)->stats();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (json) {
    log_json_stats("summary", s, std::chrono::duration<double>(elapsed).count());
    return kExitOk;
  }
  say("{} connection{} served ({} refused, {} denied{}), {} bytes in, {} bytes out, {} message{} "
      "in {} s.",
      s.total, s.total == 1 ? "" : "s", s.refused, s.denied, handshakes_text(s), s.bytes_in,
      s.bytes_out, s.messages, s.messages == 1 ? "" : "s", format_seconds(elapsed));
  return kExitOk;
}

// The examples and the rules that do not fit an option's line, under `echo --help`.
constexpr const char* kEchoFooter =
    "Examples:\n"
    "  parley echo                              TCP echo on port 12345, every core\n"
    "  parley echo 7000 --log-data              also log what each client sent\n"
    "  parley echo --reply 'You told me: {line}'          the seed's server: a reply per recv\n"
    "  parley echo --lines --reply 'server got: {line}'  a reply per line\n"
    "  parley echo -u 12345                     UDP: one datagram back per datagram\n"
    "  parley echo -4 7000                      IPv4 only (0.0.0.0)\n"
    "  parley echo --allow 192.168.0.0/16 --deny 192.168.0.13\n"
    "  parley echo --tls 4433                   TLS (a generated certificate: its fingerprint\n"
    "                                           is printed for connect --tls --tls-pin)\n"
    "Reply fields: {line} {peer} {n} (message number) {len}. Without --lines every chunk the\n"
    "server reads is one message, as recv() gives it; with --lines each line is (LF or CRLF;\n"
    "the answer uses the same ending). SIGINT/SIGTERM finish the echoes in flight, then exit 0.\n"
    "Under systemd socket activation (LISTEN_FDS, see parley-echo.socket) echo serves the\n"
    "sockets it is given, on one event loop, instead of opening its own.";

}  // namespace

Subcommand echo_command(CLI::App& root) {
  auto o = std::make_shared<EchoArgs>();
  o->server.threads = std::max(1u, std::thread::hardware_concurrency());
  auto* app =
      root.add_subcommand("echo", "Echo server for many clients (RFC 862), or a line server");
  app->footer(kEchoFooter);
  auto* pos =
      app->add_option("port", o->positional, "Port to listen on (default 12345)")->expected(0, 1);
  app->add_option("-p,--port", o->port, "Port to listen on")
      ->check(CLI::Range(0, 65535))
      ->excludes(pos);
  // One address per --bind, so that `--bind 127.0.0.1 12345` leaves the port to the positional.
  one_value_each(app->add_option("-s,--bind", o->server.bind,
                                 "Local address to listen on (repeatable; default all)"))
      ->type_name("ADDR");
  app->add_flag("-u,--udp", o->server.udp, "UDP echo instead of TCP");
  auto* v4 = app->add_flag("-4", o->ipv4, "IPv4 only: 0.0.0.0, or the IPv4 addresses of --bind");
  app->add_flag("-6", o->ipv6, "IPv6 only: [::] (V6ONLY), or the IPv6 addresses of --bind")
      ->excludes(v4);
  app->add_option("--threads", o->server.threads, "Event loops, one per thread (default: cores)")
      ->check(CLI::Range(1, 256));
  add_io_option(*app, o->io);
  app->add_flag("--lines", o->echo.lines, "Line mode: answer each line with --reply");
  app->add_option("--reply", o->echo.reply,
                  "Reply template (default: the bytes as they came); per chunk, or per line "
                  "with --lines")
      ->type_name("TEMPLATE");
  app->add_option("--max-line", o->echo.max_line, "Longest line accepted (default 65536)")
      ->type_name("BYTES")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->needs("--lines");
  app->add_flag("--udp-amplify", o->echo.udp_amplify,
                "UDP: let a reply be larger than its request (default: cut to its size)")
      ->needs("--udp");
  app->add_option("-m,--max-conns", o->server.max_conns, "Most clients at once (default 10000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  add_duration_option(*app, "--idle-timeout", o->server.idle_timeout,
                      "Close clients silent this long")
      ->excludes("--udp");  // UDP has no connections to close.
  add_duration_option(*app, "--drain-timeout", o->server.drain_timeout,
                      "On SIGTERM, time allowed to finish echoes (default 5s)");
  add_duration_option(*app, "--stats-interval", o->stats_interval, "Print counters this often");
  add_access_options(*app, o->access);
  add_proxy_protocol_options(*app, o->proxy_protocol);
  add_metrics_option(*app, o->metrics);
  add_tls_options(*app, o->tls, TlsRole::server);
  tls_excludes(*app, {"-u"});
  auto* quiet = app->add_flag("-q,--quiet", o->quiet, "No per-connection log lines");
  add_log_format_option(*app, o->log_format);
  app->add_flag("--log-data", o->echo.log_data, "Log what each client sends")->excludes(quiet);
  app->add_flag("-v,--verbose", o->verbose, "Also say which I/O backend runs and why")
      ->excludes(quiet);
  return {app, [o] { return run_echo(*o); }};
}

}  // namespace parley::cmd
