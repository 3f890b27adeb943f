#include "talk_session.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "parley/connector.hpp"
#include "parley/framing.hpp"

namespace parley::cmd {
namespace {

std::string ms_text(std::chrono::nanoseconds d) {
  return fmt::format("{:.2f} ms", std::chrono::duration<double, std::milli>(d).count());
}

}  // namespace

std::error_code TalkSession::connect() {
  auto addresses = resolve(target_.where.host, target_.where.port,
                           {target_.family, target_.numeric, SOCK_STREAM, false});
  if (!addresses) return addresses.error();
  ConnectOptions co;
  co.timeout = target_.connect_timeout;
  auto c = connect_any(*addresses, co);
  if (!c) return c.error();
  fd_ = std::move(c->fd);
  peer_ = c->peer.to_string();
  collector_ = AnswerCollector(until_);
  return {};
}

std::error_code TalkSession::send_line(const std::string& line) {
  std::string data = line + eol_;
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      // The server is not reading and its buffers are full: wait for room, without spinning.
      pollfd p{fd_.get(), POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    if (w < 0) return {errno, std::system_category()};
    done += static_cast<std::size_t>(w);
  }
  sent_at_ = Clock::now();
  ++sent_;
  collector_.expect(sent_at_);
  return {};
}

bool TalkSession::read(std::vector<Event>& out, std::string* why) {
  char buf[65536];
  ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), MSG_DONTWAIT);
  if (n > 0) {
    collector_.feed({buf, static_cast<std::size_t>(n)}, Clock::now(), out);
    return true;
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  collector_.flush(Clock::now(), out);
  *why = n == 0 ? "closed by the server" : std::string(std::strerror(errno));
  fd_.reset();
  return false;
}

int TalkSession::timeout_ms(int cap) const {
  auto due = collector_.deadline();
  if (!due) return cap;
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(*due - Clock::now()).count();
  ms = std::max<long long>(0, ms);
  return cap < 0 ? static_cast<int>(ms) : static_cast<int>(std::min<long long>(ms, cap));
}

void TalkSession::record(const Event& e) {
  if (e.kind != Event::Kind::answer) return;
  ++answers_;
  rtt_sum_ += e.rtt;
  rtt_max_ = std::max(rtt_max_, e.rtt);
}

std::string TalkSession::stats() const {
  std::string s = fmt::format("{} line{} sent, {} answer{}", sent_, sent_ == 1 ? "" : "s", answers_,
                              answers_ == 1 ? "" : "s");
  if (answers_ > 0) {
    s += fmt::format(", round trip mean {}, worst {}",
                     ms_text(rtt_sum_ / static_cast<long>(answers_)), ms_text(rtt_max_));
  }
  return s;
}

std::vector<std::string> transcript(const AnswerCollector::Event& e) {
  std::vector<std::string> lines;
  std::string_view text = e.text;
  bool first = true;
  do {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const char* mark = e.kind == AnswerCollector::Event::Kind::answer ? "<" : "*";
    std::string shown = escape_bytes(line, 4096);
    if (first && e.kind == AnswerCollector::Event::Kind::answer)
      lines.push_back(fmt::format("{} {}  {}", mark, shown, ms_text(e.rtt)));
    else
      lines.push_back(fmt::format("{} {}", mark, shown));
    first = false;
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
  } while (!text.empty());
  return lines;
}

}  // namespace parley::cmd
