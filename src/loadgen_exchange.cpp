// The load-generator worker's exchanges: requests out (the pattern, a template, an HTTP request;
// pipelined or not), answers in (framed by the shared AnswerFramer), and what is checked on them.

#include <sys/socket.h>

#include <cstring>

#include "loadgen_internal.hpp"

namespace parley::load {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::size_t kMaxAnswer = 1 << 20;  // Bytes of one answer kept for checking.
constexpr std::size_t kMaxSamples = 3;       // Mismatches described in words.
constexpr std::size_t kSampleBytes = 60;

std::string_view strip_eol(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

std::string quoted(std::string_view bytes) {
  return "'" + escape_bytes(bytes, kSampleBytes) + "'";
}

}  // namespace

}  // namespace parley::load

namespace parley {

bool Expectation::matches(std::string_view answer) const {
  if (regex) return regex->found_in(answer);
  return load::strip_eol(answer) == load::strip_eol(text);
}

std::string Expectation::describe() const {
  return regex ? "a match of the regex" : load::quoted(text);
}

}  // namespace parley

namespace parley::load {

// Queues k requests (sent at t, for latency) and writes what the socket takes.
void Worker::send_requests(Conn& c, unsigned k, std::int64_t t) {
  const unsigned depth = config_.pipeline;
  for (unsigned i = 0; i < k; ++i) c.sent_at[(c.sent_head + c.inflight + i) % depth] = t;
  if (c.inflight == 0) c.deadline = now_ + config_.timeout.count() * kMs;
  c.inflight += k;
  const bool idle = c.out_off >= c.out_len;
  if (!config_.message && k == 1 && idle) {
    c.out_ptr = nullptr;  // The pattern itself, no copy.
    c.out_off = 0, c.out_len = config_.size;
  } else if (config_.message && config_.message->constant() && idle) {
    c.out_ptr = shared_.batch.data();  // k copies of the request, prepared once.
    c.out_off = 0, c.out_len = k * (shared_.batch.size() / depth);
  } else {
    // A template, a batch of the pattern, or more requests while a write is still under way:
    // the bytes still to go move to the connection's own buffer, the new requests after them.
    std::string rest;
    if (!idle) {
      if (c.out_ptr != nullptr) {
        rest.assign(c.out_ptr + c.out_off, c.out_len - c.out_off);
      } else {
        for (std::size_t at = c.out_off; at < c.out_len; at += kPattern)
          rest.append(pattern_ + at % kPattern, std::min(kPattern, c.out_len - at));
      }
    }
    c.out = std::move(rest);
    for (unsigned i = 0; i < k; ++i) {
      if (!config_.message) {
        for (std::size_t at = 0; at < config_.size; at += kPattern)
          c.out.append(pattern_ + at % kPattern, std::min(kPattern, config_.size - at));
      } else {
        config_.message->render(c.out, ++c.requests, c.id + 1, c.rng);
      }
    }
    c.out_ptr = c.out.data();
    c.out_off = 0, c.out_len = c.out.size();
  }
  write_some(c);
}

// Writes what is left of the current requests.
void Worker::write_some(Conn& c) {
  const char* at = c.out_ptr ? c.out_ptr + c.out_off : pattern_ + (c.out_off % kPattern);
  std::size_t left = c.out_len - c.out_off;
  if (!c.out_ptr) left = std::min(left, kPattern);
  ssize_t w = put(c, at, left);
  if (w == -2) return;  // A TLS failure: the connection failed already.
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR) return interest(c, true);
    return fail(c, kind_of(errno), errno);
  }
  counters_.bytes_sent.add(static_cast<std::uint64_t>(w));
  c.out_off += static_cast<std::size_t>(w);
  interest(c, c.out_off < c.out_len);
}

// Stream mode: keep the pipe full (or, paced, send what the budget allows).
void Worker::write_stream(Conn& c) {
  const bool paced = interval_ns_ > 0;
  if (paced && c.stream_budget == 0) return interest(c, false);
  ssize_t w;
  if (config_.udp) {
    stamp_datagram(c);
    w = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  } else {
    std::size_t len = paced ? std::min<std::uint64_t>(c.stream_budget, kPattern) : config_.size;
    w = put(c, pattern_ + c.stream_out % kPattern, std::min(len, kPattern));
    if (w == -2) return;
  }
  if (w < 0) {
    if (errno == EAGAIN || errno == EINTR || (config_.udp && errno == ENOBUFS))
      return interest(c, true);
    return fail(c, kind_of(errno), errno);
  }
  counters_.bytes_sent.add(static_cast<std::uint64_t>(w));
  c.stream_out += static_cast<std::uint64_t>(w);
  if (config_.udp) ++datagrams_.sent;
  if (paced) c.stream_budget -= config_.udp ? 1 : static_cast<std::uint64_t>(w);
  interest(c, !paced || c.stream_budget > 0);
}

void Worker::on_readable(Conn& c, int flags) {
  const int fd = c.fd;
  read_once(c, flags);
  // A TLS session may hold more decrypted input than one read took; epoll cannot see it.
  for (int i = 0; i < 64 && c.tls && c.fd == fd && c.tls->buffered(); ++i) read_once(c, flags);
}

