// One non-blocking attempt per address, all polled together until each has an outcome or the
// timeout passes. IP_RECVERR / IPV6_RECVERR make the kernel keep the ICMP error that ended an
// attempt on the socket's error queue, read with recvmsg(MSG_ERRQUEUE) before the socket closes.

#include "parley/probe.hpp"

#include <linux/errqueue.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "parley/address_scope.hpp"
#include "parley/connector.hpp"
#include "parley/errors.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

struct Attempt {
  Fd fd;
  ProbeResult result;
  Clock::time_point start;
  bool done = false;
};

// The ICMP error queued on the socket, if any (the last one, should several have come).
std::optional<IcmpError> read_error_queue(int fd) {
  std::optional<IcmpError> found;
  for (int i = 0; i < 8; ++i) {  // Bounded: a handful of errors at most per attempt.
    char data[64];
    alignas(cmsghdr) char control[512];
    iovec iov{data, sizeof(data)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      bool v4 = c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR;
      bool v6 = c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      const auto* ee = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
      if (ee->ee_origin != SO_EE_ORIGIN_ICMP && ee->ee_origin != SO_EE_ORIGIN_ICMP6) continue;
      IcmpError e;
      e.family = ee->ee_origin == SO_EE_ORIGIN_ICMP ? AF_INET : AF_INET6;
      e.type = ee->ee_type;
      e.code = ee->ee_code;
      const sockaddr* from = SO_EE_OFFENDER(ee);
      if (from->sa_family == AF_INET)
        e.sender = SocketAddress(from, sizeof(sockaddr_in));
      else if (from->sa_family == AF_INET6)
        e.sender = SocketAddress(from, sizeof(sockaddr_in6));
      found = e;
    }
  }
  return found;
}

void ask_for_icmp_errors(int fd, int family) {
  int one = 1;
  if (family == AF_INET)
    ::setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
  else
    ::setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
}

std::optional<SocketAddress> local_address(int fd) {
  SocketAddress a;
  *a.size_ptr() = SocketAddress::capacity();
  if (::getsockname(fd, a.get(), a.size_ptr()) != 0) return std::nullopt;
  if (classify(a) == AddressScope::unspecified) return std::nullopt;  // Not bound yet.
  a.set_port(0);
  return a;
}

void finish(Attempt& a, std::error_code error, int socktype) {
  a.done = true;
  a.result.rtt = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - a.start);
  a.result.error = error;
  if (!a.result.source) a.result.source = local_address(a.fd.get());
  if (!error) {
    a.result.verdict = Verdict::open;
    return;
  }
  a.result.icmp = read_error_queue(a.fd.get());
  a.result.verdict = verdict_for(error, a.result.icmp, socktype);
}

// Starts one attempt; an attempt that fails at once is finished here.
Result<Attempt> start(const SocketAddress& address, const ProbeOptions& options) {
  Attempt a;
  a.result.address = address;
  a.start = Clock::now();
  auto fd = open_socket(address.family(), options.socktype);
  if (!fd) return fd.error();
  a.fd = std::move(*fd);
  ask_for_icmp_errors(a.fd.get(), address.family());
  if (::connect(a.fd.get(), address.get(), address.size()) != 0 && errno != EINPROGRESS) {
    finish(a, last_error(), options.socktype);
    return a;
  }
  a.result.source = local_address(a.fd.get());
  if (options.socktype == SOCK_DGRAM &&
      ::send(a.fd.get(), options.payload.data(), options.payload.size(), 0) < 0)
    finish(a, last_error(), options.socktype);
  return a;
}

// Looks at an attempt whose socket became ready.
void settle(Attempt& a, short revents, int socktype) {
  if (socktype == SOCK_DGRAM) {
    char buf[512];
    if (::recv(a.fd.get(), buf, sizeof(buf), MSG_DONTWAIT) >= 0) return finish(a, {}, socktype);
    if (errno == EAGAIN || errno == EINTR) return;
    return finish(a, last_error(), socktype);
  }
  if ((revents & (POLLOUT | POLLERR | POLLHUP)) == 0) return;
  int err = 0;
  socklen_t len = sizeof(err);
  ::getsockopt(a.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  finish(a, err == 0 ? std::error_code{} : std::error_code(err, std::system_category()), socktype);
}

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::open:
      return "open";
    case Verdict::refused:
      return "refused";
    case Verdict::rejected:
      return "rejected";
    case Verdict::filtered:
      return "filtered";
    case Verdict::no_route:
      return "no-route";
    case Verdict::host_unreachable:
      return "host-unreachable";
    case Verdict::dns_failure:
      return "dns-failure";
  }
  return "filtered";
}

