// -e/-c with --tls: the child cannot have the client's socket (the bytes on it are encrypted), so
// it gets two Unix socket pairs, one as its stdin and one as its stdout, and the worker relays
// between them and the client's TLS session, through its own send path (so TLS, backpressure and
// the idle sweep are the runtime's). Two pairs rather than one: a child that closes its stdin
// early makes writes to that pair fail, and the output it still writes must not go with it.
//
// End of stream as without TLS: the client's close_notify (or FIN) becomes EOF on the child's
// stdin; the end of the child's stdout becomes close_notify and FIN to the client, which is then
// read until it closes too (a lingering close). Each is passed on once what came before it is out.

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "exec_internal.hpp"

namespace parley::server::exec_impl {
namespace {

// A direction stops reading its source while this much waits for its destination.
constexpr std::size_t kRelayBound = 64 << 10;

// The ends of two socket pairs: [0] the worker's, [1] the child's. False: errno says why.
bool socket_pair(int fds[2]) {
  return ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0 &&
         ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK) == 0;
}

ExecConn* end_of(Worker& w, int fd, ExecConn::Role role, ExecConn& client) {
  auto* e = new ExecConn(fd);
  e->role = role;
  e->client = &client;
  e->hold_reads_while_pending = false;  // Its input goes elsewhere: paused by kRelayBound.
  w.adopt(*e, EPOLLIN);
  return e;
}

// Where from's input goes, or null (dropped: the child closed its stdin).
ExecConn* destination(ExecConn& from) {
  switch (from.role) {
    case ExecConn::Role::client:
      return from.to_child;
    case ExecConn::Role::from_child:
      return from.client;
    case ExecConn::Role::to_child:
      return nullptr;  // The child wrote into its stdin: nobody wants that.
  }
  return nullptr;
}

// Whose input `to` takes (the reverse of destination()).
ExecConn* source(ExecConn& to) {
  switch (to.role) {
    case ExecConn::Role::client:
      return to.from_child;
    case ExecConn::Role::to_child:
      return to.client;
    case ExecConn::Role::from_child:
      return nullptr;
  }
  return nullptr;
}

}  // namespace

bool ExecHandler::open_relay(Worker& w, ExecConn& c, const SocketAddress& local,
                             const SocketAddress& remote) {
  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (!socket_pair(in) || !socket_pair(out)) {
    w.log(fmt::format("cannot start {}: socket pair: {}", options_.command.text,
                      std::strerror(errno)));
    for (int fd : {in[0], in[1], out[0], out[1]})
      if (fd >= 0) ::close(fd);
    w.close(c, "program did not start");
    if (!options_.keep_open) w.finish();
    return false;
  }
  c.child = start_child(in[1], out[1], local, remote, c.peer_name());
  ::close(in[1]);
  ::close(out[1]);
  if (c.child == nullptr) {
    ::close(in[0]);
    ::close(out[0]);
    w.close(c, "program did not start");
    if (!options_.keep_open) w.finish();
    return false;
  }
  c.child->conn = &c;
  c.hold_reads_while_pending = false;
  c.to_child = end_of(w, in[0], ExecConn::Role::to_child, c);
  c.from_child = end_of(w, out[0], ExecConn::Role::from_child, c);
  return true;
}

bool ExecHandler::relay_received(Worker& w, ExecConn& from, char* data, std::size_t n) {
  ExecConn* to = destination(from);
  if (to == nullptr || to->shut) return true;  // Dropped (after the lingering close began, too).
  if (!w.send(*to, data, n)) return !from.closed;
  if (to->pending_size() >= kRelayBound) w.set_reading(from, false);
  return !from.closed;
}

// `to` sent all it had: an end of its output that waited is passed on, or its source goes on.
void ExecHandler::relay_drained(Worker& w, ExecConn& to) {
  if (to.shut_due) return finish_output(w, to);
  ExecConn* from = source(to);
  if (from != nullptr && from->read_paused && !from->eof) w.set_reading(*from, true);
}

// `to` gets no more input: its output is shut once its queue is out (close_notify and FIN to the
// client, then a lingering close; FIN to the child's stdin).
void ExecHandler::finish_output(Worker& w, ExecConn& to) {
  to.shut_due = true;
  if (to.shut || to.pending_size() > 0) return;  // relay_drained() comes back.
  to.shut = true;
  if (to.tls)
    to.tls->shutdown_write();  // Best effort: never waits.
  else
    ::shutdown(to.fd, SHUT_WR);
  if (to.role == ExecConn::Role::client) {
    to.lingering = true;
    to.linger_until = w.now() + kLinger;
    if (to.eof) w.close(to, "done");
  }
}

// from's input ended: so does its destination's, in order. The child's stdout is then done.
void ExecHandler::pass_eof(Worker& w, ExecConn& from) {
  if (ExecConn* to = destination(from)) finish_output(w, *to);
  if (from.role == ExecConn::Role::from_child) w.close(from, "child closed its output");
}

bool ExecHandler::relay_peer_closed(Worker& w, ExecConn& from) {
  from.eof = true;
  if (from.role == ExecConn::Role::to_child) {  // The child closed its stdin (or exited).
    w.close(from, "child closed its input");
    return false;
  }
  if (from.role == ExecConn::Role::client && from.lingering) {  // Its output went out before.
    w.close(from, "done");
    return false;
  }
  pass_eof(w, from);
  return !from.closed;
}

void ExecHandler::relay_closing(Worker& w, ExecConn& c) {
  if (c.role != ExecConn::Role::client) {
    if (ExecConn* client = c.client) {
      (c.role == ExecConn::Role::to_child ? client->to_child : client->from_child) = nullptr;
      // However the child's stdout ended, the client is told once what came before is out.
      if (c.role == ExecConn::Role::from_child && !client->closed) finish_output(w, *client);
    }
    c.client = nullptr;
    return;
  }
  // The client is gone (it reset, or timed out, or the server stops): so is the relay. A child
  // still writing is told, as without TLS (one whose output ended is simply on its way out).
  if (c.child != nullptr && c.from_child != nullptr) {
    if (w.config().log_connections)
      w.log(fmt::format("[pid {}] {} is gone; sending SIGHUP", c.child->pid, c.child->client));
    ::kill(c.child->pid, SIGHUP);
  }
  for (ExecConn* end : {c.to_child, c.from_child}) {
    if (end == nullptr) continue;
    end->client = nullptr;
    w.close(*end, "client gone");
  }
  c.to_child = c.from_child = nullptr;
}

}  // namespace parley::server::exec_impl
