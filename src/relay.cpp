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

RelayResult relay_stream(int in_fd, int out_fd, int sock_fd, const RelayOptions& options) {
  set_blocking(sock_fd);
  Session session;
  std::atomic<std::uint64_t> sent{0}, received{0};
  DirectionEnd up, down;
  // A person at a terminal expects the session to end when the peer closes (ncat #894); a file or
  // pipe is drained first so that no data is lost.
  const bool end_with_peer = options.receive && options.send && is_interactive(in_fd);

  detail::PumpOptions up_options;
  up_options.crlf = options.crlf;
  up_options.log = options.log.get();
  up_options.direction = TrafficDirection::sent;
  up_options.line_delay = options.line_delay;
  up_options.wake_fd = session.wake_fd();
  detail::PumpOptions down_options;
  down_options.log = options.log.get();
  down_options.direction = TrafficDirection::received;
  down_options.telnet = options.telnet;
  // Input EOF: when it came, and whether the half-close is still owed (hold_half_close).
  std::atomic<Clock::rep> eof_at{0};
  bool half_close_owed = false;

  std::jthread up_thread, down_thread;
  if (options.send) {
    up_thread = std::jthread([&] {
      auto half_close = [&] {
        eof_at.store(Clock::now().time_since_epoch().count());
        if (options.shutdown_on_eof && !options.hold_half_close) ::shutdown(sock_fd, SHUT_WR);
      };
      session.finish(&up, run_direction(session, in_fd, sock_fd, up_options, &sent, half_close));
    });
  } else {
    up.done = up.eof = true;
    eof_at.store(Clock::now().time_since_epoch().count());
  }
  half_close_owed = options.shutdown_on_eof && options.hold_half_close.has_value();
  if (options.receive) {
    down_thread = std::jthread([&] {
      session.finish(&down,
                     run_direction(session, sock_fd, out_fd, down_options, &received, nullptr));
    });
  } else {
    down.done = down.eof = true;
  }
  // Whether the coordinator has to act at input EOF (-q, a held half-close), and has done so.
  const bool watch_eof = options.quit_after_eof.has_value() || half_close_owed;
  bool eof_seen = false;
  auto eof_time = [&] { return Clock::time_point(Clock::duration(eof_at.load())); };

  RelayResult result;
  auto stop_all = [&] {
    session.stop();
    // Unblocks a direction stuck in a send to a peer that stopped reading.
    ::shutdown(sock_fd, SHUT_RDWR);
  };
  for (;;) {
    // Without an idle timeout, wake up hourly anyway: waiting until time_point::max overflows.
    auto deadline = Clock::now() + std::chrono::hours(1);
    if (options.idle_timeout.count() > 0) deadline = session.last_activity() + options.idle_timeout;
    bool up_done, down_done;
    bool draining;  // The peer closed; the upload goes on while the input keeps coming.
    {
      std::lock_guard lock(session.mutex());
      draining = down.done && down.eof && options.receive && !up.done;
    }
    if (draining) deadline = std::min(deadline, session.last_upload() + options.drain_quiet);
    if (eof_seen && options.quit_after_eof)
      deadline = std::min(deadline, eof_time() + *options.quit_after_eof);
    if (eof_seen && half_close_owed)
      deadline = std::min(deadline,
                          std::max(eof_time(), session.last_download()) + *options.hold_half_close);
    {
      session.wait_until(
          [&] {
            return (up.done && down.done) || (down.done && !down.eof) || (up.done && !up.eof) ||
                   (down.done && !up.done && end_with_peer) ||
                   (options.receive && down.done && !draining) ||
                   (watch_eof && up.done && !eof_seen);
          },
          deadline);
      std::lock_guard lock(session.mutex());
      up_done = up.done;
      down_done = down.done;
      if (up_done && up.eof) eof_seen = true;
    }
    if (up_done && down_done) break;
    const auto now = Clock::now();
    if (eof_seen && options.quit_after_eof && now >= eof_time() + *options.quit_after_eof) {
      stop_all();  // -q: time is up, whatever the peer is doing.
      break;
    }
    if (eof_seen && half_close_owed &&
        now >= std::max(eof_time(), session.last_download()) + *options.hold_half_close) {
      ::shutdown(sock_fd, SHUT_WR);  // The reply has ended (or never began): half-close now.
      half_close_owed = false;
    }
    if ((up_done && !up.eof) || (down_done && !down.eof) || (down_done && end_with_peer)) {
      stop_all();
      break;
    }
    if (draining && Clock::now() - session.last_upload() >= options.drain_quiet) {
      stop_all();
      break;
    }
    if (options.idle_timeout.count() > 0 &&
        Clock::now() - session.last_activity() >= options.idle_timeout) {
      result.end = RelayEnd::idle_timeout;
      result.error = make_error_code(Errc::timed_out);
      stop_all();
      break;
    }
  }
  if (up_thread.joinable()) up_thread.join();
  if (down_thread.joinable()) down_thread.join();

  result.sent = sent.load();
  result.received = received.load();
  if (options.log) {
    result.log_error = options.log->error();
    result.log_path = options.log->error_path();
  }
  if (result.end == RelayEnd::idle_timeout) return result;
  // The first real failure decides the outcome. A closed output (EPIPE writing stdout, e.g. into
  // `head`) is a normal end, as is a send failing after the peer already closed its side.
  for (const DirectionEnd* d : {&down, &up}) {
    if (!d->failure.error) continue;
    const bool to_socket = (d == &up) == d->failure.write_failed;
    if (d == &down && d->failure.write_failed && d->failure.error.value() == EPIPE) continue;
    if (d == &up && down.eof && down.done) continue;
    result.end = to_socket ? RelayEnd::network_error : RelayEnd::local_error;
    result.error = d->failure.error;
    result.output_failed = d == &down && d->failure.write_failed;
    break;
  }
  return result;
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
