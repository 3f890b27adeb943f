// The forwarder's bytes: socket -> pipe -> socket with splice(2), or through user space
// (copy mode) when a side speaks TLS. What the peer does not take is kept, and its source is
// not read meanwhile (backpressure). See forward_stream.hpp.

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "forward_stream.hpp"
#include "parley/tls.hpp"

namespace parley::server::fwd {

// The interest a side needs: read it while the way to its peer is free, write to it while the
// peer has something stuck for it (or a header is due).
void ForwardHandler::update(Side& s) {
  if (s.closed) return;
  std::uint32_t want = 0;
  Side* p = s.peer;
  if (s.connecting) {
    want = EPOLLOUT;
  } else if (s.handshaking) {
    return;  // handshake() sets what the session wants.
  } else if (p != nullptr && !p->connecting && !p->handshaking) {
    // Not read while its bytes are stuck, nor before the PROXY header has gone to the target.
    if (!s.eof && !held(s) && p->header.empty()) want |= EPOLLIN;
    if (held(*p) || !s.header.empty()) want |= EPOLLOUT;
  }
  w_->set_events(s, want);
}

void ForwardHandler::io(Worker&, Conn& conn, std::uint32_t events) {
  auto& s = static_cast<Side&>(conn);
  if (s.connecting) {
    if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(s);
    return;
  }
  if (s.handshaking) return handshake(s);
  if (s.lingering) {
    ssize_t n = ::recv(s.fd, w_->buffer(), kReadBuffer, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) w_->close(s, s.target_name.c_str());
    return;
  }
  if (s.peer == nullptr) return;
  if ((events & EPOLLERR) || ((events & EPOLLHUP) && !(s.events & (EPOLLIN | EPOLLOUT)))) {
    int err = 0;
    socklen_t len = sizeof(err);
    getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0)
      return end(s, fmt::format("{} reset the connection", s.client ? "client" : "target"), true);
  }
  if ((events & EPOLLOUT) && !flush_to(s)) return;
  if (!s.closed && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && (s.events & EPOLLIN))
    s.copy ? pump_copy(s) : pump(s);
}

// A FIN (or TLS close_notify) from one side becomes the same on the other.
void ForwardHandler::shut(Side& to) {
  if (to.shut) return;
  if (to.tls)
    to.tls->shutdown_write();  // close_notify, then SHUT_WR (best effort: never waits).
  else
    ::shutdown(to.fd, SHUT_WR);
  to.shut = true;
}

// Copy mode (TLS on a side): from -> the worker's buffer -> to, through each side's session or
// socket. What `to` does not take is kept in from.stuck, and `from` is not read meanwhile. A
// session may hold more input than one read took, which epoll cannot see: it is read on until
// it is empty or `to` is full.
void ForwardHandler::pump_copy(Side& from) {
  Side& to = *from.peer;
  for (int round = 0; round < 64; ++round) {
    Io r;
    if (from.tls) {
      r = from.tls->read(w_->buffer(), kReadBuffer);
    } else {
      PlainTransport plain(from.fd);
      r = plain.read(w_->buffer(), kReadBuffer);
    }
    if (r.wants()) break;
    if (r.status == IoStatus::error)
      return end(from, fmt::format("{}: {}", from.client ? "client" : "target", r.error.message()),
                 true);
    if (r.status == IoStatus::closed) {
      from.eof = true;
      shut(to);
      update(from);
      return finish_if_done(from);
    }
    Side& client = from.client ? from : to;
    (from.client ? client.in : client.out) += r.bytes;
    (from.client ? w_->counters().bytes_in : w_->counters().bytes_out).add(r.bytes);
    from.last_active = to.last_active = w_->now();
    std::size_t taken = 0;
    if (to.header.empty() && (taken = write_to(to, w_->buffer(), r.bytes)) == SIZE_MAX) return;
    if (taken < r.bytes) {  // Kept until `to` drains; retried from the same byte.
      from.stuck.assign(w_->buffer() + taken, r.bytes - taken);
      from.stuck_off = 0;
      break;
    }
    if (!from.tls || !from.tls->buffered()) break;
  }
  update(from);
  update(to);
}

