#include "udp.hpp"

#include <cstring>

#include "parley/endpoint.hpp"

namespace parley {

std::string Datagram::peer_name() const {
  return SocketAddress(reinterpret_cast<const sockaddr*>(&peer), peer_len).to_string();
}

void enable_destination_info(int fd) {
  int one = 1;
  // Only one of them applies to a socket's family; the other fails harmlessly.
  setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

ssize_t receive_datagram(int fd, char* buf, std::size_t size, Datagram* d) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo))];
  iovec iov{buf, size};
  msghdr msg{};
  msg.msg_name = &d->peer;
  msg.msg_namelen = sizeof(d->peer);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
  if (n < 0) return n;
  d->peer_len = msg.msg_namelen;
  d->local_family = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      std::memcpy(&d->v4, CMSG_DATA(c), sizeof(d->v4));
      d->local_family = AF_INET;
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      std::memcpy(&d->v6, CMSG_DATA(c), sizeof(d->v6));
      d->local_family = AF_INET6;
    }
  }
  return n;
}

ssize_t send_datagram(int fd, std::string_view data, const Datagram& d) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in6_pktinfo))]{};
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&d.peer);
  msg.msg_namelen = d.peer_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (d.local_family == AF_INET) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = d.v4.ipi_addr;  // Answer from the address the datagram was sent to.
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  } else if (d.local_family == AF_INET6) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    in6_pktinfo info{};
    info.ipi6_addr = d.v6.ipi6_addr;
    std::memcpy(CMSG_DATA(c), &info, sizeof(info));
  }
  return ::sendmsg(fd, &msg, MSG_DONTWAIT);
}

}  // namespace parley
