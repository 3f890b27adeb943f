#include "talk_pipe.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "json_text.hpp"
#include "netcat.hpp"
#include "parley/errors.hpp"
#include "parley/framing.hpp"
#include "talk_format.hpp"

namespace parley::cmd {
namespace {

using Clock = TalkSession::Clock;

// A greeting banner comes first: the first line waits this long for it.
constexpr std::chrono::milliseconds kBannerWait{100};
// --until none awaits nothing: once the input is sent, the output is over when the server has
// been quiet this long (or --timeout has passed).
constexpr std::chrono::milliseconds kQuietAtEnd{1000};
constexpr std::size_t kInputRead = 64 * 1024;

int ms_until(Clock::time_point t) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, INT_MAX));
}

int min_timeout(int a, int b) {
  return a < 0 ? b : b < 0 ? a : std::min(a, b);
}

class PipeTalk {
 public:
  PipeTalk(TalkSession& s, int fd, const std::string& target, bool json)
      : s_(s),
        fd_(fd),
        target_(target),
        none_(s.config().until.kind == UntilSpec::Kind::none),
        json_(json) {}

  int run() {
    const auto banner_until = Clock::now() + kBannerWait;
    for (;;) {
      if (Clock::now() >= banner_until) {
        while (!s_.busy() && send_next()) {
        }
        if (failed_ >= 0) return failed_;
      }
      if (in_eof_ && buffered().empty() && !s_.busy()) {
        if (!none_) return finish();
        if (Clock::now() >= s_.last_received() + kQuietAtEnd || past_timeout()) return finish();
      }
      if (stdout_closed()) return kExitOk;
      pollfd fds[2] = {{want_input() ? fd_ : -1, POLLIN, 0}, {s_.fd(), s_.poll_events(), 0}};
      int timeout = s_.timeout_ms(-1);
      if (Clock::now() < banner_until) timeout = min_timeout(timeout, ms_until(banner_until));
      if (none_ && in_eof_)
        timeout = min_timeout(timeout, ms_until(s_.last_received() + kQuietAtEnd));
      if (::poll(fds, 2, timeout) < 0 && errno != EINTR) {
        say("talk: poll: {}", std::strerror(errno));
        return kExitUsage;
      }
      if (fds[1].revents && !s_.handle(fds[1].revents, events_, &why_)) {
        show();
        return closed();
      }
      if (fds[0].revents) read_input();
      if (!s_.tick(events_, &overdue_, &why_)) {
        show();
        say("send to {}: {}", target_, why_);
        return kExitNetwork;
      }
      show();
      if (!overdue_.empty()) {
        say("no answer to \"{}\" within {} ms", escape_bytes(overdue_.front(), 80),
            s_.config().timeout.count());
        return kExitNetwork;
      }
    }
  }

 private:
  std::string_view buffered() const { return std::string_view(in_).substr(pos_); }

  bool want_input() const {
    auto b = buffered();
    return !in_eof_ && b.size() < kTalkPiece && b.find('\n') == std::string_view::npos;
  }

  bool past_timeout() const {
    auto t = s_.config().timeout;
    return t.count() > 0 && Clock::now() >= eof_at_ + t;
  }

  // Sends the next line (or piece of a long one) if there is one. False: nothing to send.
  bool send_next() {
    auto b = buffered();
    auto nl = b.find('\n');
    if (nl == std::string_view::npos && b.size() >= kTalkPiece) {
      auto piece = b.substr(0, kTalkPiece);
      show_sent(piece, true);
      s_.send_piece(piece);
      pos_ += piece.size();
      return true;
    }
    if (nl == std::string_view::npos && !(in_eof_ && !b.empty())) return false;
    auto line = b.substr(0, nl);  // At the end of the input, the last line needs no LF.
    pos_ += nl == std::string_view::npos ? b.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    show_sent(line, false);
    if (auto ec = s_.send_line(line)) {
      if (ec == std::errc::message_size)
        say("send to {}: a line of {} bytes does not fit in a datagram", target_, line.size());
      else
        say("send to {}: {}", target_, describe(ec));
      failed_ = exit_code_for(ec);
      return false;
    }
    return true;
  }

  void read_input() {
    if (pos_ > 0) {
      in_.erase(0, pos_);
      pos_ = 0;
    }
    const std::size_t before = in_.size();
    in_.resize(before + kInputRead);
    ssize_t n = ::read(fd_, in_.data() + before, kInputRead);
    in_.resize(before + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN))) return;
    if (n < 0) say("talk: cannot read the input: {}", std::strerror(errno));
    in_eof_ = true;
    eof_at_ = Clock::now();
  }

  // Whether input is known to be left over (buffered, or readable right now).
  bool input_left() {
    if (!buffered().empty()) return true;
    if (in_eof_) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return false;
    read_input();
    return !buffered().empty();
  }

  // A line (or piece) about to be sent. In JSON a line is shown with its answer; a piece with
  // more to follow, or any line with --until none, is an object of its own.
  void show_sent(std::string_view line, bool more) {
    if (!json_) {
      out("{}\n", transcript_.sent(line, more));
      return;
    }
    if (!more) sent_.assign(line);
    if (!none_ && !more) return;
    nlohmann::ordered_json j;
    put_text(j, "sent", line);
    if (more) j["more"] = true;
    out_text(json_line(j));
  }

  void show() {
    for (const auto& e : events_) {
      if (!json_) {
        for (const auto& line : transcript_.received(e)) out("{}\n", line);
        continue;
      }
      nlohmann::ordered_json j;
      if (e.kind == AnswerCollector::Event::Kind::answer) {
        // The line goes with the answer's last piece: a long line's end may not be sent yet.
        if (!e.more) put_text(j, "sent", sent_);
        put_text(j, "answer", e.text);
        j["rtt_ms"] = e.more ? nlohmann::ordered_json() : nlohmann::ordered_json(rtt_ms(e.rtt));
      } else {
        put_text(j, "unsolicited", e.text);
      }
      if (e.more) j["more"] = true;
      out_text(json_line(j));
    }
    events_.clear();
  }

  static double rtt_ms(std::chrono::nanoseconds d) {
    return std::round(std::chrono::duration<double, std::milli>(d).count() * 1000) / 1000;
  }

  int finish() {
    s_.flush(events_);
    show();
    return kExitOk;
  }

  // The connection ended; whether that was all right depends on what was left to do.
  int closed() {
    if (why_ != "closed by the server") {
      say("connection to {}: {}", target_, why_);
      return kExitNetwork;
    }
    if (s_.awaited() > 0) {
      say("connection closed by the server before the answer to \"{}\"",
          escape_bytes(s_.awaited_line(), 80));
      return kExitNetwork;
    }
    if (s_.unsent() > 0 || input_left()) {
      say("connection closed by the server; the rest of the input was not sent");
      return kExitNetwork;
    }
    say("connection closed by the server");
    return kExitOk;
  }

  TalkSession& s_;
  int fd_;
  const std::string& target_;
  const bool none_;
  const bool json_;
  std::string sent_;  // JSON: the last line (or piece) sent, for its answer's object.
  std::string in_;
  std::size_t pos_ = 0;
  bool in_eof_ = false;
  Clock::time_point eof_at_{};
  Transcript transcript_;
  std::vector<TalkSession::Event> events_;
  std::vector<std::string> overdue_;
  std::string why_;
  int failed_ = -1;
};

}  // namespace

int run_pipe(TalkSession& session, int input_fd, const std::string& target, bool json) {
  return PipeTalk(session, input_fd, target, json).run();
}

}  // namespace parley::cmd