void Worker::read_once(Conn& c, int flags) {
  ssize_t n = get(c, buffer_.get(), (256 << 10), flags);
  if (n == -2) return;              // A TLS failure: the connection failed already.
  if (flags == 0) now_ = now_ns();  // The wait happened in recv, not in epoll_wait.
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return fail(c, kind_of(errno), errno);
  }
  if (config_.udp) return on_datagram(c, static_cast<std::size_t>(n));
  if (n == 0) return on_eof(c);
  auto got = static_cast<std::size_t>(n);
  counters_.bytes_received.add(got);
  if (config_.mode == BenchMode::stream) {
    if (config_.verify && !matches(buffer_.get(), got, c.stream_in))
      mismatch("stream bytes differ from what was sent");
    c.stream_in += got;
    return;
  }
  if (config_.mode == BenchMode::hold) return on_unasked(c, buffer_.get(), got);
  unsigned done = 0;
  if (take_answers(c, buffer_.get(), got, &done) && done > 0) after_answers(c, done);
}

// Frames the received bytes into answers; false when the connection failed on the way.
bool Worker::take_answers(Conn& c, const char* data, std::size_t n, unsigned* done) {
  while (n > 0) {
    if (c.inflight == 0 && !c.greeting) {
      on_unasked(c, data, n);
      mismatch("data nobody asked for: " + quoted({data, n}));
      return true;
    }
    auto step = c.framer->feed({data, n});
    if (step.status == AnswerFramer::Status::malformed) {
      if (mismatches_.size() < kMaxSamples)
        mismatches_.push_back("malformed answer: " + quoted(c.answer + std::string(data, n)));
      fail(c, ErrorKind::malformed);
      return false;
    }
    if (config_.verify && !config_.message && !c.greeting && !matches(data, step.used, c.in_got))
      c.answer_bad = true;
    if (keep_answer_ && c.answer.size() < kMaxAnswer)
      c.answer.append(data, std::min(step.used, kMaxAnswer - c.answer.size()));
    c.in_got += step.used;
    data += step.used, n -= step.used;
    if (config_.until.kind == UntilSpec::Kind::idle && step.used > 0) {
      c.last_data = now_;  // The answer ends when the server has been quiet long enough.
      if (!c.quiet_armed) {
        c.quiet_armed = true;
        timers_.push({now_ + config_.until.idle.count() * kMs, index_of(c), Timer::quiet});
      }
    }
    if (step.status != AnswerFramer::Status::complete) continue;
    c.framer->reset();
    if (c.greeting) {
      c.greeting = false;
      if (config_.greeting_expect && !config_.greeting_expect->matches(c.answer))
        mismatch("greeting: expected " + config_.greeting_expect->describe() + ", got " +
                 quoted(c.answer));
      c.answer.clear(), c.in_got = 0;
      begin(c);
      if (c.fd < 0) return false;
      continue;
    }
    answer_complete(c);
    ++*done;
  }
  return true;
}

// One answer is in: its latency (from its request's send time) and its checks.
void Worker::answer_complete(Conn& c) {
  const std::int64_t sent = c.sent_at[c.sent_head];
  c.sent_head = (c.sent_head + 1) % config_.pipeline;
  --c.inflight;
  if (c.inflight > 0) c.deadline = now_ + config_.timeout.count() * kMs;
  latencies_.push_back(static_cast<std::uint64_t>(std::max<std::int64_t>(0, now_ - sent)));
  std::string_view answer = c.answer;
  if (config_.mode == BenchMode::http) {
    const HttpHead& head = c.framer->http();
    ++status_[static_cast<std::size_t>(std::min(head.status, 599))];
    if (head.status < 200 || head.status > 299) {
      counters_.errors.add(1);
      counters_.by_kind[static_cast<int>(ErrorKind::non_2xx)].add(1);
    }
    if (head.close) c.closing = true;
    answer.remove_prefix(std::min(answer.size(), head.head_length));  // --expect: the body.
    if (head.body == HttpHead::Body::chunked && keep_answer_) {
      c.out_body = dechunk(answer);
      answer = c.out_body;
    }
  }
  if (config_.expect && !config_.expect->matches(answer))
    mismatch("expected " + config_.expect->describe() + ", got " + quoted(answer));
  if (config_.verify && config_.message) {
    std::string_view sent_text =
        config_.message->constant() ? std::string_view(shared_.batch).substr(0, shared_.request_len)
                                    : std::string_view(c.out);
    if (c.answer != sent_text)
      mismatch("expected the echo " + quoted(sent_text) + ", got " + quoted(c.answer));
  }
  if (c.answer_bad) mismatch("answer bytes differ from what was sent");
  c.answer.clear(), c.in_got = 0, c.answer_bad = false;
}

