// --tls on accepting sockets: each client's TLS session, from the handshake (before the service
// sees the client) to reads and writes through it. The worker's plain paths (conn.cpp) hand a
// TLS connection's events, reads and writes here; everything else (backpressure, draining, idle
// sweeps, counting) is theirs, so every service gets TLS without knowing it.
//
// Two things differ from a plain socket. A session may want the socket writable to read, or
// readable to write (the Transport contract in transport.hpp), so the interest adds what it asked
// for. And a session reads ahead: input may sit decrypted inside it while the socket has nothing,
// so epoll would never report it; such a connection goes on tls_buffered_ and is read again
// after the current round, as long as the service wants input.

#include <sys/epoll.h>

#include <fmt/format.h>

#include "parley/tls.hpp"
#include "runtime.hpp"

namespace parley::server {

void Worker::start_tls(Conn& c) {
  auto session = shared_.config.tls->session(c.fd);
  c.tls_handshaking = true;
  ++handshakes_;
  if (!session) {
    std::string name = c.peer_name();
    stats_.failed_handshakes.add(1);
    std::string why = fmt::format("TLS: {}", session.error().message());
    if (shared_.config.log_connections) shared_.event({ServerEvent::Kind::refused, name, why});
    return close(c, "refused");
  }
  c.tls = std::move(*session);
  continue_handshake(c);
}

void Worker::continue_handshake(Conn& c) {
  Io r = c.tls->handshake();
  if (r.wants()) return set_events(c, r.status == IoStatus::want_read ? EPOLLIN : EPOLLOUT);
  if (!r.ok()) {
    std::string name = c.peer_name();
    std::string why = r.error.message();  // "TLS: ..." in plain words (tls.hpp).
    stats_.failed_handshakes.add(1);
    if (shared_.config.log_connections) shared_.event({ServerEvent::Kind::refused, name, why});
    return close(c, "refused");
  }
  c.tls_handshaking = false;
  --handshakes_;
  c.since = c.last_active = now_;
  update_interest(c);
  welcome(c);
}

void Worker::tls_interest(Conn& c, std::uint32_t* want) {
  if (c.tls_read_wants_write) *want |= EPOLLOUT;
  if (c.tls_write_wants_read && c.pending_size() > 0) *want |= EPOLLIN;
  if ((*want & EPOLLIN) && reading_wanted(c) && !c.custom_io && c.tls->buffered() &&
      !c.tls_revisit) {
    c.tls_revisit = true;
    tls_buffered_.push_back(&c);
  }
}

void Worker::tls_event(Conn& c, std::uint32_t ev) {
  if (c.tls_handshaking) return continue_handshake(c);
  const bool err = ev & (EPOLLERR | EPOLLHUP);
  if (c.pending_size() > 0 && (err || (ev & (c.tls_write_wants_read ? EPOLLIN : EPOLLOUT)))) {
    tls_flush(c);
    if (c.closed) return;
  }
  const bool readable = ev & (c.tls_read_wants_write ? EPOLLOUT : EPOLLIN);
  if ((reading_wanted(c) || c.tls_read_wants_write) && (err || readable)) {
    tls_readable(c);
  } else if (err && c.pending_size() == 0) {
    handler_->hangup(*this, c, ev);
  }
}

// One read (a session fills the buffer from as many records as it holds); what is left inside
// the session is read after this round (tls_buffered_), so one client cannot hold the loop.
bool Worker::tls_readable(Conn& c) {
  const bool retried = c.tls_read_wants_write;
  c.tls_read_wants_write = false;
  Io r = c.tls->read(buffer_.get(), kReadBuffer);
  switch (r.status) {
    case IoStatus::ok:
      if (retried) update_interest(c);
      if (!deliver(c, buffer_.get(), r.bytes)) return false;
      if (!c.closed) update_interest(c);  // Queues c on tls_buffered_ if input is left inside.
      return !c.closed;
    case IoStatus::want_read:
      if (retried) update_interest(c);
      return true;
    case IoStatus::want_write:
      c.tls_read_wants_write = true;
      update_interest(c);
      return true;
    case IoStatus::closed:
      c.peer_done = true;
      update_interest(c);
      return handler_->peer_closed(*this, c);
    case IoStatus::error:
      break;
  }
  close(c, r.error.message().c_str());
  return false;
}

void Worker::tls_revisit() {
  std::vector<Conn*> list;
  list.swap(tls_buffered_);
  for (Conn* c : list) c->tls_revisit = false;
  for (Conn* c : list) {
    if (c->closed || c->custom_io || !reading_wanted(*c)) continue;  // custom_io: the handler's.
    tls_readable(*c);
  }
}

// Writes through the session what it takes of data. SIZE_MAX: the connection failed and was
// closed. A write that must wait is retried from `pending` with the same bytes first, as the
// Transport contract asks.
std::size_t Worker::tls_send(Conn& c, const char* data, std::size_t n) {
  std::size_t sent = 0;
  c.tls_write_wants_read = false;
  while (sent < n) {
    Io r = c.tls->write(data + sent, n - sent);
    if (r.ok()) {
      sent += r.bytes;
      continue;
    }
    if (r.wants()) {
      c.tls_write_wants_read = r.status == IoStatus::want_read;
      return sent;
    }
    close(c, r.error.message().c_str());
    return SIZE_MAX;
  }
  return sent;
}

void Worker::tls_flush(Conn& c) {
  if (c.pending_size() == 0) return;
  const bool waited_for_read = c.tls_write_wants_read;
  std::size_t n = tls_send(c, c.pending.data() + c.pending_off, c.pending_size());
  if (n == SIZE_MAX) return;
  if (n > 0 && !wrote(c, n)) return;
  if (!c.closed && (n > 0 || waited_for_read != c.tls_write_wants_read)) update_interest(c);
}

}  // namespace parley::server
