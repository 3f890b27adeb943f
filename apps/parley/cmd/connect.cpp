// parley connect: the netcat client. Resolve, connect with Happy Eyeballs, relay stdin/stdout.

#include <memory>

#include <sys/wait.h>

#include "commands.hpp"
#include "listen.hpp"
#include "netcat.hpp"
#include "parley/connector.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
namespace {

struct ConnectArgs : NetcatOptions {
  bool listen_flag = false;
  std::string exec, sh_exec;  // -e, -c
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

// Connects to what the arguments name; prints the failure and returns the exit status on error.
Result<Connection> open_connection(const ConnectArgs& o, std::string* target) {
  const int socktype = o.udp ? SOCK_DGRAM : SOCK_STREAM;
  ConnectOptions co;
  co.socktype = socktype;
  co.timeout = o.wait;
  if (o.verbose > 1) {
    co.on_attempt_failed = [](const SocketAddress& a, std::error_code ec) {
      say("Attempt to {} failed: {}.", a.to_string(), describe(ec));
    };
  }
  std::vector<SocketAddress> addresses;
  if (!o.unix_path.empty()) {
    *target = o.unix_path;
    auto address = SocketAddress::unix_path(o.unix_path);
    if (!address) return address.error();
    addresses.push_back(*address);
  } else {
    auto hp = parse_endpoint_args(o.args, false);
    if (!hp) return hp.error();
    *target = format_target(*hp);
    auto sources = sources_of(o, socktype);
    if (!sources) return sources.error();
    co.sources = std::move(*sources);
    auto resolved = resolve(hp->host, hp->port, {family_of(o), o.numeric, socktype, false});
    if (!resolved) return resolved.error();
    addresses = std::move(*resolved);
  }
  return connect_any(addresses, co);
}

int run_connect(const ConnectArgs& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.listen_flag) {
    say("connect: -l listens; use 'parley listen PORT' (or 'parley -l PORT')");
    return kExitUsage;
  }
  if (!o.unix_path.empty() && !o.args.empty()) {
    say("connect: -U takes the socket path; drop the host and port arguments");
    return kExitUsage;
  }
  if (o.unix_path.empty() && o.args.empty()) {
    say("connect: say where to: HOST PORT, HOST:PORT or -U PATH (see parley connect --help)");
    return kExitUsage;
  }
  if (o.unix_path.empty() && !target_or_say("connect", o.args)) return kExitUsage;
  ExecCommand command;
  if (!exec_of("connect", o.exec, o.sh_exec, &command)) return kExitUsage;
  std::string target;
  auto conn = open_connection(o, &target);
  if (!conn) {
    if (target.empty())
      say("connect: {}", describe(conn.error()));
    else
      say("connect to {}: {}", target, describe(conn.error()));
    return exit_code_for(conn.error());
  }
  if (o.verbose > 0) {
    say("Connected to {}.", conn->peer.family() == AF_UNIX ? target : conn->peer.to_string());
  }
  if (!command.argv.empty()) return run_program(command, *conn, o.udp);
  RelayOptions relay = relay_options_of(o);
  RelayResult r;
  if (o.udp) {
    // UDP has no end-of-stream: once stdin ends, wait for the answers until the peer is quiet.
    relay.linger_after_eof = o.idle.count() > 0 ? o.idle : std::chrono::milliseconds(1000);
    r = relay_datagram(STDIN_FILENO, STDOUT_FILENO, conn->fd.get(), relay);
  } else {
    r = relay_stream(STDIN_FILENO, STDOUT_FILENO, conn->fd.get(), relay);
  }
  return finish_relay(o, r, start);
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
      "At stdin EOF parley half-closes the connection and keeps printing the reply until the\n"
      "server closes. Exit status: 0 ok, 1 network error (refused, reset, timeout), 2 other.");
  app->add_option("target", o->args, "HOST PORT, HOST:PORT or [IPv6]:PORT")->expected(0, 2);
  add_common_options(*app, *o, false);
  add_exec_options(*app, o->exec, o->sh_exec);
  app->add_flag("-l,--listen", o->listen_flag, "(not here: use 'parley listen')")->group("");
  return {app, [o] { return run_connect(*o); }};
}

}  // namespace parley::cmd
