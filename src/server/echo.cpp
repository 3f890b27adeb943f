// The echo service's handler: bytes back (RFC 862), a reply per chunk, or a reply per line, over
// TCP; one datagram back per datagram over UDP, from the address it was sent to.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "parley/echo_server.hpp"
#include "parley/framing.hpp"
#include "runtime.hpp"
#include "udp.hpp"

namespace parley::server {
namespace {

// Line mode stops turning input into replies once this much is waiting to be sent; the input
// not yet answered waits in the connection (at most one read), so a flood of short lines to a
// client that never reads costs a bounded amount, not the template's expansion of it.
constexpr std::size_t kReplyBound = 64 << 10;
constexpr std::size_t kMaxDatagram = 65507;

struct EchoConn : Conn {
  explicit EchoConn(int fd, std::size_t max_line) : Conn(fd), lines(max_line) {}
  LineBuffer lines;
  std::string backlog;  // Input read but not yet answered (line mode, output full).
};

class EchoHandler : public Handler {
 public:
  EchoHandler(const EchoOptions& options, const ReplyTemplate& reply)
      : options_(options), reply_(reply) {}

  Conn* make_conn(int fd) override { return new EchoConn(fd, options_.max_line); }
  bool received(Worker& w, Conn& c, char* data, std::size_t n) override;
  bool peer_closed(Worker& w, Conn& c) override;
  bool drained(Worker& w, Conn& c) override;
  void datagram_ready(Worker& w, Slot& slot) override;

 private:
  struct LineContext {
    const EchoHandler* self;
    std::string* out;
    std::uint64_t* messages;
    std::string_view peer;
  };
  static bool reply_line(void* context, std::string_view line, std::string_view eol) {
    auto* ctx = static_cast<LineContext*>(context);
    ctx->self->reply_.render(*ctx->out, line, ctx->peer, ++*ctx->messages);
    ctx->out->append(eol);
    return ctx->out->size() < kReplyBound;
  }
  bool answer_lines(Worker& w, EchoConn& c, std::string_view input);
  bool answer_backlog(Worker& w, EchoConn& c);
  bool finish_input(Worker& w, EchoConn& c);

