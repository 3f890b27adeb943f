#include "parley/relay.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "parley/errors.hpp"
#include "pump.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

// What one direction reports when its thread ends.
struct DirectionEnd {
  bool done = false;
  bool eof = false;      // Source reached EOF.
  bool stopped = false;  // Asked to stop by the coordinator.
  detail::Step failure;  // Set when it failed.
};

// Shared between the coordinator and both direction threads.
class Session {
 public:
  Session() : wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) { touch(true); }

  void touch(bool upload) {
    auto now = Clock::now().time_since_epoch().count();
    last_activity_.store(now, std::memory_order_relaxed);
    (upload ? last_upload_ : last_download_).store(now, std::memory_order_relaxed);
  }
  Clock::time_point last_activity() const { return load(last_activity_); }
  Clock::time_point last_upload() const { return load(last_upload_); }
  Clock::time_point last_download() const { return load(last_download_); }
  int wake_fd() const { return wake_.get(); }
  void stop() {
    stopping_.store(true);
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
  }
  bool stopping() const { return stopping_.load(); }

  void finish(DirectionEnd* slot, DirectionEnd value) {
    {
      std::lock_guard lock(mutex_);
      *slot = value;
      slot->done = true;
    }
    changed_.notify_all();
  }
  template <typename Pred>
  void wait_until(Pred pred, Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    changed_.wait_until(lock, deadline, pred);
  }
  std::mutex& mutex() { return mutex_; }

 private:
  Fd wake_;
  std::atomic<bool> stopping_{false};
  static Clock::time_point load(const std::atomic<Clock::rep>& a) {
    return Clock::time_point(Clock::duration(a.load(std::memory_order_relaxed)));
  }
  std::atomic<Clock::rep> last_activity_{0};
  std::atomic<Clock::rep> last_upload_{0};
  std::atomic<Clock::rep> last_download_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
};

// Waits until src is readable or the session is stopping. Returns false when stopping.
bool wait_readable(Session& s, int src) {
  pollfd fds[2] = {{src, POLLIN, 0}, {s.wake_fd(), POLLIN, 0}};
  for (;;) {
    if (s.stopping()) return false;
    int n = ::poll(fds, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (fds[1].revents != 0 || s.stopping()) return false;
    return true;  // Readable, hung up or in error: the next read tells which.
  }
}

// Runs one direction until EOF, failure or stop. Counts bytes into *counter.
DirectionEnd run_direction(Session& s, int src, int dst, const detail::PumpOptions& options,
                           std::atomic<std::uint64_t>* counter,
                           const std::function<void()>& on_eof) {
  const bool upload = options.direction == TrafficDirection::sent;
  detail::Pump pump(src, dst, options);
  for (;;) {
    if (!wait_readable(s, src)) return {false, false, true, {}};
    detail::Step step = pump.step();
    if (step.moved > 0 || step.idle) {
      counter->fetch_add(step.moved, std::memory_order_relaxed);
      s.touch(upload);
    }
    if (step.error) return {false, false, false, step};
    if (step.moved == 0 && !step.idle) {
      if (on_eof) on_eof();
      return {false, true, false, {}};
    }
  }
}

void set_blocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

bool is_interactive(int fd) {
  return isatty(fd) == 1;
}

}  // namespace

namespace {

// relay_stream's coordinator. Two direction threads move the bytes (up: input -> socket, down:
// socket -> output); this thread decides when the relay ends (a direction failed, the peer
// closed, -q after input EOF, the drain after the peer's end went quiet, the idle timeout), owes
// the held half-close, and says why it ended. The direction threads touch only session_, their
// DirectionEnd (through Session::finish, under its mutex), their counter and eof_at_.
class StreamRelay {
 public:
  StreamRelay(int in_fd, int out_fd, int sock_fd, const RelayOptions& options)
      : in_fd_(in_fd),
        out_fd_(out_fd),
        sock_fd_(sock_fd),
        o_(options),
        // A person at a terminal expects the session to end when the peer closes (ncat #894); a
        // file or pipe is drained first so that no data is lost.
        end_with_peer_(options.receive && options.send && is_interactive(in_fd)) {}

  RelayResult run() {
    set_blocking(sock_fd_);
    start();
    RelayResult result;
    for (bool over = false; !over;) over = round(result);
    if (up_thread_.joinable()) up_thread_.join();
    if (down_thread_.joinable()) down_thread_.join();
    return outcome(result);
  }

 private:
  void start();
  bool round(RelayResult& result);
  Clock::time_point deadline(bool draining) const;
  RelayResult outcome(RelayResult result) const;
  Clock::time_point eof_time() const { return Clock::time_point(Clock::duration(eof_at_.load())); }
  void stop_all() {
    session_.stop();
    // Unblocks a direction stuck sending to a peer that stopped reading.
    ::shutdown(sock_fd_, SHUT_RDWR);
  }

