#pragma once
// Where an IP address can be reached from: this machine only (loopback), one network (private,
// link-local), behind the provider's shared NAT (CGNAT, 100.64.0.0/10), or the whole internet.
// The answer decides whether a firewall rule is enough or a router port forward is needed too.
// Pure functions; any thread.

#include <vector>

#include "parley/endpoint.hpp"

namespace parley {

enum class AddressScope {
  loopback,       // 127.0.0.0/8, ::1: this machine only.
  private_net,    // RFC 1918 (10/8, 172.16/12, 192.168/16) and IPv6 ULA fc00::/7.
  cgnat,          // 100.64.0.0/10 (RFC 6598): the provider's shared address space.
  link_local,     // 169.254/16, fe80::/10: one link, usually a failed DHCP.
  documentation,  // 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32: examples and tests.
  unspecified,    // 0.0.0.0, ::: every address of the machine (a wildcard bind).
  multicast,
  public_net,  // Everything else: routed on the internet.
};

// IPv4-mapped IPv6 addresses are classified as the IPv4 address they carry. A non-IP address
// (a Unix socket) is reported as loopback: only this machine can reach it.
AddressScope classify(const SocketAddress& address);

// "loopback", "private", "cgnat", "link-local", "documentation", "unspecified", "multicast",
// "public": the words --json and the text output use.
const char* scope_name(AddressScope scope);

// True when there is at least one address and every one is loopback (127.0.0.1, ::1): the server
// then answers only programs on its own machine, the classic reason another PC cannot connect.
// Unix sockets do not count (they are local by nature, nobody expects them reachable).
bool loopback_only(const std::vector<SocketAddress>& addresses);

}  // namespace parley