  const EchoOptions& options_;
  const ReplyTemplate& reply_;
};

bool EchoHandler::received(Worker& w, Conn& conn, char* data, std::size_t n) {
  auto& c = static_cast<EchoConn&>(conn);
  if (options_.log_data) {
    w.log(fmt::format("{} sent {} bytes: {}", c.peer_name(), n, escape_bytes({data, n})));
  }
  if (options_.lines) return answer_lines(w, c, {data, n});
  w.counters().messages.add(1);
  if (options_.reply.empty()) return w.send(c, data, n);
  // The seed's servers answer every recv() with a template around what it returned.
  std::string& out = w.scratch();
  out.clear();
  std::string peer = reply_.uses_peer() ? c.peer_name() : std::string();
  reply_.render(out, {data, n}, peer, ++c.messages);
  return w.send(c, out.data(), out.size());
}

// Answers the lines in input; what cannot be answered yet (the output is full) waits in backlog.
bool EchoHandler::answer_lines(Worker& w, EchoConn& c, std::string_view input) {
  std::string& out = w.scratch();
  out.clear();
  // Formatting the address costs more than the rest of a short line: only when {peer} is used.
  std::string peer = reply_.uses_peer() ? c.peer_name() : std::string();
  std::uint64_t before = c.messages;
  LineContext ctx{this, &out, &c.messages, peer};
  std::size_t used = 0;
  bool fits = c.lines.feed(input, reply_line, &ctx, &used);
  w.counters().messages.add(c.messages - before);
  if (!fits) {
    out += fmt::format("error: line longer than {} bytes; closing\n", options_.max_line);
    c.close_after = true;
    c.backlog.clear();
  } else if (used < input.size()) {
    c.backlog.assign(input.substr(used));
  }
  if (!w.send(c, out.data(), out.size())) return false;
  if (c.pending_size() > 0) return true;  // drained() goes on.
  if (c.close_after) {
    w.close(c, "line too long");
    return false;
  }
  return c.backlog.empty() ? true : answer_backlog(w, c);
}

bool EchoHandler::answer_backlog(Worker& w, EchoConn& c) {
  std::string input = std::move(c.backlog);
  c.backlog.clear();
  return answer_lines(w, c, input);
}

// The client is done and everything is answered: a last line without its newline still gets its
// answer, then the connection closes.
bool EchoHandler::finish_input(Worker& w, EchoConn& c) {
  if (options_.lines && c.lines.has_partial()) {
    if (!answer_lines(w, c, "\n")) return false;
    if (c.pending_size() > 0) return true;
  }
  w.close(c, "closed by peer");
  return false;
}

bool EchoHandler::peer_closed(Worker& w, Conn& conn) {
  auto& c = static_cast<EchoConn&>(conn);
  if (c.pending_size() > 0 || !c.backlog.empty()) return true;  // drained() finishes.
  return finish_input(w, c);
}

bool EchoHandler::drained(Worker& w, Conn& conn) {
  auto& c = static_cast<EchoConn&>(conn);
  if (c.close_after) {
    w.close(c, "line too long");
    return false;
  }
  if (!c.backlog.empty()) {
    if (!answer_backlog(w, c)) return false;
    if (c.pending_size() > 0 || !c.backlog.empty()) return true;
  }
  if (c.peer_done) return finish_input(w, c);
  return true;
}

void EchoHandler::datagram_ready(Worker& w, Slot& slot) {
  for (int i = 0; i < kBurst; ++i) {
    Datagram d;
    ssize_t n = receive_datagram(slot.fd.get(), w.buffer(), kReadBuffer, &d);
    if (n < 0) return;  // EAGAIN, or an ICMP error from an earlier reply: nothing to do.
    auto size = static_cast<std::size_t>(n);
    w.counters().bytes_in.add(size);
    w.counters().messages.add(1);
    std::string_view reply(w.buffer(), size);
    if (options_.log_data || options_.lines || !options_.reply.empty()) {
      // As for TCP: format the address only when the log or the reply template shows it.
      std::string name = options_.log_data || reply_.uses_peer() ? d.peer_name() : std::string();
      if (options_.log_data)
        w.log(fmt::format("{} sent {} bytes: {}", name, size, escape_bytes(reply)));
      std::string& out = w.scratch();
      out.clear();
      if (options_.lines) {
        // Each datagram is a message of its own: its lines are answered in one datagram.
        std::uint64_t count = 0;
        LineBuffer lines(options_.max_line);
        LineContext ctx{this, &out, &count, name};
        if (!lines.feed(reply, reply_line, &ctx) || lines.has_partial())
          lines.feed("\n", reply_line, &ctx);
        reply = out;
      } else if (!options_.reply.empty()) {
        std::uint64_t one = 1;
        reply_.render(out, reply, name, one);
        reply = out;
      }
    }
    // An answer larger than its question would make the server an amplifier for spoofed
    // senders; it is cut to the question's size unless --udp-amplify says otherwise.
    std::size_t limit = options_.udp_amplify ? kMaxDatagram : std::min(size, kMaxDatagram);
    if (reply.size() > limit && w.config().log_connections) {
      w.log(fmt::format("{}: reply of {} bytes cut to {} ({})", d.peer_name(), reply.size(), limit,
                        reply.size() > kMaxDatagram
                            ? "the most a UDP datagram holds"
                            : "the request's size; --udp-amplify allows more"));
    }
    reply = reply.substr(0, limit);
    if (send_datagram(slot.fd.get(), reply, d) >= 0) w.counters().bytes_out.add(reply.size());
  }
}

class EchoService : public Service {
 public:
  EchoService(const EchoOptions& options, ReplyTemplate reply)
      : options_(options), reply_(std::move(reply)) {}
  bool io_uring_ready() const override { return true; }
  std::unique_ptr<Handler> make_handler() override {
    return std::make_unique<EchoHandler>(options_, reply_);
  }

 private:
  EchoOptions options_;
  ReplyTemplate reply_;
};

}  // namespace
}  // namespace parley::server

namespace parley {

Result<std::shared_ptr<Service>> echo_service(const EchoOptions& options) {
  EchoOptions o = options;
  if (o.lines && o.reply.empty()) o.reply = "{line}";
  auto reply = ReplyTemplate::parse(o.reply.empty() ? "{line}" : o.reply);
  if (!reply) return reply.error();
  return std::shared_ptr<Service>(std::make_shared<server::EchoService>(o, std::move(*reply)));
}

}  // namespace parley
