#pragma once
// The load generator behind `parley bench`: many connections against one TCP or UDP server, driven
// by one epoll loop per thread (share-nothing, like the echo server), counting round trips, bytes
// and errors by kind, and recording latency in per-thread histograms merged at the end.
//
// Threading: create, then run() (or start/stop/wait) from one controlling thread; workers run on
// their own threads, or the only one on the calling thread inside run(). progress() may be
// called any time, also from every_second (relaxed counters); wait() joins and merges.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "parley/endpoint.hpp"
#include "parley/histogram.hpp"
#include "parley/result.hpp"

namespace parley {

enum class BenchMode { pingpong, stream, connect, hold };

enum class ErrorKind : int { refused, reset, timeout, mismatch, closed_early, other, count };
const char* error_kind_name(ErrorKind kind);

struct LoadConfig {
  BenchMode mode = BenchMode::pingpong;
  SocketAddress target;
  unsigned connections = 1;
  std::size_t size = 64;  // Message size (pingpong, connect) or write size (stream).
  std::chrono::milliseconds duration{10'000};
  std::uint64_t count = 0;  // Stop after this many round trips (0: run for duration).
  unsigned threads = 1;
  double connect_rate = 0;  // New connections per second (0: all at once).
  double rate = 0;          // Requests per second in all (0: closed loop, as fast as answered).
  bool verify = false;      // Compare every answer byte with what was sent.
  bool lines = false;       // Messages end with LF; an answer is one line.
  std::chrono::milliseconds timeout{5'000};  // For connecting and for each answer.
  // UDP: each "connection" is a connected datagram socket, each message one datagram, and each
  // answer one datagram. A request unanswered within `timeout` is lost: it counts as a timeout
  // and the socket is replaced at once, so a late answer cannot pass for the next one. Only
  // pingpong and stream make sense here; size must fit one datagram (kMaxDatagram).
  bool udp = false;
};

inline constexpr std::size_t kMaxDatagram = 65507;  // 65535 - IPv4 header (20) - UDP header (8).

struct LoadProgress {
  std::uint64_t round_trips = 0, bytes_sent = 0, bytes_received = 0, open = 0, errors = 0;
};

struct LoadResult {
  std::chrono::nanoseconds elapsed{0};
  std::uint64_t round_trips = 0, bytes_sent = 0, bytes_received = 0;
  std::uint64_t opened = 0, open_at_end = 0, peak_open = 0;
  std::uint64_t out_of_fds = 0;  // Of the "other" errors: no descriptor left (EMFILE/ENFILE).
  std::array<std::uint64_t, static_cast<int>(ErrorKind::count)> errors{};
  Histogram latency;  // Nanoseconds; with a rate, measured from each request's intended time.
  // Round trips per second after all connections were up (the connect ramp excluded), and how
  // long that ramp took; 0 and -1 when the connections were never all up at once.
  double steady_rate = 0;
  std::chrono::nanoseconds ramp{-1};
  std::uint64_t total_errors() const;
};

class LoadGenerator {
 public:
  static Result<std::unique_ptr<LoadGenerator>> create(const LoadConfig& config);
  ~LoadGenerator();
  void start();
  void stop();  // Any time; workers finish their current step and close.
  bool finished() const;
  LoadProgress progress() const;
  LoadResult wait();
  // The whole run, with what a front end needs: stop_fd (e.g. a signalfd; -1 for none) stops it
  // once readable, and every_second is called about once a second on the calling thread (for a
  // progress line). With a single worker the loop runs on the calling thread itself: the process
  // then stays single-threaded, and the kernel skips the per-call file reference counting it
  // does for threads that share a descriptor table (worth ~2% of the round-trip rate). With
  // several, it starts them and watches stop_fd and the clock until they finish.
  LoadResult run(int stop_fd, const std::function<void()>& every_second);

  struct Impl;

 private:
  explicit LoadGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley
