// RTM_GETROUTE over NETLINK_ROUTE: one request naming the destination, one answer (a route
// message, or an error message carrying the errno the kernel's lookup produced).

#include "parley/route.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "parley/errors.hpp"
#include "parley/fd.hpp"

namespace parley {
namespace {

const char* route_type_name(unsigned type) {
  switch (type) {
    case RTN_UNICAST:
      return "unicast";
    case RTN_LOCAL:
      return "local";
    case RTN_BROADCAST:
      return "broadcast";
    case RTN_MULTICAST:
      return "multicast";
    case RTN_BLACKHOLE:
      return "blackhole";
    case RTN_UNREACHABLE:
      return "unreachable";
    case RTN_PROHIBIT:
      return "prohibit";
    case RTN_THROW:
      return "throw";
    default:
      return "other";
  }
}

SocketAddress address_of(int family, const void* data) {
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, data, 4);
    return SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, data, 16);
  return SocketAddress(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
}

Route parse_route(const nlmsghdr* h) {
  const auto* rtm = static_cast<const rtmsg*>(NLMSG_DATA(h));
  Route r;
  r.type = route_type_name(rtm->rtm_type);
  int len = static_cast<int>(RTM_PAYLOAD(h));
  for (const rtattr* a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
    if (a->rta_type == RTA_OIF) {
      char name[IF_NAMESIZE] = {};
      int index = 0;
      std::memcpy(&index, RTA_DATA(a), sizeof(index));
      if (if_indextoname(static_cast<unsigned>(index), name) != nullptr) r.interface = name;
    } else if (a->rta_type == RTA_GATEWAY) {
      r.gateway = address_of(rtm->rtm_family, RTA_DATA(a));
    } else if (a->rta_type == RTA_PREFSRC) {
      r.source = address_of(rtm->rtm_family, RTA_DATA(a));
    }
  }
  return r;
}

}  // namespace

Result<Route> route_to(const SocketAddress& destination) {
  const int family = destination.family();
  if (family != AF_INET && family != AF_INET6)
    return std::make_error_code(std::errc::address_family_not_supported);
  const void* addr = nullptr;
  std::size_t addr_len = 0;
  if (family == AF_INET) {
    addr = &reinterpret_cast<const sockaddr_in*>(destination.get())->sin_addr;
    addr_len = 4;
  } else {
    addr = &reinterpret_cast<const sockaddr_in6*>(destination.get())->sin6_addr;
    addr_len = 16;
  }
  struct {
    nlmsghdr header;
    rtmsg body;
    char attrs[64];
  } req{};
  req.header.nlmsg_type = RTM_GETROUTE;
  req.header.nlmsg_flags = NLM_F_REQUEST;
  req.header.nlmsg_seq = 1;
  req.body.rtm_family = static_cast<unsigned char>(family);
  req.body.rtm_dst_len = static_cast<unsigned char>(addr_len * 8);
  auto* attr = reinterpret_cast<rtattr*>(req.attrs);
  attr->rta_type = RTA_DST;
  attr->rta_len = static_cast<unsigned short>(RTA_LENGTH(addr_len));
  std::memcpy(RTA_DATA(attr), addr, addr_len);
  req.header.nlmsg_len = NLMSG_LENGTH(sizeof(rtmsg)) + RTA_ALIGN(attr->rta_len);

  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return last_error();
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &req, req.header.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0)
    return last_error();
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return last_error();
    }
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_seq != 1) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
        if (err->error == 0) continue;  // An acknowledgement; the route follows (or came).
        return std::error_code(-err->error, std::system_category());
      }
      if (h->nlmsg_type == RTM_NEWROUTE) return parse_route(h);
    }
  }
}

}  // namespace parley
