// The stream relay over a Transport that cannot be split between two threads (a TLS session: an
// SSL object is one state machine for both directions). One poll() loop over the input, the
// transport's socket and the clock, with relay_stream's end-of-stream rules:
//   * input EOF -> shutdown_write() (TLS: close_notify, then FIN) unless --no-shutdown, or once the
//     peer has been quiet for hold_half_close; keep receiving;
//   * peer closed -> finish, unless the input (not a terminal) is still sending: drain it until it
//     ends or pauses for drain_quiet;
//   * -q, -i, --send-only, --recv-only, -C and the traffic log as in relay_stream.
// The output is written with blocking writes, as the two-thread relay does; the input is only
// read when poll() says so (it is shared with the shell and stays blocking); the socket is made
// non-blocking. Records are big (up to 16 KiB) and reads gather several, so a bulk transfer costs
// one poll() per 256 KiB or so.

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "parley/errors.hpp"
#include "parley/relay.hpp"
#include "parley/transport.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunk = 256 << 10;
// Most bytes received per wakeup before the input gets its turn.
constexpr std::size_t kReceiveBurst = 4 * kChunk;
// At the end, how long the last close_notify may wait for room in the socket buffer.
constexpr int kFinalCloseMs = 1000;

class TransportRelay {
 public:
  TransportRelay(int in_fd, int out_fd, Transport& t, const RelayOptions& o)
      : in_(in_fd), out_(out_fd), t_(t), o_(o), log_(o.log.get()) {}

  RelayResult run();

 private:
  void end(RelayEnd how, std::error_code ec) {
    stop_ = true;
    result_.end = how;
    result_.error = ec;
  }
  bool up_done() const { return !input_open_ && pend_len_ == 0 && !shutdown_pending_; }
  bool draining() const { return down_done_ && o_.receive && !up_done(); }
  enum class Next : std::uint8_t { wait, again, stop };
  void start();
  Next check(Clock::time_point now);
  void wait_and_move(Clock::time_point now);
  Clock::time_point deadline() const;
  void receive();
  bool flush(const char* data, std::size_t n);
  void read_input();
  void send_pending();
  void try_shutdown();
  void final_close();

  int in_, out_;
  Transport& t_;
  const RelayOptions& o_;
  TrafficLog* log_;
  RelayResult result_;
  bool stop_ = false;
  bool end_with_peer_ = false;  // Input from a terminal: the session ends with the peer's close.
  bool input_open_ = false;
  bool down_done_ = false;
  bool shutdown_pending_ = false;  // At input EOF: shutdown_write() still to do.
  bool shutdown_sent_ = false;
  bool half_close_owed_ = false;  // hold_half_close: waiting for the peer to be quiet.
  bool eof_seen_ = false;
  bool prev_cr_ = false;
  IoStatus write_wait_ = IoStatus::ok;  // What the last write or shutdown is waiting for.
  IoStatus read_wait_ = IoStatus::want_read;
  std::unique_ptr<char[]> in_buf_, crlf_buf_, out_buf_;
  const char* pend_ = nullptr;  // Input not yet taken by the transport.
  std::size_t pend_len_ = 0;
  Clock::time_point eof_at_, last_activity_, last_upload_, last_download_;
};

Clock::time_point TransportRelay::deadline() const {
  auto d = Clock::time_point::max();
  if (o_.idle_timeout.count() > 0) d = last_activity_ + o_.idle_timeout;
  if (draining()) d = std::min(d, last_upload_ + o_.drain_quiet);
  if (eof_seen_ && o_.quit_after_eof) d = std::min(d, eof_at_ + *o_.quit_after_eof);
  if (eof_seen_ && half_close_owed_)
    d = std::min(d, std::max(eof_at_, last_download_) + *o_.hold_half_close);
  return d;
}

