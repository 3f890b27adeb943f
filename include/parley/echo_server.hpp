#pragma once
// The echo server runtime: RFC 862 echo over TCP and UDP, and a line mode with reply templates,
// scaled across cores with one epoll loop per thread and nothing shared on the hot path.
//
// Threading: construct and call start()/stop()/stats() from one controlling thread. start()
// spawns `threads` workers; each owns its own SO_REUSEPORT listening sockets, epoll instance,
// connections and counters, so a connection lives and dies on one thread. stop() may be called
// at any time from the controlling thread (for example from a signal-handling loop); wait()
// joins the workers. The log sink is called from worker threads, one whole line per call.
//
// Memory: an idle connection holds no buffer (about 200 bytes of state). Output that the client
// does not read is kept (one read's worth at most) and reading from that client stops until it
// drains, so memory stays bounded whatever clients do.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/framing.hpp"
#include "parley/result.hpp"

namespace parley {

struct EchoConfig {
  std::vector<std::string> bind;  // Local addresses; empty: [::] and 0.0.0.0.
  std::uint16_t port = 12345;
  bool udp = false;
  unsigned threads = 1;
  bool lines = false;            // Line mode: answer each line with `reply`.
  std::string reply = "{line}";  // Template, see ReplyTemplate.
  std::size_t max_line = 64 << 10;
  std::size_t max_conns = 10000;  // Beyond this, new clients get one line and are closed.
  std::chrono::milliseconds idle_timeout{0};
  std::chrono::milliseconds drain_timeout{5000};  // Graceful stop: time left to finish echoing.
  bool log_connections = true;                    // One line per connect/close/refusal/error.
  bool log_data = false;                          // Also one line per chunk received, escaped.
  std::function<void(std::string_view)> log;      // Thread-safe sink for whole lines.
};

// Counters merged across workers.
struct EchoStats {
  std::uint64_t active = 0, total = 0, refused = 0;
  std::uint64_t bytes_in = 0, bytes_out = 0, messages = 0;
};

class EchoServer {
 public:
  // Opens the listening sockets for every worker. Errors: bind errors, bad template.
  static Result<std::unique_ptr<EchoServer>> open(const EchoConfig& config);
  ~EchoServer();
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  // The addresses bound (one per family or --bind address), with the real port.
  const std::vector<SocketAddress>& local_addresses() const;
  void start();
  // graceful: stop accepting, finish echoing what was received (up to drain_timeout), close.
  // Not graceful: close everything now.
  void stop(bool graceful);
  // True once every worker has finished.
  bool finished() const;
  void wait();
  EchoStats stats() const;

  struct Impl;

 private:
  explicit EchoServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Every address of this machine's interfaces that a client could use to reach `port` on the
// given families (for the "reachable at" lines), loopback last. Interface name in `names`.
std::vector<SocketAddress> interface_addresses(std::uint16_t port, bool v4, bool v6,
                                               std::vector<std::string>* names);

}  // namespace parley
