// --proxy-protocol on accepting sockets: the PROXY header each client owes before its first byte.
// It is read by peeking, so that exactly the header is consumed and the service gets the rest
// untouched (the exec child, the forwarder's splice); then the connection takes the real client's
// address, the access list is applied to it, and the service sees the client as usual.

#include <sys/epoll.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "parley/proxy_protocol.hpp"
#include "runtime.hpp"

namespace parley::server {
namespace {

// Larger than any v1 line (107 bytes) and than the v2 headers proxies send in practice.
constexpr std::size_t kMaxHeader = 4096;

}  // namespace

void Worker::read_proxy_header(Conn& c) {
  char buf[kMaxHeader];
  ssize_t n = ::recv(c.fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  auto refuse = [&](const std::string& why) {
    std::string name = c.peer_name();
    stats_.failed_handshakes.add(1);
    if (shared_.config.log_connections) shared_.event({ServerEvent::Kind::refused, name, why});
    close(c, why.c_str());
  };
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    return refuse(fmt::format("no PROXY header ({})", std::strerror(errno)));
  }
  if (n == 0) return refuse("closed before its PROXY header");
  ProxyHeader h = parse_proxy_header({buf, static_cast<std::size_t>(n)});
  if (h.status == ProxyHeader::Status::incomplete) {
    if (static_cast<std::size_t>(n) < sizeof(buf)) return;  // More to come: edge-triggered.
    return refuse("PROXY header longer than 4096 bytes");
  }
  if (h.status == ProxyHeader::Status::invalid)
    return refuse(fmt::format("no valid PROXY header: {}", h.error));
  [[maybe_unused]] ssize_t taken = ::recv(c.fd, buf, h.size, MSG_DONTWAIT);  // Just the header.
  if (!h.local) {
    std::memset(&c.peer, 0, sizeof(c.peer));
    std::memcpy(&c.peer, h.source.get(), std::min<std::size_t>(h.source.size(), sizeof(c.peer)));
    c.peer_len = std::min<socklen_t>(h.source.size(), sizeof(c.peer));
  }
  c.awaiting_header = false;
  --awaiting_headers_;
  if (!shared_.config.access.empty()) {
    auto verdict = shared_.config.access.check(c.peer_address());
    if (!verdict.allowed) {
      std::string name = c.peer_name();
      stats_.denied.add(1);
      if (shared_.config.log_connections)
        shared_.event({ServerEvent::Kind::denied, name, verdict.rule});
      c.awaiting_header = true;  // Never welcomed: no "closed" line either.
      ++awaiting_headers_;
      return close(c, "refused");
    }
  }
  c.events = 0;  // Level-triggered from now on, whatever the service asks for.
  update_interest(c);
  welcome(c);
}

}  // namespace parley::server