  const int in_fd_, out_fd_, sock_fd_;
  const RelayOptions& o_;
  const bool end_with_peer_;
  Session session_;
  std::atomic<std::uint64_t> sent_{0}, received_{0};
  DirectionEnd up_, down_;
  std::atomic<Clock::rep> eof_at_{0};  // When the input ended.
  bool half_close_owed_ = false;       // At input EOF, with hold_half_close: not yet done.
  bool watch_eof_ = false;             // This thread acts at input EOF (-q, a held half-close).
  bool eof_seen_ = false;              // ... and has seen it.
  // Last: destroyed (joined) before what they use.
  std::jthread up_thread_, down_thread_;
};

void StreamRelay::start() {
  if (o_.send) {
    detail::PumpOptions up;
    up.crlf = o_.crlf;
    up.log = o_.log.get();
    up.direction = TrafficDirection::sent;
    up.line_delay = o_.line_delay;
    up.wake_fd = session_.wake_fd();
    up_thread_ = std::jthread([this, up] {
      auto half_close = [this] {
        eof_at_.store(Clock::now().time_since_epoch().count());
        if (o_.shutdown_on_eof && !o_.hold_half_close) ::shutdown(sock_fd_, SHUT_WR);
      };
      session_.finish(&up_, run_direction(session_, in_fd_, sock_fd_, up, &sent_, half_close));
    });
  } else {
    up_.done = up_.eof = true;
    eof_at_.store(Clock::now().time_since_epoch().count());
  }
  half_close_owed_ = o_.shutdown_on_eof && o_.hold_half_close.has_value();
  if (o_.receive) {
    detail::PumpOptions down;
    down.log = o_.log.get();
    down.direction = TrafficDirection::received;
    down.telnet = o_.telnet;
    down_thread_ = std::jthread([this, down] {
      session_.finish(&down_,
                      run_direction(session_, sock_fd_, out_fd_, down, &received_, nullptr));
    });
  } else {
    down_.done = down_.eof = true;
  }
  watch_eof_ = o_.quit_after_eof.has_value() || half_close_owed_;
}

// The next moment this thread has to look, whatever the directions do.
Clock::time_point StreamRelay::deadline(bool draining) const {
  // Without an idle timeout, wake up hourly anyway: waiting until time_point::max overflows.
  auto at = Clock::now() + std::chrono::hours(1);
  if (o_.idle_timeout.count() > 0) at = session_.last_activity() + o_.idle_timeout;
  if (draining) at = std::min(at, session_.last_upload() + o_.drain_quiet);
  if (eof_seen_ && o_.quit_after_eof) at = std::min(at, eof_time() + *o_.quit_after_eof);
  if (eof_seen_ && half_close_owed_)
    at = std::min(at, std::max(eof_time(), session_.last_download()) + *o_.hold_half_close);
  return at;
}

// One wait for a direction to end or a deadline; true when the relay is over.
bool StreamRelay::round(RelayResult& result) {
  bool up_done, down_done;
  bool draining;  // The peer closed; the upload goes on while the input keeps coming.
  {
    std::lock_guard lock(session_.mutex());
    draining = down_.done && down_.eof && o_.receive && !up_.done;
  }
  session_.wait_until(
      [&] {
        return (up_.done && down_.done) || (down_.done && !down_.eof) || (up_.done && !up_.eof) ||
               (down_.done && !up_.done && end_with_peer_) ||
               (o_.receive && down_.done && !draining) || (watch_eof_ && up_.done && !eof_seen_);
      },
      deadline(draining));
  {
    std::lock_guard lock(session_.mutex());
    up_done = up_.done;
    down_done = down_.done;
    if (up_done && up_.eof) eof_seen_ = true;
  }
  if (up_done && down_done) return true;
  const auto now = Clock::now();
  if (eof_seen_ && o_.quit_after_eof && now >= eof_time() + *o_.quit_after_eof) {
    stop_all();  // -q: time is up, whatever the peer is doing.
    return true;
  }
  if (eof_seen_ && half_close_owed_ &&
      now >= std::max(eof_time(), session_.last_download()) + *o_.hold_half_close) {
    ::shutdown(sock_fd_, SHUT_WR);  // The reply has ended (or never began): half-close now.
    half_close_owed_ = false;
  }
  if ((up_done && !up_.eof) || (down_done && !down_.eof) || (down_done && end_with_peer_) ||
      (draining && now - session_.last_upload() >= o_.drain_quiet)) {
    stop_all();
    return true;
  }
  if (o_.idle_timeout.count() > 0 && now - session_.last_activity() >= o_.idle_timeout) {
    result.end = RelayEnd::idle_timeout;
    result.error = make_error_code(Errc::timed_out);
    stop_all();
    return true;
  }
  return false;
}

// After both threads ended: the counts, and the first real failure decides the outcome.
RelayResult StreamRelay::outcome(RelayResult result) const {
  result.sent = sent_.load();
  result.received = received_.load();
  if (o_.log) {
    result.log_error = o_.log->error();
    result.log_path = o_.log->error_path();
  }
  if (result.end == RelayEnd::idle_timeout) return result;
  // A closed output (EPIPE writing stdout, e.g. into `head`) is a normal end, as is a send
  // failing after the peer already closed its side.
  for (const DirectionEnd* d : {&down_, &up_}) {
    if (!d->failure.error) continue;
    const bool to_socket = (d == &up_) == d->failure.write_failed;
    if (d == &down_ && d->failure.write_failed && d->failure.error.value() == EPIPE) continue;
    if (d == &up_ && down_.eof && down_.done) continue;
    result.end = to_socket ? RelayEnd::network_error : RelayEnd::local_error;
    result.error = d->failure.error;
    result.output_failed = d == &down_ && d->failure.write_failed;
    break;
  }
  return result;
}

}  // namespace

RelayResult relay_stream(int in_fd, int out_fd, int sock_fd, const RelayOptions& options) {
  return StreamRelay(in_fd, out_fd, sock_fd, options).run();
}

std::size_t lf_to_crlf(const char* in, std::size_t n, char* out, bool* prev_cr) {
  std::size_t o = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (in[i] == '\n' && !*prev_cr) out[o++] = '\r';
    out[o++] = in[i];
    *prev_cr = in[i] == '\r';
  }
  return o;
}

}  // namespace parley
