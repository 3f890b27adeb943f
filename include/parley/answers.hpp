#pragma once
// What counts as the server's answer to a request (`--until`, shared by `talk` and `bench`), so
// that an answer split over several TCP segments is never cut and two messages in one segment are
// never merged. AnswerFramer finds where one answer ends in a byte stream, chunk by chunk, looking
// at each byte once (the load generator's hot path); AnswerCollector builds talk's events on it:
// everything that arrives while no answer is awaited is "unsolicited" (a banner, a chat message).
// Not thread-safe; one framer or collector per connection (an UntilSpec may be shared).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/http.hpp"
#include "parley/regex.hpp"
#include "parley/result.hpp"

namespace parley {

struct UntilSpec {
  // newline: up to LF; crlf: up to CRLF (a bare LF does not end it); idle: whatever arrives until
  // the server is quiet for `idle`; bytes: exactly `bytes` bytes; regex: up to the end of the
  // first match of `regex` in the answer so far; http: one HTTP/1.x response (head and body);
  // none: no answer is awaited.
  enum class Kind { newline, crlf, idle, bytes, regex, http, none } kind = Kind::newline;
  std::chrono::milliseconds idle{200};
  std::size_t bytes = 0;
  std::optional<Regex> regex;
  bool head_request = false;  // http: responses to HEAD have no body.
};

// "newline", "crlf", "idle=200ms", "idle" (200 ms), "bytes=N", "regex=RE", "http", "none".
// Errors: invalid_argument; *why (if given) says what is wrong with a regex.
Result<UntilSpec> parse_until(std::string_view text, std::string* why = nullptr);

// Finds where each answer ends. Keeps no copy of the bytes, except what a rule needs to look at
// again: an HTTP head split over several reads (at most kMaxHead), and for regex the answer so
// far (at most kMaxBuffered). Bytes after the end of an answer belong to whatever comes next.
class AnswerFramer {
 public:
  static constexpr std::size_t kMaxHead = 64 << 10;
  static constexpr std::size_t kMaxBuffered = 1 << 20;
  enum class Status : std::uint8_t { more, complete, malformed };
  struct Step {
    Status status;
    std::size_t used;  // Bytes of the data that belong to this answer.
  };

  explicit AnswerFramer(const UntilSpec& spec);  // spec must outlive the framer.
  // The next bytes received. more: all of data belongs to the answer, which goes on (idle answers
  // never complete here: the caller ends them when the server is quiet). malformed: not an HTTP
  // response, or an answer longer than the bounds above; the stream cannot be framed any more.
  Step feed(std::string_view data);
  // The server closed the connection: whether that completes the answer (an HTTP body delimited
  // by the close, or an idle answer with data).
  bool complete_at_eof() const;
  void reset();  // The next answer starts.
  // The completed answer's HTTP head (kind http only).
  const HttpHead& http() const { return head_; }
  std::size_t answer_bytes() const { return seen_; }

 private:
  Step feed_http(std::string_view data);
  Step complete(std::size_t used) {
    seen_ += used;
    return {Status::complete, used};
  }
  Step more(std::size_t used) {
    seen_ += used;
    return {Status::more, used};
  }

  const UntilSpec* spec_;
  std::size_t seen_ = 0;
  bool last_cr_ = false;  // crlf: the previous chunk ended in CR.
  std::string buffered_;  // regex: the answer so far; http: a head split over reads.
  enum class Part : std::uint8_t { head, length, chunked, until_close } part_ = Part::head;
  HttpHead head_;
  std::uint64_t body_left_ = 0;
  ChunkedBody chunked_;
};

class AnswerCollector {
 public:
  using Clock = std::chrono::steady_clock;
  struct Event {
    enum class Kind { answer, unsolicited } kind;
    std::string text;                 // Without the final line ending.
    std::chrono::nanoseconds rtt{0};  // Answers only: from expect() to completion.
    bool more = false;                // A piece handed out by spill(): more of it follows.
  };

  explicit AnswerCollector(UntilSpec spec) : spec_(std::move(spec)), framer_(spec_) {}
  AnswerCollector(const AnswerCollector& o) : AnswerCollector(o.spec_) {}
  AnswerCollector& operator=(const AnswerCollector& o) {
    spec_ = o.spec_;
    framer_ = AnswerFramer(spec_);
    waiting_ = o.waiting_, sent_ = o.sent_, last_data_ = o.last_data_, pending_ = o.pending_;
    return *this;
  }

  // A line was sent at `sent`: the data that follows is its answer (with --until none: nothing).
  void expect(Clock::time_point sent);
  bool waiting() const { return waiting_; }
  // Received bytes; complete answers and unsolicited lines are appended to out.
  void feed(std::string_view data, Clock::time_point now, std::vector<Event>& out);
  // Like feed(), but stops where the awaited answer ends: returns how many bytes of data it took.
  // A caller awaiting several answers (lines sent back to back) calls expect() for the next one
  // and feeds the rest, so that each answer goes to its own line whatever --until frames it by.
  std::size_t feed_answer(std::string_view data, Clock::time_point now, std::vector<Event>& out);
  // When the pending data becomes an event if nothing more arrives (idle answers, partial
  // unsolicited lines such as a "login: " prompt); nullopt when nothing is pending.
  std::optional<Clock::time_point> deadline() const;
  void tick(Clock::time_point now, std::vector<Event>& out);
  // The connection ended: whatever is pending becomes an event.
  void flush(Clock::time_point now, std::vector<Event>& out);

  // Bytes held for an answer or a line that has not ended yet.
  std::size_t pending_size() const { return pending_.size(); }
  // Hands out what is pending (at most `most` bytes of it, from the start) as a piece of the
  // answer or line in progress (Event::more), so that a caller can bound the memory a line that
  // never ends costs. Not while a bytes=N answer is awaited (its count is what is pending): bound
  // N instead.
  void spill(Clock::time_point now, std::vector<Event>& out, std::size_t most = SIZE_MAX);
  // Stops waiting for the answer (it is overdue); what arrived of it is handed out as unsolicited.
  void cancel(std::vector<Event>& out);

 private:
  void emit_unsolicited_lines(std::vector<Event>& out);
  void complete(std::size_t take, std::size_t skip, Clock::time_point now, std::vector<Event>& out);

  UntilSpec spec_;
  AnswerFramer framer_;  // Frames the awaited answer; looks at each received byte once.
  bool waiting_ = false;
  Clock::time_point sent_{}, last_data_{};
  std::string pending_;
};

}  // namespace parley
