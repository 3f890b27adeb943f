// One load-generator worker: connections as small state machines on an epoll loop. This file has
// the loop, connecting, timers and closing; requests and answers are in loadgen_exchange.cpp.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <ctime>

#include "loadgen_internal.hpp"
#include "parley/dial.hpp"
#include "parley/tls.hpp"

namespace parley::load {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kBackoff = 100 * kMs;  // Before reopening a connection that failed.
constexpr std::size_t kReadBuffer = 256 << 10;
constexpr std::int64_t kSoloWait = 100 * kMs;   // Longest blocking read on the solo path.
constexpr std::int64_t kTick = 100 * kMs;       // How often the tick callback runs.
constexpr std::uint32_t kStopTag = UINT32_MAX;  // epoll data of the stop descriptor.
constexpr unsigned kOpenBurst = 256;            // Connections opened per loop iteration.

}  // namespace

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
      conns_(ids.size()),
      buffer_(std::make_unique<char[]>(kReadBuffer)) {
  for (std::size_t i = 0; i < ids.size(); ++i) conns_[i].id = ids[i];
  // With a fixed request rate each connection sends every interval, offset by its id so the
  // requests are spread evenly instead of arriving in bursts.
  if (config_.rate > 0)
    interval_ns_ = static_cast<std::int64_t>(1e9 * config_.connections / config_.rate);
  const bool exchange = config_.mode == BenchMode::pingpong || config_.mode == BenchMode::http;
  // Quiet timers need the epoll loop; a TLS session on a blocking socket would block in writes.
  solo_ = conns_.size() == 1 && exchange && interval_ns_ == 0 && config_.pipeline == 1 &&
          config_.until.kind != UntilSpec::Kind::idle && !config_.tls;
  coalesce_ = exchange && interval_ns_ == 0 && !solo_;
  keep_answer_ = config_.expect.has_value() || config_.greeting_expect.has_value() ||
                 (config_.verify && config_.message.has_value());
}

// The solo path may wait in recv: the request is out whole and the answer is awaited.
bool Worker::solo_ready() const {
  const Conn& c = conns_.front();
  return solo_ && c.fd >= 0 && c.inflight > 0 && !c.connecting && !(c.events & EPOLLOUT);
}

