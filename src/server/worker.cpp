// One server worker: an epoll loop over its own listeners, connections and watched descriptors.
// See parley/server.hpp for the contract and docs/ARCHITECTURE.md for why this loop is
// hand-written rather than Asio.

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "parley/duration.hpp"
#include "ring.hpp"
#include "runtime.hpp"
#include "udp.hpp"

namespace parley::server {
namespace {

constexpr std::chrono::milliseconds kAcceptPause{100};

}  // namespace

void Shared::event(const ServerEvent& e) const {
  if (!config.log_connections) return;
  if (config.on_event) return config.on_event(e);
  switch (e.kind) {
    case ServerEvent::Kind::connected:
      return log(fmt::format("{} connected", e.peer));
    case ServerEvent::Kind::closed:
      return log(fmt::format("{} closed ({}): {} bytes in, {} out, {:.2f} s", e.peer, e.detail,
                             e.bytes_in, e.bytes_out, e.seconds));
    case ServerEvent::Kind::refused:
      return log(fmt::format("{} refused: {}", e.peer, e.detail));
    case ServerEvent::Kind::denied:
      return log(fmt::format("{} refused by {}", e.peer, e.detail));
  }
}

std::string Conn::peer_name() const {
  if (peer.sin6_family == AF_UNIX || peer_len == 0) return "a local process";
  return SocketAddress(peer_address(), peer_len).to_string();
}

bool Handler::peer_closed(Worker& w, Conn& c) {
  if (c.pending_size() > 0) return true;  // drained() closes it.
  w.close(c, "closed by peer");
  return false;
}

bool Handler::drained(Worker& w, Conn& c) {
  if (c.close_after) {
    w.close(c, "done");
    return false;
  }
  if (c.peer_done) {
    w.close(c, "closed by peer");
    return false;
  }
  return true;
}

void Handler::hangup(Worker& w, Conn& c, std::uint32_t events) {
  if (!(events & EPOLLERR)) return;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  w.close(c, err != 0 ? std::strerror(err) : "connection error");
}

bool Handler::drain_done(Worker& w, const Conn& c) {
  return c.pending_size() == 0 && w.now() - c.last_active >= kDrainQuiet;
}

Worker::Worker(Shared& shared, std::vector<Fd> listeners, std::unique_ptr<Handler> handler,
               std::unique_ptr<Ring> ring)
    : shared_(shared),
      handler_(std::move(handler)),
      ring_(std::move(ring)),
      epoll_(ring_ ? Fd() : Fd(epoll_create1(EPOLL_CLOEXEC))),
      wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      buffer_(std::make_unique<char[]>(kReadBuffer)) {
  auto add = [&](Kind kind, Fd fd) {
    if (kind == Kind::datagram) enable_destination_info(fd.get());
    auto slot = std::make_unique<Slot>(kind, std::move(fd));
    if (ring_) {  // The ring arms its accepts in run().
      slots_.push_back(std::move(slot));
      return;
    }
    epoll_event ev{};
    // Listeners may be shared by several workers: wake one of them per new client, not all.
    ev.events = kind == Kind::listener ? EPOLLIN | EPOLLEXCLUSIVE : EPOLLIN;
    ev.data.ptr = static_cast<Handle*>(slot.get());
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slot->fd.get(), &ev);
    slots_.push_back(std::move(slot));
  };
  for (auto& l : listeners) add(shared_.config.udp ? Kind::datagram : Kind::listener, std::move(l));
  add(Kind::wake, Fd(dup(wake_.get())));
}

Worker::~Worker() {
  ring_.reset();  // First: nothing in the kernel may still point into a connection.
  for (Conn* c : conns_) {
    ::close(c->fd);
    delete c;
  }
  for (Conn* c : closed_) delete c;
}

void Worker::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
}

int Worker::next_timeout_ms() const {
  auto next = handler_->next_deadline();
  if (shared_.config.idle_timeout.count() > 0) next = std::min(next, next_sweep_);
  if (accept_paused_) next = std::min(next, accept_paused_until_);
  if (awaiting_headers_ > 0 || handshakes_ > 0)
    next = std::min(next, std::max(now_, next_expiry_scan_));
  if (!tls_buffered_.empty()) return 0;  // Input is waiting inside TLS sessions.
  if (draining_) next = std::min({next, drain_deadline_, now_ + kDrainQuiet / 2});
  if (next == Clock::time_point::max()) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now_).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

