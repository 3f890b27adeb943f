#include "parley/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace parley {
namespace {

constexpr char kSignature[12] = {'\r', '\n', '\r', '\n', '\0', '\r',
                                 '\n', 'Q',  'U',  'I',  'T',  '\n'};
constexpr std::size_t kV1Max = 107;

bool ip(const SocketAddress& a) {
  return a.family() == AF_INET || a.family() == AF_INET6;
}

// An IPv4-mapped IPv6 address is announced as the IPv4 address it is.
SocketAddress unmapped(const SocketAddress& a) {
  if (a.family() != AF_INET6) return a;
  const auto* s6 = reinterpret_cast<const sockaddr_in6*>(a.get());
  if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) return a;
  sockaddr_in s4{};
  s4.sin_family = AF_INET;
  s4.sin_port = s6->sin6_port;
  std::memcpy(&s4.sin_addr, s6->sin6_addr.s6_addr + 12, 4);
  return SocketAddress(reinterpret_cast<sockaddr*>(&s4), sizeof(s4));
}

std::string v1(const SocketAddress& c, const SocketAddress& s) {
  if (!ip(c) || c.family() != s.family()) return "PROXY UNKNOWN\r\n";
  return fmt::format("PROXY {} {} {} {} {}\r\n", c.family() == AF_INET ? "TCP4" : "TCP6",
                     c.host_string(), s.host_string(), c.port(), s.port());
}

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xff));
}

std::string v2(const SocketAddress& c, const SocketAddress& s) {
  std::string out(kSignature, sizeof(kSignature));
  if (!ip(c) || c.family() != s.family()) {
    out.push_back('\x20');  // Version 2, LOCAL.
    out.push_back('\x00');  // UNSPEC.
    put16(out, 0);
    return out;
  }
  out.push_back('\x21');  // Version 2, PROXY.
  bool v4 = c.family() == AF_INET;
  out.push_back(v4 ? '\x11' : '\x21');  // INET or INET6, STREAM.
  put16(out, v4 ? 12 : 36);
  auto addr = [&](const SocketAddress& a) {
    if (v4)
      out.append(
          reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr),
          4);
    else
      out.append(
          reinterpret_cast<const char*>(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr),
          16);
  };
  addr(c);
  addr(s);
  put16(out, c.port());
  put16(out, s.port());
  return out;
}

ProxyHeader invalid(std::string why) {
  ProxyHeader h;
  h.status = ProxyHeader::Status::invalid;
  h.error = std::move(why);
  return h;
}

bool parse_port_text(std::string_view t, std::uint16_t* port) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size() || v > 65535 || t.empty()) return false;
  if (t.size() > 1 && t.front() == '0') return false;  // The spec forbids leading zeros.
  *port = static_cast<std::uint16_t>(v);
  return true;
}

bool make_address(int family, std::string_view host, std::uint16_t port, SocketAddress* out) {
  std::string h(host);
  sockaddr_storage ss{};
  if (family == AF_INET) {
    auto* s = reinterpret_cast<sockaddr_in*>(&ss);
    if (inet_pton(AF_INET, h.c_str(), &s->sin_addr) != 1) return false;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    *out = SocketAddress(reinterpret_cast<sockaddr*>(s), sizeof(sockaddr_in));
  } else {
    auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET6, h.c_str(), &s->sin6_addr) != 1) return false;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    *out = SocketAddress(reinterpret_cast<sockaddr*>(s), sizeof(sockaddr_in6));
  }
  return true;
}

ProxyHeader parse_v1(std::string_view data) {
  std::size_t end = data.find("\r\n");
  if (end == std::string_view::npos) {
    if (data.size() >= kV1Max) return invalid("PROXY v1 line longer than 107 bytes");
    return {};
  }
  if (end + 2 > kV1Max) return invalid("PROXY v1 line longer than 107 bytes");
  std::string_view line = data.substr(0, end);
  std::string_view parts[6];
  std::size_t n = 0;
  while (!line.empty() && n < 6) {
    std::size_t sp = line.find(' ');
    parts[n++] = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  }
  ProxyHeader h;
  h.version = ProxyProtocolVersion::v1;
  h.size = end + 2;
  if (n >= 2 && parts[1] == "UNKNOWN") {
    h.status = ProxyHeader::Status::complete;
    h.local = true;
    return h;
  }
  if (n != 6 || !line.empty()) return invalid("PROXY v1 line does not have 6 fields");
  int family = parts[1] == "TCP4" ? AF_INET : parts[1] == "TCP6" ? AF_INET6 : 0;
  if (family == 0) return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  std::uint16_t sport = 0, dport = 0;
  if (!parse_port_text(parts[4], &sport) || !parse_port_text(parts[5], &dport))
    return invalid("PROXY v1 port is not a number from 0 to 65535");
  if (!make_address(family, parts[2], sport, &h.source) ||
      !make_address(family, parts[3], dport, &h.destination))
    return invalid("PROXY v1 address does not match its protocol");
  h.status = ProxyHeader::Status::complete;
  return h;
}

