// The hub handler behind listen -k, --broker and --chat: clients around the operator's stdin and
// stdout, on one worker. See parley/hub.hpp for the behaviour and the bounds.

#include "parley/hub.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "chat.hpp"
#include "fanout.hpp"
#include "parley/framing.hpp"
#include "parley/relay.hpp"
#include "runtime.hpp"
#include "stdio.hpp"

namespace parley::server {
namespace {

// Input is read while some client has less than this queued; clients that stay behind are
// dropped once their queue passes queue_limit.
constexpr std::size_t kLowWater = 64 << 10;
constexpr std::size_t kInputChunk = 32 << 10;

using Mode = HubOptions::Mode;

class HubHandler;

// A watched stdin or stdout, forwarding readiness to the handler.
struct StdioWatch : Watch {
  StdioWatch(HubHandler& h, bool output) : handler(h), output(output) {}
  void on_event(std::uint32_t events) override;
  HubHandler& handler;
  bool output;
};

class HubHandler : public Handler, public ChatRoom {
 public:
  explicit HubHandler(const HubOptions& options)
      : options_(options),
        in_watch_(*this, false),
        out_watch_(*this, true),
        stdin_lines_(options.max_line, true) {}  // The operator's long lines: pieces, as clients'.

  void start(Worker& w) override;
  Conn* make_conn(int fd) override { return new HubConn(fd, options_.max_line); }
  bool opened(Worker& w, Conn& c) override;
  bool received(Worker& w, Conn& c, char* data, std::size_t n) override;
  bool drained(Worker& w, Conn& c) override;
  void closing(Worker& w, Conn& c, const char* reason) override;
  bool drain_done(Worker&, const Conn& c) override { return c.pending_size() == 0; }
  bool settled(Worker&) override { return out_pending_.empty() || out_gone_; }
  Clock::time_point next_deadline() override;
  void on_time(Worker& w) override;

  void input_ready();
  void output_ready();

  // ChatRoom: how the chat rules reach the clients and the output.
  void deliver(std::string_view text, Conn* only) override;
  void to_output(std::string_view text) override { write_output(text.data(), text.size()); }
  const std::vector<Conn*>& members() const override { return w_->conns(); }
  void count_message() override { w_->counters().messages.add(1); }

 private:
  void read_input();
  void pause_input(bool paused);
  void input_chunk(const char* data, std::size_t n);
  void end_round();
  void write_output(const char* data, std::size_t n);
  void flush_output();
  void output_failed(int error);
  void set_clients_reading(bool on);

