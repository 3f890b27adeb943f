#include "talk_session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "talk_format.hpp"

namespace parley::cmd {
namespace {

// Big enough for any datagram (a Unix datagram can be ~200 kB); stream reads take what is there.
constexpr std::size_t kReadBuffer = 256 * 1024;

// At most this many characters of a line in messages about it.
constexpr std::size_t kShownLine = 100;

int clamp_ms(std::chrono::nanoseconds d) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, INT_MAX));
}

}  // namespace

TalkSession::TalkSession(TalkConfig config)
    : config_(std::move(config)),
      collector_(config_.until),
      buf_(std::make_unique<char[]>(kReadBuffer)) {
  config_.dial.connect.socktype = config_.udp ? SOCK_DGRAM : SOCK_STREAM;
}

std::error_code TalkSession::connect() {
  close();
  Result<Connection> c = [&]() -> Result<Connection> {
    if (config_.unix_path.empty()) return dial(config_.where, config_.dial);
    auto address = SocketAddress::unix_path(config_.unix_path);
    if (!address) return address.error();
    return connect_any({*address}, config_.dial.connect);
  }();
  if (!c) return c.error();
  fd_ = std::move(c->fd);
  if (auto ec = start_tls()) {
    drop();
    return ec;
  }
  if (!config_.unix_path.empty())
    peer_ = config_.unix_path;
  else if (config_.dial.proxy)
    peer_ = fmt::format("{}:{} through proxy {}", config_.where.host, config_.where.port,
                        c->peer.to_string());
  else
    peer_ = c->peer.to_string();
  last_progress_ = last_received_ = Clock::now();
  return {};
}

// The handshake over the connected socket, then non-blocking: a session's write on a blocking
// socket would block where the plain path sends with MSG_DONTWAIT.
std::error_code TalkSession::start_tls() {
  if (!config_.tls) return {};
  auto session = config_.tls->session(fd_.get(), config_.where.host);
  if (!session) return session.error();
  auto timeout = config_.dial.connect.timeout;
  if (auto ec =
          (*session)->complete_handshake(timeout.count() > 0 ? timeout : std::chrono::seconds(10)))
    return ec;
  ::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  tls_ = std::move(*session);
  return {};
}

tls::Info TalkSession::tls_info() const {
  return tls_ ? tls_->info() : tls::Info{};
}

void TalkSession::drop() {
  tls_.reset();
  fd_.reset();
}

void TalkSession::close() {
  if (tls_) tls_->shutdown_write();  // close_notify: best effort, never waits.
  drop();
  queue_.clear();
  unsent_ = 0;
  awaited_.clear();
  piece_open_ = false;
  collector_ = AnswerCollector(config_.until);
}

std::error_code TalkSession::send_line(std::string_view line) {
  if (!connected()) return std::make_error_code(std::errc::not_connected);
  piece_open_ = false;
  std::string data;
  data.reserve(line.size() + config_.eol.size());
  data.append(line).append(config_.eol);
  std::string shown(line.substr(0, kShownLine));
  if (config_.udp && queue_.empty()) {
    // A datagram goes out whole or not at all; say at once when it cannot.
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
      if (config_.log) config_.log->record(TrafficDirection::sent, data.data(), data.size());
      bytes_sent_ += data.size();
      line_sent(std::move(shown), Clock::now());
      return {};
    }
    if (errno != EAGAIN && errno != EINTR) return {errno, std::system_category()};
  }
  if (queue_.empty()) last_progress_ = Clock::now();
  unsent_ += data.size();
  queue_.push_back({std::move(data), 0, true, std::move(shown)});
  return {};
}

void TalkSession::send_piece(std::string_view bytes) {
  if (!connected() || bytes.empty()) return;
  if (queue_.empty()) last_progress_ = Clock::now();
  unsent_ += bytes.size();
  queue_.push_back({std::string(bytes), 0, false, {}, !piece_open_});
  piece_open_ = true;
}

void TalkSession::line_sent(std::string line, Clock::time_point now) {
  ++lines_;
  if (config_.until.kind == UntilSpec::Kind::none) return;
  awaited_.push_back({std::move(line), now});
  // (Already expected if the line was long: since its first piece went out.)
  if (awaited_.size() == 1 && !config_.udp && !collector_.waiting()) collector_.expect(now);
}

