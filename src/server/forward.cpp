// The forwarder's TCP/Unix handler: a client side and a target side per session. This file:
// sessions (targets tried in turn, TLS handshakes with them, timeouts, ending); the bytes move in
// forward_pump.cpp. See parley/forward.hpp for the behaviour, forward_stream.hpp for the types.

#include "parley/forward.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "forward_internal.hpp"
#include "forward_stream.hpp"
#include "parley/connector.hpp"
#include "parley/tls.hpp"
#include "runtime.hpp"

namespace parley::server {
namespace fwd {

ForwardHandler::~ForwardHandler() {
  give_back(scratch_);
  for (Pipe& p : free_) {
    ::close(p.r);
    ::close(p.w);
  }
}

Pipe ForwardHandler::take_pipe() {
  if (!free_.empty()) {
    Pipe p = free_.back();
    free_.pop_back();
    return p;
  }
  int fds[2];
  if (::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return {};
  ::fcntl(fds[1], F_SETPIPE_SZ, kPipeSize);  // Fewer splices per megabyte; 64 KiB if refused.
  return {fds[0], fds[1], 0};
}

void ForwardHandler::give_back(Pipe& p) {
  if (p.r < 0) return;
  if (p.bytes == 0 && free_.size() < kFreePipes) {
    free_.push_back(p);
  } else {
    ::close(p.r);
    ::close(p.w);
  }
  p = Pipe{};
}

bool ForwardHandler::opened(Worker& w, Conn& conn) {
  auto& client = static_cast<Side&>(conn);
  client.custom_io = true;
  client.client = true;
  client.copy = client.tls != nullptr || options_.target_tls != nullptr;
  w.set_events(client, 0);  // Nothing is read until the target is there.
  return connect_next(client, {});
}

// Starts a connection to the next target (round robin, skipping those that failed lately) or the
// next address of the current one. False when none is left: the client was closed.
bool ForwardHandler::connect_next(Side& client, std::error_code last) {
  const auto& targets = options_.targets;
  std::size_t total = 0;
  for (const auto& t : targets) total += t.addresses.size();
  while (client.attempts < total) {
    std::uint32_t t = client.target, a = client.address;
    if (client.attempts == 0 || a + 1 >= targets[t].addresses.size()) {
      t = pick_target();
      a = 0;
    } else {
      ++a;
    }
    client.target = t;
    client.address = a;
    ++client.attempts;
    const SocketAddress& where = targets[t].addresses[a];
    auto fd = open_socket(where.family(), SOCK_STREAM);
    if (!fd) {
      last = fd.error();
      continue;
    }
    if (where.family() != AF_UNIX) {
      int one = 1;
      setsockopt(fd->get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (::connect(fd->get(), where.get(), where.size()) != 0 && errno != EINPROGRESS) {
      last = std::error_code(errno, std::system_category());
      down_until_[t] = w_->now() + options_.retry_after;
      continue;
    }
    auto* target = new Side(fd->release());
    target->custom_io = true;
    target->connecting = true;
    target->copy = client.copy;
    target->peer = &client;
    target->deadline = w_->now() + options_.connect_timeout;
    client.peer = target;
    client.target_name = targets[t].text;
    w_->adopt(*target, EPOLLOUT);
    ++connecting_;
    next_scan_ = std::min(next_scan_, target->deadline);
    return true;
  }
  give_up(client, last);
  return false;
}

// A new target: the next one in turn that is not resting after a failure (the next in turn if
// all are).
std::uint32_t ForwardHandler::pick_target() {
  const auto n = options_.targets.size();
  std::size_t pick = next_target_ % n;
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = (next_target_ + k) % n;
    if (down_until_[i] <= w_->now()) {
      pick = i;
      break;
    }
  }
  next_target_ = pick + 1;
  return static_cast<std::uint32_t>(pick);
}

// No target could be reached: the client gets a half-close, and is closed once it closes too
// or after kLinger.
void ForwardHandler::give_up(Side& client, std::error_code last) {
  client.target_name =
      fmt::format("no target reachable ({})", last ? last.message() : "none given");
  client.lingering = true;
  client.deadline = w_->now() + kLinger;
  ::shutdown(client.fd, SHUT_WR);
  w_->set_events(client, EPOLLIN);
  ++lingering_;
  next_scan_ = std::min(next_scan_, client.deadline);
}

void ForwardHandler::connected(Side& target) {
  Side& client = *target.peer;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(target.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  target.connecting = false;
  --connecting_;
  if (err != 0) {  // Refused or unreachable: rest this target, try the next for this client.
    down_until_[client.target] = w_->now() + options_.retry_after;
    w_->log(fmt::format("target {} failed: {}; trying the next", client.target_name,
                        std::strerror(err)));
    client.peer = nullptr;
    target.peer = nullptr;
    w_->close(target, "connect failed");
    connect_next(client, std::error_code(err, std::system_category()));
    return;
  }
  if (options_.proxy_protocol) {  // Before anything else, TLS included (as HAProxy sends it).
    SocketAddress local;
    *local.size_ptr() = SocketAddress::capacity();
    getsockname(client.fd, local.get(), local.size_ptr());
    target.header = proxy_protocol_header(
        *options_.proxy_protocol, SocketAddress(client.peer_address(), client.peer_len), local);
  }
  if (options_.target_tls) {
    auto session = options_.target_tls->session(target.fd, options_.targets[client.target].host);
    if (!session) return end(target, fmt::format("target: {}", session.error().message()), true);
    target.tls = std::move(*session);
    target.handshaking = true;
    return handshake(target);
  }
  ready(target);
}

// --target-tls: the target's handshake, on its own events. A target that fails it ends the
// session (it answered, so trying the next one would hide a configuration error).
void ForwardHandler::handshake(Side& target) {
  while (!target.header.empty()) {  // The PROXY header goes first, in plain.
    ssize_t w =
        ::send(target.fd, target.header.data(), target.header.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return w_->set_events(target, EPOLLOUT);
    if (w < 0) return end(target, fmt::format("target: {}", std::strerror(errno)), true);
    target.header.erase(0, static_cast<std::size_t>(w));
  }
  Io r = target.tls->handshake();
  if (r.wants())
    return w_->set_events(target, r.status == IoStatus::want_read ? EPOLLIN : EPOLLOUT);
  if (!r.ok()) return end(target, fmt::format("target {}", r.error.message()), true);
  target.handshaking = false;
  ready(target);
}

// The target is there (connected, and its TLS handshake done): bytes may flow.
void ForwardHandler::ready(Side& target) {
  Side& client = *target.peer;
  down_until_[client.target] = {};
  update(target);
  update(client);
  // The client may have sent its first bytes with its TLS handshake: they wait in the session.
  if (client.copy && client.tls && client.tls->buffered()) pump_copy(client);
}

// Both directions done: the session ends.
void ForwardHandler::finish_if_done(Side& s) {
  Side* p = s.peer;
  if (p == nullptr || s.closed) return;
  bool done_here = s.eof && !held(s) && p->shut;
  bool done_there = p->eof && !held(*p) && s.shut;
  if (done_here && done_there) end(s, "closed", false);
}

// Ends the session of s (both sides). reset: pass a reset on instead of a clean close.
void ForwardHandler::end(Side& s, const std::string& why, bool reset) {
  Side* p = s.peer;
  if (reset && p != nullptr && !p->closed) {
    linger zero{1, 0};
    setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &zero, sizeof(zero));
  }
  Side& client = s.client || p == nullptr ? s : *p;
  std::string reason = fmt::format("to {}, {} bytes up, {} down: {}", client.target_name, client.in,
                                   client.out, why);
  w_->close(client, reason.c_str());  // closing() takes the target with it.
  if (!s.closed) w_->close(s, reason.c_str());
}

// A stop without grace (a second signal, or --drain-timeout over) cuts the sessions still moving:
// each side gets a reset, not a FIN, so that neither takes a cut transfer for a whole one.
void ForwardHandler::closing_all(Worker& w) {
  const linger zero{1, 0};
  for (Conn* c : w.conns()) {
    if (!c->closed && !static_cast<Side*>(c)->lingering)
      setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &zero, sizeof(zero));
  }
}

void ForwardHandler::closing(Worker& w, Conn& conn, const char* reason) {
  auto& s = static_cast<Side&>(conn);
  if (s.connecting) --connecting_;
  if (s.lingering) --lingering_;
  give_back(s.pipe);
  Side* p = s.peer;
  s.peer = nullptr;
  if (p != nullptr && !p->closed) {
    p->peer = nullptr;
    w.close(*p, reason);
  }
}

Clock::time_point ForwardHandler::next_deadline() {
  return connecting_ + lingering_ > 0 ? next_scan_ : Clock::time_point::max();
}

// Targets that did not answer within connect_timeout count as failed: the client moves on.
void ForwardHandler::on_time(Worker& w) {
  if (connecting_ + lingering_ == 0 || w.now() < next_scan_) return;
  next_scan_ = Clock::time_point::max();
  std::vector<Side*> late;
  for (Conn* c : w.conns()) {
    auto* s = static_cast<Side*>(c);
    if (!(s->connecting || s->lingering) || s->closed) continue;
    if (s->deadline <= w.now())
      late.push_back(s);
    else
      next_scan_ = std::min(next_scan_, s->deadline);
  }
  for (Side* s : late) {
    if (!s->lingering) continue;
    w.close(*s, s->target_name.c_str());
  }
  for (Side* target : late) {
    if (target->closed || target->lingering) continue;
    Side& client = *target->peer;
    target->connecting = false;
    --connecting_;
    down_until_[client.target] = w.now() + options_.retry_after;
    w.log(fmt::format("target {} did not answer within {} ms; trying the next", client.target_name,
                      options_.connect_timeout.count()));
    client.peer = nullptr;
    target->peer = nullptr;
    w.close(*target, "connect timed out");
    connect_next(client, std::make_error_code(std::errc::timed_out));
  }
}

}  // namespace fwd

std::unique_ptr<Handler> make_forward_stream_handler(const ForwardOptions& options) {
  return std::make_unique<fwd::ForwardHandler>(options);
}

}  // namespace parley::server
