// parley listen: the netcat server. Bind, wait for a client and relay stdin/stdout; the modes for
// many clients (-k, --broker, --chat) and for a program per client (-e, -c) run on the server
// runtime (listen_server.cpp).

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <optional>
#include <set>

#include "commands.hpp"
#include "listen.hpp"
#include "parley/address_scope.hpp"
#include "parley/connector.hpp"
#include "parley/errors.hpp"
#include "parley/listener.hpp"
#include "unlink_on_exit.hpp"

namespace parley::cmd {
namespace {

// Works out the local address and port from -s, -p and the positionals.
Result<HostPort> bind_target(const ListenArgs& o) {
  auto hp = parse_endpoint_args(o.args, true);
  if (!hp) return hp.error();
  if (o.args.empty()) hp->port = o.default_port;
  if (o.port_option >= 0) {
    if (!o.args.empty() && !(o.args.size() == 1 && o.args[0].find(':') == std::string::npos &&
                             !parse_port(o.args[0]))) {
      return Errc::bad_endpoint;  // -p and a PORT argument both: ambiguous.
    }
    if (!o.args.empty()) hp->host = o.args[0];  // "listen -p 80 ADDR".
    hp->port = static_cast<std::uint16_t>(o.port_option);
  }
  if (!o.source.empty()) {
    if (!hp->host.empty()) return Errc::bad_endpoint;
    hp->host = o.source;
  }
  return hp;
}

bool is_numeric_host(const std::string& host) {
  return resolve(host, 0, {Family::any, true, SOCK_STREAM, true}).ok();
}

// Where the listeners go, as messages name it ("10.9.9.9:80", "/run/app.sock", "port 80").
std::string where_of(const ListenArgs& o) {
  if (!o.unix_path.empty()) return o.unix_path;
  auto hp = bind_target(o);
  if (!hp) return "that address";
  if (hp->host.empty()) return fmt::format("port {}", hp->port);
  return format_target(*hp);
}

// A listen address is a local address, never a name to look up (localhost excepted, unless -n):
// a name here almost always means the user wanted to connect, not listen.
Result<std::vector<Listener>> open_all(const ListenArgs& o) {
  if (!o.unix_path.empty()) {
    auto l = open_unix_listener(o.unix_path, o.udp ? SOCK_DGRAM : SOCK_STREAM);
    if (!l) return l.error();
    std::vector<Listener> v;
    v.push_back(std::move(*l));
    return v;
  }
  auto hp = bind_target(o);
  if (!hp) return hp.error();
  bool named_localhost = hp->host == "localhost" && !o.numeric;
  if (!hp->host.empty() && !named_localhost && !is_numeric_host(hp->host))
    return Errc::name_not_resolved;
  ListenOptions lo;
  lo.socktype = o.udp ? SOCK_DGRAM : SOCK_STREAM;
  lo.family = family_of(o);
  lo.numeric_only = !named_localhost;
  lo.dual_stack = o.udp;  // One UDP socket sees every peer.
  return open_listeners(hp->host, hp->port, lo);
}

// Waits for the first client on any listener (stream) that the access list lets in.
Result<Connection> accept_first(std::vector<Listener>& listeners, const AccessList& access,
                                int verbose) {
  std::vector<pollfd> fds;
  for (auto& l : listeners) fds.push_back({l.fd.get(), POLLIN, 0});
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      Connection c;
      *c.peer.size_ptr() = SocketAddress::capacity();
      int fd = ::accept4(listeners[i].fd.get(), c.peer.get(), c.peer.size_ptr(), SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EAGAIN || errno == ECONNABORTED || errno == EINTR) continue;
        return last_error();
      }
      c.fd.reset(fd);
      auto verdict = access.check(c.peer.get());
      if (!verdict.allowed) {
        if (verbose > 0) say("Connection from {} refused by {}.", c.peer.to_string(), verdict.rule);
        continue;  // Closed without reading a byte.
      }
      c.local = listeners[i].local;
      return c;
    }
  }
}

