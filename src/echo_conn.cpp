// The echo worker's per-connection paths: read → echo (or line replies) → write, backpressure,
// closing, draining on a graceful stop, idle sweeps, and UDP.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "echo_internal.hpp"
#include "parley/duration.hpp"

namespace parley::echo {
namespace {

struct LineContext {
  const Shared* shared;
  std::string* out;
  std::uint64_t* messages;
  std::string_view peer;
};

void reply_line(void* context, std::string_view line, std::string_view eol) {
  auto* ctx = static_cast<LineContext*>(context);
  ctx->shared->reply.render(*ctx->out, line, ctx->peer, ++*ctx->messages);
  ctx->out->append(eol);
}

}  // namespace

// Reads once and answers. Returns false when the connection was closed (and deleted).
bool Worker::on_readable(Conn& c) {
  ssize_t n = ::recv(c.fd, buffer_.get(), kReadBuffer, 0);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return true;
    close_conn(c, std::strerror(errno));
    return false;
  }
  const bool lines = shared_.config.lines;
  if (n == 0) {
    c.peer_done = true;
    // A last line without its newline still gets its answer.
    if (lines && c.lines.has_partial()) {
      out_.clear();
      std::string peer = shared_.reply.uses_peer() ? c.peer_name() : std::string();
      std::uint64_t before = c.messages;
      LineContext ctx{&shared_, &out_, &c.messages, peer};
      c.lines.feed("\n", reply_line, &ctx);
      stats_.messages.add(c.messages - before);
      if (!send_or_queue(c, out_.data(), out_.size())) return false;
    }
    if (!c.pending.empty()) return true;
    close_conn(c, "closed by peer");
    return false;
  }
  auto size = static_cast<std::size_t>(n);
  c.in += size;
  c.last_active = now_;
  stats_.bytes_in.add(size);
  if (shared_.config.log_data) {
    shared_.log(fmt::format("{} sent {} bytes: {}", c.peer_name(), size,
                            escape_bytes({buffer_.get(), size})));
  }
  if (!lines) {
    stats_.messages.add(1);
    return send_or_queue(c, buffer_.get(), size);
  }
  out_.clear();
  // Formatting the address costs more than the rest of a short line: only when {peer} is used.
  std::string peer = shared_.reply.uses_peer() ? c.peer_name() : std::string();
  std::uint64_t before = c.messages;
  LineContext ctx{&shared_, &out_, &c.messages, peer};
  bool fits = c.lines.feed({buffer_.get(), size}, reply_line, &ctx);
  stats_.messages.add(c.messages - before);
  if (!fits) {
    out_ += fmt::format("error: line longer than {} bytes; closing\n", shared_.config.max_line);
    c.close_after = true;
  }
  if (!send_or_queue(c, out_.data(), out_.size())) return false;
  if (!c.close_after || !c.pending.empty()) return true;
  close_conn(c, "line too long");
  return false;
}

// Sends what it can; keeps the rest and stops reading from this client until it is gone
// (backpressure: a client that does not read cannot make the server buffer more than this).
bool Worker::send_or_queue(Conn& c, const char* data, std::size_t n) {
  if (n == 0) return true;
  ssize_t w = ::send(c.fd, data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno != EAGAIN && errno != EINTR) {
      close_conn(c, std::strerror(errno));
      return false;
    }
    w = 0;
  }
  auto sent = static_cast<std::size_t>(w);
  c.out += sent;
  stats_.bytes_out.add(sent);
  if (sent < n) {
    c.pending.append(data + sent, n - sent);
    set_interest(c, EPOLLOUT);
  }
  return true;
}

