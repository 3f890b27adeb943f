#pragma once
// Datagram servers answer from the address a datagram was sent to. A socket bound to the wildcard
// address would otherwise pick its source by route, and a client that sent to 127.0.0.2 (or to
// one of several addresses of a host) would get the answer from another address and drop it.
// IP_PKTINFO / IPV6_RECVPKTINFO tell us where each datagram went; the reply carries the same
// address back in its own control message. Any thread; no state.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace parley {

struct Datagram {
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  // The destination address of the datagram, as the kernel reported it (0: unknown).
  int local_family = 0;
  in_pktinfo v4{};
  in6_pktinfo v6{};
  std::string peer_name() const;
};

// Asks the kernel to report each datagram's destination address on fd (either family).
void enable_destination_info(int fd);

// recvmsg into buf; fills d. Returns the size, or -1 with errno.
ssize_t receive_datagram(int fd, char* buf, std::size_t size, Datagram* d);

// sendmsg of data to d's sender, from d's destination address. Returns the size, or -1.
ssize_t send_datagram(int fd, std::string_view data, const Datagram& d);

}  // namespace parley