void Worker::run() {
  now_ = Clock::now();
  auto idle = shared_.config.idle_timeout;
  auto sweep_every =
      std::clamp<Clock::duration>(idle / 4, std::chrono::milliseconds(20), std::chrono::seconds(1));
  next_sweep_ = now_ + sweep_every;
  handler_->start(*this);
  if (ring_) ring_start();
  for (;;) {
    if (snapshot_wanted_.load(std::memory_order_acquire)) answer_snapshot();
    Phase phase = shared_.phase.load();
    if ((phase != Phase::running || finishing_) && !draining_) begin_drain();
    if (phase == Phase::closing || (draining_ && now_ >= drain_deadline_)) {
      handler_->closing_all(*this);
      close_all("server stopped");
    }
    if (draining_ && conns_.empty() && handler_->settled(*this)) break;
    if (ring_) {
      ring_poll(next_timeout_ms());
    } else {
      poll_epoll(next_timeout_ms());
    }
    if (!tls_buffered_.empty()) tls_revisit();
    // Late PROXY headers and TLS handshakes: a scan of every connection, so at most every
    // 100 ms (each loop would cost O(clients) per wakeup while handshakes keep coming).
    if ((awaiting_headers_ > 0 || handshakes_ > 0) && now_ >= next_expiry_scan_) {
      expire_late();
      next_expiry_scan_ = now_ + kExpiryScan;
    }
    handler_->on_time(*this);
    delete_closed();
    if (accept_paused_ && now_ >= accept_paused_until_ && !draining_) {
      accept_paused_ = false;
      set_accepting(!accept_held_);
    }
    if (draining_) close_quiet();
    if (idle.count() > 0 && now_ >= next_sweep_) {
      sweep_idle();
      next_sweep_ = now_ + sweep_every;
    }
  }
  if (ring_) {
    ring_prepare();
    io_uring_submit(&ring_->ring);  // The last cancellations: the sockets close now.
  }
  done_.store(true);
}

void Worker::poll_epoll(int timeout_ms) {
  epoll_event events[256];
  int n = epoll_wait(epoll_.get(), events, 256, timeout_ms);
  now_ = Clock::now();
  for (int i = 0; i < n; ++i) {
    auto* handle = static_cast<Handle*>(events[i].data.ptr);
    std::uint32_t ev = events[i].events;
    switch (handle->kind) {
      case Kind::conn:
        // A connection closed earlier in this round (by a broadcast, say) may still have an
        // event in the array: it stays allocated until the round is over.
        if (!static_cast<Conn*>(handle)->closed) on_conn_event(*static_cast<Conn*>(handle), ev);
        break;
      case Kind::listener:
        on_listener(*static_cast<Slot*>(handle));
        break;
      case Kind::datagram:
        handler_->datagram_ready(*this, *static_cast<Slot*>(handle));
        break;
      case Kind::watch:
        static_cast<Watch*>(handle)->on_event(ev);
        break;
      case Kind::wake: {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof(v));
        break;
      }
    }
  }
}

// A connection closed in this round is deleted now, unless a request in the ring still names it.
void Worker::delete_closed() {
  std::erase_if(closed_, [](Conn* c) {
    if (c->ring_ops > 0) return false;
    delete c;
    return true;
  });
}

void Worker::on_conn_event(Conn& c, std::uint32_t ev) {
  if (c.awaiting_header) return read_proxy_header(c);
  if (c.tls_handshaking) return continue_handshake(c);
  if (c.custom_io) return handler_->io(*this, c, ev);  // It reads its sessions itself (forward).
  if (c.tls) return tls_event(c, ev);
  if ((c.events & EPOLLIN) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))) {
    on_readable(c);
  } else if ((c.events & EPOLLOUT) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    on_writable(c);
  } else if (ev & (EPOLLERR | EPOLLHUP)) {
    handler_->hangup(*this, c, ev);
  }
}

void Worker::on_listener(Slot& slot) {
  for (int i = 0; i < kBurst && accepting_; ++i) {
    sockaddr_in6 peer{};
    socklen_t len = sizeof(peer);
    int fd = accept4(slot.fd.get(), reinterpret_cast<sockaddr*>(&peer), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pause_accepting();
      } else if (errno != EAGAIN) {
        shared_.log(fmt::format("accept failed: {}", std::strerror(errno)));
      }
      return;
    }
    accepted(fd, peer, len);
  }
}