void Worker::on_writable(Conn& c) {
  ssize_t w = ::send(c.fd, c.pending.data() + c.pending_off, c.pending.size() - c.pending_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close_conn(c, std::strerror(errno));
    return;
  }
  c.pending_off += static_cast<std::size_t>(w);
  c.out += static_cast<std::size_t>(w);
  c.last_active = now_;
  stats_.bytes_out.add(static_cast<std::size_t>(w));
  if (c.pending_off < c.pending.size()) return;
  c.pending.clear();
  c.pending.shrink_to_fit();  // Back to holding no buffer.
  c.pending_off = 0;
  if (c.close_after) return close_conn(c, "line too long");
  if (c.peer_done) return close_conn(c, "closed by peer");
  set_interest(c, EPOLLIN);
}

void Worker::close_conn(Conn& c, const char* reason) {
  ::close(c.fd);  // Also removes it from the epoll set.
  conns_[c.index] = conns_.back();
  conns_[c.index]->index = c.index;
  conns_.pop_back();
  shared_.connections.fetch_sub(1);
  stats_.active.sub(1);
  if (shared_.config.log_connections) {
    shared_.log(fmt::format("{} closed ({}): {} bytes in, {} out, {} s", c.peer_name(), reason,
                            c.in, c.out, format_seconds(now_ - c.since)));
  }
  delete &c;
}

// Graceful stop: no new clients. Connections go on being echoed until they fall quiet (nothing
// pending, nothing received for kDrainQuiet), so whatever a client already sent comes back, even
// a large upload still arriving; --drain-timeout bounds the whole stop.
void Worker::begin_drain() {
  draining_ = true;
  for (auto& s : slots_) {
    if (s->kind == Kind::listener || s->kind == Kind::udp) s->fd.reset();
  }
  close_quiet();
}

void Worker::close_quiet() {
  for (std::size_t i = conns_.size(); i-- > 0;) {
    if (i >= conns_.size()) continue;
    Conn& c = *conns_[i];
    if (c.pending.empty() && now_ - c.last_active >= kDrainQuiet) close_conn(c, "server stopping");
  }
}

void Worker::sweep_idle() {
  auto limit = shared_.config.idle_timeout;
  for (std::size_t i = conns_.size(); i-- > 0;) {
    if (i >= conns_.size()) continue;
    Conn& c = *conns_[i];
    if (now_ - c.last_active >= limit) close_conn(c, "idle timeout");
  }
}

void Worker::on_udp(Slot& slot) {
  for (int i = 0; i < kBurst; ++i) {
    sockaddr_in6 peer{};
    socklen_t len = sizeof(peer);
    ssize_t n = ::recvfrom(slot.fd.get(), buffer_.get(), kReadBuffer, MSG_DONTWAIT,
                           reinterpret_cast<sockaddr*>(&peer), &len);
    if (n < 0) return;  // EAGAIN, or an ICMP error from an earlier reply: nothing to do.
    auto size = static_cast<std::size_t>(n);
    stats_.bytes_in.add(size);
    stats_.messages.add(1);
    std::string_view reply(buffer_.get(), size);
    if (shared_.config.log_data || shared_.config.lines) {
      // As for TCP: format the address only when the log or the reply template shows it.
      std::string name = shared_.config.log_data || shared_.reply.uses_peer()
                             ? SocketAddress(reinterpret_cast<sockaddr*>(&peer), len).to_string()
                             : std::string();
      if (shared_.config.log_data)
        shared_.log(fmt::format("{} sent {} bytes: {}", name, size, escape_bytes(reply)));
      if (shared_.config.lines) {
        // Each datagram is a message of its own: its lines are answered in one datagram.
        out_.clear();
        std::uint64_t count = 0;
        LineBuffer lines(shared_.config.max_line);
        LineContext ctx{&shared_, &out_, &count, name};
        if (!lines.feed(reply, reply_line, &ctx) || lines.has_partial())
          lines.feed("\n", reply_line, &ctx);
        reply = out_;
      }
    }
    if (::sendto(slot.fd.get(), reply.data(), reply.size(), MSG_DONTWAIT,
                 reinterpret_cast<sockaddr*>(&peer), len) >= 0) {
      stats_.bytes_out.add(reply.size());
    }
  }
}

}  // namespace parley::echo
