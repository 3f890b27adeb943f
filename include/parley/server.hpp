#pragma once
// The server runtime every parley server runs on (echo, listen -k, broker, chat, exec): one epoll
// loop per worker thread, each with its own listening sockets (SO_REUSEPORT), connections,
// buffers and counters, nothing shared on the hot path. What a server does with its connections
// is its Service (echo_server.hpp, hub.hpp, exec.hpp); the runtime owns accepting, limits,
// access control, idle timeouts, backpressure, draining and counting.
//
// Threading: construct and call start()/stop()/stats() from one controlling thread. start()
// spawns one thread per worker; a connection lives and dies on one worker. stop() may be called
// at any time from the controlling thread (for example from a signal-handling loop); wait() joins
// the workers. The log sink is called from worker threads, one whole line per call.
//
// Memory: an idle connection holds no buffer (about 200 bytes of state). Output a client does not
// take is kept up to a bound, and then the server stops reading from that client (or, for
// broadcast services, drops it), so memory stays bounded whatever clients do.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/access.hpp"
#include "parley/endpoint.hpp"
#include "parley/fd.hpp"
#include "parley/listener.hpp"
#include "parley/result.hpp"
#include "parley/traffic_log.hpp"

namespace parley {

namespace server {
class Handler;
}

// What a server does with its connections. Made by the service's factory function (echo_service,
// hub_service, exec_service); the runtime asks it for one handler per worker before starting.
class Service {
 public:
  virtual ~Service() = default;
  // Most workers this service can use (broadcast services keep every client on one loop).
  virtual unsigned max_workers() const { return 1u << 16; }
  // Whether its handlers can run on an io_uring worker (ServerConfig::io): they use only
  // Worker::send/close/set_reading on accepted stream connections, or move the bytes of custom_io
  // connections (their own too: Worker::adopt) themselves on Handler::io readiness -- no watched
  // descriptors.
  virtual bool io_uring_ready() const { return false; }
  virtual std::unique_ptr<server::Handler> make_handler() = 0;
};

// A connection event, for the command to word (echo's timestamped log, ncat's -v lines).
struct ServerEvent {
  enum class Kind {
    connected,  // peer
    closed,     // peer, detail = why, bytes and seconds
    refused,    // peer, detail = why: the limit (full), or a failed TLS/PROXY handshake
    denied,     // peer, detail = the access rule that refused it
  };
  Kind kind;
  std::string_view peer;
  std::string_view detail;
  std::uint64_t bytes_in = 0, bytes_out = 0;
  double seconds = 0;
  bool full = false;  // refused: by the connection limit (max_conns), not by a handshake.
};

// How workers wait for and move bytes. epoll: readiness, then recv()/send() per connection.
// uring: one io_uring per worker (SINGLE_ISSUER | DEFER_TASKRUN | COOP_TASKRUN, multishot accept,
// receives into a ring of buffers shared by the worker's connections, sends batched into
// one io_uring_enter per round). automatic: uring where the kernel, the service and the options
// allow it, else epoll; Server::io() says which and why.
enum class IoBackend { automatic, epoll, uring };

namespace tls {
class Context;
}

struct ServerConfig {
  // Where to listen. Either pre-opened listeners (listen opens its own: -s, -p, -U, -4/-6), or
  // bind/port, for which every worker opens its own SO_REUSEPORT sockets.
  std::vector<Listener> listeners;
  std::vector<std::string> bind;  // Local addresses; empty: [::] and 0.0.0.0.
  Family family = Family::any;    // -4/-6: only this family's wildcard, or bind addresses of it.
  std::uint16_t port = 12345;
  bool udp = false;
  unsigned threads = 1;
  IoBackend io = IoBackend::automatic;
  std::size_t max_conns = 10000;  // Beyond this, new clients get one line and are closed.
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds drain_timeout{5000};  // Graceful stop: time left to finish.
  AccessList access;                              // Checked before anything is read.
  // --proxy-protocol: every client starts with a PROXY v1 or v2 header (HAProxy's send-proxy)
  // naming the real client, whom logs, access rules and services then see. Headers are taken only
  // from proxy_from (empty: any source); a connection without a valid header within
  // proxy_timeout is refused and logged.
  bool proxy_protocol = false;
  AccessList proxy_from;
  std::chrono::milliseconds proxy_timeout{5000};
  // --tls: every stream client speaks TLS through a session of this server context. The
  // handshake comes first (after a PROXY header, if any) and must end within tls_timeout; the
  // service is handed the client only then, and sees plaintext. A failed handshake is a
  // "refused" event naming why. TLS runs on epoll (IoBackend::automatic picks it).
  std::shared_ptr<const tls::Context> tls;
  std::chrono::milliseconds tls_timeout{10'000};
  // -o/-x: every stream client's bytes both ways (what a service reads and sends); none if null.
  std::shared_ptr<TrafficLog> traffic;
  // What a client over max_conns is sent before it is closed (empty: just closed).
  std::string refusal = "error: server full ({} connections), try again later\n";
  bool log_connections = true;  // Report connection events at all.
  bool log_connects = true;     // Also the "connected" event (forward reports once, at the end).
  std::function<void(std::string_view)> log;  // Thread-safe sink for whole lines.
  // Connection events; without it they go to `log` in echo's words ("1.2.3.4:5 connected").
  // Called from worker threads.
  std::function<void(const ServerEvent&)> on_event;
};

// One connected client, for the live view (--metrics).
struct ClientInfo {
  std::string peer;
  double seconds = 0;  // Connected for.
  std::uint64_t bytes_in = 0, bytes_out = 0;
};

// Counters merged across workers.
struct ServerStats {
  std::uint64_t active = 0, total = 0, refused = 0, denied = 0;
  std::uint64_t failed_handshakes = 0;  // No valid PROXY header, or a failed TLS handshake.
  std::uint64_t bytes_in = 0, bytes_out = 0, messages = 0;
};

class Server {
 public:
  // Opens the listening sockets for every worker. Errors: bind errors, address errors; with
  // io = uring, the error of setting up io_uring (ENOSYS, EPERM, EINVAL on kernels before 6.1),
  // or operation_not_supported when the service or the options (UDP, --proxy-protocol) need epoll.
  static Result<std::unique_ptr<Server>> open(ServerConfig config,
                                              std::shared_ptr<Service> service);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The addresses bound (one per family or bind address), with the real port.
  const std::vector<SocketAddress>& local_addresses() const;
  unsigned workers() const;
  // The I/O backend the workers run on, and why: "io_uring (...)" or "epoll (...)".
  bool uses_io_uring() const;
  const std::string& io() const;
  void start();
  // graceful: stop accepting, let every connection finish what it has (up to drain_timeout),
  // close. Not graceful: close everything now.
  void stop(bool graceful);
  // True once every worker has finished (stopped, or the service ended the server by itself:
  // listen without -k after its client, a hub whose output went away).
  bool finished() const;
  void wait();
  ServerStats stats() const;
  // The first local failure (writing the output failed), or none: it ended listen -k; the broker
  // and chat rooms went on without their output.
  std::error_code failure() const;
  // The clients connected now (at most `limit`): each worker copies its own list on its own
  // thread when asked; a worker that does not answer within 200 ms is left out. Any thread.
  std::vector<ClientInfo> clients(std::size_t limit = 1000) const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Why this kernel cannot run a server worker on io_uring ("io_uring_setup: Operation not
// permitted ..."), or "" if it can.
std::string io_uring_problem();

// Every address of this machine's interfaces that a client could use to reach `port` on the
// given families (for the "reachable at" lines), loopback last. Interface name in `names`.
std::vector<SocketAddress> interface_addresses(std::uint16_t port, bool v4, bool v6,
                                               std::vector<std::string>* names);

}  // namespace parley
