#pragma once
// Internal to the load generator: shared state and one worker (an epoll loop over its share of
// the connections). The worker's code is split by concern: loadgen_worker.cpp (the loop,
// connecting, timers, closing), loadgen_exchange.cpp (requests out, answers in, checks),
// loadgen_records.cpp (warmup, intervals, UDP stream statistics).

#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <vector>

#include "counter.hpp"
#include "parley/coalesce.hpp"
#include "parley/fd.hpp"
#include "parley/loadgen.hpp"
#include "parley/transport.hpp"

namespace parley::load {

using detail::Counter;

std::int64_t now_ns();
ErrorKind kind_of(int err);  // ECONNREFUSED -> refused, ...

struct Shared {
  LoadConfig config;
  // measure_ns: the end of the warmup, when counting starts; end_ns: measure_ns + duration.
  std::int64_t start_ns = 0, measure_ns = 0, end_ns = 0;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> completed{0};  // Only used with a round-trip count.
  std::string batch;  // A constant request repeated `pipeline` times: sent by prefix, never copied.
  std::size_t request_len = 0;  // Of one constant request.
};

struct WorkerCounters {
  Counter round_trips, bytes_sent, bytes_received, open, opened, errors;
  Counter out_of_fds;    // Socket creations that failed for want of a descriptor (also in errors).
  Counter out_of_ports;  // Connects that failed for want of a local port (also in errors).
  std::array<Counter, static_cast<int>(ErrorKind::count)> by_kind;
};

// One finished interval of one worker; the latency histogram kept sparse (bucket, count).
struct IntervalRecord {
  std::uint64_t round_trips = 0, bytes_sent = 0, bytes_received = 0, errors = 0;
  std::int64_t start_ns = 0, end_ns = 0;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> buckets;
  std::uint64_t sum_ns = 0;
};

class Worker {
 public:
  Worker(Shared& shared, std::vector<unsigned> ids, const char* pattern);
  // The event loop. stop_fd (optional): when readable, the run stops (a signalfd). tick
  // (optional): called about every 100 ms from the loop, for progress and interval lines.
  void run(int stop_fd = -1, const std::function<void()>* tick = nullptr);
  const WorkerCounters& counters() const { return counters_; }
  const Histogram& latency() const { return latency_; }
  std::uint64_t peak_open() const { return peak_open_; }
  std::uint64_t open_at_end() const { return open_at_end_; }
  std::uint64_t not_open_at_end() const { return not_open_at_end_; }
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
  bool measuring() const { return measuring_.load(std::memory_order_relaxed); }
  // What only wait() reads, after the worker finished.
  std::error_code other_error() const { return other_error_; }
  const std::vector<std::string>& mismatches() const { return mismatches_; }
  const std::string& unasked() const { return unasked_; }
  const std::array<std::uint64_t, 600>& status() const { return status_; }
  const DatagramStats& datagrams() const { return datagrams_; }
  // Finished intervals from index `from` on (any thread).
  std::vector<IntervalRecord> intervals_from(std::size_t from) const;
  std::size_t intervals_done() const;

 private:
  void prepare(int stop_fd);
  void finish();
  struct Conn {
    int fd = -1;
    unsigned id = 0;
    bool connecting = false, counted_open = false, greeting = false;
    bool answer_bad = false;   // --verify: the pattern's echo differed.
    bool closing = false;      // HTTP Connection: close: reconnect after this answer.
    std::uint32_t events = 0;  // What epoll watches for this connection now.
    unsigned inflight = 0;     // Requests sent whose answers have not completed.
    unsigned owed = 0;         // Requests to send once this wait's events are handled.
    // The bytes being written: from out_ptr (the pattern when null), out_len in all.
    const char* out_ptr = nullptr;
    std::size_t out_off = 0, out_len = 0, in_got = 0;
    std::uint64_t requests = 0;  // Rendered so far ({n}).
    std::uint64_t stream_out = 0, stream_in = 0, stream_budget = 0, rng = 0;
    std::uint64_t max_seq = 0;       // UDP stream: the highest sequence number seen back.
    std::int64_t last_transit = -1;  // UDP stream: the previous datagram's round trip.
    std::int64_t next_intended = 0, deadline = 0, cycle_start = 0;
    std::int64_t last_data = 0;               // --until idle: when the answer's last bytes came.
    bool quiet_armed = false;                 // A quiet timer is queued for this connection.
    std::unique_ptr<std::int64_t[]> sent_at;  // Send times of the requests in flight (a ring).
    unsigned sent_head = 0;
    std::unique_ptr<AnswerFramer> framer;
    std::string out;       // Rendered requests (templates), pipeline batches of the pattern.
    std::string answer;    // The answer so far, when --expect or a message echo needs it.
    std::string out_body;  // A chunked HTTP body's data, for --expect.
    // Through a proxy: the handshake under way (null before and after it); tunnel_open once
    // the proxy agreed, so that on_connected goes on to the run's own traffic.
    struct Tunnel {
      ProxyHandshake handshake;
      std::string reply;
    };
    std::unique_ptr<Tunnel> tunnel;
    bool tunnel_open = false;
    // --tls: the session (every byte goes through it once it exists); handshaking until done.
    std::unique_ptr<Transport> tls;
    bool tls_handshaking = false;
  };
  // quiet: --until idle=T, the answer ends once the server has been quiet for T.
  enum class Timer : std::uint8_t { open, send, quiet };
  struct Due {
    std::int64_t at;
    std::uint32_t conn;
    Timer what;
    bool operator>(const Due& o) const { return at > o.at; }
  };

