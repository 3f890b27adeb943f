// The exec handler (-e/-c on listen): a child per client, on one worker. See parley/exec.hpp.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <list>
#include <map>

#include <fmt/format.h>

#include "exec_internal.hpp"

namespace parley::server::exec_impl {

void Child::on_event(std::uint32_t) {
  handler.reap(*this);
}
void Session::on_event(std::uint32_t) {
  handler.session_output(*this);
}

namespace {

const char* proto_of(const SocketAddress& a, bool udp) {
  if (a.family() == AF_UNIX) return "unix";
  return udp ? "udp" : "tcp";
}

}  // namespace

Child* ExecHandler::start_child(int in_fd, int out_fd, const SocketAddress& local,
                                const SocketAddress& remote, std::string client) {
  auto pid =
      spawn_child(options_.command, in_fd, out_fd, local, remote, proto_of(local, options_.udp));
  if (!pid) {
    w_->log(fmt::format("cannot start {}: {}", options_.command.text, pid.error().message()));
    return nullptr;
  }
  Child& child = children_.emplace_back(*this);
  child.pid = *pid;
  child.client = std::move(client);
  child.pidfd.reset(static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0)));
  if (child.pidfd) {
    child.fd = child.pidfd.get();
    w_->watch(child, EPOLLIN);
  } else {
    polling_ = true;
  }
  if (w_->config().log_connections)
    w_->log(
        fmt::format("[pid {}] {} started for {}", child.pid, options_.command.text, child.client));
  w_->counters().messages.add(1);
  hold_if_full();
  return &child;
}

void ExecHandler::hold_if_full() {
  bool full = !options_.keep_open ? served_ : children_.size() >= options_.max_children;
  if (full && options_.keep_open && !told_full_ && w_->config().log_connections) {
    w_->log(fmt::format("{} children running (-m): further clients wait until one exits",
                        children_.size()));
  }
  told_full_ = full;
  w_->hold_accepting(full);
}

bool ExecHandler::opened(Worker& w, Conn& conn) {
  auto& c = static_cast<ExecConn&>(conn);
  served_ = true;
  SocketAddress local;
  *local.size_ptr() = SocketAddress::capacity();
  getsockname(c.fd, local.get(), local.size_ptr());
  SocketAddress remote(c.peer_address(), c.peer_len);
  if (c.tls) return open_relay(w, c, local, remote);  // The child cannot speak TLS itself.
  w.set_reading(c, false);  // The child reads it; the server only hears about errors.
  c.child = start_child(c.fd, c.fd, local, remote, c.peer_name());
  if (c.child == nullptr) {
    w.close(c, "program did not start");
    if (!options_.keep_open) w.finish();
    return false;
  }
  c.child->conn = &c;
  return true;
}

bool ExecHandler::received(Worker& w, Conn& conn, char* data, std::size_t n) {
  auto& c = static_cast<ExecConn&>(conn);
  return relayed(c) ? relay_received(w, c, data, n) : true;
}

bool ExecHandler::drained(Worker& w, Conn& conn) {
  auto& c = static_cast<ExecConn&>(conn);
  if (!relayed(c)) return Handler::drained(w, c);
  relay_drained(w, c);
  return !c.closed;
}

// The child is gone and the client closed too: the connection is done.
bool ExecHandler::peer_closed(Worker& w, Conn& conn) {
  auto& c = static_cast<ExecConn&>(conn);
  if (relayed(c)) return relay_peer_closed(w, c);
  if (c.lingering) {
    w.close(c, "done");
    return false;
  }
  return true;
}

void ExecHandler::closing(Worker& w, Conn& conn, const char*) {
  auto& c = static_cast<ExecConn&>(conn);
  if (relayed(c)) relay_closing(w, c);
  if (c.child != nullptr) {
    c.child->conn = nullptr;
    c.child = nullptr;
  }
}

// A reset while the child runs: tell it (a child that neither reads nor writes would otherwise
// never learn), and let the connection go.
void ExecHandler::hangup(Worker& w, Conn& conn, std::uint32_t events) {
  auto& c = static_cast<ExecConn&>(conn);
  if (!(events & EPOLLERR)) return;
  int err = 0;
  socklen_t len = sizeof(err);
  getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (c.child != nullptr && !relayed(c)) {  // (Relayed: relay_closing() tells the child.)
    if (w.config().log_connections)
      w.log(fmt::format("[pid {}] {} reset the connection; sending SIGHUP", c.child->pid,
                        c.child->client));
    ::kill(c.child->pid, SIGHUP);
  }
  w.close(c, err != 0 ? std::strerror(err) : "connection error");
}