short TalkSession::poll_events() const {
  if (!connected()) return 0;
  return static_cast<short>(POLLIN | (queue_.empty() ? 0 : POLLOUT));
}

bool TalkSession::handle(short revents, std::vector<Event>& out, std::string* why) {
  if (!connected()) return false;
  if (revents & POLLNVAL) return lost(EBADF, out, why);
  if (revents & POLLOUT) {
    if (auto ec = write_some()) return lost(ec, out, why);
  }
  if (!(revents & (POLLIN | POLLHUP | POLLERR))) return true;
  return config_.udp ? read_datagram(out, why) : read_stream(out, why);
}

std::error_code TalkSession::write_some() {
  while (!queue_.empty()) {
    Chunk& c = queue_.front();
    ssize_t n;
    if (tls_) {  // A retry after want_* starts at the same byte, as the session needs.
      Io io = tls_->write(c.data.data() + c.done, c.data.size() - c.done);
      if (io.status == IoStatus::error) return io.error;
      n = io.ok() ? static_cast<ssize_t>(io.bytes) : (errno = EAGAIN, -1);
    } else {
      n = ::send(fd_.get(), c.data.data() + c.done, c.data.size() - c.done,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return errno == EAGAIN ? std::error_code() : std::error_code(errno, std::system_category());
    const auto now = Clock::now();
    const auto w = static_cast<std::size_t>(n);
    if (config_.log) config_.log->record(TrafficDirection::sent, c.data.data() + c.done, w);
    bytes_sent_ += w;
    unsent_ -= config_.udp ? c.data.size() - c.done : w;  // A datagram is sent whole.
    c.done = config_.udp ? c.data.size() : c.done + w;
    last_progress_ = now;
    if (c.opens_line && !config_.udp && config_.until.kind != UntilSpec::Kind::none &&
        awaited_.empty())
      collector_.expect(now);
    c.opens_line = false;
    if (c.done < c.data.size()) continue;
    if (c.ends_line) line_sent(std::move(c.line), now);
    queue_.pop_front();
  }
  return {};
}

bool TalkSession::read_stream(std::vector<Event>& out, std::string* why) {
  ssize_t n;
  if (tls_) {
    Io io = tls_->read(buf_.get(), kReadBuffer);
    if (io.status == IoStatus::error) return lost(io.error, out, why);
    n = io.ok() ? static_cast<ssize_t>(io.bytes) : io.status == IoStatus::closed ? 0 : -1;
    if (n < 0) errno = EAGAIN;
  } else {
    n = ::recv(fd_.get(), buf_.get(), kReadBuffer, MSG_DONTWAIT);
  }
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n <= 0) {
    if (n < 0) return lost(errno, out, why);
    *why = "closed by the server";
    flush(out);
    drop();
    return false;
  }
  const auto now = Clock::now();
  const auto size = static_cast<std::size_t>(n);
  if (config_.log) config_.log->record(TrafficDirection::received, buf_.get(), size);
  bytes_received_ += size;
  last_received_ = now;
  feed({buf_.get(), size}, now, out);
  // A TLS session may hold more than one read took, which poll() cannot see.
  if (tls_ && tls_->buffered()) return read_stream(out, why);
  return true;
}

// Several lines may be awaiting answers (typed quickly, pasted): the data is fed to the collector
// one answer at a time, so that each answer goes to its own line instead of the rest of a read
// being taken as unsolicited.
void TalkSession::feed(std::string_view data, Clock::time_point now, std::vector<Event>& out) {
  std::vector<Event> events;
  while (!data.empty()) {
    std::size_t used = data.size();
    if (awaited_.size() > 1 && collector_.waiting())
      used = collector_.feed_answer(data, now, events);
    else
      collector_.feed(data, now, events);
    data.remove_prefix(used);
    take(events, out);
  }
  // Pieces of exactly kTalkPiece, as the help promises (a read may take the pending bytes past it).
  while (collector_.pending_size() >= kTalkPiece) {
    const std::size_t before = collector_.pending_size();
    collector_.spill(now, events, kTalkPiece);
    take(events, out);
    if (collector_.pending_size() == before) break;  // A bytes=N answer is bounded by N instead.
  }
}

void TalkSession::take(std::vector<Event>& from, std::vector<Event>& out) {
  for (auto& e : from) {
    if (e.kind == Event::Kind::answer && !e.more && !awaited_.empty()) {
      ++answers_;
      rtt_sum_ += e.rtt;
      rtt_max_ = std::max(rtt_max_, e.rtt);
      awaited_.pop_front();
      if (!awaited_.empty()) collector_.expect(awaited_.front().sent);
    }
    out.push_back(std::move(e));
  }
  from.clear();
}

bool TalkSession::read_datagram(std::vector<Event>& out, std::string* why) {
  ssize_t n = ::recv(fd_.get(), buf_.get(), kReadBuffer, MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
  if (n < 0) return lost(errno, out, why);
  const auto now = Clock::now();
  const auto size = std::min(static_cast<std::size_t>(n), kReadBuffer);
  if (config_.log) config_.log->record(TrafficDirection::received, buf_.get(), size);
  bytes_received_ += size;
  last_received_ = now;
  std::string_view d(buf_.get(), size);
  if (!d.empty() && d.back() == '\n') d.remove_suffix(1);
  Event e{Event::Kind::unsolicited, std::string(d), {}};
  if (!awaited_.empty()) {  // Over UDP, an answer is the next datagram.
    e.kind = Event::Kind::answer;
    e.rtt = now - awaited_.front().sent;
    ++answers_;
    rtt_sum_ += e.rtt;
    rtt_max_ = std::max(rtt_max_, e.rtt);
    awaited_.pop_front();
  }
  out.push_back(std::move(e));
  return true;
}

bool TalkSession::lost(const std::error_code& ec, std::vector<Event>& out, std::string* why) {
  *why = ec.message();
  flush(out);
  drop();
  return false;
}

bool TalkSession::lost(int err, std::vector<Event>& out, std::string* why) {
  *why = std::strerror(err);
  flush(out);
  drop();
  return false;
}

void TalkSession::flush(std::vector<Event>& out) {
  std::vector<Event> events;
  collector_.flush(Clock::now(), events);
  take(events, out);
}

bool TalkSession::tick(std::vector<Event>& out, std::vector<std::string>* overdue,
                       std::string* why) {
  if (!connected()) return true;
  const auto now = Clock::now();
  std::vector<Event> events;
  collector_.tick(now, events);
  take(events, out);
  const auto limit = config_.timeout;
  if (limit.count() <= 0) return true;
  while (!awaited_.empty() && now - awaited_.front().sent >= limit) {
    if (!config_.udp) collector_.cancel(events);
    take(events, out);
    overdue->push_back(std::move(awaited_.front().line));
    awaited_.pop_front();
    if (!awaited_.empty() && !config_.udp) collector_.expect(awaited_.front().sent);
  }
  if (unsent_ > 0 && now - last_progress_ >= limit) {
    *why = fmt::format("stalled: the server has read nothing for {} ms ({} bytes not sent)",
                       limit.count(), unsent_);
    drop();
    return false;
  }
  return true;
}

int TalkSession::timeout_ms(int cap) const {
  if (!connected()) return cap;
  const auto now = Clock::now();
  int ms = cap;
  auto consider = [&](Clock::time_point due) {
    int left = clamp_ms(due - now);
    ms = ms < 0 ? left : std::min(ms, left);
  };
  if (auto due = collector_.deadline()) consider(*due);
  if (config_.timeout.count() > 0) {
    if (!awaited_.empty()) consider(awaited_.front().sent + config_.timeout);
    if (unsent_ > 0) consider(last_progress_ + config_.timeout);
  }
  return ms;
}

std::string TalkSession::stats() const {
  std::string s = fmt::format("{} line{} sent, {} answer{}", lines_, lines_ == 1 ? "" : "s",
                              answers_, answers_ == 1 ? "" : "s");
  if (answers_ > 0) {
    s += fmt::format(", round trip mean {}, worst {}",
                     rtt_text(rtt_sum_ / static_cast<long>(answers_)), rtt_text(rtt_max_));
  }
  return s;
}

}  // namespace parley::cmd
