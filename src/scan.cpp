#include "parley/scan.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>

#include "parley/connector.hpp"
#include "parley/dial.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

enum class Phase { idle, connecting, handshake, udp_wait };

struct Probe {
  Fd fd;
  Phase phase = Phase::idle;
  std::size_t index = 0;  // Into the port list.
  Clock::time_point start, deadline, resend_at;
  bool resent = false;
  std::optional<ProxyHandshake> handshake;
  std::string reply;  // An unfinished proxy reply (proxy_handshake_step keeps it).
};

class Scanner {
 public:
  Scanner(const SocketAddress& address, const std::vector<std::uint16_t>& ports,
          const ScanOptions& options, const std::function<bool(const PortResult&)>& on_result)
      : address_(address),
        ports_(ports),
        options_(options),
        on_result_(on_result),
        epoll_(epoll_create1(EPOLL_CLOEXEC)),
        slots_(std::max<std::size_t>(1, std::min(options.parallel, ports.size()))),
        results_(ports.size()),
        limit_(slots_.size()) {}

  std::error_code run() {
    if (!epoll_) return last_error();
    for (std::size_t i = slots_.size(); i-- > 0;) free_.push_back(i);
    std::vector<epoll_event> events(slots_.size());
    while (!stopped_ && !fatal_) {
      if (auto ec = fill()) return ec;
      if (active_ == 0) break;
      const int n =
          epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), wait_ms());
      if (n < 0 && errno != EINTR) return last_error();
      for (int i = 0; i < n && !fatal_; ++i)
        on_event(static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64));
      expire(Clock::now());
    }
    return fatal_;
  }

 private:
  bool udp() const { return options_.socktype == SOCK_DGRAM; }

  // Starts probes until `limit_` are in flight. Out of descriptors, the limit drops to what is
  // running (the scan goes on, slower); with nothing running, that is the end.
  std::error_code fill() {
    while (active_ < limit_ && next_port_ < ports_.size() && !stopped_ && !fatal_) {
      std::size_t slot = free_.back();
      std::error_code ec = launch(slot, next_port_);
      if (ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system) {
        if (active_ == 0) return ec;
        limit_ = active_;
        break;
      }
      if (ec) return ec;
      ++next_port_;
    }
    return {};
  }

  std::error_code launch(std::size_t slot, std::size_t index) {
    SocketAddress target = options_.proxy ? options_.proxy->address : address_;
    if (!options_.proxy) target.set_port(ports_[index]);
    auto fd = open_socket(target.family(), options_.socktype);
    if (!fd) return fd.error();
    Probe& p = slots_[slot];
    p = Probe{};
    p.index = index;
    p.start = Clock::now();
    p.deadline = p.start + options_.timeout;
    p.resend_at = p.start + options_.timeout / 2;
    if (options_.source) {
      int one = 1;
      setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
      if (::bind(fd->get(), options_.source->get(), options_.source->size()) != 0)
        return last_error();
    }
    free_.pop_back();
    ++active_;
    p.fd = std::move(*fd);
    if (::connect(p.fd.get(), target.get(), target.size()) != 0 && errno != EINPROGRESS) {
      connect_failed(slot, last_error());
      return {};
    }
    if (udp()) {
      p.phase = Phase::udp_wait;
      udp_send(p);
      watch(slot, EPOLLIN);
    } else {
      p.phase = Phase::connecting;
      watch(slot, EPOLLOUT);
    }
    return {};
  }

  void watch(std::size_t slot, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = slot;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, slots_[slot].fd.get(), &ev) != 0)
      epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, slots_[slot].fd.get(), &ev);
  }

  // An empty datagram: services that do not understand it stay silent, a closed port still
  // answers with ICMP port unreachable.
  static void udp_send(Probe& p) { [[maybe_unused]] auto n = ::send(p.fd.get(), "", 0, 0); }

  void on_event(std::size_t slot) {
    Probe& p = slots_[slot];
    switch (p.phase) {
      case Phase::connecting: {
        int err = 0;
        socklen_t len = sizeof(err);
        getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return connect_failed(slot, {err, std::system_category()});
        if (!options_.proxy) return finish(slot, PortState::open, {}, true);
        return start_handshake(slot);
      }
      case Phase::handshake:
        return handshake_step(slot);
      case Phase::udp_wait: {
        char buf[512];
        ssize_t n = ::recv(p.fd.get(), buf, sizeof(buf), MSG_DONTWAIT);
        if (n >= 0) return finish(slot, PortState::open, {}, true);
        if (errno == EAGAIN || errno == EINTR) return;
        const std::error_code ec = last_error();
        return finish(slot, errno == ECONNREFUSED ? PortState::closed : PortState::filtered, ec,
                      true);
      }
      case Phase::idle:
        return;
    }
  }

  void connect_failed(std::size_t slot, std::error_code ec) {
    if (options_.proxy) {
      fatal_ = proxy_unreachable(ec);
      return;
    }
    if (ec == std::errc::connection_refused) return finish(slot, PortState::closed, ec, true);
    // A host or network unreachable (ICMP) is an answer too: something filters the way there.
    finish(slot, PortState::filtered, ec, true);
  }

  void start_handshake(std::size_t slot) {
    Probe& p = slots_[slot];
    const ScanProxy& proxy = *options_.proxy;
    auto h = ProxyHandshake::begin(proxy.type, {proxy.target_host, ports_[p.index]}, proxy.auth);
    if (!h) {
      fatal_ = h.error();
      return;
    }
    p.handshake = std::move(*h);
    p.phase = Phase::handshake;
    handshake_step(slot);
  }

  // The handshake is dial()'s, one non-blocking step per event; the proxy's answer about the
  // target is the port's state.
  void handshake_step(std::size_t slot) {
    Probe& p = slots_[slot];
    auto step = proxy_handshake_step(p.fd.get(), *p.handshake, p.reply);
    if (step.done) return finish(slot, PortState::open, {}, true);
    if (!step.error) return watch(slot, EPOLLIN | (step.want_write ? EPOLLOUT : 0u));
    if (is_proxy_target_refusal(step.error))
      return finish(slot, PortState::closed, step.error, true);
    if (is_proxy_target_filtered(step.error))
      return finish(slot, PortState::filtered, step.error, true);
    fatal_ = step.error;
  }

  void expire(Clock::time_point now) {
    for (std::size_t slot = 0; slot < slots_.size(); ++slot) {
      Probe& p = slots_[slot];
      if (p.phase == Phase::idle) continue;
      if (p.phase == Phase::udp_wait && !p.resent && now >= p.resend_at) {
        udp_send(p);
        p.resent = true;
      }
      if (now < p.deadline) continue;
      finish(slot, udp() ? PortState::open_filtered : PortState::filtered,
             make_error_code(Errc::timed_out), false);
    }
  }

  int wait_ms() const {
    auto next = Clock::time_point::max();
    for (const Probe& p : slots_) {
      if (p.phase == Phase::idle) continue;
      next = std::min(next, p.deadline);
      if (p.phase == Phase::udp_wait && !p.resent) next = std::min(next, p.resend_at);
    }
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
  }

  void finish(std::size_t slot, PortState state, std::error_code why, bool answered) {
    Probe& p = slots_[slot];
    PortResult r;
    r.port = ports_[p.index];
    r.state = state;
    r.why = why;
    if (answered)
      r.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - p.start);
    results_[p.index] = r;
    p = Probe{};  // Closes the socket (and so takes it out of the epoll set).
    free_.push_back(slot);
    --active_;
    while (!stopped_ && next_emit_ < results_.size() && results_[next_emit_]) {
      if (!on_result_(*results_[next_emit_])) stopped_ = true;
      results_[next_emit_].reset();
      ++next_emit_;
    }
  }

  const SocketAddress& address_;
  const std::vector<std::uint16_t>& ports_;
  const ScanOptions& options_;
  const std::function<bool(const PortResult&)>& on_result_;
  Fd epoll_;
  std::vector<Probe> slots_;
  std::vector<std::size_t> free_;
  std::vector<std::optional<PortResult>> results_;
  std::size_t limit_;
  std::size_t active_ = 0, next_port_ = 0, next_emit_ = 0;
  bool stopped_ = false;
  std::error_code fatal_;
};

}  // namespace

const char* port_state_name(PortState state) {
  switch (state) {
    case PortState::open:
      return "open";
    case PortState::closed:
      return "closed";
    case PortState::filtered:
      return "filtered";
    case PortState::open_filtered:
      return "open|filtered";
  }
  return "?";
}

std::error_code scan_ports(const SocketAddress& address, const std::vector<std::uint16_t>& ports,
                           const ScanOptions& options,
                           const std::function<bool(const PortResult&)>& on_result) {
  if (ports.empty()) return {};
  Scanner scanner(address, ports, options, on_result);
  return scanner.run();
}

}  // namespace parley
