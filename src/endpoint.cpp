#include "parley/endpoint.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "parley/errors.hpp"

namespace parley {

Result<std::uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value > 65535) return Errc::bad_port;
  return static_cast<std::uint16_t>(value);
}

Result<HostPort> parse_endpoint(std::string_view text, bool allow_port_only) {
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return Errc::bad_endpoint;
    auto port = parse_port(text.substr(close + 2));
    if (!port) return port.error();
    return HostPort{std::string(text.substr(1, close - 1)), *port};
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    if (!allow_port_only) return Errc::bad_endpoint;
    auto port = parse_port(text);
    if (!port) return port.error();
    return HostPort{"", *port};
  }
  if (text.find(':') != colon) return Errc::bad_endpoint;  // Unbracketed IPv6: ambiguous.
  auto port = parse_port(text.substr(colon + 1));
  if (!port) return port.error();
  return HostPort{std::string(text.substr(0, colon)), *port};
}

namespace {

Result<HostPort> endpoint_words(const std::vector<std::string>& args, bool allow_port_only) {
  switch (args.size()) {
    case 0:
      if (allow_port_only) return HostPort{};
      return Errc::bad_endpoint;
    case 1:
      return parse_endpoint(args[0], allow_port_only);
    case 2: {
      auto port = parse_port(args[1]);
      if (!port) return port.error();
      std::string host = args[0];
      if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
      // One colon is HOST:PORT with a PORT after it too (an IPv6 address has two or more).
      if (std::count(host.begin(), host.end(), ':') == 1) return Errc::bad_endpoint;
      return HostPort{host, *port};
    }
    default:
      return Errc::bad_endpoint;
  }
}

}  // namespace

Result<HostPort> parse_endpoint_args(const std::vector<std::string>& args, bool allow_port_only) {
  auto hp = endpoint_words(args, allow_port_only);
  // Connecting needs a host: getaddrinfo would take an empty one for this machine without a word
  // (ncat: "You must specify a host").
  if (hp && !allow_port_only && hp->host.empty()) return Errc::bad_endpoint;
  return hp;
}

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) {
  len_ = std::min<socklen_t>(len, sizeof(storage_));
  std::memcpy(&storage_, sa, len_);
}

Result<SocketAddress> SocketAddress::unix_path(std::string_view path) {
  sockaddr_un sun{};
  if (path.empty() || path.size() >= sizeof(sun.sun_path)) return Errc::path_too_long;
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), path.size());
  if (path.front() == '@') {  // Linux's abstract namespace: a name with no file, as ss shows it.
    sun.sun_path[0] = '\0';
    return SocketAddress(reinterpret_cast<sockaddr*>(&sun),
                         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size()));
  }
  return SocketAddress(reinterpret_cast<sockaddr*>(&sun),
                       static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1));
}

SocketAddress SocketAddress::any(int family, std::uint16_t port) {
  SocketAddress out;
  if (family == AF_INET6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_any;
    sin6.sin6_port = htons(port);
    out = SocketAddress(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
  } else {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    sin.sin_port = htons(port);
    out = SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  }
  return out;
}

std::uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

void SocketAddress::set_port(std::uint16_t port) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
}

std::string SocketAddress::host_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    // By hand: glibc's inet_ntop goes through sprintf, which dominated listing 20,000 sockets.
    const auto* b = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr);
    char* p = buf;
    for (int i = 0; i < 4; ++i) {
      unsigned v = b[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
      *p++ = static_cast<char>('0' + v % 10);
      if (i < 3) *p++ = '.';
    }
    *p = '\0';
  } else if (family() == AF_INET6) {
    const auto& addr = reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr;
    // A dual-stack socket sees IPv4 peers as ::ffff:a.b.c.d; show them as the IPv4 they are.
    if (IN6_IS_ADDR_V4MAPPED(&addr))
      inet_ntop(AF_INET, &addr.s6_addr[12], buf, sizeof(buf));
    else
      inet_ntop(AF_INET6, &addr, buf, sizeof(buf));
  } else if (family() == AF_UNIX) {
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&storage_);
    if (len_ <= offsetof(sockaddr_un, sun_path)) return "(unnamed)";
    // The abstract namespace (autobound datagram clients among others): "@name", as ss shows it.
    if (sun->sun_path[0] == '\0')
      return "@" + std::string(sun->sun_path + 1, len_ - offsetof(sockaddr_un, sun_path) - 1);
    return std::string(sun->sun_path,
                       strnlen(sun->sun_path, len_ - offsetof(sockaddr_un, sun_path)));
  }
  return buf;
}

std::string SocketAddress::to_string() const {
  if (family() == AF_INET6 &&
      IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr))
    return host_string() + ":" + std::to_string(port());
  if (family() == AF_INET6) return "[" + host_string() + "]:" + std::to_string(port());
  if (family() == AF_INET) return host_string() + ":" + std::to_string(port());
  return host_string();
}

std::vector<SocketAddress> interleave_families(std::vector<SocketAddress> addresses) {
  if (addresses.empty()) return addresses;
  std::vector<SocketAddress> first, second;
  int lead = addresses.front().family();
  for (auto& a : addresses) (a.family() == lead ? first : second).push_back(a);
  std::vector<SocketAddress> out;
  out.reserve(addresses.size());
  for (std::size_t i = 0; i < std::max(first.size(), second.size()); ++i) {
    if (i < first.size()) out.push_back(first[i]);
    if (i < second.size()) out.push_back(second[i]);
  }
  return out;
}

Result<std::vector<SocketAddress>> resolve(const std::string& host, std::uint16_t port,
                                           const ResolveOptions& options) {
  addrinfo hints{};
  hints.ai_family = options.family == Family::v4   ? AF_INET
                    : options.family == Family::v6 ? AF_INET6
                                                   : AF_UNSPEC;
  hints.ai_socktype = options.socktype;
  hints.ai_flags = AI_NUMERICSERV | (options.numeric_only ? AI_NUMERICHOST : 0) |
                   (options.passive ? AI_PASSIVE : 0);
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &list);
  if (rc == EAI_FAMILY || (rc == EAI_ADDRFAMILY && options.family != Family::any))
    return Errc::no_address_of_family;
  if (rc == EAI_SYSTEM) return last_error();
  if (rc != 0) {
    // getaddrinfo reports "has no address of that family" as EAI_NONAME/EAI_NODATA too; ask
    // again without the family restriction so the message says which it was.
    if (options.family != Family::any) {
      ResolveOptions any = options;
      any.family = Family::any;
      if (resolve(host, port, any)) return Errc::no_address_of_family;
    }
    // EAI_AGAIN: the name servers did not answer, so the name may well exist (a network
    // problem, not a typo).
    return rc == EAI_AGAIN ? Errc::name_server_failed : Errc::name_not_resolved;
  }
  std::vector<SocketAddress> out;
  for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    SocketAddress a(ai->ai_addr, ai->ai_addrlen);
    bool duplicate = false;
    for (const auto& seen : out)
      duplicate |= seen.size() == a.size() && std::memcmp(seen.get(), a.get(), a.size()) == 0;
    if (!duplicate) out.push_back(a);
  }
  freeaddrinfo(list);
  if (out.empty()) return Errc::name_not_resolved;
  return interleave_families(std::move(out));
}

}  // namespace parley