  // loadgen_worker.cpp
  void reset(Conn& c);
  void open(Conn& c);
  // --tls (loadgen_worker.cpp): the handshake; reads and writes through the session (as recv
  // and send: -1 with errno EAGAIN to wait; on a TLS failure the connection fails and -2).
  void tls_step(Conn& c);
  ssize_t put(Conn& c, const char* data, std::size_t n);
  ssize_t get(Conn& c, char* buf, std::size_t n, int flags);
  void adopt(Conn& c, int fd);
  void on_connected(Conn& c);
  void begin(Conn& c);  // The first request(s) on a connection (after any greeting).
  void on_event(Conn& c, std::uint32_t events);
  void tunnel_step(Conn& c);  // Drives the proxy handshake; on_connected once it is done.
  bool solo_ready() const;
  void interest(Conn& c, bool out);
  void sweep_timeouts();
  void wait_for_events(std::int64_t until);
  void fire_due_timers();
  void flush_owed();
  void handle_events(int n);
  void fail(Conn& c, ErrorKind kind, int err = 0);
  void fail(Conn& c, ErrorKind kind, std::error_code error);  // A proxy's answer, say.
  void close(Conn& c);
  void reopen_later(Conn& c, std::int64_t delay_ns);
  std::uint32_t index_of(const Conn& c) const {
    return static_cast<std::uint32_t>(&c - conns_.data());
  }
  // loadgen_exchange.cpp
  void send_requests(Conn& c, unsigned k, std::int64_t t);
  void write_some(Conn& c);
  void write_stream(Conn& c);
  // Reads what arrived. flags: MSG_DONTWAIT from the epoll loop; 0 on the solo path, where the
  // socket is blocking and the read waits for the answer (then stamps now_ itself).
  void on_readable(Conn& c, int flags = MSG_DONTWAIT);
  void read_once(Conn& c, int flags);
  bool take_answers(Conn& c, const char* data, std::size_t n, unsigned* done);
  void answer_complete(Conn& c);
  std::string fmt_size(std::size_t got) const;
  void after_answers(Conn& c, unsigned done);
  void on_eof(Conn& c);
  void on_quiet(Conn& c);
  void on_datagram(Conn& c, std::size_t got);
  void on_unasked(Conn& c, const char* data, std::size_t n);
  void count_round_trip(std::uint64_t latency);
  // True when data equals the pattern bytes from stream offset `offset` on.
  bool matches(const char* data, std::size_t n, std::uint64_t offset) const;
  void mismatch(std::string why = {});
  // loadgen_records.cpp
  void start_measuring();
  void close_interval(std::int64_t end);
  void on_stream_datagram(Conn& c, const char* data, std::size_t got);
  void stamp_datagram(Conn& c);

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
  std::uint64_t open_now_ = 0, peak_open_ = 0, open_at_end_ = 0, not_open_at_end_ = 0;
  // The steady phase starts when every connection of this worker is open; the connect ramp
  // before it would otherwise dilute the round-trip rate (more so with many connections).
  std::int64_t steady_start_ = 0, steady_end_ = 0;
  std::uint64_t steady_round_trips_ = 0;
  std::int64_t now_ = 0, interval_ns_ = 0;
  // One connection in a closed loop: instead of epoll_wait + recv, one blocking recv per answer
  // (a system call fewer on the round trip's critical path, ~3% at one connection).
  bool solo_ = false;
  // Collect each answer's bytes (--expect, message echo --verify).
  bool keep_answer_ = false;
  // A closed loop of exchanges naps before waiting while the server queues (coalesce.hpp).
  bool coalesce_ = false;
  AnswerCoalescer coalescer_;
  std::vector<std::uint64_t> latencies_;  // Of the answers one read completed.
  std::vector<std::uint32_t> owed_;       // Connections with requests owed (Conn::owed).
  std::atomic<bool> done_{false};
  std::atomic<bool> measuring_{false};
  std::error_code other_error_;
  std::vector<std::string> mismatches_;
  std::string unasked_;
  std::array<std::uint64_t, 600> status_{};
  DatagramStats datagrams_;
  // --interval: the current interval's histogram and the counters at its start.
  Histogram interval_latency_;
  std::int64_t interval_start_ = 0, next_interval_ = INT64_MAX;
  std::uint64_t interval_base_[4] = {};
  mutable std::mutex intervals_mutex_;
  std::vector<IntervalRecord> intervals_;
};

inline constexpr std::size_t kPattern = 64 << 10;   // Message bytes repeat with this period.
inline constexpr std::size_t kDatagramHeader = 16;  // UDP stream: sequence number, send time.

}  // namespace parley::load
