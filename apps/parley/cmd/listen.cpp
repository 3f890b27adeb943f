// parley listen: the netcat server. Bind, wait for a client (or many with -k), relay.

#include <poll.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include <memory>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/connector.hpp"
#include "parley/errors.hpp"
#include "parley/hub.hpp"
#include "parley/listener.hpp"

namespace parley::cmd {
namespace {

constexpr std::uint16_t kDefaultPort = 31337;  // ncat's default.

struct ListenArgs : NetcatOptions {
  bool listen_flag = false;  // -l: accepted for netcat muscle memory.
  bool keep_open = false;
  std::size_t max_clients = 100;
};

// The socket path for the signal handler, which must not allocate (sun_path's size bounds it).
char g_socket_path[sizeof(sockaddr_un::sun_path)];

extern "C" void unlink_then_die(int sig) {
  ::unlink(g_socket_path);  // Async-signal-safe.
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // Delivered once the handler returns: the exit status still says which signal.
}

// Removes the Unix socket file we created, however the command ends: on return, and on Ctrl-C,
// SIGTERM or SIGHUP while waiting or relaying (the default action would leave the file behind).
// With -k the hub catches SIGINT/SIGTERM itself and returns, and the destructor does the work.
struct UnlinkOnExit {
  std::string path;
  explicit UnlinkOnExit(std::string p) : path(std::move(p)) {
    if (path.empty() || path.size() >= sizeof(g_socket_path)) return;
    std::memcpy(g_socket_path, path.c_str(), path.size() + 1);
    struct sigaction sa {};
    sa.sa_handler = unlink_then_die;
    sigemptyset(&sa.sa_mask);
    // A signal the parent set to be ignored (nohup, a shell's background job) stays ignored.
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(sig, &sa, nullptr);
    }
  }
  UnlinkOnExit(const UnlinkOnExit&) = delete;
  UnlinkOnExit& operator=(const UnlinkOnExit&) = delete;
  ~UnlinkOnExit() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

// Works out the local address and port from -s, -p and the positionals.
Result<HostPort> bind_target(const ListenArgs& o) {
  auto hp = parse_endpoint_args(o.args, true);
  if (!hp) return hp.error();
  if (o.args.empty()) hp->port = kDefaultPort;
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

// A listen address is a local address, never a name to look up (localhost excepted): a name here
// almost always means the user wanted to connect, not listen.
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
  if (!hp->host.empty() && hp->host != "localhost" && !is_numeric_host(hp->host))
    return Errc::name_not_resolved;
  ListenOptions lo;
  lo.socktype = o.udp ? SOCK_DGRAM : SOCK_STREAM;
  lo.family = family_of(o);
  lo.numeric_only = hp->host != "localhost";
  lo.dual_stack = o.udp;  // One UDP socket sees every peer.
  return open_listeners(hp->host, hp->port, lo);
}

// Waits for the first client on any listener (stream) and returns it.
Result<Connection> accept_first(std::vector<Listener>& listeners) {
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

// UDP without -k: the first datagram's sender becomes the one peer (the socket is connected to
// it); the datagram itself stays queued for the relay. An unnamed Unix sender cannot be
// connected to: the socket then stays unconnected, and only receives.
Result<Connection> first_datagram_peer(Listener& listener) {
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

int run_listen(const ListenArgs& o) {
  auto listeners = open_all(o);
  if (!listeners) {
    if (listeners.error() == make_error_code(Errc::bad_endpoint)) {
      say("listen: give the port once, as PORT, ADDR PORT, ADDR:PORT or -p PORT");
      return kExitUsage;
    }
    if (listeners.error() == make_error_code(Errc::name_not_resolved)) {
      say("listen: the address to listen on must be a local IP address; to connect to a host, "
          "use 'parley connect HOST PORT'");
      return kExitUsage;
    }
    if (listeners.error() == make_error_code(Errc::bad_port)) {
      say("listen: {}", describe(listeners.error()));
      return kExitUsage;
    }
    say("cannot listen: {}", describe(listeners.error()));
    return exit_code_for(listeners.error()) == kExitNetwork ? kExitNetwork : kExitUsage;
  }
  UnlinkOnExit cleanup(o.unix_path);
  if (o.verbose > 0) {
    for (const auto& l : *listeners) say("Listening on {}", l.local.to_string());
  }
  bool bad = false;
  const std::string hex_path = hex_dump_path_or_say("listen", o, &bad);
  auto relay_or = bad ? std::nullopt : relay_options_or_say("listen", o, hex_path);  // -o, -x
  if (!relay_or) return kExitUsage;
  RelayOptions relay = *relay_or;
  // The -v summary times the conversation, not the wait for a client (as ncat does).
  auto start = std::chrono::steady_clock::now();

  if (o.keep_open && !o.udp) {
    HubOptions ho;
    ho.max_clients = o.max_clients;
    ho.send = relay.send;
    ho.receive = relay.receive;
    ho.crlf = o.crlf;
    ho.idle_timeout = o.idle;
    if (o.verbose > 0) ho.log = [](std::string_view line) { say("{}", line); };
    HubResult h = run_hub(*listeners, STDIN_FILENO, STDOUT_FILENO, ho);
    RelayResult r{h.sent,  h.received, h.error ? RelayEnd::local_error : RelayEnd::finished,
                  h.error, {},         {}};
    return finish_relay(o, r, start);
  }
  if (o.udp) {
    Listener& l = listeners->front();
    if (o.keep_open) {
      DatagramPeers peers;
      peers.max_peers = o.max_clients;
      if (o.verbose > 0)
        peers.on_new_peer = [](const SocketAddress& a) {
          say("Connection from {}.", a.to_string());
        };
      return finish_relay(o, relay_datagram(STDIN_FILENO, STDOUT_FILENO, l.fd.get(), relay, &peers),
                          start);
    }
    auto conn = first_datagram_peer(l);
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
    start = std::chrono::steady_clock::now();
    return finish_relay(o, relay_datagram(STDIN_FILENO, STDOUT_FILENO, conn->fd.get(), relay),
                        start);
  }
  auto conn = accept_first(*listeners);
  if (!conn) {
    say("accept: {}", describe(conn.error()));
    return kExitNetwork;
  }
  listeners->clear();  // One client only: stop accepting, as ncat does without -k.
  if (o.verbose > 0) say("Connection from {}.", peer_name(*conn));
  start = std::chrono::steady_clock::now();
  return finish_relay(o, relay_stream(STDIN_FILENO, STDOUT_FILENO, conn->fd.get(), relay), start);
}

}  // namespace

Subcommand listen_command(CLI::App& root) {
  auto o = std::make_shared<ListenArgs>();
  auto* app =
      root.add_subcommand("listen", "Wait for clients and relay stdin/stdout (netcat server)");
  app->footer(
      "Examples:\n"
      "  parley listen 12345                     one client, then exit (or: parley -l 12345)\n"
      "  parley listen -vk 12345                 many clients; stdin goes to all of them\n"
      "  parley listen 127.0.0.1 12345           only on loopback\n"
      "  parley listen -v 0                      any free port (printed with -v)\n"
      "Without an address parley listens on both [::] and 0.0.0.0. Default port: 31337.\n"
      "Exit status: 0 ok, 1 network error, 2 usage or local error.");
  app->add_option("address", o->args, "[ADDR] PORT, or ADDR:PORT")->expected(0, 2);
  add_common_options(*app, *o, true);
  app->add_flag("-l,--listen", o->listen_flag,
                "Listen (the default here; accepted for netcat habits)");
  app->add_flag("-k,--keep-open", o->keep_open,
                "Accept many clients, one after another and at once");
  app->add_option("-m,--max-conns", o->max_clients, "With -k: most clients at once (default 100)")
      ->check(CLI::Range(1, 1000000));
  return {app, [o] { return run_listen(*o); }};
}

}  // namespace parley::cmd
