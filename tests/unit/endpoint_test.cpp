#include "parley/endpoint.hpp"

#include <gtest/gtest.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>

#include "parley/errors.hpp"

namespace parley {
namespace {

TEST(ParsePort, AcceptsRange) {
  EXPECT_EQ(*parse_port("0"), 0);
  EXPECT_EQ(*parse_port("65535"), 65535);
  EXPECT_FALSE(parse_port("65536"));
  EXPECT_FALSE(parse_port("70000"));
  EXPECT_FALSE(parse_port("-1"));
  EXPECT_FALSE(parse_port("http"));
  EXPECT_FALSE(parse_port(""));
  EXPECT_FALSE(parse_port("80x"));
}

TEST(ParseEndpoint, Forms) {
  auto a = parse_endpoint("example.org:80", false);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.org");
  EXPECT_EQ(a->port, 80);
  auto b = parse_endpoint("[::1]:8080", false);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 8080);
  EXPECT_EQ(parse_endpoint("::1:80", false).error(), make_error_code(Errc::bad_endpoint));
  EXPECT_FALSE(parse_endpoint("12345", false));
  auto c = parse_endpoint("12345", true);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "");
  EXPECT_EQ(c->port, 12345);
  EXPECT_EQ(parse_endpoint("host:99999", false).error(), make_error_code(Errc::bad_port));
}

TEST(ParseEndpointArgs, TwoWords) {
  auto a = parse_endpoint_args({"localhost", "22"}, false);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 22);
  auto b = parse_endpoint_args({"[fe80::1]", "22"}, false);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->host, "fe80::1");
  EXPECT_FALSE(parse_endpoint_args({}, false));
  EXPECT_FALSE(parse_endpoint_args({"a", "b", "c"}, false));
}

// Connecting needs a host; listening takes an empty one as every address.
TEST(ParseEndpointArgs, EmptyHostOnlyForListening) {
  EXPECT_FALSE(parse_endpoint_args({"", "22"}, false));
  EXPECT_FALSE(parse_endpoint_args({":22"}, false));
  EXPECT_FALSE(parse_endpoint_args({"[]:22"}, false));
  auto any = parse_endpoint_args({"", "22"}, true);
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "");
  EXPECT_TRUE(parse_endpoint_args({"22"}, true));
  // HOST:PORT and a PORT too; an IPv6 address (two colons or more) is a host.
  EXPECT_FALSE(parse_endpoint_args({"127.0.0.1:22", "23"}, false));
  EXPECT_TRUE(parse_endpoint_args({"::1", "23"}, false));
}

TEST(Resolve, NumericAndFamilies) {
  auto v4 = resolve("127.0.0.1", 80, {Family::any, true, SOCK_STREAM, false});
  ASSERT_TRUE(v4);
  ASSERT_EQ(v4->size(), 1u);
  EXPECT_EQ(v4->front().to_string(), "127.0.0.1:80");
  auto v6 = resolve("::1", 443, {Family::any, true, SOCK_STREAM, false});
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->front().to_string(), "[::1]:443");
  EXPECT_EQ(resolve("127.0.0.1", 80, {Family::v6, true, SOCK_STREAM, false}).error(),
            make_error_code(Errc::no_address_of_family));
  EXPECT_EQ(resolve("example.invalid", 80, {Family::any, false, SOCK_STREAM, false}).error(),
            make_error_code(Errc::name_not_resolved));
  EXPECT_EQ(resolve("localhost", 80, {Family::any, true, SOCK_STREAM, false}).error(),
            make_error_code(Errc::name_not_resolved));
}

TEST(Interleave, AlternatesFamiliesKeepingOrder) {
  auto a6 = *resolve("::1", 1, {Family::any, true, SOCK_STREAM, false});
  auto b6 = *resolve("::2", 2, {Family::any, true, SOCK_STREAM, false});
  auto a4 = *resolve("127.0.0.1", 3, {Family::any, true, SOCK_STREAM, false});
  auto b4 = *resolve("127.0.0.2", 4, {Family::any, true, SOCK_STREAM, false});
  auto out = interleave_families({a6[0], b6[0], a4[0], b4[0]});
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].to_string(), "[::1]:1");
  EXPECT_EQ(out[1].to_string(), "127.0.0.1:3");
  EXPECT_EQ(out[2].to_string(), "[::2]:2");
  EXPECT_EQ(out[3].to_string(), "127.0.0.2:4");
}

TEST(SocketAddress, UnixPathAndMappedV4) {
  auto u = SocketAddress::unix_path("/tmp/x.sock");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->to_string(), "/tmp/x.sock");
  EXPECT_FALSE(SocketAddress::unix_path(std::string(200, 'a')));
  auto m = resolve("::ffff:127.0.0.1", 9, {Family::any, true, SOCK_STREAM, false});
  ASSERT_TRUE(m);
  EXPECT_EQ(m->front().to_string(), "127.0.0.1:9");
}

// Autobound Unix datagram clients live in the abstract namespace: a leading NUL, then the name.
TEST(SocketAddress, AbstractAndUnnamedUnix) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path,
              "\0"
              "1a2b3",
              6);
  SocketAddress abstract(reinterpret_cast<sockaddr*>(&sun),
                         static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 6));
  EXPECT_EQ(abstract.to_string(), "@1a2b3");
  SocketAddress unnamed(reinterpret_cast<sockaddr*>(&sun), sizeof(sa_family_t));
  EXPECT_EQ(unnamed.to_string(), "(unnamed)");
}

}  // namespace
}  // namespace parley
