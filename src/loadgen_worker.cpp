// One load-generator worker: connections as small state machines on an epoll loop.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "loadgen_internal.hpp"

namespace parley::load {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kBackoff = 100 * kMs;  // Before reopening a connection that failed.
constexpr std::size_t kReadBuffer = 256 << 10;
constexpr std::int64_t kSoloWait = 100 * kMs;   // Longest blocking read on the solo path.
constexpr std::uint32_t kStopTag = UINT32_MAX;  // epoll data of the stop descriptor.

ErrorKind kind_of(int err) {
  switch (err) {
    case ECONNREFUSED:
      return ErrorKind::refused;
    case ECONNRESET:
    case EPIPE:
      return ErrorKind::reset;
    case ETIMEDOUT:
      return ErrorKind::timeout;
    default:
      return ErrorKind::other;
  }
}

}  // namespace

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

Worker::Worker(Shared& shared, std::vector<unsigned> ids, const char* pattern)
    : shared_(shared),
      config_(shared.config),
      pattern_(pattern),
      epoll_(epoll_create1(EPOLL_CLOEXEC)),
      buffer_(std::make_unique<char[]>(kReadBuffer)) {
  for (unsigned id : ids) {
    Conn c;
    c.id = id;
    conns_.push_back(c);
  }
  // With a fixed request rate each connection sends every interval, offset by its id so the
  // requests are spread evenly instead of arriving in bursts.
  if (config_.rate > 0)
    interval_ns_ = static_cast<std::int64_t>(1e9 * config_.connections / config_.rate);
  solo_ = conns_.size() == 1 && config_.mode == BenchMode::pingpong && interval_ns_ == 0;
}

// The solo path may wait in recv: the request is out whole and the answer is awaited.
bool Worker::solo_ready() const {
  const Conn& c = conns_.front();
  return solo_ && c.fd >= 0 && c.awaiting && !c.connecting && !(c.events & EPOLLOUT);
}

void Worker::run(int stop_fd, const std::function<void()>* every_second) {
  // A private descriptor table for this thread: the kernel then skips taking a reference on the
  // socket for every read and write (fdget's single-owner fast path), which in a multi-threaded
  // process costs about 2% of the round-trip rate. The sockets are only ever used here.
#if !defined(__SANITIZE_THREAD__)
  // (Not under TSan: it models descriptors as process-wide and would report two threads using
  // "the same" fd number from their separate tables as a race.)
  unshare(CLONE_FILES);
#endif
  now_ = now_ns();
  const double per_thread_rate = config_.connect_rate / config_.threads;
  for (std::uint32_t i = 0; i < conns_.size(); ++i) {
    auto at = shared_.start_ns;
    if (per_thread_rate > 0) at += static_cast<std::int64_t>(1e9 * i / per_thread_rate);
    timers_.push({at, i, Timer::open});
  }
  if (stop_fd >= 0) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = kStopTag;
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, stop_fd, &ev);
  }
  std::int64_t next_sweep = now_ + 100 * kMs;
  std::int64_t next_second = every_second ? now_ + 1000 * kMs : INT64_MAX;
  while (!shared_.stop.load(std::memory_order_relaxed) && now_ < shared_.end_ns) {
    if (solo_ready())
      on_readable(conns_.front(), 0);  // Returns with the answer, or after kSoloWait.
    else
      wait_for_events(std::min(next_sweep, next_second));
    if (now_ >= next_second) {
      (*every_second)();
      next_second += 1000 * kMs;
    }
    fire_due_timers();
    if (now_ >= next_sweep) {
      sweep_timeouts();
      next_sweep = now_ + 100 * kMs;
      // The solo path never reaches epoll_wait, where the stop descriptor is watched.
      pollfd p{stop_fd, POLLIN, 0};
      if (solo_ && stop_fd >= 0 && ::poll(&p, 1, 0) > 0) shared_.stop.store(true);
    }
  }
  open_at_end_ = open_now_;
  steady_end_ = std::min(now_, shared_.end_ns);
  for (auto& c : conns_)
    if (c.fd >= 0) close(c);
  done_.store(true);
}

// One epoll_wait (until `until` at the latest, or the next timer or the end), then every event.
void Worker::wait_for_events(std::int64_t until) {
  std::int64_t wake = std::min(shared_.end_ns, until);
  if (!timers_.empty()) wake = std::min(wake, timers_.top().at);
  int timeout = static_cast<int>(std::max<std::int64_t>(0, (wake - now_ + kMs - 1) / kMs));
  int n = epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout);
  now_ = now_ns();
  for (int i = 0; i < n; ++i) {
    if (events_[i].data.u32 == kStopTag)
      shared_.stop.store(true);
    else
      on_event(conns_[events_[i].data.u32], events_[i].events);
  }
}

