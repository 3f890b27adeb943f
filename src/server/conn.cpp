// The worker's per-connection paths: read, write with backpressure, close, draining on a
// graceful stop, idle sweeps.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "parley/duration.hpp"
#include "ring.hpp"
#include "runtime.hpp"

namespace parley::server {

// Reads once and hands the bytes to the handler. Returns false when the connection was closed.
bool Worker::on_readable(Conn& c) {
  if (c.tls) return tls_readable(c);
  ssize_t n = ::recv(c.fd, buffer_.get(), kReadBuffer, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    close(c, std::strerror(errno));
    return false;
  }
  if (n == 0) {
    c.peer_done = true;
    update_interest(c);
    return handler_->peer_closed(*this, c);
  }
  return deliver(c, buffer_.get(), static_cast<std::size_t>(n));
}

bool Worker::deliver(Conn& c, char* data, std::size_t n) {
  c.in += n;
  c.last_active = now_;
  if (!c.outgoing) stats_.bytes_in.add(n);  // The server's counters are its clients' bytes.
  if (shared_.config.traffic) shared_.config.traffic->record(TrafficDirection::received, data, n);
  return handler_->received(*this, c, data, n);
}

// io_uring: output goes to pending; ring_prepare() turns it into one send before the next
// submit, or it waits behind the send in the ring. Input waits meanwhile (ring_can_deliver).

// Sends what it can; keeps the rest. A connection that holds reads while output is pending stops
// being read until it is gone (backpressure: a client that does not read cannot make the server
// buffer more than the handler queued).
bool Worker::send(Conn& c, const char* data, std::size_t n) {
  if (c.closed) return false;
  if (n == 0) return true;
  if (shared_.config.traffic) shared_.config.traffic->record(TrafficDirection::sent, data, n);
  if (ring_) {
    c.pending.append(data, n);
    if (!c.ring_send) ring_mark(c);
    return true;
  }
  std::size_t sent = 0;
  if (c.pending_size() == 0 && c.tls) {
    sent = tls_send(c, data, n);
    if (sent == SIZE_MAX) return false;
    count_out(c, sent);
  } else if (c.pending_size() == 0) {  // Nothing queued: straight to the socket, in order.
    ssize_t w = ::send(c.fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        close(c, std::strerror(errno));
        return false;
      }
      w = 0;
    }
    sent = static_cast<std::size_t>(w);
    count_out(c, sent);
  }
  if (sent < n) {
    c.pending.append(data + sent, n - sent);
    update_interest(c);
  }
  return true;
}

bool Worker::send(Conn& c, const iovec* pieces, int count) {
  if (c.closed) return false;
  if (c.tls) {  // A TLS record is made from one buffer: join the pieces (send() logs them).
    tls_flat_.clear();
    for (int i = 0; i < count; ++i)
      tls_flat_.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    return send(c, tls_flat_.data(), tls_flat_.size());
  }
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) {
    total += pieces[i].iov_len;
    if (shared_.config.traffic)
      shared_.config.traffic->record(
          TrafficDirection::sent, static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
  }
  if (total == 0) return true;
  if (ring_) {
    for (int i = 0; i < count; ++i)
      c.pending.append(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    if (!c.ring_send) ring_mark(c);
    return true;
  }
  std::size_t sent = 0;
  if (c.pending_size() == 0) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(pieces);
    msg.msg_iovlen = static_cast<std::size_t>(count);
    ssize_t w = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno != EAGAIN && errno != EINTR) {
        close(c, std::strerror(errno));
        return false;
      }
      w = 0;
    }
    sent = static_cast<std::size_t>(w);
    count_out(c, sent);
  }
  if (sent == total) return true;
  for (int i = 0; i < count; ++i) {  // Queue what the socket did not take, in order.
    std::size_t len = pieces[i].iov_len;
    std::size_t skip = std::min(sent, len);
    sent -= skip;
    c.pending.append(static_cast<const char*>(pieces[i].iov_base) + skip, len - skip);
  }
  update_interest(c);
  return true;
}

void Worker::on_writable(Conn& c) {
  if (c.tls) return tls_flush(c);
  ssize_t w =
      ::send(c.fd, c.pending.data() + c.pending_off, c.pending_size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close(c, std::strerror(errno));
    return;
  }
  wrote(c, static_cast<std::size_t>(w));
}

