// The worker on io_uring: the same connections, handlers, limits, logs and drain as on epoll
// (worker.cpp, conn.cpp), with the waiting and the moving of bytes done by the ring.
//
// A round: publish the buffers given back, look at the connections that changed (their output
// goes into one send each, receives that ended are armed again), then one io_uring_enter submits
// all of it and waits for completions. Each connection has at most one receive (into the
// worker's provided buffers) and one send in the ring. The receive is multishot with a byte limit
// (kStashBound, then it ends and is armed again) where the kernel has that (Ring::
// capped_multishot), else single-shot, armed poll-first (after an answer there is usually nothing
// to read yet): an unlimited multishot receive went on reading within one io_uring_enter, and a
// fast client whose output was stuck filled hundreds of KiB of stash before the cancellation got
// in (epoll stops reading it at once). Backpressure as on epoll: while a send is in the ring and
// more output has queued behind it, the connection's receive is cancelled; input that completed
// before the cancellation waits in a stash. Custom_io connections (a forwarder's sides) are
// polled instead (ring_arm_poll). The Conn stays allocated until no request names it any more
// (ring_ops).

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "ring.hpp"
#include "runtime.hpp"

namespace parley::server {
namespace {

std::uint64_t tag(const void* p, RingOp op) {
  return reinterpret_cast<std::uintptr_t>(p) | op;
}

// A connection keeps a small output buffer between messages; a large one goes back.
void release(std::string& s) {
  s.clear();
  if (s.capacity() > 512) std::string().swap(s);
}

}  // namespace

void Worker::ring_start() {
  ring_->enable();
  if (auto* s = ring_->sqe()) {
    io_uring_prep_poll_multishot(s, wake_.get(), POLLIN);
    io_uring_sqe_set_data64(s, kOpWake);
  }
  ring_accepting(true);
}

void Worker::ring_accepting(bool on) {
  for (auto& slot : slots_) {
    if (slot->kind != Kind::listener || !slot->fd) continue;
    if (on && !slot->armed) {
      auto* s = ring_->sqe();
      if (s == nullptr) continue;
      io_uring_prep_multishot_accept(s, slot->fd.get(), nullptr, nullptr,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC);
      io_uring_sqe_set_data64(s, tag(slot.get(), kOpAccept));
      slot->armed = true;
    } else if (!on && slot->armed) {
      auto* s = ring_->sqe();
      if (s == nullptr) continue;
      io_uring_prep_cancel64(s, tag(slot.get(), kOpAccept), 0);
      io_uring_sqe_set_data64(s, kOpCancel);
    }
  }
}

void Worker::ring_poll(int timeout_ms) {
  ring_prepare();
  ring_->publish();
  io_uring_cqe* first = nullptr;
  if (timeout_ms < 0) {
    io_uring_submit_and_wait(&ring_->ring, 1);
  } else {
    __kernel_timespec ts{timeout_ms / 1000, (timeout_ms % 1000) * 1'000'000LL};
    io_uring_submit_and_wait_timeout(&ring_->ring, &first, 1, &ts, nullptr);
  }
  now_ = Clock::now();
  // Bounded per round, so that timers and the drain are looked at under a flood too.
  io_uring_cqe* cqes[256];
  for (int rounds = 0; rounds < 16; ++rounds) {
    unsigned n = io_uring_peek_batch_cqe(&ring_->ring, cqes, 256);
    for (unsigned i = 0; i < n; ++i)
      ring_complete(cqes[i]->user_data, cqes[i]->res, cqes[i]->flags);
    io_uring_cq_advance(&ring_->ring, n);
    if (n < 256) break;
  }
}

void Worker::ring_complete(std::uint64_t data, int res, std::uint32_t flags) {
  auto op = static_cast<RingOp>(data & kOpMask);
  void* p = reinterpret_cast<void*>(data & ~kOpMask);
  switch (op) {
    case kOpRecv:
      return ring_on_recv(*static_cast<Conn*>(p), res, flags);
    case kOpSend:
      return ring_on_send(*static_cast<Conn*>(p), res);
    case kOpAccept:
      return ring_on_accept(*static_cast<Slot*>(p), res, flags);
    case kOpWake: {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(wake_.get(), &v, sizeof(v));
      if (!(flags & IORING_CQE_F_MORE)) {
        if (auto* s = ring_->sqe()) {
          io_uring_prep_poll_multishot(s, wake_.get(), POLLIN);
          io_uring_sqe_set_data64(s, kOpWake);
        }
      }
      return;
    }
    case kOpPoll:
      return ring_on_poll(*static_cast<Conn*>(p), res);
    case kOpCancel:
      return;
  }
}

void Worker::ring_on_accept(Slot& slot, int res, std::uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) slot.armed = false;
  if (res >= 0) {
    if (draining_ || !slot.fd) {
      ::close(res);  // Accepted while the listener was being closed: as if it had been.
    } else {
      sockaddr_in6 peer{};
      socklen_t len = sizeof(peer);
      getpeername(res, reinterpret_cast<sockaddr*>(&peer), &len);
      accepted(res, peer, len);
    }
  } else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
    errno = -res;
    pause_accepting();
  } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN && res != -ECONNABORTED) {
    shared_.log(fmt::format("accept failed: {}", std::strerror(-res)));
  }
  if (!slot.armed && accepting_ && !draining_) ring_accepting(true);
}

