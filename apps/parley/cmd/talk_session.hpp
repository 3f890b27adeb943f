#pragma once
// One `parley talk` connection: connect (Happy Eyeballs), send lines, collect answers per
// --until, keep the round-trip statistics. Used by both the script mode and the terminal mode.

#include <chrono>
#include <string>
#include <vector>

#include "parley/answers.hpp"
#include "parley/endpoint.hpp"
#include "parley/fd.hpp"

namespace parley::cmd {

struct TalkTarget {
  HostPort where;
  Family family = Family::any;
  bool numeric = false;
  std::chrono::milliseconds connect_timeout{10'000};
};

class TalkSession {
 public:
  using Clock = std::chrono::steady_clock;
  using Event = AnswerCollector::Event;

  TalkSession(TalkTarget target, UntilSpec until, std::string eol)
      : target_(std::move(target)), until_(until), collector_(until), eol_(std::move(eol)) {}

  // Connects; on failure returns the error (the caller prints it).
  std::error_code connect();
  bool connected() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }
  std::string peer() const { return peer_; }
  // Sends one line with the chosen line ending and starts waiting for its answer.
  std::error_code send_line(const std::string& line);
  // Reads what is there; returns false when the connection ended (reason in *why).
  bool read(std::vector<Event>& out, std::string* why);
  void tick(std::vector<Event>& out) { collector_.tick(Clock::now(), out); }
  // Milliseconds until tick() has work (-1: none), capped by `cap`.
  int timeout_ms(int cap) const;
  bool waiting() const { return collector_.waiting(); }
  Clock::time_point sent_at() const { return sent_at_; }
  void give_up_waiting() { collector_ = AnswerCollector(until_); }
  void record(const Event& e);
  std::string stats() const;  // "3 lines sent, 3 answers, round trip mean 0.25 ms, worst 0.40 ms"
  bool all_answered() const { return answers_ >= sent_ || until_.kind == UntilSpec::Kind::none; }

 private:
  TalkTarget target_;
  UntilSpec until_;
  AnswerCollector collector_;
  std::string eol_;
  Fd fd_;
  std::string peer_;
  Clock::time_point sent_at_{};
  std::uint64_t sent_ = 0, answers_ = 0;
  std::chrono::nanoseconds rtt_sum_{0}, rtt_max_{0};
};

// One transcript line per answer line: "< text  0.21 ms" (answers), "* text" (unsolicited).
std::vector<std::string> transcript(const AnswerCollector::Event& e);

}  // namespace parley::cmd