void ExecHandler::reap(Child& child) {
  int status = 0;
  pid_t r = ::waitpid(child.pid, &status, WNOHANG);
  if (r == 0) return;  // Not yet (a spurious wakeup).
  child_exited(child, r < 0 ? 0 : status);
}

void ExecHandler::child_exited(Child& child, int status) {
  if (w_->config().log_connections)
    w_->log(fmt::format("[pid {}] {} for {}: {}", child.pid, options_.command.text, child.client,
                        describe_wait_status(status)));
  w_->unwatch(child);
  if (ExecConn* c = child.conn; c != nullptr && relayed(*c)) {
    c->child = nullptr;  // Its output is still read to its end, then passed on (exec_relay.cpp).
  } else if (c != nullptr) {
    // Everything the child wrote is in the socket: send it and EOF, then wait for the client's
    // EOF before closing, so unread input cannot turn the close into a reset.
    c->child = nullptr;
    c->lingering = true;
    c->linger_until = w_->now() + kLinger;
    ::shutdown(c->fd, SHUT_WR);
    int flags = fcntl(c->fd, F_GETFL);
    fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
    w_->set_reading(*c, true);
  }
  if (Session* s = child.session) {
    s->child = nullptr;
    end_session(*s);
  }
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (&*it == &child) {
      dead_children_.splice(dead_children_.end(), children_, it);
      break;
    }
  }
  hold_if_full();
  if (!options_.keep_open && children_.empty()) w_->finish();
}

bool ExecHandler::drain_done(Worker& w, const Conn& conn) {
  const auto& c = static_cast<const ExecConn&>(conn);
  // A relay's ends go with their client; the client stays while the child's output is relayed.
  if (c.role != ExecConn::Role::client || c.from_child != nullptr) return false;
  if (c.child != nullptr) return false;
  return !c.lingering || w.now() >= c.linger_until;
}

void ExecHandler::signal_all(int sig) {
  for (auto& child : children_) ::kill(child.pid, sig);
}

// SIGTERM/SIGINT to the server: its children are terminated, and the server waits for them.
void ExecHandler::draining(Worker& w) {
  if (!children_.empty() && w.config().log_connections)
    w.log(fmt::format("stopping {} children (SIGTERM)", children_.size()));
  signal_all(SIGTERM);
}

void ExecHandler::closing_all(Worker&) {
  signal_all(SIGKILL);
  while (!children_.empty()) {
    Child& child = children_.front();
    int status = 0;
    ::waitpid(child.pid, &status, 0);
    child_exited(child, status);
  }
}