void Worker::accepted(int fd, const sockaddr_in6& peer, socklen_t len) {
  if (!admit(fd, peer, len)) return;
  auto* c = handler_->make_conn(fd);
  c->peer = peer;
  c->peer_len = len;
  c->since = c->last_active = now_;
  c->index = static_cast<std::uint32_t>(conns_.size());
  conns_.push_back(c);
  stats_.active.add(1);
  stats_.total.add(1);
  if (ring_) {
    ring_mark(*c);  // Its receive is armed with the next submit.
    return welcome(*c);
  }
  epoll_event ev{};
  // Waiting for a PROXY header is done by peeking: edge-triggered, or the same unfinished
  // header would wake the loop again and again.
  c->awaiting_header = shared_.config.proxy_protocol;
  ev.events = c->awaiting_header ? EPOLLIN | EPOLLET : EPOLLIN;
  c->events = ev.events;
  ev.data.ptr = static_cast<Handle*>(c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  if (c->awaiting_header) {
    ++awaiting_headers_;
    read_proxy_header(*c);  // It may be there already.
    return;
  }
  welcome(*c);
}

// A client is in: it is reported and handed to the service.
void Worker::welcome(Conn& c) {
  if (shared_.config.tls && !c.tls) return start_tls(c);  // Welcomed once the handshake is done.
  if (shared_.config.log_connections && shared_.config.log_connects) {
    std::string name = c.peer_name();
    shared_.event({ServerEvent::Kind::connected, name, {}});
  }
  handler_->opened(*this, c);
}

// The access list and the connection limit, before anything is read from the client. (With
// --proxy-protocol the address here is the proxy's: it must be a trusted source, and the access
// list is applied to the real client once its header has come.)
bool Worker::admit(int fd, const sockaddr_in6& peer, socklen_t len) {
  const auto* address = reinterpret_cast<const sockaddr*>(&peer);
  const AccessList& rules =
      shared_.config.proxy_protocol ? shared_.config.proxy_from : shared_.config.access;
  if (!rules.empty()) {
    auto verdict = rules.check(address);
    if (!verdict.allowed) {
      ::close(fd);
      stats_.denied.add(1);
      if (shared_.config.log_connections) {
        std::string name = SocketAddress(address, len).to_string();
        std::string why =
            shared_.config.proxy_protocol
                ? fmt::format("--proxy-protocol-from (not a trusted proxy: {})", verdict.rule)
                : std::string(verdict.rule);
        shared_.event({ServerEvent::Kind::denied, name, why});
      }
      return false;
    }
  }
  if (shared_.connections.fetch_add(1) >= shared_.config.max_conns) {
    shared_.connections.fetch_sub(1);
    if (!shared_.config.refusal.empty()) {
      std::string refusal =
          fmt::format(fmt::runtime(shared_.config.refusal), shared_.config.max_conns);
      [[maybe_unused]] auto w = ::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL);
    }
    ::close(fd);
    stats_.refused.add(1);
    if (shared_.config.log_connections) {
      std::string name = SocketAddress(address, len).to_string();
      std::string why = fmt::format("server full ({} connection{})", shared_.config.max_conns,
                                    shared_.config.max_conns == 1 ? "" : "s");
      ServerEvent e{ServerEvent::Kind::refused, name, why};
      e.full = true;
      shared_.event(e);
    }
    return false;
  }
  if (peer.sin6_family != AF_UNIX) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return true;
}

// Out of descriptors: stop watching the listeners for a moment instead of spinning on EMFILE.
// Pending clients wait in the kernel's backlog and are accepted once descriptors are free again.
void Worker::pause_accepting() {
  if (accept_paused_) return;
  accept_paused_ = true;
  accept_paused_until_ = now_ + kAcceptPause;
  set_accepting(false);
  shared_.log(fmt::format("out of file descriptors ({}); accepting again in {} ms",
                          std::strerror(errno), kAcceptPause.count()));
}

void Worker::hold_accepting(bool hold) {
  accept_held_ = hold;
  if (!accept_paused_ && !draining_) set_accepting(!hold);
}

