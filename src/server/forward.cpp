// The forwarder's TCP/Unix handler: a client side and a target side per session, bytes moved
// with splice(2) through pipes. See parley/forward.hpp for the behaviour.

#include "parley/forward.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "forward_internal.hpp"
#include "parley/connector.hpp"
#include "parley/tls.hpp"
#include "runtime.hpp"

namespace parley::server {
namespace {

constexpr int kPipeSize = 1 << 20;
constexpr std::size_t kFreePipes = 16;
constexpr std::size_t kSpliceChunk = kPipeSize;
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// A client no target could take is closed cleanly: FIN first, then what it sent is read and
// dropped until its own FIN (closing with unread input would reset it), for at most this long.
constexpr std::chrono::seconds kLinger{2};

// What one direction has in flight: bytes read from a side, not yet written to its peer.
struct Pipe {
  int r = -1, w = -1;
  std::size_t bytes = 0;
};

struct Side : Conn {
  using Conn::Conn;
  Side* peer = nullptr;
  Pipe pipe;                // Read from this side, waiting for the peer (only while stuck).
  bool eof = false;         // This side sent its FIN.
  bool shut = false;        // We sent ours to this side.
  bool connecting = false;  // A target still connecting.
  bool lingering = false;   // A client with no target, being closed cleanly.
  bool client = false;
  bool copy = false;         // TLS on a side of this session: bytes go through user space.
  bool handshaking = false;  // A target's TLS handshake is under way.
  std::string stuck;         // Copy mode: read from this side, not yet taken by the peer.
  std::size_t stuck_off = 0;
  std::uint32_t target = 0, address = 0, attempts = 0;
  Clock::time_point deadline;
  std::string header;       // PROXY protocol header still to send (target side).
  std::string target_name;  // Client side: where it went.
};

class ForwardHandler : public Handler {
 public:
  explicit ForwardHandler(const ForwardOptions& options)
      : options_(options), down_until_(options.targets.size()) {}
  ~ForwardHandler() override;

  void start(Worker& w) override { w_ = &w; }
  Conn* make_conn(int fd) override { return new Side(fd); }
  bool opened(Worker& w, Conn& c) override;
  bool received(Worker&, Conn&, char*, std::size_t) override { return true; }  // Not used.
  void io(Worker& w, Conn& c, std::uint32_t events) override;
  void closing(Worker& w, Conn& c, const char* reason) override;
  bool drain_done(Worker&, const Conn&) override { return false; }  // Sessions end by themselves.
  Clock::time_point next_deadline() override;
  void on_time(Worker& w) override;

 private:
  bool connect_next(Side& client, std::error_code last);
  void connected(Side& target);
  void handshake(Side& target);
  void ready(Side& target);
  void pump(Side& from);
  void pump_copy(Side& from);
  bool copy_out(Side& from, Side& to);
  std::size_t write_to(Side& to, const char* data, std::size_t n);
  void shut(Side& to);
  bool held(const Side& s) const { return s.pipe.bytes > 0 || s.stuck.size() > s.stuck_off; }
  bool move_out(Pipe& p, Side& to);
  bool flush_to(Side& to);
  void update(Side& s);
  void end(Side& s, const std::string& why, bool reset);
  void finish_if_done(Side& s);
  Pipe take_pipe();
  void give_back(Pipe& p);

  const ForwardOptions& options_;
  Worker* w_ = nullptr;
  std::vector<Clock::time_point> down_until_;  // Per target: skipped until then.
  std::size_t next_target_ = 0;
  Pipe scratch_;
  std::vector<Pipe> free_;
  std::size_t connecting_ = 0, lingering_ = 0;
  Clock::time_point next_scan_ = Clock::time_point::max();
};

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
      // A new target: the next one in turn that is not resting after a failure.
      std::size_t pick = next_target_ % targets.size();
      for (std::size_t k = 0; k < targets.size(); ++k) {
        std::size_t i = (next_target_ + k) % targets.size();
        if (down_until_[i] <= w_->now()) {
          pick = i;
          break;
        }
      }
      next_target_ = pick + 1;
      t = static_cast<std::uint32_t>(pick);
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
  client.target_name =
      fmt::format("no target reachable ({})", last ? last.message() : "none given");
  client.lingering = true;
  client.deadline = w_->now() + kLinger;
  ::shutdown(client.fd, SHUT_WR);
  w_->set_events(client, EPOLLIN);
  ++lingering_;
  next_scan_ = std::min(next_scan_, client.deadline);
  return false;
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

}  // namespace

std::unique_ptr<Handler> make_forward_stream_handler(const ForwardOptions& options) {
  return std::make_unique<ForwardHandler>(options);
}

}  // namespace parley::server