  const HubOptions& options_;
  Worker* w_ = nullptr;
  Stdio in_, out_;
  StdioWatch in_watch_, out_watch_;
  bool in_open_ = false, in_file_ = false, in_paused_ = false;
  bool out_open_ = false, out_gone_ = false;
  std::string out_pending_;  // Output the reader has not taken; clients are not read meanwhile.
  std::string early_;        // Input that came before the first client.
  bool had_client_ = false;
  bool prev_cr_ = false;
  std::string crlf_;
  LineBuffer stdin_lines_;  // chat: the operator's partial line.
  Fanout fanout_;           // This round's messages for the clients.
  std::string out_round_;   // This round's output, written once at its end.
  std::vector<Conn*> over_;
  bool ending_round_ = false;
};

void StdioWatch::on_event(std::uint32_t) {
  if (output)
    handler.output_ready();
  else
    handler.input_ready();
}

void HubHandler::start(Worker& w) {
  w_ = &w;
  // A terminal shows what the operator typed already; a pipe's lines belong in the transcript.
  show_operator_lines = options_.in_fd < 0 || isatty(options_.in_fd) == 0;
  if (options_.send && options_.in_fd >= 0) {
    in_ = Stdio::open(options_.in_fd, false);
    in_open_ = in_.fd() >= 0;
    in_watch_.fd = in_.fd();
    if (in_open_ && in_.pollable()) {
      w.watch(in_watch_, EPOLLIN);
      in_file_ = !in_watch_.registered;  // /dev/null and other devices epoll cannot watch.
    } else {
      in_file_ = in_open_;
    }
  }
  if (options_.out_fd >= 0) {
    out_ = Stdio::open(options_.out_fd, true);
    out_open_ = out_.fd() >= 0;
    out_watch_.fd = out_.fd();
  }
}

bool HubHandler::opened(Worker& w, Conn& conn) {
  auto& c = static_cast<HubConn&>(conn);
  c.hold_reads_while_pending = false;  // Its queue is bounded instead (queue_limit).
  if (!out_pending_.empty()) w.set_reading(c, false);
  if (options_.mode == Mode::chat) chat_joined(c);
  if (!had_client_) {
    had_client_ = true;
    if (!early_.empty()) {  // Input that was waiting for somebody to hear it.
      std::string early = std::move(early_);
      early_.clear();
      early_.shrink_to_fit();
      if (!w.send(c, early.data(), early.size())) return false;
    }
    if (in_paused_) pause_input(false);
  }
  return !c.closed;
}

bool HubHandler::received(Worker& w, Conn& conn, char* data, std::size_t n) {
  auto& c = static_cast<HubConn&>(conn);
  if (options_.mode == Mode::chat) {
    chat_input(c, {data, n});
    return !c.closed;
  }
  w.counters().messages.add(1);
  if (options_.receive) write_output(data, n);
  if (options_.mode == Mode::broker) fanout_.add({data, n}, &c);
  if (fanout_.size() > options_.queue_limit) end_round();  // A burst is sent in parts.
  return !c.closed;
}

void HubHandler::deliver(std::string_view text, Conn* only) {
  fanout_.add(text, nullptr, only);
}

// The round of events is over: every client gets what it brought for it, the output gets its
// share, and a client whose queue passed the limit is dropped, so that one that stopped reading
// never slows the others. (Dropping a chat member announces it: that goes out too.)
void HubHandler::end_round() {
  if (ending_round_) return;
  ending_round_ = true;
  while (!fanout_.empty()) {
    over_.clear();
    fanout_.flush(*w_, options_.queue_limit, &over_);
    for (Conn* c : over_) {
      std::string why = fmt::format("too slow: over {} bytes queued", options_.queue_limit);
      w_->close(*c, why.c_str());
    }
  }
  ending_round_ = false;
  flush_output();
}

bool HubHandler::drained(Worker& w, Conn& c) {
  if (in_paused_ && had_client_) pause_input(false);  // Somebody can take input again.
  return Handler::drained(w, c);
}

void HubHandler::closing(Worker&, Conn& conn, const char*) {
  if (options_.mode == Mode::chat) chat_left(static_cast<HubConn&>(conn));
}

// --- Input (the operator's stdin) ---

void HubHandler::input_ready() {
  read_input();
}

Clock::time_point HubHandler::next_deadline() {
  // A regular file never says it is ready: read it whenever there is room.
  return in_open_ && in_file_ && !in_paused_ ? w_->now() : Clock::time_point::max();
}

void HubHandler::on_time(Worker&) {
  if (in_open_ && in_file_ && !in_paused_) read_input();
  end_round();
}

void HubHandler::pause_input(bool paused) {
  in_paused_ = paused;
  if (!in_open_ || in_file_) return;
  if (paused)
    w_->unwatch(in_watch_);
  else
    w_->watch(in_watch_, EPOLLIN);
}

void HubHandler::read_input() {
  const auto& conns = w_->conns();
  std::size_t room = kInputChunk;
  if (conns.empty() && !had_client_) {
    // Nobody to hear it yet: keep it for the first client, up to the bound.
    room = std::min(room, options_.early_input_limit - early_.size());
  } else {
    bool anyone = false;  // Read at the pace of the clients that keep up.
    for (const Conn* c : conns) anyone |= c->pending_size() < kLowWater;
    if (!anyone && !conns.empty()) room = 0;
  }
  if (room == 0) return pause_input(true);
  char buf[kInputChunk];
  ssize_t r = in_.read(buf, room);
  if (r < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    r = 0;  // A read error ends the input like EOF: clients stay connected.
  }
  if (r == 0) {
    in_open_ = false;
    w_->unwatch(in_watch_);
    if (options_.mode == Mode::chat)
      stdin_lines_.feed("\n", chat_operator_line_cb, static_cast<ChatRoom*>(this));
    return;
  }
  input_chunk(buf, static_cast<std::size_t>(r));
}

void HubHandler::input_chunk(const char* data, std::size_t n) {
  if (options_.crlf) {
    crlf_.resize(n * 2);
    crlf_.resize(lf_to_crlf(data, n, crlf_.data(), &prev_cr_));
    data = crlf_.data();
    n = crlf_.size();
  }
  if (options_.mode == Mode::chat) {
    stdin_lines_.feed({data, n}, chat_operator_line_cb, static_cast<ChatRoom*>(this));
    return;
  }
  if (w_->conns().empty() && !had_client_) {
    early_.append(data, n);
    return;
  }
  fanout_.add({data, n}, nullptr);
}

// --- Output (the operator's stdout) ---

void HubHandler::write_output(const char* data, std::size_t n) {
  if (!out_open_ || out_gone_ || n == 0) return;
  if (!out_pending_.empty()) {  // Keep the order; the clients are paused meanwhile.
    out_pending_.append(data, n);
    return;
  }
  out_round_.append(data, n);
  if (out_round_.size() > (1 << 20)) flush_output();  // A burst is written in parts.
}

// This round's output in one write; what the reader does not take waits, and the clients pause.
void HubHandler::flush_output() {
  if (out_round_.empty()) return;
  std::string round = std::move(out_round_);
  out_round_.clear();
  const char* data = round.data();
  std::size_t n = round.size();
  if (!out_open_ || out_gone_) return;
  while (n > 0) {
    ssize_t w = out_.write(data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return output_failed(errno);
      break;
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  if (n == 0) return;
  out_pending_.assign(data, n);
  w_->watch(out_watch_, EPOLLOUT);
  if (!out_watch_.registered) {  // Cannot be watched: wait for it, the old blocking way.
    out_round_ = std::move(out_pending_);
    out_pending_.clear();
    pollfd p{out_.fd(), POLLOUT, 0};
    ::poll(&p, 1, -1);
    return flush_output();
  }
  set_clients_reading(false);
}

void HubHandler::output_ready() {
  while (!out_pending_.empty()) {
    ssize_t w = out_.write(out_pending_.data(), out_pending_.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) return output_failed(errno);
      return;
    }
    out_pending_.erase(0, static_cast<std::size_t>(w));
  }
  out_pending_.shrink_to_fit();
  w_->unwatch(out_watch_);
  set_clients_reading(true);
}

// The reader of the output went away (EPIPE) or writing failed: listen -k exists to show what
// clients send, so it ends (an error is reported); the broker and chat rooms go on without it.
void HubHandler::output_failed(int error) {
  out_gone_ = true;
  out_pending_.clear();
  w_->unwatch(out_watch_);
  set_clients_reading(true);
  if (options_.mode == Mode::keep_open) {
    if (error == EPIPE)
      w_->finish();
    else
      w_->fail(error);
  } else if (error != EPIPE) {  // A reader that left is no failure; a full disk is.
    w_->note_failure(error);
    w_->log(
        fmt::format("cannot write output: {}; the clients go on without it", std::strerror(error)));
  }
}

void HubHandler::set_clients_reading(bool on) {
  for (Conn* c : w_->conns()) w_->set_reading(*c, on);
}

class HubService : public Service {
 public:
  explicit HubService(const HubOptions& options) : options_(options) {}
  unsigned max_workers() const override { return 1; }  // One room, one stdin, one stdout.
  std::unique_ptr<Handler> make_handler() override {
    return std::make_unique<HubHandler>(options_);
  }

 private:
  HubOptions options_;
};

}  // namespace
}  // namespace parley::server

namespace parley {

std::shared_ptr<Service> hub_service(const HubOptions& options) {
  return std::make_shared<server::HubService>(options);
}

}  // namespace parley
