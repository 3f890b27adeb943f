#pragma once
// dial(): the one call that gets a command a connected stream to HOST PORT, directly (resolve +
// Happy Eyeballs, as connect_any) or through an HTTP CONNECT / SOCKS4 / SOCKS4a / SOCKS5 proxy
// (connect to the proxy, then its handshake). The returned socket carries the target's bytes
// only: the proxy's reply is consumed exactly, nothing of the tunnel is read.
// Blocking; any thread; the descriptor belongs to the caller (non-blocking mode, as connect_any).
//
// Errors, each one line with describe():
//   * the target's name (Errc::name_not_resolved, ...) when resolved here;
//   * the proxy's: proxy_category() codes that say what the proxy answered, "cannot reach the
//     proxy: Connection refused" when connecting to it failed, ProxyErrc::proxy_not_resolved;
//   * Errc::timed_out when options.connect.timeout expired (it covers the handshake too).

#include <chrono>
#include <optional>

#include "parley/connector.hpp"
#include "parley/endpoint.hpp"
#include "parley/proxy.hpp"

namespace parley {

struct DialOptions {
  Family family = Family::any;
  bool numeric_only = false;  // -n: never ask DNS here (a name may still go to the proxy).
  // socktype must be SOCK_STREAM with a proxy. timeout: zero means no overall limit for the
  // connect (the kernel's SYN timeout) and kHandshakeTimeout for a proxy's answer.
  ConnectOptions connect;
  std::optional<ProxySpec> proxy;
};

// A proxy that accepts the connection and then says nothing is given this long without -w.
inline constexpr std::chrono::seconds kHandshakeTimeout{30};

Result<Connection> dial(const HostPort& target, const DialOptions& options);

// What the proxy is asked for: the target's name when the proxy resolves it (remote DNS), or the
// address parley resolved (local DNS; IPv4 only for SOCKS4/4a). Literals pass unchanged.
// Errors: Errc::name_not_resolved and the like; ProxyErrc::needs_ipv4 for SOCKS4 with
// ProxyDns::remote.
Result<HostPort> proxy_request_target(const HostPort& target, const ProxySpec& proxy, Family family,
                                      bool numeric_only);

// Runs a handshake on a connected socket until it is done, the proxy says no or deadline passes.
// Reads exactly the proxy's replies (MSG_PEEK, then as many bytes as they take).
std::error_code run_proxy_handshake(int fd, ProxyHandshake& handshake,
                                    std::chrono::steady_clock::time_point deadline);

// One step of a handshake for event loops (never blocks): sends what the socket takes, reads
// what has arrived of the proxy's reply, exactly as run_proxy_handshake does. `reply` holds an
// unfinished reply between steps (the caller keeps it with the connection). Call again when the
// socket is readable, or writable if want_write.
struct ProxyStep {
  std::error_code error;  // The proxy's answer, a malformed reply, or the socket's error.
  bool done = false;      // The tunnel is open: every later byte is the target's.
  bool want_write = false;
};
ProxyStep proxy_handshake_step(int fd, ProxyHandshake& handshake, std::string& reply);

}  // namespace parley