// Writes received bytes to the output. False when the relay ends (the output is gone or failed).
bool TransportRelay::flush(const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(out_, data, n);
    if (w >= 0) {
      data += w;
      n -= static_cast<std::size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {  // Someone made the shared output non-blocking: wait for room.
      pollfd p{out_, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (errno == EPIPE) {
      end(RelayEnd::finished, {});  // The reader of the output went away: a normal end.
    } else {
      end(RelayEnd::local_error, last_error());
    }
    return false;
  }
  return true;
}

void TransportRelay::receive() {
  std::size_t filled = 0, total = 0;
  while (total < kReceiveBurst) {
    Io io = t_.read(out_buf_.get() + filled, kChunk - filled);
    if (!io.ok()) {
      if (io.wants()) read_wait_ = io.status;
      if (io.status == IoStatus::closed) down_done_ = true;
      if (io.status == IoStatus::error) end(RelayEnd::network_error, io.error);
      break;
    }
    if (log_ != nullptr)
      log_->record(TrafficDirection::received, out_buf_.get() + filled, io.bytes);
    result_.received += io.bytes;
    filled += io.bytes;
    total += io.bytes;
    if (filled == kChunk) {
      if (!flush(out_buf_.get(), filled)) return;
      filled = 0;
    }
  }
  if (total > 0) last_activity_ = last_download_ = Clock::now();
  if (filled > 0) flush(out_buf_.get(), filled);
}

void TransportRelay::read_input() {
  const std::size_t room = o_.crlf ? kChunk / 2 : kChunk;
  ssize_t r = ::read(in_, in_buf_.get(), room);
  if (r < 0) {
    if (errno != EINTR && errno != EAGAIN) end(RelayEnd::local_error, last_error());
    return;
  }
  if (r == 0) {
    input_open_ = false;
    eof_seen_ = true;
    eof_at_ = Clock::now();
    if (o_.shutdown_on_eof) {
      if (o_.hold_half_close)
        half_close_owed_ = true;
      else
        shutdown_pending_ = true;
    }
    return;
  }
  pend_ = in_buf_.get();
  pend_len_ = static_cast<std::size_t>(r);
  if (o_.crlf) {
    pend_len_ = lf_to_crlf(in_buf_.get(), pend_len_, crlf_buf_.get(), &prev_cr_);
    pend_ = crlf_buf_.get();
  }
  last_activity_ = last_upload_ = Clock::now();
}

void TransportRelay::send_pending() {
  while (pend_len_ > 0) {
    Io io = t_.write(pend_, pend_len_);
    if (io.ok()) {
      if (log_ != nullptr) log_->record(TrafficDirection::sent, pend_, io.bytes);
      result_.sent += io.bytes;
      pend_ += io.bytes;
      pend_len_ -= io.bytes;
      last_activity_ = last_upload_ = Clock::now();
      continue;
    }
    if (io.wants()) {
      write_wait_ = io.status;
      return;
    }
    // A send failing after the peer closed its side is the usual end of an upload it did not want.
    if (down_done_ && o_.receive) {
      input_open_ = false;
      pend_len_ = 0;
      return;
    }
    end(RelayEnd::network_error, io.error);
    return;
  }
}

void TransportRelay::try_shutdown() {
  Io io = t_.shutdown_write();
  if (io.wants()) {
    write_wait_ = io.status;
    return;
  }
  shutdown_pending_ = false;  // Done, or the peer is gone: either way nothing more to say.
  shutdown_sent_ = true;
}

// A clean end for the peer: close_notify if it was not sent yet, waiting briefly for room.
void TransportRelay::final_close() {
  if (shutdown_sent_ || t_.fd() < 0) return;
  const auto until = Clock::now() + std::chrono::milliseconds(kFinalCloseMs);
  for (;;) {
    Io io = t_.shutdown_write();
    if (!io.wants() || Clock::now() >= until) return;
    pollfd p{t_.fd(), static_cast<short>(io.status == IoStatus::want_read ? POLLIN : POLLOUT), 0};
    if (::poll(&p, 1, kFinalCloseMs) == 0) return;
  }
}

void TransportRelay::start() {
  const int flags = fcntl(t_.fd(), F_GETFL);
  if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(t_.fd(), F_SETFL, flags | O_NONBLOCK);
  in_buf_ = std::make_unique<char[]>(kChunk);
  if (o_.crlf) crlf_buf_ = std::make_unique<char[]>(kChunk);
  out_buf_ = std::make_unique<char[]>(kChunk);
  last_activity_ = last_upload_ = last_download_ = Clock::now();
  input_open_ = o_.send;
  if (!o_.send) eof_at_ = Clock::now();  // As relay_stream: --recv-only never half-closes.
  down_done_ = !o_.receive;              // --send-only: nothing is read.
  // A person at a terminal expects the session to end when the peer closes (ncat #894).
  end_with_peer_ = o_.receive && o_.send && isatty(in_) == 1;
}

// What the clocks and the two directions say before waiting again.
TransportRelay::Next TransportRelay::check(Clock::time_point now) {
  if (stop_ || (up_done() && down_done_)) return Next::stop;
  if (down_done_ && end_with_peer_) return Next::stop;
  if (draining() && now - last_upload_ >= o_.drain_quiet) return Next::stop;
  if (eof_seen_ && o_.quit_after_eof && now >= eof_at_ + *o_.quit_after_eof) return Next::stop;
  if (eof_seen_ && half_close_owed_ &&
      now >= std::max(eof_at_, last_download_) + *o_.hold_half_close) {
    half_close_owed_ = false;  // The reply has ended (or never began): half-close now.
    shutdown_pending_ = true;
    return Next::again;
  }
  if (o_.idle_timeout.count() > 0 && now - last_activity_ >= o_.idle_timeout) {
    end(RelayEnd::idle_timeout, make_error_code(Errc::timed_out));
    return Next::stop;
  }
  return Next::wait;
}

// One wait for the socket (in whichever direction TLS needs) and the input, and what it allows.
void TransportRelay::wait_and_move(Clock::time_point now) {
  short sock_events = 0;
  if (!down_done_) sock_events |= read_wait_ == IoStatus::want_write ? POLLOUT : POLLIN;
  if (write_wait_ != IoStatus::ok)
    sock_events |= write_wait_ == IoStatus::want_read ? POLLIN : POLLOUT;
  const bool want_input = input_open_ && pend_len_ == 0 && !shutdown_pending_;
  pollfd fds[2] = {{sock_events != 0 ? t_.fd() : -1, sock_events, 0},
                   {want_input ? in_ : -1, POLLIN, 0}};
  int timeout = -1;
  if (!down_done_ && t_.buffered()) {
    timeout = 0;
  } else if (auto d = deadline(); d != Clock::time_point::max()) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(d - now).count();
    timeout = static_cast<int>(std::clamp<long long>(left, 0, 3'600'000));
  }
  if (::poll(fds, 2, timeout) < 0) {
    if (errno != EINTR) end(RelayEnd::local_error, last_error());
    return;
  }
  const short got = fds[0].revents;
  if (got != 0) write_wait_ = IoStatus::ok;  // Whatever it waited for may be there: retry.
  const bool readable = (got & (POLLIN | POLLERR | POLLHUP)) != 0 ||
                        (read_wait_ == IoStatus::want_write && (got & POLLOUT) != 0);
  if (!down_done_ && (readable || t_.buffered())) {
    read_wait_ = IoStatus::want_read;
    receive();
  }
  if (!stop_ && fds[1].revents != 0) read_input();
}

RelayResult TransportRelay::run() {
  start();
  while (!stop_) {
    if (write_wait_ == IoStatus::ok) {
      send_pending();
      if (shutdown_pending_ && pend_len_ == 0 && write_wait_ == IoStatus::ok) try_shutdown();
    }
    const auto now = Clock::now();
    const Next next = check(now);
    if (next == Next::stop) break;
    if (next == Next::wait) wait_and_move(now);
  }
  final_close();
  if (log_ != nullptr) {
    result_.log_error = log_->error();
    result_.log_path = log_->error_path();
  }
  return result_;
}

}  // namespace

RelayResult relay_stream(int in_fd, int out_fd, Transport& transport, const RelayOptions& options) {
  if (transport.zero_copy()) return relay_stream(in_fd, out_fd, transport.fd(), options);
  return TransportRelay(in_fd, out_fd, transport, options).run();
}

}  // namespace parley