// On the worker's thread, before the loop: the thread's settings, every connection's opening
// time (spread by --connect-rate) and the stop descriptor.
void Worker::prepare(int stop_fd) {
  // A private descriptor table for this thread: the kernel then skips taking a reference on the
  // socket for every read and write (fdget's single-owner fast path), which in a multi-threaded
  // process costs about 2% of the round-trip rate. The sockets are only ever used here.
#if !defined(__SANITIZE_THREAD__)
  // (Not under TSan: it models descriptors as process-wide and would report two threads using
  // "the same" fd number from their separate tables as a race.)
  unshare(CLONE_FILES);
#endif
  // Timers fire when due, not up to 50 us later (the default slack): with --rate, a late send
  // would be charged to the server, since latency counts from the intended time.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  now_ = now_ns();
  const double per_thread_rate = config_.connect_rate / config_.threads;
  for (std::uint32_t i = 0; i < conns_.size(); ++i) {
    if (i == 0 && config_.adopt_fd >= 0 && conns_[0].id == 0) {
      adopt(conns_[0], config_.adopt_fd);
      continue;
    }
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
}

// After the loop: what was open at the end, the last interval, and every socket closed.
void Worker::finish() {
  open_at_end_ = open_now_;
  for (const auto& c : conns_) not_open_at_end_ += c.fd < 0 || c.connecting ? 1 : 0;
  steady_end_ = std::min(now_, shared_.end_ns);
  if (measuring_.load() && next_interval_ != INT64_MAX) close_interval(steady_end_);
  for (auto& c : conns_)
    if (c.fd >= 0) close(c);
}

void Worker::run(int stop_fd, const std::function<void()>* tick) {
  prepare(stop_fd);
  if (shared_.measure_ns <= now_) start_measuring();
  std::int64_t next_sweep = now_ + 100 * kMs;
  std::int64_t next_tick = tick ? now_ + kTick : INT64_MAX;
  while (!shared_.stop.load(std::memory_order_relaxed) && now_ < shared_.end_ns) {
    if (solo_ready())
      on_readable(conns_.front(), 0);  // Returns with the answer, or after kSoloWait.
    else
      wait_for_events(
          std::min({next_sweep, next_tick, next_interval_,
                    measuring_.load(std::memory_order_relaxed) ? INT64_MAX : shared_.measure_ns}));
    if (!measuring_.load(std::memory_order_relaxed) && now_ >= shared_.measure_ns)
      start_measuring();
    if (now_ >= next_interval_) close_interval(next_interval_);
    if (now_ >= next_tick) {
      (*tick)();
      next_tick = now_ + kTick;
    }
    fire_due_timers();
    flush_owed();  // Answers completed by a timer (--until idle) owe their next requests too.
    if (now_ >= next_sweep) {
      sweep_timeouts();
      next_sweep = now_ + 100 * kMs;
      // The solo path never reaches epoll_wait, where the stop descriptor is watched.
      pollfd p{stop_fd, POLLIN, 0};
      if (solo_ && stop_fd >= 0 && ::poll(&p, 1, 0) > 0) shared_.stop.store(true);
    }
  }
  finish();
  done_.store(true);
}

// One wait for events (until `until` at the latest, or the next timer or the end), then every
// event. epoll_pwait2 takes nanoseconds: a whole-millisecond timeout would delay every paced
// request by up to a millisecond, and that delay would be charged to the server.
void Worker::wait_for_events(std::int64_t until) {
  std::int64_t wake = std::min(shared_.end_ns, until);
  if (!timers_.empty()) wake = std::min(wake, timers_.top().at);
  const int max = static_cast<int>(events_.size());
  int n = 0;
  // While the server queues, nap first (coalesce.hpp), unless answers are in already.
  if (const std::int64_t nap = coalesce_ ? coalescer_.nap_ns(open_now_) : 0;
      nap > 0 && wake - now_ > nap) {
    timespec zero{};
    n = epoll_pwait2(epoll_.get(), events_.data(), max, &zero, nullptr);
    if (n == 0) {
      timespec t{0, static_cast<long>(nap)};
      nanosleep(&t, nullptr);
      now_ = now_ns();
    }
  }
  if (n <= 0) {
    const std::int64_t wait = std::max<std::int64_t>(0, wake - now_);
    timespec ts{static_cast<time_t>(wait / 1'000'000'000), static_cast<long>(wait % 1'000'000'000)};
    n = epoll_pwait2(epoll_.get(), events_.data(), max, &ts, nullptr);
  }
  now_ = now_ns();
  handle_events(n);
  flush_owed();
}

void Worker::handle_events(int n) {
  for (int i = 0; i < n; ++i) {
    if (events_[i].data.u32 == kStopTag)
      shared_.stop.store(true);
    else
      on_event(conns_[events_[i].data.u32], events_[i].events);
  }
}

void Worker::flush_owed() {
  if (owed_.empty()) return;
  now_ = now_ns();  // The requests' send time: after this batch's bookkeeping.
  for (std::uint32_t i : owed_) {
    Conn& c = conns_[i];
    const unsigned k = c.owed;
    c.owed = 0;
    if (c.fd >= 0 && !c.connecting && k > 0) send_requests(c, k, now_);
  }
  owed_.clear();
}

void Worker::fire_due_timers() {
  unsigned opened = 0;
  while (!timers_.empty() && timers_.top().at <= now_) {
    Due d = timers_.top();
    Conn& c = conns_[d.conn];
    // A loopback connect costs up to ~0.3 ms once the server's queues fill: opening 19,000 in
    // one go took longer than the connect timeout, and every connection then timed out before
    // its completion was ever looked at. Open a burst, handle events, open the next.
    if (d.what == Timer::open && c.fd < 0 && ++opened > kOpenBurst) break;
    timers_.pop();
    if (d.what == Timer::quiet) {
      c.quiet_armed = false;
      if (c.fd >= 0) on_quiet(c);
    } else if (d.what == Timer::open && c.fd < 0) {
      open(c);
    } else if (d.what == Timer::send && c.fd >= 0 && !c.connecting && !c.greeting) {
      if (config_.mode == BenchMode::stream) {
        // Paced stream: one more message's worth may go out; catch up if the loop was late.
        while (c.next_intended <= now_) {
          c.stream_budget += config_.udp ? 1 : config_.size;
          c.next_intended += interval_ns_;
        }
        timers_.push({c.next_intended, d.conn, Timer::send});
        write_stream(c);
      } else if (c.inflight == 0) {
        send_requests(c, 1, c.next_intended);
      }
    }
  }
}

// A fresh state for the next socket of this connection slot; buffers are kept for reuse.
void Worker::reset(Conn& c) {
  const unsigned id = c.id;
  auto framer = std::move(c.framer);
  auto sent_at = std::move(c.sent_at);
  std::string out = std::move(c.out), answer = std::move(c.answer);
  const std::uint64_t rng = c.rng, requests = c.requests;
  c = Conn{};
  c.id = id, c.requests = requests;
  c.rng = rng ? rng : 0x9E3779B97F4A7C15ULL * (id + 1);
  c.framer = framer ? std::move(framer) : std::make_unique<AnswerFramer>(config_.until);
  c.framer->reset();
  c.sent_at = sent_at ? std::move(sent_at) : std::make_unique<std::int64_t[]>(config_.pipeline);
  c.out = std::move(out), c.answer = std::move(answer);
  c.out.clear(), c.answer.clear();
}

void Worker::open(Conn& c) {
  reset(c);
  const int type = config_.udp ? SOCK_DGRAM : SOCK_STREAM;
  int fd = ::socket(config_.target.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE) counters_.out_of_fds.add(1);
    return fail(c, ErrorKind::other, errno);
  }
  int one = 1;
  if (!config_.udp) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (config_.linger0) {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  c.fd = fd;
  now_ = now_ns();  // Opening many takes a while: each connect's clock starts when it does.
  c.cycle_start = now_;
  c.deadline = now_ + config_.timeout.count() * kMs;
  epoll_event ev{};
  ev.events = c.events = EPOLLOUT;  // Writable means connected (or failed).
  ev.data.u32 = index_of(c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  // A UDP connect only fixes the peer (and filters what arrives), so it completes at once.
  if (::connect(fd, config_.target.get(), config_.target.size()) == 0) {
    on_connected(c);
  } else if (errno == EINPROGRESS) {
    c.connecting = true;
  } else {
    fail(c, kind_of(errno), errno);
  }
}

// The front end's probe connection becomes this connection (already connected, blocking).
void Worker::adopt(Conn& c, int fd) {
  reset(c);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (config_.linger0) {
    linger lg{1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  }
  c.fd = fd;
  c.cycle_start = now_;
  c.tunnel_open = true;  // Through a proxy, the front end's dial() opened the tunnel already.
  epoll_event ev{};
  ev.events = c.events = EPOLLIN;
  ev.data.u32 = index_of(c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  on_connected(c);
}

void Worker::on_connected(Conn& c) {
  c.connecting = false;
  if (config_.proxy && !c.tunnel_open) {
    auto h = ProxyHandshake::begin(config_.proxy->type, config_.proxy->target, config_.proxy->auth);
    if (!h) return fail(c, ErrorKind::other, h.error());
    c.tunnel = std::make_unique<Conn::Tunnel>(Conn::Tunnel{std::move(*h), {}});
    return tunnel_step(c);
  }
  if (config_.tls && !c.tls) {
    auto session = config_.tls->session(c.fd, config_.tls_host);
    if (!session) return fail(c, ErrorKind::other, session.error());
    c.tls = std::move(*session);
    c.tls_handshaking = true;
    return tls_step(c);
  }
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
  c.counted_open = true;
  peak_open_ = std::max(peak_open_, ++open_now_);
  if (steady_start_ == 0 && open_now_ == conns_.size()) steady_start_ = now_;
  if (config_.greeting && config_.mode != BenchMode::hold && config_.mode != BenchMode::stream) {
    // Nothing goes out until the server's greeting is in (sweep_timeouts bounds the wait).
    c.greeting = true;
    c.deadline = now_ + config_.timeout.count() * kMs;
    return interest(c, false);
  }
  begin(c);
}

void Worker::begin(Conn& c) {
  switch (config_.mode) {
    case BenchMode::hold:
      interest(c, false);  // Only to notice the server closing.
      break;
    case BenchMode::stream:
      if (interval_ns_ > 0) {
        c.next_intended = now_ + interval_ns_ * c.id / config_.connections;
        timers_.push({c.next_intended, index_of(c), Timer::send});
        interest(c, false);
      } else {
        interest(c, true);
      }
      break;
    case BenchMode::connect:
      send_requests(c, 1, c.cycle_start);  // Latency covers the connect too.
      break;
    case BenchMode::pingpong:
    case BenchMode::http:
      if (interval_ns_ > 0) {
        c.next_intended = now_ + interval_ns_ * c.id / config_.connections;
        timers_.push({c.next_intended, index_of(c), Timer::send});
        interest(c, false);
      } else {
        send_requests(c, config_.pipeline, now_);
      }
      break;
  }
}

void Worker::tunnel_step(Conn& c) {
  auto step = proxy_handshake_step(c.fd, c.tunnel->handshake, c.tunnel->reply);
  if (step.error) {
    return fail(c, is_proxy_target_refusal(step.error) ? ErrorKind::refused : ErrorKind::other,
                step.error);
  }
  if (!step.done) return interest(c, step.want_write);
  c.tunnel.reset();
  c.tunnel_open = true;
  on_connected(c);
}

// The TLS handshake, on the connection's own events; then on_connected goes on.
void Worker::tls_step(Conn& c) {
  Io r = c.tls->handshake();
  if (r.wants()) return interest(c, r.status == IoStatus::want_write);
  if (!r.ok()) return fail(c, ErrorKind::other, r.error);
  c.tls_handshaking = false;
  on_connected(c);
}

ssize_t Worker::put(Conn& c, const char* data, std::size_t n) {
  if (!c.tls) return ::send(c.fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n == 0) return 0;  // A write wakeup with nothing to write (a read that wanted it).
  Io r = c.tls->write(data, n);
  if (r.ok()) return static_cast<ssize_t>(r.bytes);
  if (r.wants()) {
    errno = EAGAIN;
    return -1;
  }
  fail(c, ErrorKind::other, r.error);
  return -2;
}

ssize_t Worker::get(Conn& c, char* buf, std::size_t n, int flags) {
  if (!c.tls) return ::recv(c.fd, buf, n, flags);
  Io r = c.tls->read(buf, n);
  switch (r.status) {
    case IoStatus::ok:
      return static_cast<ssize_t>(r.bytes);
    case IoStatus::closed:
      return 0;
    case IoStatus::want_write:
      interest(c, true);
      [[fallthrough]];
    case IoStatus::want_read:
      errno = EAGAIN;
      return -1;
    case IoStatus::error:
      break;
  }
  fail(c, ErrorKind::other, r.error);
  return -2;
}

void Worker::on_event(Conn& c, std::uint32_t events) {
  if (c.fd < 0) return;
  if (c.tunnel) return tunnel_step(c);
  if (c.tls_handshaking) return tls_step(c);
  if (c.connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return fail(c, kind_of(err), err);
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c);
    return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
  if (c.fd >= 0 && (c.events & EPOLLOUT) && (events & EPOLLOUT)) {
    if (config_.mode == BenchMode::stream)
      write_stream(c);
    else
      write_some(c);
  }
}

void Worker::interest(Conn& c, bool out) {
  std::uint32_t want = EPOLLIN | (out ? EPOLLOUT : 0u);
  if (c.events == want) return;
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.u32 = index_of(c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev);
}

void Worker::fail(Conn& c, ErrorKind kind, int err) {
  // No ephemeral port left for this destination (many connections, or TIME-WAIT from connect
  // mode): the report says so in words.
  if (kind == ErrorKind::other && err == EADDRNOTAVAIL) counters_.out_of_ports.add(1);
  fail(c, kind, err != 0 ? std::error_code(err, std::system_category()) : std::error_code());
}

void Worker::fail(Conn& c, ErrorKind kind, std::error_code error) {
  counters_.errors.add(1);
  counters_.by_kind[static_cast<int>(kind)].add(1);
  if (kind == ErrorKind::other && error && !other_error_) other_error_ = error;
  close(c);
  // A lost datagram is ordinary for UDP and the timeout already paced it: replace the socket at
  // once. Anything else waits a little, so a dead server is not hammered in a tight loop.
  reopen_later(c, config_.udp && kind == ErrorKind::timeout ? 0 : kBackoff);
}

void Worker::close(Conn& c) {
  if (c.fd < 0) return;
  c.tls.reset();
  ::close(c.fd);
  c.fd = -1;
  // Only a connection that was counted open is counted closed: a connect that failed at once
  // never was, and must not turn the open count negative.
  if (c.counted_open) {
    counters_.open.sub(1);
    --open_now_;
  }
  c.counted_open = c.connecting = c.greeting = false;
  c.inflight = 0, c.owed = 0;
}

void Worker::reopen_later(Conn& c, std::int64_t delay_ns) {
  timers_.push({now_ + delay_ns, index_of(c), Timer::open});
}

void Worker::sweep_timeouts() {
  for (auto& c : conns_) {
    if (c.fd >= 0 &&
        (c.connecting || c.tunnel || c.tls_handshaking || c.inflight > 0 || c.greeting) &&
        now_ > c.deadline)
      fail(c, ErrorKind::timeout);
  }
}

}  // namespace parley::load
