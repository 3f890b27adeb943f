#include "parley/answers.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

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

Result<UntilSpec> parse_until(std::string_view text, std::string* why) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  UntilSpec s;
  if (text == "newline") return s;
  if (text == "crlf" || text == "http") {
    s.kind = text == "crlf" ? UntilSpec::Kind::crlf : UntilSpec::Kind::http;
    return s;
  }
  if (text.rfind("regex=", 0) == 0) {
    auto re = Regex::compile(text.substr(6), why);
    if (!re) return re.error();
    s.kind = UntilSpec::Kind::regex;
    s.regex = std::move(*re);
    return s;
  }
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

AnswerFramer::AnswerFramer(const UntilSpec& spec) : spec_(&spec) {}

void AnswerFramer::reset() {
  seen_ = 0;
  last_cr_ = false;
  buffered_.clear();
  part_ = Part::head;
  chunked_ = ChunkedBody{};
}

AnswerFramer::Step AnswerFramer::feed(std::string_view data) {
  using Kind = UntilSpec::Kind;
  switch (spec_->kind) {
    case Kind::newline: {
      const void* nl = std::memchr(data.data(), '\n', data.size());
      if (nl == nullptr) return more(data.size());
      return complete(static_cast<std::size_t>(static_cast<const char*>(nl) - data.data()) + 1);
    }
    case Kind::crlf: {
      if (last_cr_ && !data.empty() && data[0] == '\n') return complete(1);
      for (std::size_t at = 0; at < data.size();) {
        const void* nl = std::memchr(data.data() + at, '\n', data.size() - at);
        if (nl == nullptr) break;
        auto i = static_cast<std::size_t>(static_cast<const char*>(nl) - data.data());
        if (i > 0 && data[i - 1] == '\r') return complete(i + 1);
        at = i + 1;
      }
      last_cr_ = !data.empty() && data.back() == '\r';
      return more(data.size());
    }
    case Kind::bytes: {
      std::size_t want = spec_->bytes - seen_;
      if (data.size() >= want) return complete(want);
      return more(data.size());
    }
    case Kind::regex: {
      const std::size_t before = buffered_.size();
      if (before + data.size() > kMaxBuffered) return {Status::malformed, 0};
      buffered_.append(data);
      auto m = spec_->regex->search(buffered_);
      if (!m) return more(data.size());
      buffered_.clear();
      return complete(std::max(m->second, before) - before);
    }
    case Kind::http:
      return feed_http(data);
    case Kind::idle:
      return more(data.size());
    case Kind::none:
      return complete(0);
  }
  return more(data.size());
}

// One response: the head (parsed in place when it arrives whole, which is the usual case; kept
// and parsed again when it is split over reads), then the body as the head delimits it.
AnswerFramer::Step AnswerFramer::feed_http(std::string_view data) {
  std::size_t used = 0;
  while (part_ == Part::head) {
    std::string_view rest = data.substr(used);
    if (rest.empty()) return more(used);
    std::string_view head = rest;
    const std::size_t before = buffered_.size();
    if (before > 0) {
      buffered_.append(rest.substr(0, std::min(rest.size(), kMaxHead + 1 - before)));
      head = buffered_;
    }
    HeadParse p = parse_response_head(head, spec_->head_request, head_);
    if (p == HeadParse::malformed) return {Status::malformed, used};
    if (p == HeadParse::incomplete) {
      if (head.size() > kMaxHead) return {Status::malformed, used};
      if (before == 0) buffered_.assign(rest);
      return more(data.size());
    }
    used += head_.head_length - before;
    buffered_.clear();
    // An interim response (100 Continue, 103 Early Hints) precedes the real one.
    if (head_.status < 200 && head_.status != 101) continue;
    switch (head_.body) {
      case HttpHead::Body::none:
        return complete(used);
      case HttpHead::Body::length:
        part_ = Part::length, body_left_ = head_.content_length;
        break;
      case HttpHead::Body::chunked:
        part_ = Part::chunked;
        break;
      case HttpHead::Body::until_close:
        part_ = Part::until_close;
        break;
    }
  }
  std::string_view rest = data.substr(used);
  switch (part_) {
    case Part::length: {
      if (rest.size() >= body_left_) return complete(used + static_cast<std::size_t>(body_left_));
      body_left_ -= rest.size();
      return more(data.size());
    }
    case Part::chunked: {
      used += chunked_.feed(rest);
      if (chunked_.failed()) return {Status::malformed, used};
      return chunked_.done() ? complete(used) : more(used);
    }
    default:
      return more(data.size());
  }
}

bool AnswerFramer::complete_at_eof() const {
  if (spec_->kind == UntilSpec::Kind::http) return part_ == Part::until_close;
  return spec_->kind == UntilSpec::Kind::idle && seen_ > 0;
}

void AnswerCollector::expect(Clock::time_point sent) {
  if (spec_.kind == UntilSpec::Kind::none) return;
  waiting_ = true;
  sent_ = sent;
  // A partial unsolicited line already received (a prompt) starts the answer, as it always has.
  framer_.reset();
  framer_.feed(pending_);
}

void AnswerCollector::complete(std::size_t take, std::size_t skip, Clock::time_point now,
                               std::vector<Event>& out) {
  out.push_back({Event::Kind::answer,
                 std::string(strip_eol(std::string_view(pending_).substr(0, take))), now - sent_});
  pending_.erase(0, take + skip);
  waiting_ = false;
}

std::size_t AnswerCollector::feed_answer(std::string_view data, Clock::time_point now,
                                         std::vector<Event>& out) {
  if (!waiting_) {
    feed(data, now, out);
    return data.size();
  }
  last_data_ = now;
  // Only the new bytes are looked at: a long answer is never scanned again on every read.
  auto step = framer_.feed(data);
  if (step.status == AnswerFramer::Status::more) {
    pending_.append(data);
    return data.size();  // Still collecting this answer (idle answers end in tick()).
  }
  std::size_t take = step.status == AnswerFramer::Status::complete ? step.used : data.size();
  pending_.append(data.substr(0, take));
  complete(pending_.size(), 0, now, out);
  return take;
}

void AnswerCollector::feed(std::string_view data, Clock::time_point now, std::vector<Event>& out) {
  if (waiting_) {
    data.remove_prefix(feed_answer(data, now, out));
    if (waiting_) return;
  }
  last_data_ = now;
  pending_.append(data);
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

void AnswerCollector::spill(Clock::time_point now, std::vector<Event>& out, std::size_t most) {
  if (pending_.empty() || (waiting_ && spec_.kind == UntilSpec::Kind::bytes)) return;
  const std::size_t n = std::min(most, pending_.size());
  Event e{waiting_ ? Event::Kind::answer : Event::Kind::unsolicited, pending_.substr(0, n), {}};
  if (waiting_) e.rtt = now - sent_;
  e.more = true;
  out.push_back(std::move(e));
  pending_.erase(0, n);  // The framer has seen these bytes already: it counts on, unchanged.
}

void AnswerCollector::cancel(std::vector<Event>& out) {
  waiting_ = false;
  if (pending_.empty()) return;
  out.push_back({Event::Kind::unsolicited, std::move(pending_), {}});
  pending_.clear();
}

}  // namespace parley