// Writes data into `to` (its session or socket) as far as it takes; SIZE_MAX if the session
// ended (an error).
std::size_t ForwardHandler::write_to(Side& to, const char* data, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    Io r;
    if (to.tls) {
      r = to.tls->write(data + done, n - done);
    } else {
      PlainTransport plain(to.fd);
      r = plain.write(data + done, n - done);
    }
    if (r.wants()) break;
    if (!r.ok()) {
      end(to, fmt::format("{}: {}", to.client ? "client" : "target", r.error.message()), true);
      return SIZE_MAX;
    }
    done += r.bytes;
  }
  return done;
}

// Writes what from.stuck holds into `to`, as far as it takes. False if the session ended.
bool ForwardHandler::copy_out(Side& from, Side& to) {
  std::size_t n =
      write_to(to, from.stuck.data() + from.stuck_off, from.stuck.size() - from.stuck_off);
  if (n == SIZE_MAX) return false;
  from.stuck_off += n;
  if (from.stuck_off < from.stuck.size()) return true;  // Retried from the same byte.
  from.stuck.clear();
  from.stuck.shrink_to_fit();  // An idle session holds no buffer.
  from.stuck_off = 0;
  return true;
}

// Moves what `from` sent towards its peer: socket -> pipe -> socket. What the peer does not
// take stays in the pipe, which this direction then keeps, and `from` is not read meanwhile.
void ForwardHandler::pump(Side& from) {
  Side& to = *from.peer;
  if (scratch_.r < 0) scratch_ = take_pipe();
  if (scratch_.r < 0) return end(from, "out of pipes", true);
  ssize_t n = ::splice(from.fd, nullptr, scratch_.w, nullptr, kSpliceChunk, kSpliceFlags);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return end(from, fmt::format("{}: {}", from.client ? "client" : "target", std::strerror(errno)),
               true);
  }
  if (n == 0) {  // FIN: pass it on (everything before it is out: this side is read only then).
    from.eof = true;
    if (!to.shut) {
      ::shutdown(to.fd, SHUT_WR);
      to.shut = true;
    }
    update(from);
    return finish_if_done(from);
  }
  auto moved = static_cast<std::uint64_t>(n);
  Side& client = from.client ? from : to;
  (from.client ? client.in : client.out) += moved;  // The client's bytes up and down.
  (from.client ? w_->counters().bytes_in : w_->counters().bytes_out).add(moved);
  from.last_active = to.last_active = w_->now();
  scratch_.bytes = static_cast<std::size_t>(n);
  if (to.header.empty() && !move_out(scratch_, to)) return;
  if (scratch_.bytes > 0) {  // Stuck: the bytes stay with this direction until `to` drains.
    give_back(from.pipe);
    from.pipe = scratch_;
    scratch_ = Pipe{};
  }
  update(from);
  update(to);
}

// Splices what p holds into `to`, as far as it takes. False if the session ended (an error).
bool ForwardHandler::move_out(Pipe& p, Side& to) {
  while (p.bytes > 0) {
    ssize_t w = ::splice(p.r, nullptr, to.fd, nullptr, p.bytes, kSpliceFlags);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      end(to, fmt::format("{}: {}", to.client ? "client" : "target", std::strerror(errno)), true);
      return false;
    }
    p.bytes -= static_cast<std::size_t>(w);
  }
  return true;
}

// `to` can take more: a PROXY header first, then what its peer has stuck for it. False if the
// session ended.
bool ForwardHandler::flush_to(Side& to) {
  Side& from = *to.peer;
  while (!to.header.empty()) {
    ssize_t w = ::send(to.fd, to.header.data(), to.header.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EAGAIN) return true;
      end(to, fmt::format("target: {}", std::strerror(errno)), true);
      return false;
    }
    to.header.erase(0, static_cast<std::size_t>(w));
  }
  if (from.copy) {
    if (!copy_out(from, to)) return false;
    update(from);
    update(to);
    if (!held(from) && from.tls && from.tls->buffered()) pump_copy(from);
    return true;
  }
  if (!move_out(from.pipe, to)) return false;
  if (from.pipe.bytes == 0) give_back(from.pipe);
  update(from);
  update(to);
  return true;
}

}  // namespace parley::server::fwd