// A Unix datagram sent from a socket that was never bound carries no return address (the kernel
// reports an empty or family-only name).
bool unnamed(const Connection& c) {
  return c.local.family() == AF_UNIX && c.peer.size() <= offsetof(sockaddr_un, sun_path);
}

// Unix datagrams without -k: the first datagram's sender becomes the one peer (the socket is
// connected to it); the datagram itself stays queued for the relay. An unnamed sender cannot be
// connected to: the socket then stays unconnected, and only receives.
Result<Connection> first_unix_datagram_peer(Listener& listener) {
  pollfd pfd{listener.fd.get(), POLLIN, 0};
  while (::poll(&pfd, 1, -1) < 0) {
    if (errno != EINTR) return last_error();
  }
  Connection c;
  char byte;
  *c.peer.size_ptr() = SocketAddress::capacity();
  if (::recvfrom(listener.fd.get(), &byte, 1, MSG_PEEK, c.peer.get(), c.peer.size_ptr()) < 0)
    return last_error();
  c.local = listener.local;
  if (!unnamed(c) && ::connect(listener.fd.get(), c.peer.get(), c.peer.size()) != 0)
    return last_error();
  c.fd = std::move(listener.fd);
  return c;
}

std::string peer_name(const Connection& c) {
  if (c.local.family() != AF_UNIX) return c.peer.to_string();
  // Stream peers are usually unnamed; a datagram client's (auto)bound name helps tell them apart.
  if (unnamed(c) || c.peer.host_string().empty()) return "a local process";
  return c.peer.host_string();
}

int report_open_failure(const ListenArgs& o, const std::error_code& ec) {
  if (ec == make_error_code(Errc::bad_endpoint)) {
    say("listen: give the port once, as PORT, ADDR PORT, ADDR:PORT or -p PORT");
  } else if (ec == make_error_code(Errc::name_not_resolved)) {
    say("listen: the address to listen on must be a local IP address{}; to connect to a host, "
        "use 'parley connect HOST PORT'",
        o.numeric ? " (-n: no names, not even localhost)" : "");
  } else if (ec == make_error_code(Errc::bad_port)) {
    say("listen: {}", describe(ec));
  } else if (ec == std::errc::address_not_available) {
    say("listen: cannot listen on {}: {} (not an address of this machine)", where_of(o),
        describe(ec));
  } else {
    say("listen: cannot listen on {}: {}", where_of(o), describe(ec));
  }
  return kExitUsage;  // Setting up is local: exit 2, whatever the errno.
}

int run_datagram(const ListenArgs& o, Listener& l, const AccessList& access, RelayOptions relay,
                 std::chrono::steady_clock::time_point start) {
  if (l.local.family() == AF_UNIX && !o.keep_open) {
    auto conn = first_unix_datagram_peer(l);
    if (!conn) {
      say("listen: {}", describe(conn.error()));
      return exit_code_for(conn.error());
    }
    if (o.verbose > 0) say("Connection from {}.", peer_name(*conn));
    if (unnamed(*conn)) {
      say("the sender's socket has no name (it was never bound): its datagrams are shown, but "
          "nothing can be sent back");
      relay.send = false;
    }
    return finish_relay(o, relay_datagram(STDIN_FILENO, STDOUT_FILENO, conn->fd.get(), relay),
                        start);
  }
  // IP (or Unix with -k): one unconnected socket, peers told apart by address. Without -k the
  // first sender is the one peer, as netcat does.
  DatagramPeers peers;
  peers.max_peers = o.keep_open ? o.max_clients : 1;
  peers.on_new_peer = [&o](const SocketAddress& a) {
    if (o.verbose > 0) say("Connection from {}.", a.to_string());
  };
  auto denied = std::make_shared<std::set<std::string>>();
  peers.admit = [&access, &o, denied](const SocketAddress& a) {
    auto verdict = access.check(a.get());
    if (!verdict.allowed && o.verbose > 0 && denied->insert(a.to_string()).second)
      say("Datagrams from {} refused by {}.", a.to_string(), verdict.rule);
    return verdict.allowed;
  };
  return finish_relay(o, relay_datagram(STDIN_FILENO, STDOUT_FILENO, l.fd.get(), relay, &peers),
                      start);
}

