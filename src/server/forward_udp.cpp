// The forwarder's UDP handler: a session per client address, with a connected socket towards
// the target; answers go back from the address the client sent to. Sessions expire after
// udp_timeout without traffic either way.

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <list>
#include <map>

#include <fmt/format.h>

#include "forward_internal.hpp"
#include "parley/connector.hpp"
#include "udp.hpp"

namespace parley::server {
namespace {

constexpr std::chrono::milliseconds kExpiryCheck{500};

class DatagramHandler;

struct Session : Watch {
  Session(DatagramHandler& h, int listener) : handler(h), listener(listener) {}
  void on_event(std::uint32_t events) override;
  DatagramHandler& handler;
  int listener;
  Fd upstream;
  Datagram client;
  std::string key, target;
  Clock::time_point since, last_active;
  std::uint64_t up = 0, down = 0;
};

class DatagramHandler : public Handler {
 public:
  explicit DatagramHandler(const ForwardOptions& options) : options_(options) {}
  void start(Worker& w) override { w_ = &w; }
  bool received(Worker&, Conn&, char*, std::size_t) override { return true; }
  void datagram_ready(Worker& w, Slot& slot) override;
  bool settled(Worker&) override;
  void closing_all(Worker&) override;
  Clock::time_point next_deadline() override;
  void on_time(Worker& w) override;
  void answer(Session& s);

 private:
  Session* open_session(Slot& slot, const Datagram& d, const std::string& key);
  void end(std::list<Session>::iterator it, const char* why);

  const ForwardOptions& options_;
  Worker* w_ = nullptr;
  std::list<Session> sessions_;
  std::list<Session> ended_;  // Freed after the round of events (an event may still name one).
  std::map<std::string, std::list<Session>::iterator> by_client_;
  std::size_t next_target_ = 0;
  Clock::time_point next_check_ = Clock::time_point::max();
};

void Session::on_event(std::uint32_t) {
  handler.answer(*this);
}

Session* DatagramHandler::open_session(Slot& slot, const Datagram& d, const std::string& key) {
  if (sessions_.size() >= options_.max_udp_sessions) {
    w_->log(fmt::format("{}: datagram dropped (already {} sessions)", key, sessions_.size()));
    return nullptr;
  }
  const auto& targets = options_.targets;
  const ForwardTarget& t = targets[next_target_++ % targets.size()];
  for (const auto& address : t.addresses) {
    auto fd = open_socket(address.family(), SOCK_DGRAM);
    if (!fd || ::connect(fd->get(), address.get(), address.size()) != 0) continue;
    Session& s = sessions_.emplace_back(*this, slot.fd.get());
    s.upstream = std::move(*fd);
    s.fd = s.upstream.get();
    s.client = d;
    s.key = key;
    s.target = t.text;
    s.since = s.last_active = w_->now();
    by_client_[key] = std::prev(sessions_.end());
    w_->watch(s, EPOLLIN);
    w_->counters().total.add(1);
    w_->counters().active.add(1);
    if (next_check_ == Clock::time_point::max()) next_check_ = w_->now() + kExpiryCheck;
    return &s;
  }
  w_->log(fmt::format("{}: no socket towards {}", key, t.text));
  return nullptr;
}

void DatagramHandler::datagram_ready(Worker& w, Slot& slot) {
  for (int i = 0; i < kBurst; ++i) {
    Datagram d;
    ssize_t n = receive_datagram(slot.fd.get(), w.buffer(), kReadBuffer, &d);
    if (n < 0) return;
    std::string key = d.peer_name();
    auto found = by_client_.find(key);
    Session* s = found != by_client_.end() ? &*found->second : open_session(slot, d, key);
    if (s == nullptr) continue;
    s->client = d;  // The address it sends to may change.
    s->last_active = w.now();
    if (::send(s->upstream.get(), w.buffer(), static_cast<std::size_t>(n), MSG_DONTWAIT) >= 0) {
      s->up += static_cast<std::size_t>(n);
      w.counters().bytes_in.add(static_cast<std::size_t>(n));
    }
  }
}

void DatagramHandler::answer(Session& s) {
  for (int i = 0; i < kBurst; ++i) {
    ssize_t n = ::recv(s.upstream.get(), w_->buffer(), kReadBuffer, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN, or an ICMP error (the target is not there): nothing to send.
    s.last_active = w_->now();
    if (send_datagram(s.listener, {w_->buffer(), static_cast<std::size_t>(n)}, s.client) >= 0) {
      s.down += static_cast<std::size_t>(n);
      w_->counters().bytes_out.add(static_cast<std::size_t>(n));
    }
  }
}

void DatagramHandler::end(std::list<Session>::iterator it, const char* why) {
  Session& s = *it;
  w_->unwatch(s);
  w_->counters().active.sub(1);
  if (w_->config().log_connections)
    w_->log(fmt::format("{} closed (to {}, {} bytes up, {} down: {}): {:.2f} s", s.key, s.target,
                        s.up, s.down, why,
                        std::chrono::duration<double>(w_->now() - s.since).count()));
  by_client_.erase(s.key);
  ended_.splice(ended_.end(), sessions_, it);
}

Clock::time_point DatagramHandler::next_deadline() {
  return next_check_;
}

void DatagramHandler::on_time(Worker& w) {
  ended_.clear();
  if (w.now() < next_check_) return;
  next_check_ = sessions_.empty() ? Clock::time_point::max() : w.now() + kExpiryCheck;
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto current = it++;
    if (w.now() - current->last_active >= options_.udp_timeout) end(current, "expired");
  }
}

// A graceful stop waits for the sessions to fall quiet (they have no end of their own).
bool DatagramHandler::settled(Worker& w) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    auto current = it++;
    if (w.now() - current->last_active >= kDrainQuiet) end(current, "server stopping");
  }
  return sessions_.empty();
}

void DatagramHandler::closing_all(Worker&) {
  while (!sessions_.empty()) end(sessions_.begin(), "server stopped");
}

}  // namespace

std::unique_ptr<Handler> make_forward_datagram_handler(const ForwardOptions& options) {
  return std::make_unique<DatagramHandler>(options);
}

}  // namespace parley::server