bool Worker::wrote(Conn& c, std::size_t n) {
  c.pending_off += n;
  count_out(c, n);
  c.last_active = now_;
  if (c.pending_size() > 0) {
    // A long queue (broadcast) is compacted now and then instead of growing at the front.
    if (c.pending_off >= (64 << 10) && c.pending_off * 2 >= c.pending.size()) {
      c.pending.erase(0, c.pending_off);
      c.pending_off = 0;
    }
    return true;
  }
  c.pending.clear();
  c.pending.shrink_to_fit();  // Back to holding no buffer.
  c.pending_off = 0;
  update_interest(c);
  return handler_->drained(*this, c);
}

// close() takes a descriptor out of the epoll set by itself when it was the last reference to the
// open file; with children about, it may not be (spawns_children).
void Worker::close_descriptor(int fd) {
  if (spawns_ && !ring_) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  ::close(fd);
}

void Worker::close(Conn& c, const char* reason) {
  if (c.closed) return;
  c.closed = true;
  if (c.tls_revisit) std::erase(tls_buffered_, &c);
  if (c.awaiting_header || c.tls_handshaking) {  // Never handed to the service: no closed line.
    if (c.awaiting_header) --awaiting_headers_;
    if (c.tls_handshaking) --handshakes_;
    close_descriptor(c.fd);
    conns_[c.index] = conns_.back();
    conns_[c.index]->index = c.index;
    conns_.pop_back();
    shared_.connections.fetch_sub(1);
    stats_.active.sub(1);
    closed_.push_back(&c);
    return;
  }
  handler_->closing(*this, c, reason);
  if (ring_) ring_closing(c);
  // TLS: a close_notify, so the client knows it got everything (best effort: never waits).
  if (c.tls && !c.tls_write_wants_read) c.tls->shutdown_write();
  close_descriptor(c.fd);
  conns_[c.index] = conns_.back();
  conns_[c.index]->index = c.index;
  conns_.pop_back();
  if (c.outgoing) {
    closed_.push_back(&c);
    return;
  }
  shared_.connections.fetch_sub(1);
  stats_.active.sub(1);
  if (shared_.config.log_connections) {
    std::string name = c.peer_name();
    shared_.event({ServerEvent::Kind::closed, name, reason, c.in, c.out,
                   std::chrono::duration<double>(now_ - c.since).count()});
  }
  closed_.push_back(&c);
}

// Graceful stop: no new clients. Connections go on being served until the handler says each is
// done (echo: nothing pending, nothing received for kDrainQuiet), so whatever a client already
// sent is answered, even a large upload still arriving; drain_timeout bounds the whole stop.
void Worker::begin_drain() {
  draining_ = true;
  drain_deadline_ = shared_.phase.load() == Phase::running
                        ? now_ + shared_.config.drain_timeout  // The service finished by itself.
                        : shared_.drain_deadline;
  if (ring_) ring_accepting(false);  // Cancelled in the next submit, before the sockets close.
  for (auto& s : slots_) {
    if (s->kind == Kind::listener || s->kind == Kind::datagram) s->fd.reset();
  }
  handler_->draining(*this);
  close_quiet();
}

void Worker::close_quiet() {
  for (std::size_t i = conns_.size(); i-- > 0;) {
    if (i >= conns_.size()) continue;
    Conn& c = *conns_[i];
    if (handler_->drain_done(*this, c)) close(c, "server stopping");
  }
}

// Clients still owing a PROXY header (proxy_timeout) or a TLS handshake (tls_timeout) past their
// time are refused and logged; the service never saw them.
void Worker::expire_late() {
  const auto& config = shared_.config;
  for (std::size_t i = conns_.size(); i-- > 0;) {
    if (i >= conns_.size()) continue;
    Conn& c = *conns_[i];
    std::string why;
    if (c.awaiting_header && now_ - c.since >= config.proxy_timeout)
      why = fmt::format("no PROXY header within {} ms", config.proxy_timeout.count());
    else if (c.tls_handshaking && now_ - c.since >= config.tls_timeout)
      why = fmt::format("no TLS handshake within {} ms", config.tls_timeout.count());
    else
      continue;
    std::string name = c.peer_name();
    stats_.failed_handshakes.add(1);
    if (config.log_connections) shared_.event({ServerEvent::Kind::refused, name, why});
    close(c, why.c_str());
  }
}

void Worker::sweep_idle() {
  auto limit = shared_.config.idle_timeout;
  for (std::size_t i = conns_.size(); i-- > 0;) {
    if (i >= conns_.size()) continue;
    Conn& c = *conns_[i];
    if (now_ - handler_->last_active(c) >= limit) close(c, "idle timeout");
  }
}

}  // namespace parley::server
