#pragma once
// The port scanner behind `parley scan` and `parley connect -z`: TCP connect probes (optionally
// through a proxy, each probe its own proxy handshake) and UDP probes, many at once in one epoll
// loop, each bounded by the timeout.
//
// TCP: connected = open; RST (ECONNREFUSED) = closed; no answer in time or an ICMP unreachable
// = filtered. Through a proxy: the proxy's success = open, its "connection refused" = closed, its
// "unreachable"/"not allowed" = filtered; any other answer (authentication, a malformed reply, the
// proxy being down) stops the scan with that error.
// UDP: an empty datagram (sent twice, the second at half the timeout, in case one is lost); any
// answer = open; ICMP port unreachable (ECONNREFUSED on the connected socket) = closed; other
// ICMP unreachables = filtered; silence = open|filtered (UDP cannot tell them apart).
//
// Blocking; single-threaded; any thread. Uses at most options.parallel descriptors at once.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <system_error>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/proxy.hpp"

namespace parley {

enum class PortState { open, closed, filtered, open_filtered };
const char* port_state_name(PortState state);  // "open", "closed", "filtered", "open|filtered"

struct ScanProxy {
  SocketAddress address;  // The proxy's resolved address.
  ProxyType type = ProxyType::socks5;
  std::string target_host;  // What the proxy is asked for (see proxy_request_target()).
  std::optional<ProxyCredentials> auth;
};

struct ScanOptions {
  int socktype = SOCK_STREAM;
  std::size_t parallel = 100;               // Probes in flight at once (at least 1).
  std::chrono::milliseconds timeout{2000};  // Per probe.
  std::optional<SocketAddress> source;      // -s/-p: bind every probe here (port 0: any port).
  std::optional<ScanProxy> proxy;           // TCP only.
};

struct PortResult {
  std::uint16_t port = 0;
  PortState state = PortState::filtered;
  // Time until the answer that decided the state; nullopt when no answer came (timeout).
  std::optional<std::chrono::microseconds> rtt;
  std::error_code why;  // For closed and filtered: the error seen (ECONNREFUSED, timed out, ...).
};

// Probes `ports` on `address` (its own port is ignored) and calls on_result once per port, in the
// order of `ports`, as soon as the results up to that port are known. on_result returning false
// stops the scan. Returns the error that stopped it early, if any: the proxy's (see above), or a
// local failure (no descriptors left even for one probe).
std::error_code scan_ports(const SocketAddress& address, const std::vector<std::uint16_t>& ports,
                           const ScanOptions& options,
                           const std::function<bool(const PortResult&)>& on_result);

}  // namespace parley
