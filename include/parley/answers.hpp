#pragma once
// What counts as the server's answer to one line (`parley talk --until`), so that an answer split
// over several TCP segments is never cut and two messages in one segment are never merged.
// Everything that arrives while no answer is awaited is "unsolicited" (a banner, a chat message).
// Not thread-safe; one per connection.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/result.hpp"

namespace parley {

struct UntilSpec {
  enum class Kind { newline, idle, bytes, none } kind = Kind::newline;
  std::chrono::milliseconds idle{200};
  std::size_t bytes = 0;
};

// "newline", "idle=200ms", "idle" (200 ms), "bytes=N", "none". Errors: invalid_argument.
Result<UntilSpec> parse_until(std::string_view text);

class AnswerCollector {
 public:
  using Clock = std::chrono::steady_clock;
  struct Event {
    enum class Kind { answer, unsolicited } kind;
    std::string text;                 // Without the final line ending.
    std::chrono::nanoseconds rtt{0};  // Answers only: from expect() to completion.
    bool more = false;                // A piece handed out by spill(): more of it follows.
  };

  explicit AnswerCollector(UntilSpec spec) : spec_(spec) {}

  // A line was sent at `sent`: the data that follows is its answer (with --until none: nothing).
  void expect(Clock::time_point sent);
  bool waiting() const { return waiting_; }
  // Received bytes; complete answers and unsolicited lines are appended to out.
  void feed(std::string_view data, Clock::time_point now, std::vector<Event>& out);
  // When the pending data becomes an event if nothing more arrives (idle answers, partial
  // unsolicited lines such as a "login: " prompt); nullopt when nothing is pending.
  std::optional<Clock::time_point> deadline() const;
  void tick(Clock::time_point now, std::vector<Event>& out);
  // The connection ended: whatever is pending becomes an event.
  void flush(Clock::time_point now, std::vector<Event>& out);

  // Bytes held for an answer or a line that has not ended yet.
  std::size_t pending_size() const { return pending_.size(); }
  // Hands out what is pending as a piece of the answer or line in progress (Event::more), so that
  // a caller can bound the memory a line that never ends costs. Not while a bytes=N answer is
  // awaited (its count is what is pending): bound N instead.
  void spill(Clock::time_point now, std::vector<Event>& out);
  // Stops waiting for the answer (it is overdue); what arrived of it is handed out as unsolicited.
  void cancel(std::vector<Event>& out);

 private:
  void emit_unsolicited_lines(std::vector<Event>& out);
  void complete(std::size_t take, std::size_t skip, Clock::time_point now, std::vector<Event>& out);

  UntilSpec spec_;
  bool waiting_ = false;
  Clock::time_point sent_{}, last_data_{};
  std::string pending_;
};

}  // namespace parley