ProxyHeader parse_v2(std::string_view data) {
  if (data.size() < 16) return {};
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(data[i]); };
  if ((byte(12) >> 4) != 2) return invalid("PROXY v2 version is not 2");
  unsigned command = byte(12) & 0x0f;
  if (command > 1) return invalid("PROXY v2 command is neither LOCAL nor PROXY");
  std::size_t length = static_cast<std::size_t>(byte(14)) << 8 | byte(15);
  if (data.size() < 16 + length) return {};
  ProxyHeader h;
  h.version = ProxyProtocolVersion::v2;
  h.size = 16 + length;
  h.status = ProxyHeader::Status::complete;
  unsigned family = byte(13) >> 4;
  if (command == 0 || family == 0) {  // LOCAL, or UNSPEC: no addresses to take.
    h.local = true;
    return h;
  }
  std::string_view body = data.substr(16, length);
  auto take = [&](int fam, std::size_t addr_len) -> bool {
    if (body.size() < 2 * addr_len + 4) return false;
    sockaddr_storage a{}, b{};
    std::uint16_t sport =
        static_cast<std::uint16_t>(byte(16 + 2 * addr_len) << 8 | byte(17 + 2 * addr_len));
    std::uint16_t dport =
        static_cast<std::uint16_t>(byte(18 + 2 * addr_len) << 8 | byte(19 + 2 * addr_len));
    if (fam == AF_INET) {
      auto* s = reinterpret_cast<sockaddr_in*>(&a);
      auto* d = reinterpret_cast<sockaddr_in*>(&b);
      s->sin_family = d->sin_family = AF_INET;
      std::memcpy(&s->sin_addr, body.data(), 4);
      std::memcpy(&d->sin_addr, body.data() + 4, 4);
      s->sin_port = htons(sport);
      d->sin_port = htons(dport);
      h.source = SocketAddress(reinterpret_cast<sockaddr*>(s), sizeof(sockaddr_in));
      h.destination = SocketAddress(reinterpret_cast<sockaddr*>(d), sizeof(sockaddr_in));
    } else {
      auto* s = reinterpret_cast<sockaddr_in6*>(&a);
      auto* d = reinterpret_cast<sockaddr_in6*>(&b);
      s->sin6_family = d->sin6_family = AF_INET6;
      std::memcpy(&s->sin6_addr, body.data(), 16);
      std::memcpy(&d->sin6_addr, body.data() + 16, 16);
      s->sin6_port = htons(sport);
      d->sin6_port = htons(dport);
      h.source = SocketAddress(reinterpret_cast<sockaddr*>(s), sizeof(sockaddr_in6));
      h.destination = SocketAddress(reinterpret_cast<sockaddr*>(d), sizeof(sockaddr_in6));
    }
    return true;
  };
  if (family == 1 && take(AF_INET, 4)) return h;
  if (family == 2 && take(AF_INET6, 16)) return h;
  if (family == 3) {  // AF_UNIX: nothing an IP access list or log could use.
    h.local = true;
    return h;
  }
  return invalid("PROXY v2 address block too short for its family");
}

}  // namespace

std::string proxy_protocol_header(ProxyProtocolVersion version, const SocketAddress& client,
                                  const SocketAddress& server) {
  SocketAddress c = unmapped(client), s = unmapped(server);
  return version == ProxyProtocolVersion::v1 ? v1(c, s) : v2(c, s);
}

ProxyHeader parse_proxy_header(std::string_view data) {
  std::size_t sig = std::min(data.size(), sizeof(kSignature));
  if (std::memcmp(data.data(), kSignature, sig) == 0) {
    if (data.size() < sizeof(kSignature)) return {};
    return parse_v2(data);
  }
  std::string_view prefix = "PROXY ";
  std::size_t p = std::min(data.size(), prefix.size());
  if (data.substr(0, p) != prefix.substr(0, p)) return invalid("no PROXY protocol header");
  if (data.size() < prefix.size()) return {};
  return parse_v1(data);
}

}  // namespace parley
