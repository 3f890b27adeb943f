#include "parley/address_scope.hpp"

#include <netinet/in.h>

#include <cstdint>
#include <cstring>

namespace parley {
namespace {

// The address as a 32-bit number in host order.
std::uint32_t v4_number(const unsigned char* b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

bool in_prefix(std::uint32_t a, std::uint32_t net, int bits) {
  std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
  return (a & mask) == net;
}

AddressScope classify_v4(std::uint32_t a) {
  if (a == 0) return AddressScope::unspecified;
  if (in_prefix(a, 0x7f000000, 8)) return AddressScope::loopback;
  if (in_prefix(a, 0x0a000000, 8) || in_prefix(a, 0xac100000, 12) || in_prefix(a, 0xc0a80000, 16))
    return AddressScope::private_net;
  if (in_prefix(a, 0x64400000, 10)) return AddressScope::cgnat;
  if (in_prefix(a, 0xa9fe0000, 16)) return AddressScope::link_local;
  if (in_prefix(a, 0xc0000200, 24) || in_prefix(a, 0xc6336400, 24) || in_prefix(a, 0xcb007100, 24))
    return AddressScope::documentation;
  if (in_prefix(a, 0xe0000000, 4)) return AddressScope::multicast;
  return AddressScope::public_net;
}

AddressScope classify_v6(const in6_addr& a) {
  const unsigned char* b = a.s6_addr;
  if (IN6_IS_ADDR_V4MAPPED(&a)) return classify_v4(v4_number(b + 12));
  if (IN6_IS_ADDR_UNSPECIFIED(&a)) return AddressScope::unspecified;
  if (IN6_IS_ADDR_LOOPBACK(&a)) return AddressScope::loopback;
  if ((b[0] & 0xfe) == 0xfc) return AddressScope::private_net;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressScope::link_local;
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
    return AddressScope::documentation;
  if (b[0] == 0xff) return AddressScope::multicast;
  return AddressScope::public_net;
}

}  // namespace

AddressScope classify(const SocketAddress& address) {
  if (address.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(address.get());
    return classify_v4(v4_number(reinterpret_cast<const unsigned char*>(&sin->sin_addr)));
  }
  if (address.family() == AF_INET6)
    return classify_v6(reinterpret_cast<const sockaddr_in6*>(address.get())->sin6_addr);
  return AddressScope::loopback;
}

const char* scope_name(AddressScope scope) {
  switch (scope) {
    case AddressScope::loopback:
      return "loopback";
    case AddressScope::private_net:
      return "private";
    case AddressScope::cgnat:
      return "cgnat";
    case AddressScope::link_local:
      return "link-local";
    case AddressScope::documentation:
      return "documentation";
    case AddressScope::unspecified:
      return "unspecified";
    case AddressScope::multicast:
      return "multicast";
    case AddressScope::public_net:
      return "public";
  }
  return "public";
}

bool loopback_only(const std::vector<SocketAddress>& addresses) {
  bool any = false;
  for (const auto& a : addresses) {
    if (a.family() != AF_INET && a.family() != AF_INET6) return false;
    if (classify(a) != AddressScope::loopback) return false;
    any = true;
  }
  return any;
}

}  // namespace parley