void Worker::fire_due_timers() {
  while (!timers_.empty() && timers_.top().at <= now_) {
    Due d = timers_.top();
    timers_.pop();
    Conn& c = conns_[d.conn];
    if (d.what == Timer::open && c.fd < 0)
      open(c);
    else if (d.what == Timer::send && c.fd >= 0 && !c.awaiting && !c.connecting)
      send_request(c, c.next_intended);
  }
}

void Worker::open(Conn& c) {
  c = Conn{-1, c.id};
  const int type = config_.udp ? SOCK_DGRAM : SOCK_STREAM;
  int fd = ::socket(config_.target.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) counters_.out_of_fds.add(1);
    counters_.errors.add(1);
    counters_.by_kind[static_cast<int>(ErrorKind::other)].add(1);
    reopen_later(c, kBackoff);
    return;
  }
  int one = 1;
  if (!config_.udp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  c.fd = fd;
  c.cycle_start = now_;
  c.deadline = now_ + config_.timeout.count() * kMs;
  epoll_event ev{};
  ev.events = c.events = EPOLLOUT;  // Writable means connected (or failed).
  ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  // A UDP connect only fixes the peer (and filters what arrives), so it completes at once.
  if (::connect(fd, config_.target.get(), config_.target.size()) == 0) {
    on_connected(c);
  } else if (errno == EINPROGRESS) {
    c.connecting = true;
  } else {
    fail(c, kind_of(errno));
  }
}

void Worker::on_connected(Conn& c) {
  c.connecting = false;
  if (solo_) {
    // Blocking reads that give up after kSoloWait, so the loop still looks at the clock, the
    // stop descriptor and the timeouts; sends stay non-blocking (MSG_DONTWAIT), so a message
    // bigger than the socket buffers cannot deadlock against its own echo.
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
    timeval wait{0, static_cast<suseconds_t>(kSoloWait / 1000)};
    setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof(wait));
  }
  counters_.opened.add(1);
  counters_.open.add(1);
  peak_open_ = std::max(peak_open_, ++open_now_);
  if (steady_start_ == 0 && open_now_ == conns_.size()) steady_start_ = now_;
  switch (config_.mode) {
    case BenchMode::hold:
      interest(c, false);  // Only to notice the server closing.
      break;
    case BenchMode::stream:
      interest(c, true);
      break;
    case BenchMode::connect:
      send_request(c, c.cycle_start);  // Latency covers the connect too.
      break;
    case BenchMode::pingpong:
      if (interval_ns_ > 0) {
        c.next_intended = now_ + interval_ns_ * c.id / config_.connections;
        timers_.push(
            {c.next_intended, static_cast<std::uint32_t>(&c - conns_.data()), Timer::send});
        interest(c, false);
      } else {
        send_request(c, now_);
      }
      break;
  }
}

void Worker::on_event(Conn& c, std::uint32_t events) {
  if (c.fd < 0) return;
  if (c.connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(c, kind_of(err));
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
  if (c.fd >= 0 && (c.events & EPOLLOUT) && (events & EPOLLOUT)) on_writable(c);
}

void Worker::interest(Conn& c, bool out) {
  std::uint32_t want = EPOLLIN | (out ? EPOLLOUT : 0u);
  if (c.events == want) return;
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u32 = static_cast<std::uint32_t>(&c - conns_.data());
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev);
}

void Worker::send_request(Conn& c, std::int64_t t) {
  c.t_request = t;
  c.out_off = 0;
  c.in_got = 0;
  c.awaiting = true;
  c.deadline = now_ + config_.timeout.count() * kMs;
  write_some(c);
}

// Writes what is left of the current message (or, streaming, the next chunk).
void Worker::write_some(Conn& c) {
  const bool stream = config_.mode == BenchMode::stream;
  std::size_t left = stream ? config_.size : config_.size - c.out_off;
  // Every UDP datagram carries the pattern from its start: datagrams can be lost, so a running
  // offset could not be checked on the way back.
  std::size_t at = config_.udp ? 0 : (stream ? c.stream_out : c.out_off) % kPattern;
  ssize_t w = ::send(c.fd, pattern_ + at, std::min(left, kPattern), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return interest(c, true);
    return fail(c, kind_of(errno));
  }
  counters_.bytes_sent.add(static_cast<std::uint64_t>(w));
  if (stream) {
    c.stream_out += static_cast<std::uint64_t>(w);
    return;  // EPOLLOUT stays on: keep the pipe full.
  }
  c.out_off += static_cast<std::size_t>(w);
  interest(c, c.out_off < config_.size);
}

void Worker::on_writable(Conn& c) {
  write_some(c);
}

