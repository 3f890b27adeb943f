#pragma once
// The load generator behind `parley bench`: many connections against one TCP or UDP server, driven
// by one epoll loop per thread (share-nothing, like the echo server), counting round trips, bytes
// and errors by kind, and recording latency in per-thread histograms merged at the end.
//
// Threading: create, then run() (or start/stop/wait) from one controlling thread; workers run on
// their own threads, or the only one on the calling thread inside run(). progress() and
// take_intervals() may be called any time, also from the tick callback (relaxed counters; the
// interval records behind a mutex); wait() joins and merges.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/answers.hpp"
#include "parley/endpoint.hpp"
#include "parley/framing.hpp"
#include "parley/histogram.hpp"
#include "parley/proxy.hpp"
#include "parley/regex.hpp"
#include "parley/result.hpp"

namespace parley::tls {
class Context;
}

namespace parley {

// http is pingpong with HTTP/1.1 requests and responses (status codes counted).
enum class BenchMode { pingpong, stream, connect, hold, http };

// malformed: an answer that cannot be framed (a bad HTTP response, an answer over the framer's
// bounds); non_2xx: an HTTP response with another status. Names are JSON keys ([a-z][a-z0-9_]*).
enum class ErrorKind : int {
  refused,
  reset,
  timeout,
  mismatch,
  closed_early,
  malformed,
  non_2xx,
  other,
  count
};
const char* error_kind_name(ErrorKind kind);

// What an answer must be (--expect): this text (compared without a final line ending on either
// side), or a match of this regex anywhere in it. HTTP: the response body.
struct Expectation {
  std::string text;
  std::optional<Regex> regex;
  bool matches(std::string_view answer) const;
  std::string describe() const;  // For mismatch samples: 'PONG' or /^\+OK/.
};

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
  // The request (--message, --message-file, or the HTTP request): unset means `size` bytes of a
  // fixed pattern (echo servers; --verify compares the echo without keeping copies).
  std::optional<MessageTemplate> message;
  // What ends an answer. The front end sets it: bytes=size for the pattern, newline for --lines.
  UntilSpec until;
  std::optional<Expectation> expect;
  unsigned pipeline = 1;  // Requests in flight per connection (closed loop only).
  // A server that speaks first: skip its greeting (one answer, per `until`) on every connection
  // before the first request, and with greeting_expect check it.
  bool greeting = false;
  std::optional<Expectation> greeting_expect;
  bool linger0 = false;                   // Close with RST (SO_LINGER 0): no TIME-WAIT left behind.
  std::chrono::milliseconds warmup{0};    // Run this long first, counting nothing.
  std::chrono::milliseconds interval{0};  // Per-interval records (0: none).
  // A socket already connected to target (the front end's address probe): the first connection
  // takes it over instead of connecting again, so a one-connection server is not used up.
  int adopt_fd = -1;
  // UDP: each "connection" is a connected datagram socket, each message one datagram, and each
  // answer one datagram. A request unanswered within `timeout` is lost: it counts as a timeout
  // and the socket is replaced at once, so a late answer cannot pass for the next one. Only
  // pingpong and stream make sense here; size must fit one datagram (kMaxDatagram).
  bool udp = false;
  // Through a proxy (TCP only): `target` is then the proxy's address, and every connection first
  // asks it for a tunnel to proxy->target; it counts as open once the proxy agreed, and connect
  // mode's latency includes the handshake. A proxy's refusal is an error of the run (refused when
  // the target refused, else other, with the proxy's answer as the cause).
  struct Tunnel {
    ProxyType type = ProxyType::socks5;
    HostPort target;  // What the proxy is asked for (see proxy_request_target()).
    std::optional<ProxyCredentials> auth;
  };
  std::optional<Tunnel> proxy;
  // --tls (TCP only): every connection speaks TLS through a session of this client context,
  // checking tls_host (the name connected to) unless the context says otherwise. It counts as
  // open once the handshake is done (connect mode's latency includes it); a failed handshake is
  // an "other" error with the session's words as its cause.
  std::shared_ptr<const tls::Context> tls;
  std::string tls_host;
};

inline constexpr std::size_t kMaxDatagram = 65507;  // 65535 - IPv4 header (20) - UDP header (8).

struct LoadProgress {
  std::uint64_t round_trips = 0, bytes_sent = 0, bytes_received = 0, open = 0, errors = 0;
  bool warming_up = false;
};

// One --interval: what happened between start_s and end_s (seconds since the measured start).
struct IntervalStats {
  double start_s = 0, end_s = 0;
  std::uint64_t round_trips = 0, bytes_sent = 0, bytes_received = 0, errors = 0;
  std::uint64_t latency_count = 0, p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;
  double mean_ns = 0;
};

// UDP stream: datagrams carry a sequence number and their send time, so loss, reordering and
// jitter (RFC 3550's running estimate, over round-trip times) can be told.
struct DatagramStats {
  std::uint64_t sent = 0, received = 0, reordered = 0;
  double jitter_ns = 0;
};

struct LoadResult {
  std::chrono::nanoseconds elapsed{0};
  std::uint64_t round_trips = 0, bytes_sent = 0, bytes_received = 0;
  std::uint64_t opened = 0, open_at_end = 0, peak_open = 0;
  // Connections that were still connecting, or not yet (re)opened, when the run ended.
  std::uint64_t not_open_at_end = 0;
  std::uint64_t out_of_fds = 0;    // Of the "other" errors: no descriptor left (EMFILE/ENFILE).
  std::uint64_t out_of_ports = 0;  // Of the "other" errors: no local port left (EADDRNOTAVAIL).
  std::error_code other_error;     // The first "other" error, to name its cause.
  std::array<std::uint64_t, static_cast<int>(ErrorKind::count)> errors{};
  std::vector<std::string> mismatches;  // The first few, in words.
  std::string unasked;  // The first bytes the server sent unasked (a "server full" line), escaped.
  std::array<std::uint64_t, 600> status{};  // HTTP responses by status code.
  DatagramStats datagrams;
  std::vector<IntervalStats> series;
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
  // The --interval records every worker has finished since the last call, merged, in order.
  std::vector<IntervalStats> take_intervals();
  LoadResult wait();
  // The whole run, with what a front end needs: stop_fd (e.g. a signalfd; -1 for none) stops it
  // once readable, and tick is called about every 100 ms on the calling thread (for a progress
  // line and interval lines). With a single worker the loop runs on the calling thread itself: the
  // process then stays single-threaded, and the kernel skips the per-call file reference counting
  // it does for threads that share a descriptor table (worth ~2% of the round-trip rate). With
  // several, it starts them and watches stop_fd and the clock until they finish.
  LoadResult run(int stop_fd, const std::function<void()>& tick);

  struct Impl;

 private:
  explicit LoadGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley
