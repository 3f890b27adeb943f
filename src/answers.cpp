#include "parley/answers.hpp"

#include <algorithm>
#include <charconv>

#include "parley/duration.hpp"

namespace parley {
namespace {

// A partial unsolicited line is shown after this much quiet (a prompt that ends without LF).
constexpr std::chrono::milliseconds kPartialLineQuiet{100};

std::string_view strip_eol(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

}  // namespace

Result<UntilSpec> parse_until(std::string_view text) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  UntilSpec s;
  if (text == "newline") return s;
  if (text == "none") {
    s.kind = UntilSpec::Kind::none;
    return s;
  }
  if (text == "idle") {
    s.kind = UntilSpec::Kind::idle;
    return s;
  }
  if (text.rfind("idle=", 0) == 0) {
    auto d = parse_duration(text.substr(5));
    if (!d || d->count() <= 0) return invalid;
    s.kind = UntilSpec::Kind::idle;
    s.idle = *d;
    return s;
  }
  if (text.rfind("bytes=", 0) == 0) {
    auto n = text.substr(6);
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), s.bytes);
    if (ec != std::errc() || p != n.data() + n.size() || s.bytes == 0) return invalid;
    s.kind = UntilSpec::Kind::bytes;
    return s;
  }
  return invalid;
}

void AnswerCollector::expect(Clock::time_point sent) {
  if (spec_.kind == UntilSpec::Kind::none) return;
  waiting_ = true;
  sent_ = sent;
}

void AnswerCollector::complete(std::size_t take, std::size_t skip, Clock::time_point now,
                               std::vector<Event>& out) {
  out.push_back({Event::Kind::answer,
                 std::string(strip_eol(std::string_view(pending_).substr(0, take))), now - sent_});
  pending_.erase(0, take + skip);
  waiting_ = false;
}

void AnswerCollector::feed(std::string_view data, Clock::time_point now, std::vector<Event>& out) {
  pending_.append(data);
  last_data_ = now;
  if (waiting_) {
    if (spec_.kind == UntilSpec::Kind::newline) {
      auto nl = pending_.find('\n');
      if (nl != std::string::npos) complete(nl + 1, 0, now, out);
    } else if (spec_.kind == UntilSpec::Kind::bytes && pending_.size() >= spec_.bytes) {
      complete(spec_.bytes, 0, now, out);
    }
    if (waiting_) return;  // Still collecting this answer (idle answers end in tick()).
  }
  emit_unsolicited_lines(out);
}

void AnswerCollector::emit_unsolicited_lines(std::vector<Event>& out) {
  std::size_t nl;
  while ((nl = pending_.find('\n')) != std::string::npos) {
    out.push_back({Event::Kind::unsolicited,
                   std::string(strip_eol(std::string_view(pending_).substr(0, nl + 1))),
                   {}});
    pending_.erase(0, nl + 1);
  }
}

std::optional<AnswerCollector::Clock::time_point> AnswerCollector::deadline() const {
  if (pending_.empty()) return std::nullopt;
  if (waiting_) {
    // Quiet since the line was sent, not only since the last byte: a prompt that arrived before
    // the line (it starts the answer) must not end the answer before the server could reply.
    if (spec_.kind == UntilSpec::Kind::idle) return std::max(last_data_, sent_) + spec_.idle;
    return std::nullopt;
  }
  return last_data_ + kPartialLineQuiet;
}

void AnswerCollector::tick(Clock::time_point now, std::vector<Event>& out) {
  auto due = deadline();
  if (!due || now < *due) return;
  if (waiting_) {
    // The server has been quiet for the idle time: everything so far is the answer.
    out.push_back({Event::Kind::answer, std::string(strip_eol(pending_)),
                   std::max(last_data_, sent_) - sent_});
    pending_.clear();
    waiting_ = false;
    return;
  }
  out.push_back({Event::Kind::unsolicited, pending_, {}});
  pending_.clear();
}

void AnswerCollector::flush(Clock::time_point now, std::vector<Event>& out) {
  if (pending_.empty()) return;
  if (waiting_) {
    complete(pending_.size(), 0, now, out);
    return;
  }
  out.push_back({Event::Kind::unsolicited, pending_, {}});
  pending_.clear();
}

}  // namespace parley