// After a read's answers: the next requests go out first (in a closed loop everything between a
// read and the next write is on the measured path), then the bookkeeping.
void Worker::after_answers(Conn& c, unsigned done) {
  if (c.closing) {  // Connection: close -- the server ends it; a new one takes its place.
    for (auto l : latencies_) count_round_trip(l);
    latencies_.clear();
    close(c);
    return open(c);
  }
  if (config_.mode != BenchMode::connect && interval_ns_ == 0) {
    if (solo_) {
      send_requests(c, done, now_);
    } else {
      // The next requests go out after every event of this wait is handled, all together, as
      // wrk's loop does: the server then finds many requests per wakeup (measured against
      // HAProxy: ~9% more requests/s from the same server core than sending at once).
      if (c.owed == 0) owed_.push_back(index_of(c));
      c.owed += done;
    }
    for (auto l : latencies_) count_round_trip(l);
    latencies_.clear();
    return;
  }
  for (auto l : latencies_) count_round_trip(l);
  latencies_.clear();
  if (config_.mode == BenchMode::connect) {
    close(c);
    if (interval_ns_ > 0)
      reopen_later(c, std::max<std::int64_t>(0, c.cycle_start + interval_ns_ - now_));
    else
      open(c);
    return;
  }
  // Fixed rate: the next request is due at its intended time. If that has already passed, it
  // goes now -- and its latency still counts from the intended time (no coordinated omission).
  c.next_intended += interval_ns_;
  if (c.next_intended <= now_) return send_requests(c, 1, c.next_intended);
  timers_.push({c.next_intended, index_of(c), Timer::send});
}

// The server closed. That ends an HTTP body delimited by the close (an answer, then a new
// connection); anything else the server did not finish is an error.
void Worker::on_eof(Conn& c) {
  if (c.inflight > 0 && !c.greeting && c.framer->complete_at_eof()) {
    answer_complete(c);
    c.closing = true;
    return after_answers(c, 1);
  }
  fail(c, ErrorKind::closed_early);
}

// --until idle: the server has been quiet since the answer's last bytes, or it has not yet.
void Worker::on_quiet(Conn& c) {
  if (c.inflight == 0 || c.in_got == 0) return;
  const std::int64_t due = c.last_data + config_.until.idle.count() * kMs;
  if (now_ < due) {
    c.quiet_armed = true;
    timers_.push({due, index_of(c), Timer::quiet});
    return;
  }
  // The answer was complete when its last bytes came; the quiet wait is not the server's time.
  const std::int64_t now = now_;
  now_ = c.last_data;
  c.framer->reset();
  if (c.greeting) {
    c.greeting = false;
    c.answer.clear(), c.in_got = 0;
    now_ = now;
    return begin(c);
  }
  answer_complete(c);
  now_ = now;
  after_answers(c, 1);
}

// One datagram (possibly empty) came back: it is a whole answer, or a mismatch.
void Worker::on_datagram(Conn& c, std::size_t got) {
  counters_.bytes_received.add(got);
  const char* data = buffer_.get();
  if (config_.mode == BenchMode::stream) return on_stream_datagram(c, data, got);
  if (c.inflight == 0) {
    on_unasked(c, data, got);
    return mismatch("a datagram nobody asked for: " + quoted({data, got}));
  }
  // The pattern's echo must be the message itself; a line server may answer with any length.
  if (!config_.message && !config_.lines && got != config_.size) {
    mismatch(fmt_size(got));
    return fail(c, ErrorKind::mismatch);
  }
  if (config_.verify && !config_.message && !matches(data, got, 0)) c.answer_bad = true;
  if (keep_answer_) c.answer.assign(data, got);
  answer_complete(c);
  after_answers(c, 1);
}

std::string Worker::fmt_size(std::size_t got) const {
  return "a datagram of " + std::to_string(got) + " bytes for a " + std::to_string(config_.size) +
         "-byte request";
}

// Bytes the server sent unasked: a greeting, a "server full" line before it closes. Kept (the
// first ones) for the report.
void Worker::on_unasked(Conn& c, const char* data, std::size_t n) {
  (void)c;
  if (unasked_.empty()) unasked_ = escape_bytes({data, n}, kSampleBytes);
}

void Worker::count_round_trip(std::uint64_t latency) {
  latency_.record(latency);
  if (coalesce_) coalescer_.observe(latency);
  if (next_interval_ != INT64_MAX) interval_latency_.record(latency);
  counters_.round_trips.add(1);
  if (steady_start_ != 0) ++steady_round_trips_;
  if (config_.count > 0 && measuring_.load(std::memory_order_relaxed) &&
      shared_.completed.fetch_add(1, std::memory_order_relaxed) + 1 >= config_.count)
    shared_.stop.store(true, std::memory_order_relaxed);
}

bool Worker::matches(const char* data, std::size_t n, std::uint64_t offset) const {
  while (n > 0) {
    std::size_t at = offset % kPattern, len = std::min(n, kPattern);
    if (std::memcmp(data, pattern_ + at, len) != 0) return false;
    data += len;
    n -= len;
    offset += len;
  }
  return true;
}

void Worker::mismatch(std::string why) {
  counters_.errors.add(1);
  counters_.by_kind[static_cast<int>(ErrorKind::mismatch)].add(1);
  if (mismatches_.size() < kMaxSamples && !why.empty()) mismatches_.push_back(std::move(why));
}

}  // namespace parley::load
