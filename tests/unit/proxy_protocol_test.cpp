#include "parley/proxy_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

namespace parley {
namespace {

SocketAddress addr(const char* host, std::uint16_t port) {
  auto r = resolve(host, port, {Family::any, true, SOCK_STREAM, false});
  EXPECT_TRUE(r.ok()) << host;
  return r->front();
}

TEST(ProxyProtocol, V1RoundTrip) {
  auto h = proxy_protocol_header(ProxyProtocolVersion::v1, addr("192.0.2.1", 56324),
                                 addr("198.51.100.2", 443));
  EXPECT_EQ(h, "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n");
  auto p = parse_proxy_header(h + "GET / HTTP/1.0\r\n");
  ASSERT_EQ(p.status, ProxyHeader::Status::complete);
  EXPECT_EQ(p.size, h.size());
  EXPECT_EQ(p.source.to_string(), "192.0.2.1:56324");
  EXPECT_EQ(p.destination.to_string(), "198.51.100.2:443");
}

TEST(ProxyProtocol, V2RoundTripBothFamilies) {
  for (auto [c, s] : {std::pair{"192.0.2.1", "198.51.100.2"}, std::pair{"2001:db8::1", "::1"}}) {
    auto h = proxy_protocol_header(ProxyProtocolVersion::v2, addr(c, 1000), addr(s, 2000));
    auto p = parse_proxy_header(h);
    ASSERT_EQ(p.status, ProxyHeader::Status::complete) << c;
    EXPECT_EQ(p.size, h.size());
    EXPECT_EQ(p.source.host_string(), c);
    EXPECT_EQ(p.source.port(), 1000);
    EXPECT_EQ(p.destination.port(), 2000);
  }
}

TEST(ProxyProtocol, MappedAddressesAreAnnouncedAsIpv4) {
  auto h = proxy_protocol_header(ProxyProtocolVersion::v1, addr("::ffff:10.0.0.1", 5),
                                 addr("::ffff:10.0.0.2", 6));
  EXPECT_EQ(h, "PROXY TCP4 10.0.0.1 10.0.0.2 5 6\r\n");
}

TEST(ProxyProtocol, IncompleteUntilWhole) {
  auto h =
      proxy_protocol_header(ProxyProtocolVersion::v2, addr("192.0.2.1", 1), addr("192.0.2.2", 2));
  for (std::size_t n = 0; n < h.size(); ++n)
    EXPECT_EQ(parse_proxy_header(h.substr(0, n)).status, ProxyHeader::Status::incomplete) << n;
  EXPECT_EQ(parse_proxy_header("PROXY TCP4 1.2.3.4").status, ProxyHeader::Status::incomplete);
}

TEST(ProxyProtocol, RejectsGarbage) {
  for (const char* bad :
       {"GET / HTTP/1.1\r\n", "PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n", "PROXY TCP4 ::1 1.2.3.5 1 2\r\n",
        "PROXY TCP4 1.2.3.4 1.2.3.5 01 2\r\n", "PROXY TCP4 1.2.3.4 1.2.3.5 1 70000\r\n"}) {
    EXPECT_EQ(parse_proxy_header(bad).status, ProxyHeader::Status::invalid) << bad;
  }
  EXPECT_EQ(parse_proxy_header(std::string(200, 'P')).status, ProxyHeader::Status::invalid);
  std::string long_line = "PROXY TCP4 " + std::string(120, '1');
  EXPECT_EQ(parse_proxy_header(long_line).status, ProxyHeader::Status::invalid);
}

TEST(ProxyProtocol, LocalAndUnknown) {
  EXPECT_TRUE(parse_proxy_header("PROXY UNKNOWN\r\n").local);
  auto unix_addr = SocketAddress::unix_path("/tmp/x").value();
  auto h = proxy_protocol_header(ProxyProtocolVersion::v2, unix_addr, unix_addr);
  auto p = parse_proxy_header(h);
  EXPECT_EQ(p.status, ProxyHeader::Status::complete);
  EXPECT_TRUE(p.local);
}

}  // namespace
}  // namespace parley
