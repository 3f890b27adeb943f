#pragma once
// The exec handler's parts (internal to the server runtime; see parley/exec.hpp): exec.cpp runs
// the children and hands them the connection, exec_relay.cpp relays for clients that speak TLS.
// Everything runs on the one worker of the exec service.

#include <chrono>
#include <list>
#include <map>
#include <string>

#include "parley/endpoint.hpp"
#include "parley/exec.hpp"
#include "runtime.hpp"
#include "udp.hpp"

namespace parley::server::exec_impl {

// After the child exits: how long to wait for the client to close before closing anyway.
inline constexpr std::chrono::seconds kLinger{2};
// Without pidfds (kernels before 5.3) children are looked for this often.
inline constexpr std::chrono::milliseconds kReapPoll{50};

class ExecHandler;
struct Child;

struct ExecConn : Conn {
  using Conn::Conn;
  Child* child = nullptr;  // Running for this client.
  bool lingering = false;  // The child is gone; waiting for the client's EOF.
  Clock::time_point linger_until;
  // --tls (exec_relay.cpp): the child cannot have the socket, so it gets two socket pairs, one
  // for its stdin and one for its stdout, and the worker relays. On the client: its two ends
  // (null once closed); on an end: the client it serves.
  enum class Role : std::uint8_t { client, to_child, from_child } role = Role::client;
  ExecConn* to_child = nullptr;
  ExecConn* from_child = nullptr;
  ExecConn* client = nullptr;
  bool eof = false;       // Its input ended.
  bool shut_due = false;  // Its output is to be shut once its queue is out ...
  bool shut = false;      // ... and was (FIN, or TLS close_notify and FIN).
};

// Relayed (--tls): a client whose child has socket pairs, or one of those pairs' ends.
inline bool relayed(const ExecConn& c) {
  return c.role != ExecConn::Role::client || c.tls != nullptr;
}

// A UDP peer's session: the child's end of a datagram socket pair, and where replies go.
struct Session : Watch {
  Session(ExecHandler& h, int listener) : handler(h), listener(listener) {}
  void on_event(std::uint32_t events) override;
  ExecHandler& handler;
  int listener;
  Fd pair;  // The server's end; the child has the other.
  Datagram peer;
  std::string key;
  Child* child = nullptr;
  Clock::time_point last_active;
};

// A running child, watched through its pidfd.
struct Child : Watch {
  explicit Child(ExecHandler& h) : handler(h) {}
  void on_event(std::uint32_t) override;
  ExecHandler& handler;
  pid_t pid = -1;
  Fd pidfd;
  ExecConn* conn = nullptr;    // TCP/Unix: the client, while connected.
  Session* session = nullptr;  // UDP.
  std::string client;
};

class ExecHandler : public Handler {
 public:
  explicit ExecHandler(const ExecOptions& options) : options_(options) {}

  void start(Worker& w) override {
    w_ = &w;
    w.spawns_children();
  }
  Conn* make_conn(int fd) override { return new ExecConn(fd); }
  bool opened(Worker& w, Conn& c) override;
  // Discarded (the child reads the client), except with --tls: relayed.
  bool received(Worker& w, Conn& c, char* data, std::size_t n) override;
  bool peer_closed(Worker& w, Conn& c) override;
  void closing(Worker& w, Conn& c, const char* reason) override;
  void hangup(Worker& w, Conn& c, std::uint32_t events) override;
  void datagram_ready(Worker& w, Slot& slot) override;
  void draining(Worker& w) override;
  bool drain_done(Worker&, const Conn& c) override;
  bool settled(Worker&) override { return children_.empty(); }
  void closing_all(Worker& w) override;
  Clock::time_point last_active(const Conn& c) override;
  Clock::time_point next_deadline() override;
  void on_time(Worker& w) override;

  bool drained(Worker& w, Conn& c) override;
  void child_exited(Child& child, int status);
  void reap(Child& child);
  void session_output(Session& s);

 private:
  // --tls: the relay between the client's TLS session and the child (exec_relay.cpp).
  bool open_relay(Worker& w, ExecConn& c, const SocketAddress& local, const SocketAddress& remote);
  bool relay_received(Worker& w, ExecConn& from, char* data, std::size_t n);
  bool relay_peer_closed(Worker& w, ExecConn& from);
  void relay_drained(Worker& w, ExecConn& to);
  void relay_closing(Worker& w, ExecConn& c);
  void pass_eof(Worker& w, ExecConn& from);
  void finish_output(Worker& w, ExecConn& to);
  Child* start_child(int in_fd, int out_fd, const SocketAddress& local, const SocketAddress& remote,
                     std::string client);
  void end_session(Session& s);
  void hold_if_full();
  void signal_all(int sig);

  const ExecOptions& options_;
  Worker* w_ = nullptr;
  std::list<Child> children_;
  std::map<std::string, Session*> sessions_;
  std::list<Session> session_store_;
  // Ended children and sessions stay allocated until the round of events is over: one of them
  // may still have an event waiting in the worker's array.
  std::list<Child> dead_children_;
  std::list<Session> dead_sessions_;
  bool served_ = false;   // Without -k: the one client came.
  bool polling_ = false;  // Some child has no pidfd: reap by polling.
  bool told_full_ = false;
};

}  // namespace parley::server::exec_impl
