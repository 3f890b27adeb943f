#pragma once
// Internal to the load generator: shared state and one worker (an epoll loop over its share of
// the connections).

#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <queue>
#include <vector>

#include "counter.hpp"
#include "parley/fd.hpp"
#include "parley/loadgen.hpp"

namespace parley::load {

using detail::Counter;

std::int64_t now_ns();

struct Shared {
  LoadConfig config;
  std::int64_t start_ns = 0, end_ns = 0;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> completed{0};  // Only used with a round-trip count.
};

struct WorkerCounters {
  Counter round_trips, bytes_sent, bytes_received, open, opened, errors;
  Counter out_of_fds;  // Socket creations that failed for want of a descriptor (also in errors).
  std::array<Counter, static_cast<int>(ErrorKind::count)> by_kind;
};

class Worker {
 public:
  Worker(Shared& shared, std::vector<unsigned> ids, const char* pattern);
  // The event loop. stop_fd (optional): when readable, the run stops (a signalfd). every_second
  // (optional): called about once a second from the loop, for a progress line.
  void run(int stop_fd = -1, const std::function<void()>* every_second = nullptr);
  const WorkerCounters& counters() const { return counters_; }
  const Histogram& latency() const { return latency_; }
  std::uint64_t peak_open() const { return peak_open_; }
  std::uint64_t open_at_end() const { return open_at_end_; }
  // Round trips per second once all of this worker's connections were up (0 if they never were).
  double steady_rate() const {
    if (steady_start_ == 0 || steady_end_ <= steady_start_) return 0;
    return static_cast<double>(steady_round_trips_) * 1e9 /
           static_cast<double>(steady_end_ - steady_start_);
  }
  std::int64_t ramp_ns(std::int64_t start) const {
    return steady_start_ ? steady_start_ - start : -1;
  }
  bool done() const { return done_.load(); }

 private:
  struct Conn {
    int fd = -1;
    unsigned id = 0;
    bool connecting = false, awaiting = false;
    std::uint32_t events = 0;  // What epoll watches for this connection now.
    std::size_t out_off = 0, in_got = 0;
    std::uint64_t stream_out = 0, stream_in = 0;
    std::int64_t t_request = 0, next_intended = 0, deadline = 0, cycle_start = 0;
  };
  enum class Timer : std::uint8_t { open, send };
  struct Due {
    std::int64_t at;
    std::uint32_t conn;
    Timer what;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  void open(Conn& c);
  void on_connected(Conn& c);
  void on_event(Conn& c, std::uint32_t events);
  // Reads what arrived. flags: MSG_DONTWAIT from the epoll loop; 0 on the solo path, where the
  // socket is blocking and the read waits for the answer (then stamps now_ itself).
  void on_readable(Conn& c, int flags = MSG_DONTWAIT);
  bool solo_ready() const;
  void on_writable(Conn& c);
  void on_datagram(Conn& c, std::size_t got);
  void send_request(Conn& c, std::int64_t t);
  void write_some(Conn& c);
  void answer_complete(Conn& c);
  void fail(Conn& c, ErrorKind kind);
  void close(Conn& c);
  void reopen_later(Conn& c, std::int64_t delay_ns);
  void interest(Conn& c, bool out);
  void sweep_timeouts();
  void wait_for_events(std::int64_t until);
  void fire_due_timers();
  void count_round_trip();
  // True when data equals the pattern bytes from stream offset `offset` on.
  bool matches(const char* data, std::size_t n, std::uint64_t offset) const;
  void mismatch();

  Shared& shared_;
  const LoadConfig& config_;
  const char* pattern_;  // 2 x kPattern bytes, shared read-only.
  Fd epoll_;
  std::vector<Conn> conns_;
  std::unique_ptr<char[]> buffer_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> timers_;
  std::array<epoll_event, 256> events_{};
  Histogram latency_;
  WorkerCounters counters_;
  std::uint64_t open_now_ = 0, peak_open_ = 0, open_at_end_ = 0;
  // The steady phase starts when every connection of this worker is open; the connect ramp
  // before it would otherwise dilute the round-trip rate (more so with many connections).
  std::int64_t steady_start_ = 0, steady_end_ = 0;
  std::uint64_t steady_round_trips_ = 0;
  std::int64_t now_ = 0, interval_ns_ = 0;
  // One connection in a closed loop: instead of epoll_wait + recv, one blocking recv per answer
  // (a system call fewer on the round trip's critical path, ~3% at one connection).
  bool solo_ = false;
  std::atomic<bool> done_{false};
};

inline constexpr std::size_t kPattern = 64 << 10;  // Message bytes repeat with this period.

}  // namespace parley::load