void Worker::set_accepting(bool on) {
  if (accepting_ == on) return;
  accepting_ = on;
  if (ring_) return ring_accepting(on);
  for (auto& s : slots_) {
    if (s->kind != Kind::listener || !s->fd) continue;
    if (!on) {
      epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s->fd.get(), nullptr);
      continue;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = static_cast<Handle*>(s.get());
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s->fd.get(), &ev);
  }
}

void Worker::update_interest(Conn& c) {
  if (c.closed) return;  // Its descriptor is gone, and the number may be another's by now.
  if (ring_) return ring_interest(c);
  std::uint32_t want = 0;
  if (reading_wanted(c)) want |= EPOLLIN;
  if (c.pending_size() > 0) want |= EPOLLOUT;
  if (c.tls) tls_interest(c, &want);
  // With no interest at all, the kernel still reports errors and hang-ups, level-triggered:
  // edge-triggered, they are reported once instead of on every wakeup.
  if (want == 0) want = EPOLLET;
  if (c.events == want) return;
  c.events = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.ptr = static_cast<Handle*>(&c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev);
}

bool Worker::reading_wanted(const Conn& c) const {
  return !c.read_paused && !c.peer_done && !(c.pending_size() > 0 && c.hold_reads_while_pending);
}

void Worker::set_events(Conn& c, std::uint32_t events) {
  if (c.closed) return;               // As in update_interest.
  if (events == 0) events = EPOLLET;  // Errors and hang-ups once, not on every wakeup.
  if (c.events == events) return;
  c.events = events;
  if (ring_) {
    c.ring_quiet = false;
    return ring_mark(c);  // A poll for the new interest, before the next submit.
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = static_cast<Handle*>(&c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev);
}

void Worker::adopt(Conn& c, std::uint32_t events) {
  c.outgoing = true;
  c.since = c.last_active = now_;
  c.index = static_cast<std::uint32_t>(conns_.size());
  conns_.push_back(&c);
  c.events = events == 0 ? EPOLLET : events;
  if (ring_) return ring_mark(c);  // Polled (custom_io) before the next submit.
  epoll_event ev{};
  ev.events = c.events;
  ev.data.ptr = static_cast<Handle*>(&c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd, &ev);
}

void Worker::set_reading(Conn& c, bool on) {
  c.read_paused = !on;
  update_interest(c);
}

void Worker::watch(Watch& w, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = static_cast<Handle*>(&w);
  if (w.registered && w.events == events) return;
  int op = w.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
  if (epoll_ctl(epoll_.get(), op, w.fd, &ev) == 0) {
    w.registered = true;
    w.events = events;
  }
}

void Worker::unwatch(Watch& w) {
  if (!w.registered) return;
  epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, w.fd, nullptr);
  w.registered = false;
  w.events = 0;
}

bool Worker::clients(std::vector<ClientInfo>* out, std::size_t limit,
                     std::chrono::milliseconds timeout) {
  std::unique_lock lock(snapshot_mutex_);
  std::uint64_t serial = snapshot_serial_;
  snapshot_limit_ = limit;
  snapshot_wanted_.store(true, std::memory_order_release);
  lock.unlock();
  wake();
  lock.lock();
  if (!snapshot_cv_.wait_for(lock, timeout, [&] { return snapshot_serial_ != serial; }))
    return false;
  out->insert(out->end(), snapshot_.begin(), snapshot_.end());
  return true;
}

void Worker::answer_snapshot() {
  std::lock_guard lock(snapshot_mutex_);
  snapshot_wanted_.store(false, std::memory_order_relaxed);
  snapshot_.clear();
  auto now = Clock::now();
  for (const Conn* c : conns_) {
    if (snapshot_.size() >= snapshot_limit_) break;
    if (c->outgoing || c->awaiting_header || c->tls_handshaking || c->closed) continue;
    snapshot_.push_back(
        {c->peer_name(), std::chrono::duration<double>(now - c->since).count(), c->in, c->out});
  }
  ++snapshot_serial_;
  snapshot_cv_.notify_all();
}

void Worker::finish() {
  finishing_ = true;
  wake();
}

void Worker::fail(int error) {
  note_failure(error);
  finish();
}

void Worker::note_failure(int error) {
  int none = 0;
  shared_.failure.compare_exchange_strong(none, error);
}

void Worker::close_all(const char* reason) {
  while (!conns_.empty()) close(*conns_.back(), reason);
}

}  // namespace parley::server