// Handlers get input only with no output pending (the contract epoll keeps by not reading then):
// what arrives meanwhile waits in the stash.
bool Worker::ring_can_deliver(const Conn& c) const {
  return !c.read_paused && !c.peer_done && !(c.hold_reads_while_pending && c.pending_size() > 0);
}

// The receive stays armed until the stash holds kStashBound: the backpressure of a client that
// sends and does not read.
bool Worker::ring_wants_read(const Conn& c) const {
  if (c.read_paused || c.peer_done) return false;
  auto it = ring_->stashes.find(const_cast<Conn*>(&c));
  return it == ring_->stashes.end() || (!it->second.eof && it->second.data.size() < kStashBound);
}

void Worker::ring_mark(Conn& c) {
  if (c.ring_dirty) return;
  c.ring_dirty = true;
  ++c.ring_ops;
  dirty_.push_back(&c);
}

void Worker::ring_interest(Conn& c) {
  if (c.closed) return;
  bool want = ring_wants_read(c);
  if ((want && !c.ring_recv) || (ring_can_deliver(c) && ring_->stashes.count(&c))) {
    ring_mark(c);  // Armed, or the stash delivered, before the next submit.
  } else if (!want && c.ring_recv && !c.ring_cancel) {
    if (auto* s = ring_->sqe()) {
      io_uring_prep_cancel64(s, tag(&c, kOpRecv), 0);
      io_uring_sqe_set_data64(s, kOpCancel);
      c.ring_cancel = true;
    }
  }
}