Verdict better(Verdict a, Verdict b) {
  static constexpr Verdict kOrder[] = {
      Verdict::open,       Verdict::refused,          Verdict::rejected,
      Verdict::filtered,   Verdict::host_unreachable, Verdict::no_route,
      Verdict::dns_failure};
  for (Verdict v : kOrder)
    if (a == v || b == v) return v;
  return a;
}

std::string icmp_name(const IcmpError& e) {
  if (e.family == AF_INET && e.type == ICMP_DEST_UNREACH) {
    switch (e.code) {
      case ICMP_NET_UNREACH:
        return "net-unreachable";
      case ICMP_HOST_UNREACH:
        return "host-unreachable";
      case ICMP_PROT_UNREACH:
        return "prot-unreachable";
      case ICMP_PORT_UNREACH:
        return "port-unreachable";
      case ICMP_NET_ANO:
        return "net-prohibited";
      case ICMP_HOST_ANO:
        return "host-prohibited";
      case ICMP_PKT_FILTERED:
        return "admin-prohibited";
    }
  } else if (e.family == AF_INET6 && e.type == ICMP6_DST_UNREACH) {
    switch (e.code) {
      case ICMP6_DST_UNREACH_NOROUTE:
        return "no-route";
      case ICMP6_DST_UNREACH_ADMIN:
        return "admin-prohibited";
      case ICMP6_DST_UNREACH_ADDR:
        return "addr-unreachable";
      case ICMP6_DST_UNREACH_NOPORT:
        return "port-unreachable";
      case 5:
        return "policy-fail";
      case 6:
        return "reject-route";
    }
  } else if ((e.family == AF_INET && e.type == ICMP_TIME_EXCEEDED) ||
             (e.family == AF_INET6 && e.type == ICMP6_TIME_EXCEEDED)) {
    return "time-exceeded";
  }
  return "type " + std::to_string(e.type) + " code " + std::to_string(e.code);
}

Verdict verdict_for(const std::error_code& error, const std::optional<IcmpError>& icmp,
                    int socktype) {
  if (icmp) {
    std::string name = icmp_name(*icmp);
    if (name == "port-unreachable")
      return socktype == SOCK_DGRAM ? Verdict::refused : Verdict::rejected;
    if (name.ends_with("-prohibited") || name == "prot-unreachable" || name == "policy-fail" ||
        name == "reject-route")
      return Verdict::rejected;
    if (name == "host-unreachable" || name == "addr-unreachable") return Verdict::host_unreachable;
    return Verdict::no_route;
  }
  if (error.category() != std::system_category()) return Verdict::filtered;
  switch (error.value()) {
    case ECONNREFUSED:
    case ECONNRESET:
      return Verdict::refused;
    case EPERM:
    case EACCES:
      return Verdict::rejected;
    case ENETUNREACH:
    case ENETDOWN:
    case EADDRNOTAVAIL:
      return Verdict::no_route;
    case EHOSTUNREACH:
    case EHOSTDOWN:
      return Verdict::host_unreachable;
    default:
      return Verdict::filtered;
  }
}

Result<std::vector<ProbeResult>> probe_all(const std::vector<SocketAddress>& addresses,
                                           const ProbeOptions& options) {
  std::vector<Attempt> attempts;
  for (const auto& address : addresses) {
    auto a = start(address, options);
    if (!a) return a.error();
    attempts.push_back(std::move(*a));
  }
  const auto deadline = Clock::now() + options.timeout;
  for (;;) {
    std::vector<pollfd> fds;
    std::vector<Attempt*> waiting;
    for (auto& a : attempts) {
      if (a.done) continue;
      fds.push_back(
          {a.fd.get(), static_cast<short>(options.socktype == SOCK_DGRAM ? POLLIN : POLLOUT), 0});
      waiting.push_back(&a);
    }
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (fds.empty() || left <= 0) break;
    int n = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<long long>(left, 60'000)));
    if (n < 0 && errno != EINTR) return last_error();
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents != 0) settle(*waiting[i], fds[i].revents, options.socktype);
  }
  std::vector<ProbeResult> out;
  for (auto& a : attempts) {
    if (!a.done) a.result.verdict = Verdict::filtered;  // No answer: dropped somewhere.
    out.push_back(std::move(a.result));
  }
  return out;
}

}  // namespace parley
