// One echo worker: an epoll loop over its own listeners and connections. See echo_server.hpp for
// the contract and docs/ARCHITECTURE.md for why this loop is hand-written rather than Asio.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "echo_internal.hpp"
#include "parley/errors.hpp"

namespace parley::echo {
namespace {

constexpr std::chrono::milliseconds kAcceptPause{100};

}  // namespace

Worker::Worker(Shared& shared, std::vector<Fd> listeners)
    : shared_(shared),
      epoll_(epoll_create1(EPOLL_CLOEXEC)),
      wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      buffer_(std::make_unique<char[]>(kReadBuffer)) {
  auto add = [&](Kind kind, Fd fd) {
    auto slot = std::make_unique<Slot>(kind, std::move(fd));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<Handle*>(slot.get());
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slot->fd.get(), &ev);
    slots_.push_back(std::move(slot));
  };
  for (auto& l : listeners) add(shared_.config.udp ? Kind::udp : Kind::listener, std::move(l));
  add(Kind::wake, Fd(dup(wake_.get())));
}

Worker::~Worker() {
  for (Conn* c : conns_) {
    ::close(c->fd);
    delete c;
  }
}

void Worker::wake() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
}

int Worker::next_timeout_ms() const {
  auto next = Clock::time_point::max();
  if (shared_.config.idle_timeout.count() > 0) next = next_sweep_;
  if (accept_paused_) next = std::min(next, accept_paused_until_);
  if (draining_) next = std::min({next, shared_.drain_deadline, now_ + kDrainQuiet / 2});
  if (next == Clock::time_point::max()) return -1;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - now_).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

void Worker::run() {
  epoll_event events[256];
  now_ = Clock::now();
  auto idle = shared_.config.idle_timeout;
  auto sweep_every =
      std::clamp<Clock::duration>(idle / 4, std::chrono::milliseconds(20), std::chrono::seconds(1));
  next_sweep_ = now_ + sweep_every;
  for (;;) {
    Phase phase = shared_.phase.load();
    if (phase != Phase::running && !draining_) begin_drain();
    if (phase == Phase::closing || (draining_ && now_ >= shared_.drain_deadline)) {
      while (!conns_.empty()) close_conn(*conns_.back(), "server stopped");
    }
    if (draining_ && conns_.empty()) break;
    int n = epoll_wait(epoll_.get(), events, 256, next_timeout_ms());
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto* handle = static_cast<Handle*>(events[i].data.ptr);
      std::uint32_t ev = events[i].events;
      if (handle->kind == Kind::conn) {
        Conn& c = *static_cast<Conn*>(handle);
        if ((c.events & EPOLLIN) && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
          on_readable(c);
        else if ((c.events & EPOLLOUT) && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
          on_writable(c);
      } else if (handle->kind == Kind::listener) {
        on_listener(*static_cast<Slot*>(handle));
      } else if (handle->kind == Kind::udp) {
        on_udp(*static_cast<Slot*>(handle));
      } else {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof(v));
      }
    }
    if (accept_paused_ && now_ >= accept_paused_until_ && !draining_) resume_accepting();
    if (draining_) close_quiet();
    if (idle.count() > 0 && now_ >= next_sweep_) {
      sweep_idle();
      next_sweep_ = now_ + sweep_every;
    }
  }
  done_.store(true);
}

void Worker::on_listener(Slot& slot) {
  for (int i = 0; i < kBurst; ++i) {
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
    if (shared_.connections.fetch_add(1) >= shared_.config.max_conns) {
      shared_.connections.fetch_sub(1);
      std::string refusal = fmt::format("error: server full ({} connections), try again later\n",
                                        shared_.config.max_conns);
      [[maybe_unused]] auto w = ::send(fd, refusal.data(), refusal.size(), MSG_NOSIGNAL);
      ::close(fd);
      stats_.refused.add(1);
      if (shared_.config.log_connections) {
        shared_.log(fmt::format("{} refused: server full ({} connections)",
                                SocketAddress(reinterpret_cast<sockaddr*>(&peer), len).to_string(),
                                shared_.config.max_conns));
      }
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto* c = new Conn(fd, shared_.config.max_line);
    c->peer = peer;
    c->since = c->last_active = now_;
    c->index = static_cast<std::uint32_t>(conns_.size());
    conns_.push_back(c);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<Handle*>(c);
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
    stats_.active.add(1);
    stats_.total.add(1);
    if (shared_.config.log_connections) shared_.log(fmt::format("{} connected", c->peer_name()));
  }
}

// Out of descriptors: stop watching the listeners for a moment instead of spinning on EMFILE.
// Pending clients wait in the kernel's backlog and are accepted once descriptors are free again.
void Worker::pause_accepting() {
  if (accept_paused_) return;
  accept_paused_ = true;
  accept_paused_until_ = now_ + kAcceptPause;
  for (auto& s : slots_)
    if (s->kind == Kind::listener) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s->fd.get(), nullptr);
  shared_.log(fmt::format("out of file descriptors ({}); accepting again in {} ms",
                          std::strerror(errno), kAcceptPause.count()));
}

void Worker::resume_accepting() {
  accept_paused_ = false;
  for (auto& s : slots_) {
    if (s->kind != Kind::listener) continue;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = static_cast<Handle*>(s.get());
    epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s->fd.get(), &ev);
  }
}

void Worker::set_interest(Conn& c, std::uint32_t events) {
  if (c.events == events) return;
  c.events = events;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = static_cast<Handle*>(&c);
  epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev);
}

}  // namespace parley::echo