void Worker::on_readable(Conn& c, int flags) {
  ssize_t n = ::recv(c.fd, buffer_.get(), kReadBuffer, flags);
  if (flags == 0) now_ = now_ns();  // The wait happened in recv, not in epoll_wait.
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return fail(c, kind_of(errno));
  }
  if (config_.udp) return on_datagram(c, static_cast<std::size_t>(n));
  if (n == 0) return fail(c, ErrorKind::closed_early);
  auto got = static_cast<std::size_t>(n);
  counters_.bytes_received.add(got);
  if (config_.mode == BenchMode::stream) {
    if (config_.verify && !matches(buffer_.get(), got, c.stream_in)) mismatch();
    c.stream_in += got;
    return;
  }
  if (!c.awaiting) return fail(c, ErrorKind::mismatch);  // Data nobody asked for.
  bool complete;
  if (config_.lines) {
    complete = std::memchr(buffer_.get(), '\n', got) != nullptr;
  } else {
    if (c.in_got + got > config_.size) return fail(c, ErrorKind::mismatch);  // More than sent.
    complete = c.in_got + got == config_.size;
  }
  if (config_.verify && !matches(buffer_.get(), got, c.in_got)) mismatch();
  c.in_got += got;
  if (complete) answer_complete(c);
}

// One datagram (possibly empty) came back: it is a whole answer, or a mismatch.
void Worker::on_datagram(Conn& c, std::size_t got) {
  counters_.bytes_received.add(got);
  // A line server may answer with any length; otherwise the echo must be the message itself.
  const bool size_ok = config_.lines ? got > 0 : got == config_.size;
  const bool content_ok = !config_.verify || matches(buffer_.get(), got, 0);
  if (config_.mode == BenchMode::stream) {
    if (!size_ok || !content_ok) mismatch();
    return;
  }
  if (!c.awaiting || !size_ok) return fail(c, ErrorKind::mismatch);
  if (!content_ok) mismatch();
  c.in_got = got;
  answer_complete(c);
}

void Worker::answer_complete(Conn& c) {
  const auto latency = static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ - c.t_request));
  c.awaiting = false;
  if (config_.mode == BenchMode::pingpong && interval_ns_ == 0) {
    // Closed loop: the next request goes out first, and the bookkeeping happens while it
    // travels. At one connection everything between a read and the next write is on the
    // measured path, so it is kept to the minimum.
    send_request(c, now_);
    latency_.record(latency);
    count_round_trip();
    return;
  }
  latency_.record(latency);
  count_round_trip();
  if (config_.mode == BenchMode::connect) {
    close(c);
    if (interval_ns_ > 0)
      reopen_later(c, std::max<std::int64_t>(0, c.cycle_start + interval_ns_ - now_));
    else
      open(c);
    return;
  }
  // Fixed rate: the next request is due at its intended time. If that has already passed, it
  // goes now -- and its latency still counts from the intended time (no coordinated omission).
  c.next_intended += interval_ns_;
  if (c.next_intended <= now_) return send_request(c, c.next_intended);
  timers_.push({c.next_intended, static_cast<std::uint32_t>(&c - conns_.data()), Timer::send});
}

bool Worker::matches(const char* data, std::size_t n, std::uint64_t offset) const {
  while (n > 0) {
    std::size_t at = offset % kPattern, len = std::min(n, kPattern);
    if (std::memcmp(data, pattern_ + at, len) != 0) return false;
    data += len;
    n -= len;
    offset += len;
  }
  return true;
}

void Worker::mismatch() {
  counters_.errors.add(1);
  counters_.by_kind[static_cast<int>(ErrorKind::mismatch)].add(1);
}

void Worker::count_round_trip() {
  counters_.round_trips.add(1);
  if (steady_start_ != 0) ++steady_round_trips_;
  if (config_.count > 0 &&
      shared_.completed.fetch_add(1, std::memory_order_relaxed) + 1 >= config_.count)
    shared_.stop.store(true, std::memory_order_relaxed);
}

void Worker::fail(Conn& c, ErrorKind kind) {
  counters_.errors.add(1);
  counters_.by_kind[static_cast<int>(kind)].add(1);
  close(c);
  // A lost datagram is ordinary for UDP and the timeout already paced it: replace the socket at
  // once. Anything else waits a little, so a dead server is not hammered in a tight loop.
  reopen_later(c, config_.udp && kind == ErrorKind::timeout ? 0 : kBackoff);
}

void Worker::close(Conn& c) {
  if (c.fd < 0) return;
  ::close(c.fd);
  c.fd = -1;
  if (!c.connecting) {
    counters_.open.sub(1);
    --open_now_;
  }
  c.connecting = c.awaiting = false;
}

void Worker::reopen_later(Conn& c, std::int64_t delay_ns) {
  timers_.push({now_ + delay_ns, static_cast<std::uint32_t>(&c - conns_.data()), Timer::open});
}

void Worker::sweep_timeouts() {
  for (auto& c : conns_) {
    if (c.fd >= 0 && (c.connecting || c.awaiting) && now_ > c.deadline) fail(c, ErrorKind::timeout);
  }
}

}  // namespace parley::load
