#pragma once
// One `parley talk` conversation, shared by the pipe mode and the terminal mode: the connection
// (TCP directly or through a proxy, UDP, a Unix socket), lines queued for sending without ever
// blocking, the answers awaited in the order the lines were sent (each framed per --until, or one
// datagram each over UDP), the traffic log and the round-trip statistics.
//
// Nothing here blocks except connect(): the caller polls fd() for poll_events(), hands the result
// to handle() and calls tick() when timeout_ms() says so. Memory is bounded: what the server sends
// is handed out in pieces of at most kTalkPiece bytes however long its lines are, and the caller
// stops queueing while unsent() is large. Single-threaded.

#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/answers.hpp"
#include "parley/dial.hpp"
#include "parley/fd.hpp"
#include "parley/tls.hpp"
#include "parley/traffic_log.hpp"

namespace parley::cmd {

struct TalkConfig {
  HostPort where;         // The server, unless unix_path is given.
  std::string unix_path;  // -U
  bool udp = false;       // -u: a datagram per line; an answer is a datagram.
  DialOptions dial;       // Family, -n, -w, -s/-p, the proxy; socktype follows udp.
  UntilSpec until;
  std::string eol = "\n";
  // How long an answer may take, and how long the server may read nothing while data waits to be
  // sent. Zero: no limit.
  std::chrono::milliseconds timeout{5000};
  std::shared_ptr<TrafficLog> log;  // -o/-x, or null.
  // --tls (streams only): the client context; connect() completes the handshake (within the
  // connect timeout, 10 s without one) before it returns, and every byte goes through it.
  std::shared_ptr<const tls::Context> tls;
};

class TalkSession {
 public:
  using Clock = std::chrono::steady_clock;
  using Event = AnswerCollector::Event;

  explicit TalkSession(TalkConfig config);

  // Connects (again: whatever was queued or awaited on the old connection is dropped). On failure
  // returns the error; the caller words it.
  std::error_code connect();
  void close();
  bool connected() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  std::string peer() const { return peer_; }
  const TalkConfig& config() const { return config_; }
  // --tls: what the handshake agreed on (for -v); only while connected.
  tls::Info tls_info() const;

  // Queues a line; the line ending is added, and its answer is awaited once it is sent. Over UDP
  // the datagram goes out at once; the error (EMSGSIZE: too long for a datagram) is returned.
  std::error_code send_line(std::string_view line);
  // Queues a piece of a line longer than kTalkPiece (no line ending, no answer awaited yet).
  void send_piece(std::string_view bytes);
  std::size_t unsent() const { return unsent_; }
  std::size_t awaited() const { return awaited_.size(); }
  // The oldest line whose answer is awaited (cut for messages); empty when none is.
  std::string awaited_line() const { return awaited_.empty() ? "" : awaited_.front().line; }
  // Something is unsent or awaited: a lock-step caller waits before the next line.
  bool busy() const { return unsent_ > 0 || !awaited_.empty(); }

  short poll_events() const;
  // Does the I/O that poll reported (revents for fd()) and appends what arrived. Returns false
  // when the connection ended (it is closed, *why says how: "closed by the server", an errno).
  bool handle(short revents, std::vector<Event>& out, std::string* why);
  // Time-driven work: answers that end when the server is quiet, partial lines shown after a
  // pause, overdue answers (their lines appended to *overdue) and a server that has read nothing
  // for the timeout (returns false, closed, *why says so).
  bool tick(std::vector<Event>& out, std::vector<std::string>* overdue, std::string* why);
  // Milliseconds until tick() has work (-1: none), at most `cap` (-1: no cap).
  int timeout_ms(int cap) const;
  // Hands out whatever is pending as it is (the caller is about to finish).
  void flush(std::vector<Event>& out);

  Clock::time_point last_received() const { return last_received_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  std::uint64_t bytes_received() const { return bytes_received_; }
  // "3 lines sent, 3 answers, round trip mean 0.25 ms, worst 0.40 ms"
  std::string stats() const;

 private:
  struct Chunk {
    std::string data;
    std::size_t done = 0;
    bool ends_line = false;
    std::string line;  // The line (without its ending) for messages about its answer.
    // The first piece of a line over kTalkPiece: once its first bytes are out, what comes back is
    // that line's answer (an echo starts before the line's end is sent), not unasked data.
    bool opens_line = false;
  };
  struct Awaited {
    std::string line;
    Clock::time_point sent;
  };

  std::error_code write_some();  // What ended the connection, if anything did.
  bool read_stream(std::vector<Event>& out, std::string* why);
  bool read_datagram(std::vector<Event>& out, std::string* why);
  void feed(std::string_view data, Clock::time_point now, std::vector<Event>& out);
  // Collector events: completed answers leave the queue of awaited ones, the next is expected.
  void take(std::vector<Event>& from, std::vector<Event>& out);
  void line_sent(std::string line, Clock::time_point now);
  bool lost(int err, std::vector<Event>& out, std::string* why);
  bool lost(const std::error_code& ec, std::vector<Event>& out, std::string* why);
  void drop();  // The session, then the socket.
  std::error_code start_tls();

  TalkConfig config_;
  AnswerCollector collector_;
  Fd fd_;
  std::unique_ptr<tls::Session> tls_;
  std::string peer_;
  std::deque<Chunk> queue_;
  std::size_t unsent_ = 0;
  std::deque<Awaited> awaited_;
  bool piece_open_ = false;  // Pieces of a long line went out; its end has not.
  Clock::time_point last_progress_{}, last_received_{};
  std::unique_ptr<char[]> buf_;
  std::uint64_t lines_ = 0, answers_ = 0, bytes_sent_ = 0, bytes_received_ = 0;
  std::chrono::nanoseconds rtt_sum_{0}, rtt_max_{0};
};

}  // namespace parley::cmd
