// parley connect: the netcat client. Resolve, connect with Happy Eyeballs (or through a proxy),
// relay stdin/stdout; with -z, scan ports instead.

#include <memory>

#include <sys/wait.h>

#include "commands.hpp"
#include "listen.hpp"
#include "netcat.hpp"
#include "parley/dial.hpp"
#include "parley/errors.hpp"
#include "proxy_options.hpp"
#include "scan.hpp"
#include "tls_options.hpp"

namespace parley::cmd {
namespace {

// Through a proxy, the half-close waits until the reply has paused this long: several proxies
// (ncat's HTTP proxy, microsocks, tinyproxy) close the whole tunnel at the client's half-close.
constexpr std::chrono::milliseconds kProxyHalfCloseHold{1000};

struct ConnectArgs : NetcatOptions {
  bool listen_flag = false;
  std::string exec, sh_exec;  // -e, -c
  bool zero_io = false;       // -z: scan.
  ScanArgs scan;              // -r, --parallel, --json (with -z).
  ProxyArgs proxy;
  TlsArgs tls;
};

// -e/-c: the program talks to the server (its stdin and stdout are the socket); parley waits for
// it and exits 0 if it did, 1 (with a line saying how it ended) if not.
int run_program(const ExecCommand& command, const Connection& conn, bool udp) {
  auto pid = spawn_child(command, conn.fd.get(), conn.fd.get(), conn.local, conn.peer,
                         conn.peer.family() == AF_UNIX ? "unix"
                         : udp                         ? "udp"
                                                       : "tcp");
  if (!pid) {
    say("connect: cannot start {}: {}", command.text, describe(pid.error()));
    return kExitUsage;
  }
  int status = 0;
  while (::waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return kExitOk;
  say("{}: {}", command.text, describe_wait_status(status));
  return kExitNetwork;
}

// Resolves -s/-p into the local addresses to bind before connecting.
Result<std::vector<SocketAddress>> sources_of(const ConnectArgs& o, int socktype) {
  if (o.source.empty() && o.port_option < 0) return std::vector<SocketAddress>{};
  ResolveOptions ro{family_of(o), o.numeric, socktype, true};
  return resolve(o.source, static_cast<std::uint16_t>(std::max(o.port_option, 0)), ro);
}

// Connects to what the arguments name (directly, through a proxy, or to a Unix socket).
Result<Connection> open_connection(const ConnectArgs& o, const std::optional<ProxySpec>& proxy,
                                   std::vector<SocketAddress> sources, std::string* target,
                                   std::string* host) {
  const int socktype = o.udp ? SOCK_DGRAM : SOCK_STREAM;
  ConnectOptions co;
  co.socktype = socktype;
  co.timeout = o.wait;
  if (o.verbose > 1) {
    co.on_attempt_failed = [](const SocketAddress& a, std::error_code ec) {
      say("Attempt to {} failed: {}.", a.to_string(), describe(ec));
    };
  }
  if (!o.unix_path.empty()) {
    *target = o.unix_path;
    auto address = SocketAddress::unix_path(o.unix_path);
    if (!address) return address.error();
    return connect_any({*address}, co);
  }
  auto hp = parse_endpoint_args(o.args, false);
  if (!hp) return hp.error();
  *target = format_target(*hp);
  *host = hp->host;
  co.sources = std::move(sources);
  DialOptions dial_options;
  dial_options.family = family_of(o);
  dial_options.numeric_only = o.numeric;
  dial_options.connect = std::move(co);
  dial_options.proxy = proxy;
  return dial(*hp, dial_options);
}

// Rules between options that CLI11's excludes cannot say.
bool usage_ok(const ConnectArgs& o, const std::optional<ProxySpec>& proxy) {
  if (o.listen_flag) {
    say("connect: -l listens; use 'parley listen PORT' (or 'parley -l PORT')");
    return false;
  }
  if (!o.unix_path.empty() && !o.args.empty()) {
    say("connect: -U takes the socket path; drop the host and port arguments");
    return false;
  }
  if (o.unix_path.empty() && o.args.empty()) {
    say("connect: say where to: HOST PORT, HOST:PORT or -U PATH (see parley connect --help)");
    return false;
  }
  if (proxy && (o.udp || !o.unix_path.empty())) {
    say("connect: proxies carry TCP only; drop {} or the proxy", o.udp ? "-u" : "-U");
    return false;
  }
  return true;
}

int run_zero_io(const ConnectArgs& o, const std::optional<ProxySpec>& proxy) {
  if (!o.unix_path.empty()) {
    say("connect: -z scans the TCP or UDP ports of a host, not a Unix socket");
    return kExitUsage;
  }
  ScanArgs a = o.scan;
  a.args = o.args;
  a.ipv4 = o.ipv4;
  a.ipv6 = o.ipv6;
  a.numeric = o.numeric;
  a.udp = o.udp;
  a.verbose = o.verbose;
  a.wait = o.wait;
  a.source = o.source;
  a.source_port = o.port_option;
  return run_scan("connect", a, proxy);
}

// Why no connection was made, in words; the exit code. A source (-s/-p) that is not this
// machine's or is taken is the user's to fix (exit 2), and must not read as if the target were
// wrong.
int report_failure(const ConnectArgs& o, const std::optional<ProxySpec>& proxy,
                   const std::error_code& e, const std::string& target) {
  const bool has_source = !o.source.empty() || o.port_option >= 0;
  if (has_source && (e == std::errc::address_not_available || e == std::errc::address_in_use)) {
    const std::string source_text =
        o.source.empty()
            ? fmt::format("port {}", o.port_option)
            : (o.port_option >= 0 ? fmt::format("{} port {}", o.source, o.port_option) : o.source);
    say("connect: cannot use source {}: {}{}", source_text, describe(e),
        e == std::errc::address_not_available ? " (not an address of this machine)" : "");
    return kExitUsage;
  }
  if (target.empty())
    say("connect: {}", describe(e));
  else if (proxy && e.category() == proxy_category())
    say("connect to {} through proxy {}: {}", target, proxy_text(*proxy), describe(e));
  else
    say("connect to {}: {}", target, describe(e));
  return exit_code_for(e);
}

// The conversation: stdin/stdout relayed over the connection, through a TLS session with --tls
// (tls_ctx, else null; host is the name to verify), as datagrams with -u.
int converse(const ConnectArgs& o, const Connection& conn, RelayOptions& relay,
             const tls::Context* tls_ctx, const std::string& target, const std::string& host,
             std::chrono::steady_clock::time_point start) {
  RelayResult r;
  if (tls_ctx != nullptr) {
    auto session = tls_ctx->session(conn.fd.get(), host);
    std::error_code ec =
        session ? (*session)->complete_handshake(tls_handshake_timeout(o.wait)) : session.error();
    if (ec) {
      say("connect to {}: {}", target, describe_tls_failure(ec));
      return exit_code_for(ec);
    }
    if (o.verbose > 0) say_tls_info((*session)->info());
    r = relay_stream(STDIN_FILENO, STDOUT_FILENO, **session, relay);
  } else if (o.udp) {
    // UDP has no end-of-stream: once stdin ends, wait for the answers until the peer is quiet.
    relay.linger_after_eof = o.idle.count() > 0 ? o.idle : std::chrono::milliseconds(1000);
    r = relay_datagram(STDIN_FILENO, STDOUT_FILENO, conn.fd.get(), relay);
  } else {
    r = relay_stream(STDIN_FILENO, STDOUT_FILENO, conn.fd.get(), relay);
  }
  return finish_relay(o, r, start);
}

int run_connect(const ConnectArgs& o) {
  const auto start = std::chrono::steady_clock::now();
  bool bad = false;
  auto proxy = proxy_spec_or_say("connect", o.proxy, o.x_arg, &bad);
  if (bad) return kExitUsage;
  if (!usage_ok(o, proxy)) return kExitUsage;
  if (o.zero_io) return run_zero_io(o, proxy);
  if (o.scan.random || o.scan.parallel > 0) {
    say("connect: -r and --parallel go with -z (a port scan)");
    return kExitUsage;
  }
  if (o.unix_path.empty() && !target_or_say("connect", o.args)) return kExitUsage;
  ExecCommand command;
  if (!exec_of("connect", o.exec, o.sh_exec, &command)) return kExitUsage;
  // With -X, -x named the proxy; the hex dump is then only --hex-dump.
  const std::string hex_path =
      o.proxy.nc_type.empty() ? hex_dump_path_or_say("connect", o, &bad) : o.hex_dump;
  if (bad) return kExitUsage;
  auto relay = relay_options_or_say("connect", o, hex_path);
  if (!relay) return kExitUsage;

  // -s/-p are checked apart from the target (see report_failure).
  auto sources = sources_of(o, o.udp ? SOCK_DGRAM : SOCK_STREAM);
  if (!sources) {
    say("connect: source address {}: {}", o.source, describe(sources.error()));
    return kExitUsage;
  }
  // TLS options are checked (files read, the pin parsed) before anything goes on the network.
  std::shared_ptr<tls::Context> tls_ctx;
  if (o.tls.enabled && !(tls_ctx = tls_client_or_say("connect", o.tls))) return kExitUsage;
  std::string target, host;
  auto conn = open_connection(o, proxy, std::move(*sources), &target, &host);
  if (!conn) return report_failure(o, proxy, conn.error(), target);
  if (o.verbose > 0) {
    if (proxy)
      say("Connected to {} through proxy {}.", target, conn->peer.to_string());
    else
      say("Connected to {}.", conn->peer.family() == AF_UNIX ? target : conn->peer.to_string());
  }
  if (!command.argv.empty()) return run_program(command, *conn, o.udp);
  if (proxy) relay->hold_half_close = kProxyHalfCloseHold;
  return converse(o, *conn, *relay, tls_ctx.get(), target, host, start);
}

}  // namespace

Subcommand connect_command(CLI::App& root) {
  auto o = std::make_shared<ConnectArgs>();
  auto* app =
      root.add_subcommand("connect", "Connect to a server and relay stdin/stdout (netcat client)");
  app->footer(
      "Examples:\n"
      "  parley connect example.org 80          (or: parley example.org 80)\n"
      "  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | parley connect example.org:80\n"
      "  parley connect -u 127.0.0.1 5353        UDP\n"
      "  parley connect -U /run/app.sock         Unix socket\n"
      "  parley connect --proxy 127.0.0.1:1080 example.org 80     through SOCKS5\n"
      "  parley connect -X connect -x proxy:3128 example.org 443  nc's spelling (HTTP CONNECT)\n"
      "  parley connect -o talk.log -x talk.hex example.org 80    log the conversation\n"
      "  parley connect -z example.org 20-30,80,443               port scan (see parley scan)\n"
      "  parley connect --tls example.org 443       TLS, the certificate verified (system CAs)\n"
      "  parley connect --tls --tls-pin sha256:HEX 127.0.0.1 4433  accept exactly that cert\n"
      "At stdin EOF parley half-closes the connection and keeps printing the reply until the\n"
      "server closes; through a proxy it half-closes once the reply has paused for 1s, since\n"
      "many proxies drop the whole tunnel at a half-close.\n"
      "Exit status: 0 ok, 1 network error (refused, reset, timeout, proxy refused), 2 other.");
  app->add_option("target", o->args, "HOST PORT, HOST:PORT or [IPv6]:PORT (-z: HOST PORTS...)")
      ->expected(0, -1);
  add_common_options(*app, *o, false);
  add_proxy_options(*app, o->proxy);
  auto* z = app->add_flag("-z", o->zero_io, "Scan: report which of the PORTS are open (nc -z)")
                ->group("Port scan");
  add_scan_options(*app, o->scan);
  for (const char* name : {"-r", "--parallel", "--json"}) app->get_option(name)->group("Port scan");
  app->get_option("--json")->needs(z);
  add_exec_options(*app, o->exec, o->sh_exec);
  for (const char* name : {"--exec", "--sh-exec"}) app->get_option(name)->excludes(z);
  // A scan moves no data: the relay's options would be accepted and do nothing.
  for (const char* name : {"-o", "-x", "--hex-dump", "--append-output", "-q", "--send-only",
                           "--recv-only", "--no-shutdown", "-N", "-C", "-d", "-t", "-i"})
    app->get_option(name)->excludes(z);
  app->add_flag("-l,--listen", o->listen_flag, "(not here: use 'parley listen')")->group("");
  add_tls_options(*app, o->tls, TlsRole::client);
  // TLS carries a byte stream between two parties: no datagrams, no scan, no program on the raw
  // socket, and the line pacing and Telnet answers of the plain relay are not in its loop.
  tls_excludes(*app, {"-u", "-z", "--exec", "--sh-exec", "-d", "-t"});
  return {app, [o] { return run_connect(*o); }};
}

}  // namespace parley::cmd