void Worker::ring_send_now(Conn& c) {
  if (c.sending.empty()) std::swap(c.sending, c.pending);
  auto* s = ring_->sqe();
  if (s == nullptr) return close(c, "io_uring submission queue full");
  io_uring_prep_send(s, c.fd, c.sending.data(), c.sending.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_data64(s, tag(&c, kOpSend));
  c.ring_send = true;
  ++c.ring_ops;
}

// Everything that changed since the last submit, in one pass: a handler's output becomes one
// send per connection however many pieces it came in, input held back is delivered once reads
// are on again, and receives are armed (after the round's buffers were given back).
void Worker::ring_prepare() {
  for (int pass = 0; pass < 4 && !dirty_.empty(); ++pass) {
    std::vector<Conn*> list;
    list.swap(dirty_);
    for (Conn* c : list) {
      c->ring_dirty = false;
      --c->ring_ops;
      if (c->closed) continue;
      if (c->custom_io) {  // The handler moves the bytes: it only needs to know when.
        ring_arm_poll(*c);
        continue;
      }
      if (!ring_resume(*c)) continue;
      if (!c->ring_send && !c->pending.empty()) ring_send_now(*c);
      if (c->closed) continue;
      if (!c->ring_recv && ring_wants_read(*c)) {
        auto* s = ring_->sqe();
        if (s == nullptr) {
          close(*c, "io_uring submission queue full");
          continue;
        }
        c->ring_capped = ring_->capped_multishot;
        if (c->ring_capped) {
          io_uring_prep_recv_multishot(s, c->fd, nullptr, Ring::kBufferSize, 0);
          s->file_index = kStashBound;  // optlen: at most this much, then it ends.
        } else {
          io_uring_prep_recv(s, c->fd, nullptr, 0, 0);  // One provided buffer (see the top).
          s->ioprio |= IORING_RECVSEND_POLL_FIRST;
        }
        s->flags |= IOSQE_BUFFER_SELECT;
        s->buf_group = 0;
        io_uring_sqe_set_data64(s, tag(c, kOpRecv));
        c->ring_recv = true;
        c->ring_cancel = false;
        ++c->ring_ops;
      }
    }
    if (!list.empty() && dirty_.empty()) {
      list.clear();
      dirty_.swap(list);  // Keep the capacity.
    }
  }
}

void Worker::ring_on_recv(Conn& c, int res, std::uint32_t flags) {
  if (!(flags & IORING_CQE_F_MORE)) {
    c.ring_recv = false;
    c.ring_cancel = false;
    --c.ring_ops;
  }
  char* data = nullptr;
  unsigned id = 0;
  if (flags & IORING_CQE_F_BUFFER) {
    id = flags >> IORING_CQE_BUFFER_SHIFT;
    data = ring_->buffer(id);
  }
  struct GiveBack {
    Ring* ring;
    char* data;
    unsigned id;
    ~GiveBack() {
      if (data != nullptr) ring->recycle(id);
    }
  } give_back{ring_.get(), data, id};
  if (c.closed) return;
  if (res > 0 && data != nullptr) {
    auto it = ring_->stashes.find(&c);
    if (it != ring_->stashes.end() || !ring_can_deliver(c)) {
      ring_->stashes[&c].data.append(data, static_cast<std::size_t>(res));
      if (!ring_wants_read(c)) ring_interest(c);  // The stash is full: cancel the receive.
    } else if (!deliver(c, data, static_cast<std::size_t>(res))) {
      return;
    }
  } else if (res == 0) {
    if (ring_->stashes.count(&c) || !ring_can_deliver(c)) {
      ring_->stashes[&c].eof = true;
    } else {
      c.peer_done = true;
      ring_interest(c);
      if (!handler_->peer_closed(*this, c)) return;
    }
  } else if (res == -EINVAL && c.ring_capped) {
    ring_->capped_multishot = false;  // An older kernel: single-shot receives from now on.
  } else if (res < 0 && res != -ENOBUFS && res != -ECANCELED && res != -EINTR && res != -EAGAIN) {
    return close(c, std::strerror(-res));
  }
  if (!c.closed && !c.ring_recv) ring_interest(c);
}

// Input held while reads were off, once they are on again. False if c was closed.
bool Worker::ring_resume(Conn& c) {
  auto it = ring_->stashes.find(&c);
  if (it == ring_->stashes.end()) return true;
  if (!ring_can_deliver(c)) return true;
  Ring::Stash stash = std::move(it->second);
  ring_->stashes.erase(it);
  if (!stash.data.empty() && !deliver(c, stash.data.data(), stash.data.size())) return false;
  if (!stash.eof) return !c.closed;
  if (c.closed) return false;
  if (!ring_can_deliver(c)) {  // The input just delivered backed the output up again.
    ring_->stashes[&c].eof = true;
    return true;
  }
  c.peer_done = true;
  ring_interest(c);
  return handler_->peer_closed(*this, c);
}

void Worker::ring_on_send(Conn& c, int res) {
  c.ring_send = false;
  --c.ring_ops;
  if (c.closed) return;
  if (res < 0) {
    if (res == -EINTR || res == -EAGAIN) return ring_send_now(c);
    return close(c, std::strerror(-res));
  }
  auto n = static_cast<std::size_t>(res);
  count_out(c, n);
  c.last_active = now_;
  if (n < c.sending.size()) {  // The rest of it, then what queued behind it.
    c.sending.erase(0, n);
    return ring_send_now(c);
  }
  release(c.sending);
  if (!c.pending.empty()) return ring_send_now(c);
  if (c.pending.capacity() > 512) std::string().swap(c.pending);
  ring_interest(c);
  handler_->drained(*this, c);
}

// A custom_io connection waits as on epoll, level-triggered: a one-shot poll for the events the
// handler asked for (set_events), armed again after each completion while they are still wanted.
// A changed interest removes the armed poll and arms a new one in the same submit.
void Worker::ring_arm_poll(Conn& c) {
  std::uint32_t want = c.events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP);
  if (c.ring_polls > 0 && c.ring_poll_mask == want) return;
  if (want == 0 && c.ring_quiet) return;
  if (c.ring_polls > 0) {
    if (auto* s = ring_->sqe()) {
      io_uring_prep_poll_remove(s, tag(&c, kOpPoll));
      io_uring_sqe_set_data64(s, kOpCancel);
    }
  }
  auto* s = ring_->sqe();
  if (s == nullptr) return close(c, "io_uring submission queue full");
  io_uring_prep_poll_add(s, c.fd, want);  // POLLIN/POLLOUT/POLLRDHUP are the EPOLL values.
  io_uring_sqe_set_data64(s, tag(&c, kOpPoll));
  ++c.ring_polls;
  ++c.ring_ops;
  c.ring_poll_mask = want;
}