// The sockets systemd passed (socket activation), in place of the address options; nullopt
// after one line on a conflict, an empty vector when not activated.
std::optional<std::vector<Listener>> activated_listeners(const ListenArgs& o) {
  ActivatedSockets sockets;
  if (!activated_sockets("listen", &sockets)) return std::nullopt;
  if (sockets.listeners.empty()) return std::vector<Listener>{};
  if (!o.args.empty() || !o.source.empty() || o.port_option >= 0 || !o.unix_path.empty()) {
    say("listen: the listening sockets come from systemd (LISTEN_FDS): leave out the address, "
        "port, -s, -p and -U");
    return std::nullopt;
  }
  if ((sockets.socktype == SOCK_DGRAM) != o.udp) {
    say("listen: systemd passed {} sockets: {}",
        sockets.socktype == SOCK_DGRAM ? "datagram" : "stream", o.udp ? "leave out -u" : "add -u");
    return std::nullopt;
  }
  return std::move(sockets.listeners);
}

// Options that only the one-client relay has a meaning for, rejected for the server modes.
bool server_mode_options_ok(const ListenArgs& o, bool exec) {
  const char* relay_only = o.delay.count() > 0 ? "-d"
                           : o.telnet          ? "-t"
                           : o.quit_after      ? "-q"
                                               : nullptr;
  if (relay_only != nullptr) {
    say("listen: {} works with one client; drop it, or -k/--broker/--chat/-e", relay_only);
    return false;
  }
  if (exec && (!o.output_file.empty() || !o.x_arg.empty() || !o.hex_dump.empty())) {
    say("listen: -o/-x cannot log -e/-c: the program owns the connection, parley never sees "
        "its bytes");
    return false;
  }
  return true;
}

// The addresses listened on (-v, or every one in JSON), after a warning when only this machine
// can connect.
void say_listening(const ListenArgs& o, const std::vector<Listener>& listeners, bool from_systemd) {
  std::vector<SocketAddress> bound;
  for (const auto& l : listeners) bound.push_back(l.local);
  const bool json = o.log_format == LogFormat::json;
  if (loopback_only(bound)) {
    const char* text = from_systemd ? "loopback only: other machines cannot connect (the "
                                      "socket unit listens on a loopback address)"
                                    : "loopback only: other machines cannot connect (leave out "
                                      "the address to listen on every address)";
    if (json)
      log_json("warning", text);
    else
      say("Warning: {}", text);
  }
  for (const auto& l : listeners) {
    if (json)
      log_json("listening", l.local.to_string());
    else if (o.verbose > 0)
      say("Listening on {}", l.local.to_string());
  }
}

// Without -k, --broker, --chat or -e: the first client (UDP: the first sender), its conversation
// relayed to stdin/stdout, over TLS with --tls (tls_ctx, else null).
int serve_one_client(const ListenArgs& o, std::vector<Listener>& listeners,
                     const AccessList& access, const RelayOptions& relay,
                     const tls::Context* tls_ctx) {
  // The -v summary times the conversation, not the wait for a client (as ncat does).
  auto start = std::chrono::steady_clock::now();
  if (o.udp) return run_datagram(o, listeners.front(), access, relay, start);
  auto conn = accept_first(listeners, access, o.verbose);
  if (!conn) {
    say("accept: {}", describe(conn.error()));
    return kExitNetwork;
  }
  listeners.clear();  // One client only: stop accepting, as ncat does without -k.
  if (o.verbose > 0) say("Connection from {}.", peer_name(*conn));
  start = std::chrono::steady_clock::now();
  if (tls_ctx == nullptr)
    return finish_relay(o, relay_stream(STDIN_FILENO, STDOUT_FILENO, conn->fd.get(), relay), start);
  auto session = tls_ctx->session(conn->fd.get());
  std::error_code ec =
      session ? (*session)->complete_handshake(tls_handshake_timeout(o.wait)) : session.error();
  if (ec) {
    say("TLS with {}: {}", peer_name(*conn), describe_tls_failure(ec));
    return exit_code_for(ec);
  }
  if (o.verbose > 0) say_tls_info((*session)->info());
  return finish_relay(o, relay_stream(STDIN_FILENO, STDOUT_FILENO, **session, relay), start);
}

