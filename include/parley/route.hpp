#pragma once
// The route the kernel picks towards an address, as `ip route get ADDR` shows it: outgoing
// interface, gateway (the router, if the destination is not on a directly attached network) and
// the source address the kernel would use. Asked over NETLINK_ROUTE (RTM_GETROUTE); no packet is
// sent. Blocking, any thread.

#include <optional>
#include <string>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"

namespace parley {

struct Route {
  // The route's type as rtnetlink names it: "unicast", "local" (this machine), "unreachable",
  // "prohibit", "blackhole", ...
  std::string type = "unicast";
  std::string interface;                 // "eth0"; empty when the route has no device.
  std::optional<SocketAddress> gateway;  // Port 0. Empty: the destination is on-link.
  std::optional<SocketAddress> source;   // Port 0. The preferred source address.
};

// Errors: ENETUNREACH (no route at all: the kernel answers the lookup with that error),
// EHOSTUNREACH / EACCES for unreachable or prohibit routes, socket errors.
Result<Route> route_to(const SocketAddress& destination);

}  // namespace parley