// The child owns the stream, so the server never sees the bytes: ask TCP when data last moved.
Clock::time_point ExecHandler::last_active(const Conn& conn) {
  const auto& c = static_cast<const ExecConn&>(conn);
  // A relay's end is never idle by itself: it goes when its client does (relay_closing(), which
  // tells a child still writing). Swept first, it took the child's stdout away unannounced.
  if (c.client != nullptr) return w_->now();
  tcp_info info{};
  socklen_t len = sizeof(info);
  if (conn.peer.sin6_family == AF_UNIX ||
      getsockopt(conn.fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
    return conn.last_active;
  auto quiet_ms = std::min(info.tcpi_last_data_recv, info.tcpi_last_data_sent);
  return w_->now() - std::chrono::milliseconds(quiet_ms);
}

Clock::time_point ExecHandler::next_deadline() {
  auto next = Clock::time_point::max();
  if (polling_ && !children_.empty()) next = w_->now() + kReapPoll;
  for (Conn* c : w_->conns()) {
    auto* e = static_cast<ExecConn*>(c);
    if (e->lingering) next = std::min(next, e->linger_until);
  }
  if (w_->config().idle_timeout.count() > 0 && !sessions_.empty())
    next = std::min(next, w_->now() + std::chrono::milliseconds(100));
  return next;
}

void ExecHandler::on_time(Worker& w) {
  dead_children_.clear();
  dead_sessions_.clear();
  if (polling_) {
    for (auto it = children_.begin(); it != children_.end();) {
      Child& child = *it++;
      if (!child.pidfd) reap(child);
    }
  }
  for (std::size_t i = w.conns().size(); i-- > 0;) {
    if (i >= w.conns().size()) continue;
    auto* e = static_cast<ExecConn*>(w.conns()[i]);
    if (e->lingering && w.now() >= e->linger_until) w.close(*e, "done");
  }
  auto idle = w.config().idle_timeout;
  if (idle.count() > 0) {
    for (auto& s : session_store_)
      if (s.child != nullptr && w.now() - s.last_active >= idle) ::kill(s.child->pid, SIGHUP);
  }
}

// --- UDP: a child per peer, datagrams forwarded through a socket pair ---

void ExecHandler::datagram_ready(Worker& w, Slot& slot) {
  for (int i = 0; i < kBurst; ++i) {
    Datagram d;
    ssize_t n = receive_datagram(slot.fd.get(), w.buffer(), kReadBuffer, &d);
    if (n < 0) return;
    w.counters().bytes_in.add(static_cast<std::size_t>(n));
    std::string key = d.peer_name();
    auto found = sessions_.find(key);
    Session* s = found == sessions_.end() ? nullptr : found->second;
    if (s == nullptr) {
      bool full = options_.keep_open ? children_.size() >= options_.max_children : served_;
      if (full) {
        if (w.config().log_connections)
          w.log(fmt::format("{}: datagram dropped ({})", key,
                            options_.keep_open ? "-m children running" : "serving one peer"));
        continue;
      }
      int pair[2];
      if (::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0) continue;
      Session& ns = session_store_.emplace_back(*this, slot.fd.get());
      ns.pair.reset(pair[0]);
      ns.peer = d;
      ns.key = key;
      ns.fd = pair[0];
      served_ = true;
      SocketAddress remote(reinterpret_cast<const sockaddr*>(&d.peer), d.peer_len);
      SocketAddress local;
      *local.size_ptr() = SocketAddress::capacity();
      getsockname(slot.fd.get(), local.get(), local.size_ptr());
      ns.child = start_child(pair[1], pair[1], local, remote, key);
      ::close(pair[1]);
      if (ns.child == nullptr) {
        session_store_.pop_back();
        continue;
      }
      ns.child->session = &ns;
      sessions_[key] = &ns;
      w.watch(ns, EPOLLIN);
      s = &ns;
    }
    s->last_active = w.now();
    s->peer = d;  // The address it was sent to may differ per datagram.
    ::send(s->pair.get(), w.buffer(), static_cast<std::size_t>(n), MSG_DONTWAIT);
  }
}

void ExecHandler::session_output(Session& s) {
  for (int i = 0; i < kBurst; ++i) {
    ssize_t n = ::recv(s.pair.get(), w_->buffer(), kReadBuffer, MSG_DONTWAIT);
    if (n <= 0) return;
    s.last_active = w_->now();
    if (send_datagram(s.listener, {w_->buffer(), static_cast<std::size_t>(n)}, s.peer) >= 0)
      w_->counters().bytes_out.add(static_cast<std::size_t>(n));
  }
}

void ExecHandler::end_session(Session& s) {
  session_output(s);  // What the child wrote before it exited still goes out.
  w_->unwatch(s);
  sessions_.erase(s.key);
  for (auto it = session_store_.begin(); it != session_store_.end(); ++it) {
    if (&*it == &s) {
      dead_sessions_.splice(dead_sessions_.end(), session_store_, it);
      break;
    }
  }
}

namespace {

class ExecService : public Service {
 public:
  explicit ExecService(const ExecOptions& options) : options_(options) {}
  unsigned max_workers() const override { return 1; }  // Spawning is the cost, not the loop.
  std::unique_ptr<Handler> make_handler() override {
    return std::make_unique<ExecHandler>(options_);
  }

 private:
  ExecOptions options_;
};

}  // namespace
}  // namespace parley::server::exec_impl

namespace parley {

std::shared_ptr<Service> exec_service(const ExecOptions& options) {
  return std::make_shared<server::exec_impl::ExecService>(options);
}

}  // namespace parley