int run_listen(const ListenArgs& o) {
  AccessList access;
  if (!build_access("listen", o.access, &access)) return kExitUsage;
  ExecCommand command;
  if (!exec_of("listen", o.exec, o.sh_exec, &command)) return kExitUsage;
  const bool exec = !o.exec.empty() || !o.sh_exec.empty();
  const bool server_mode = exec || ((o.keep_open || o.broker || o.chat) && !o.udp);
  if (server_mode && !server_mode_options_ok(o, exec)) return kExitUsage;
  if (!o.metrics.empty() && !server_mode) {
    say("listen: --metrics works with -k, --broker, --chat and -e");
    return kExitUsage;
  }
  if (o.proxy_protocol.on && (!server_mode || o.udp)) {
    say("listen: --proxy-protocol works with -k, --broker, --chat and -e over TCP or Unix");
    return kExitUsage;
  }
  bool bad = false;
  const std::string hex_path = hex_dump_path_or_say("listen", o, &bad);
  if (bad) return kExitUsage;
  auto relay = relay_options_or_say("listen", o, hex_path);  // Opens the -o/-x files.
  if (!relay) return kExitUsage;
  if (!server_mode && o.log_format == LogFormat::json) {
    say("listen: --log-format json is for the server modes (-k, --broker, --chat over TCP; -e, "
        "-c)");
    return kExitUsage;
  }
  // TLS files are read (or a certificate generated) before anything listens.
  std::shared_ptr<tls::Context> tls_ctx;
  if (o.tls.enabled && !(tls_ctx = tls_server_or_say("listen", o.tls, server_mode)))
    return kExitUsage;
  auto activated = activated_listeners(o);
  if (!activated) return kExitUsage;
  const bool from_systemd = !activated->empty();
  // A signal between bind() and the cleanup's arming would leave the socket file behind.
  auto held = std::make_unique<ExitSignalsHeld>();
  Result<std::vector<Listener>> listeners =
      from_systemd ? Result<std::vector<Listener>>(std::move(*activated)) : open_all(o);
  if (!listeners) return report_open_failure(o, listeners.error());
  UnlinkOnExit cleanup(o.unix_path);
  held.reset();  // A signal that came meanwhile is delivered now, and the file goes with it.
  say_listening(o, *listeners, from_systemd);
  if (server_mode)
    return run_listen_server(o, std::move(*listeners), std::move(access), relay->log, tls_ctx);
  return serve_one_client(o, *listeners, access, *relay, tls_ctx.get());
}

}  // namespace

void add_listen_options(CLI::App& app, ListenArgs& o) {
  app.add_option("address", o.args, "[ADDR] PORT, or ADDR:PORT")->expected(0, 2);
  add_common_options(app, o, true);
  app.add_flag("-l,--listen", o.listen_flag,
               "Listen (the default here; accepted for netcat habits)");
  app.add_flag("-k,--keep-open", o.keep_open, "Accept many clients, one after another and at once");
  auto* broker = app.add_flag("--broker", o.broker,
                              "Relay what each client sends to every other client (implies -k)");
  auto* chat = app.add_flag("--chat", o.chat,
                            "Line chat: '<user3> text' to everybody, joins announced, /nick NAME "
                            "(implies -k)");
  broker->excludes(chat);
  app.add_option("-m,--max-conns", o.max_clients,
                 "Most clients (or -e children) at once (default 100)")
      ->check(CLI::Range(1, 1000000));
  add_exec_options(app, o.exec, o.sh_exec);
  for (const char* name : {"--exec", "--sh-exec"}) {
    app.get_option(name)->excludes(broker)->excludes(chat);
  }
  add_access_options(app, o.access);
  add_log_format_option(app, o.log_format);
  add_proxy_protocol_options(app, o.proxy_protocol);
  add_metrics_option(app, o.metrics);
  add_tls_options(app, o.tls, TlsRole::server);
  // TLS carries byte streams: no datagrams; -t and -d pace and answer on the raw socket. (A -e/-c
  // program then gets socket pairs that parley relays, instead of the socket.)
  tls_excludes(app, {"-u", "-t", "-d"});
}