void Worker::ring_on_poll(Conn& c, int res) {
  --c.ring_polls;
  --c.ring_ops;
  if (c.closed) return;
  const bool newest = c.ring_polls == 0;
  if (newest) {
    // Errors only: what fired (a hang-up, an error) would fire again at once if re-armed.
    c.ring_quiet = res > 0 && (c.ring_poll_mask == 0);
    ring_mark(c);  // Armed again before the next submit, if still wanted.
  }
  if (res <= 0) return;  // Removed (a newer one replaced it), or interrupted.
  // Only what is asked for now, as epoll would report it (an older poll may have asked for more).
  auto ev = static_cast<std::uint32_t>(res) & (c.events | EPOLLERR | EPOLLHUP);
  if (ev != 0) handler_->io(*this, c, ev);
}

// Closing: what the ring still does for c is cancelled (the ring holds its own reference to the
// socket, so the connection really ends once those requests are gone, in the next submit).
void Worker::ring_closing(Conn& c) {
  ring_->stashes.erase(&c);
  if (c.ring_recv && !c.ring_cancel) {
    if (auto* s = ring_->sqe()) {
      io_uring_prep_cancel64(s, tag(&c, kOpRecv), 0);
      io_uring_sqe_set_data64(s, kOpCancel);
      c.ring_cancel = true;
    }
  }
  if (c.ring_send) {
    if (auto* s = ring_->sqe()) {
      io_uring_prep_cancel64(s, tag(&c, kOpSend), 0);
      io_uring_sqe_set_data64(s, kOpCancel);
    }
  }
  if (c.ring_polls > 0) {
    if (auto* s = ring_->sqe()) {
      io_uring_prep_poll_remove(s, tag(&c, kOpPoll));
      io_uring_sqe_set_data64(s, kOpCancel);
    }
  }
}

}  // namespace parley::server
