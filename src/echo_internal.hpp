#pragma once
// Internal to the echo server: what all workers share (read-mostly), and one worker's loop.

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "counter.hpp"
#include "parley/echo_server.hpp"
#include "parley/fd.hpp"

namespace parley::echo {

using Clock = std::chrono::steady_clock;

inline constexpr std::size_t kReadBuffer = 64 << 10;  // One per worker, shared by its clients.
inline constexpr int kBurst = 64;  // Accepts or datagrams per wakeup, for fairness.
// While stopping, a connection with nothing in flight for this long is done.
inline constexpr std::chrono::milliseconds kDrainQuiet{100};

using detail::Counter;

struct WorkerStats {
  Counter active, total, refused, bytes_in, bytes_out, messages;
};

enum class Phase : int { running = 0, draining = 1, closing = 2 };

struct Shared {
  EchoConfig config;
  ReplyTemplate reply;
  std::atomic<std::size_t> connections{0};  // Across all workers, for --max-conns.
  std::atomic<Phase> phase{Phase::running};
  Clock::time_point drain_deadline;
  void log(const std::string& line) const {
    if (config.log) config.log(line);
  }
};

class Worker {
 public:
  Worker(Shared& shared, std::vector<Fd> listeners);
  ~Worker();
  void run();   // The event loop; returns when stopped and drained.
  void wake();  // Any thread: make run() look at the phase.
  const WorkerStats& stats() const { return stats_; }
  bool done() const { return done_.load(); }

  struct Conn;
  struct Slot;
  enum class Kind : std::uint8_t { listener, udp, wake, conn };
  // What epoll's data pointer points at: a Slot or a Conn, told apart by kind.
  struct Handle {
    Kind kind;
  };

 private:
  void on_listener(Slot& slot);
  void on_udp(Slot& slot);
  bool on_readable(Conn& c);
  void on_writable(Conn& c);
  bool send_or_queue(Conn& c, const char* data, std::size_t n);
  void close_quiet();
  void set_interest(Conn& c, std::uint32_t events);
  void close_conn(Conn& c, const char* reason);
  void begin_drain();
  void sweep_idle();
  void pause_accepting();
  void resume_accepting();
  int next_timeout_ms() const;

  Shared& shared_;
  Fd epoll_;
  Fd wake_;
  std::vector<std::unique_ptr<Slot>> slots_;  // Listeners (TCP) or sockets (UDP), and the wake fd.
  std::vector<Conn*> conns_;
  std::unique_ptr<char[]> buffer_;  // One read buffer for every connection of this worker.
  std::string out_;                 // Scratch for line-mode replies.
  WorkerStats stats_;
  Clock::time_point now_;
  Clock::time_point next_sweep_;
  Clock::time_point accept_paused_until_{};
  bool accept_paused_ = false;
  bool draining_ = false;
  std::atomic<bool> done_{false};
};

struct Worker::Slot : Worker::Handle {
  Slot(Kind k, Fd f) : Handle{k}, fd(std::move(f)) {}
  Fd fd;
};

struct Worker::Conn : Worker::Handle {
  bool peer_done = false;    // The client half-closed: finish the output, then close.
  bool close_after = false;  // Close once the pending output is gone (line too long).
  int fd;
  std::uint32_t events = EPOLLIN;
  std::uint32_t index = 0;  // Position in conns_, for O(1) removal.
  sockaddr_in6 peer{};      // Big enough for IPv4 too.
  std::uint64_t in = 0, out = 0, messages = 0;
  Clock::time_point since, last_active;
  std::string pending;  // Output the client has not taken yet; empty (no allocation) normally.
  std::size_t pending_off = 0;
  LineBuffer lines;

  Conn(int f, std::size_t max_line) : Handle{Kind::conn}, fd(f), lines(max_line) {}
  std::string peer_name() const {
    return SocketAddress(reinterpret_cast<const sockaddr*>(&peer), sizeof(peer)).to_string();
  }
};

}  // namespace parley::echo
