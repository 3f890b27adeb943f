#include "parley/dial.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "parley/errors.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

// Waits for events on fd until deadline. Returns 0, or Errc::timed_out, or a system error.
std::error_code wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return make_error_code(Errc::timed_out);
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 60'000)));
    if (n > 0) return {};
    if (n < 0 && errno != EINTR) return last_error();
  }
}

std::error_code handshake_io_error(int err) {
  if (err == ECONNRESET || err == EPIPE) return make_error_code(ProxyErrc::reset);
  return {err, std::system_category()};
}

}  // namespace

Result<HostPort> proxy_request_target(const HostPort& target, const ProxySpec& proxy, Family family,
                                      bool numeric_only) {
  // A literal needs no lookup; the handshake checks that the protocol can carry it.
  if (resolve(target.host, target.port, {Family::any, true, SOCK_STREAM, false})) return target;
  if (proxy.type == ProxyType::socks4 && proxy.dns == ProxyDns::remote)
    return ProxyErrc::needs_ipv4;
  const bool local = proxy.dns == ProxyDns::local ||
                     (proxy.dns == ProxyDns::automatic && proxy.type == ProxyType::socks4);
  if (!local) return target;
  if (proxy.type == ProxyType::socks4 || proxy.type == ProxyType::socks4a) family = Family::v4;
  auto addresses = resolve(target.host, target.port, {family, numeric_only, SOCK_STREAM, false});
  if (!addresses) return addresses.error();
  return HostPort{addresses->front().host_string(), target.port};
}

ProxyStep proxy_handshake_step(int fd, ProxyHandshake& h, std::string& reply) {
  char buf[4096];
  for (;;) {
    while (!h.to_send().empty()) {
      auto data = h.to_send();
      ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        h.sent(static_cast<std::size_t>(n));
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return {{}, false, true};
      return {handshake_io_error(errno)};
    }
    if (h.done()) return {{}, true};
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return {};
    if (n < 0) return {handshake_io_error(errno)};
    if (n == 0) return {make_error_code(ProxyErrc::closed)};
    const std::size_t before = reply.size();
    reply.append(buf, static_cast<std::size_t>(n));
    auto taken = h.feed(reply);
    if (!taken) return {taken.error()};
    // Consume this reply's bytes from the socket: all that was peeked while it is unfinished,
    // only its own tail once it is complete (what follows belongs to the tunnel). Peeked bytes
    // are queued already, so these reads do not wait.
    std::size_t consume = *taken > 0 ? *taken - before : static_cast<std::size_t>(n);
    if (*taken > 0) reply.clear();
    while (consume > 0) {
      ssize_t r = ::recv(fd, buf, std::min(consume, sizeof(buf)), MSG_DONTWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return {r == 0 ? make_error_code(ProxyErrc::closed) : handshake_io_error(errno)};
      consume -= static_cast<std::size_t>(r);
    }
  }
}

std::error_code run_proxy_handshake(int fd, ProxyHandshake& h, Clock::time_point deadline) {
  std::string reply;  // The current reply so far (every byte of an unfinished reply is its own).
  for (;;) {
    auto step = proxy_handshake_step(fd, h, reply);
    if (step.error || step.done) return step.error;
    if (auto ec = wait_for(fd, step.want_write ? POLLOUT : POLLIN, deadline)) return ec;
  }
}

Result<Connection> dial(const HostPort& target, const DialOptions& options) {
  const auto start = Clock::now();
  if (!options.proxy) {
    auto addresses =
        resolve(target.host, target.port,
                {options.family, options.numeric_only, options.connect.socktype, false});
    if (!addresses) return addresses.error();
    return connect_any(*addresses, options.connect);
  }
  const ProxySpec& proxy = *options.proxy;
  auto request = proxy_request_target(target, proxy, options.family, options.numeric_only);
  if (!request) return request.error();
  auto handshake = ProxyHandshake::begin(proxy.type, *request, proxy.auth);
  if (!handshake) return handshake.error();
  auto proxies = resolve(proxy.server.host, proxy.server.port,
                         {options.family, options.numeric_only, SOCK_STREAM, false});
  if (!proxies) {
    if (proxies.error() == make_error_code(Errc::name_not_resolved))
      return ProxyErrc::proxy_not_resolved;
    return proxies.error();
  }
  ConnectOptions co = options.connect;
  co.socktype = SOCK_STREAM;
  auto conn = connect_any(*proxies, co);
  if (!conn) return proxy_unreachable(conn.error());
  const auto deadline = options.connect.timeout.count() > 0 ? start + options.connect.timeout
                                                            : Clock::now() + kHandshakeTimeout;
  if (auto ec = run_proxy_handshake(conn->fd.get(), *handshake, deadline)) return ec;
  return conn;
}

}  // namespace parley