Subcommand listen_command(CLI::App& root) {
  auto o = std::make_shared<ListenArgs>();
  auto* app =
      root.add_subcommand("listen", "Wait for clients and relay stdin/stdout (netcat server)");
  app->footer(
      "Examples:\n"
      "  parley listen 12345                     one client, then exit (or: parley -l 12345)\n"
      "  parley listen -vk 12345                 many clients; stdin goes to all of them\n"
      "  parley listen --broker 12345            clients hear each other (and stdin)\n"
      "  parley listen --chat 12345              a chat room (or: parley chat 12345)\n"
      "  parley listen -k -e /bin/cat 12345      a program per client, its stdin/stdout the "
      "socket\n"
      "  parley listen -k -c 'echo hi; date' 12345   the same through /bin/sh -c\n"
      "  parley listen --allow 10.0.0.0/8 --deny 10.0.0.13 -k 12345\n"
      "  parley listen 127.0.0.1 12345           only on loopback\n"
      "  parley listen -v 0                      any free port (printed with -v)\n"
      "  parley listen --tls 4433                TLS with a generated certificate (its\n"
      "                                          fingerprint printed for --tls-pin)\n"
      "  parley listen -k --tls --tls-cert c.pem --tls-key k.pem 4433\n"
      "  parley listen -k --tls -e /bin/cat 4433   a program per TLS client (parley relays)\n"
      "Without an address parley listens on both [::] and 0.0.0.0. Default port: 31337.\n"
      "-k/--broker/--chat: each client may have 1 MiB queued; a client that stops reading is\n"
      "disconnected when its queue is full. Input typed before the first client arrives is kept\n"
      "for it (up to 1 MiB). -e/-c: the program's stdin and stdout are the connection, it gets\n"
      "PARLEY_REMOTE_ADDR/PORT, PARLEY_LOCAL_ADDR/PORT, PARLEY_PROTO (and NCAT_*); with -m N a\n"
      "client beyond N children waits in the backlog until one exits. With --tls the program\n"
      "gets socket pairs instead, and parley decrypts and relays.\n"
      "Access: --deny wins over --allow; with any --allow, others are refused. A refused client\n"
      "is closed at once, unread.\n"
      "Under systemd socket activation (LISTEN_FDS) listen serves the sockets it is given\n"
      "instead of opening its own; -u must match their kind.\n"
      "Exit status: 0 ok, 1 network error, 2 usage or local error.");
  add_listen_options(*app, *o);
  return {app, [o] { return run_listen(*o); }};
}

Subcommand chat_command(CLI::App& root) {
  auto o = std::make_shared<ListenArgs>();
  o->chat = true;
  o->default_port = 12345;
  auto* app = root.add_subcommand("chat", "A chat room for a class: listen --chat, verbose");
  app->footer(
      "Everybody connects with 'parley talk HOST PORT' (or any netcat) and types lines; each\n"
      "line reaches everybody as '<user3> text'. /nick NAME renames you, /who lists who is here,\n"
      "start a line with // to say something that begins with /. What you type here takes part\n"
      "as <server>. Default port: 12345. Same options as 'parley listen'.\n"
      "Examples:\n"
      "  parley chat                      on port 12345, every address\n"
      "  parley chat 4000 --allow 192.168.0.0/16");
  add_listen_options(*app, *o);
  o->verbose = 1;  // After add_flag("-v"), which resets its counter.
  for (const char* name : {"--chat", "--broker", "--exec", "--sh-exec"})
    app->remove_option(app->get_option(name));
  return {app, [o] { return run_listen(*o); }};
}

}  // namespace parley::cmd
