#include "parley/access.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "parley/errors.hpp"

namespace parley {
namespace {

sockaddr_storage addr(const char* text) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
  } else {
    EXPECT_EQ(inet_pton(AF_INET6, text, &v6->sin6_addr), 1) << text;
    v6->sin6_family = AF_INET6;
  }
  return ss;
}

bool allowed(const AccessList& a, const char* text) {
  auto ss = addr(text);
  return a.check(reinterpret_cast<sockaddr*>(&ss)).allowed;
}

TEST(AccessList, EmptyAllowsEverybody) {
  AccessList a;
  EXPECT_TRUE(a.empty());
  EXPECT_TRUE(allowed(a, "10.1.2.3"));
  EXPECT_TRUE(allowed(a, "2001:db8::1"));
}

TEST(AccessList, AllowListRefusesTheRest) {
  AccessList a;
  ASSERT_FALSE(a.allow("10.0.0.0/8, 2001:db8::/32"));
  EXPECT_TRUE(allowed(a, "10.255.0.1"));
  EXPECT_FALSE(allowed(a, "11.0.0.1"));
  EXPECT_TRUE(allowed(a, "2001:db8:1::5"));
  EXPECT_FALSE(allowed(a, "2001:db9::1"));
  auto ss = addr("11.0.0.1");
  EXPECT_EQ(a.check(reinterpret_cast<sockaddr*>(&ss)).rule, "not in any --allow rule");
}

TEST(AccessList, DenyWinsOverAllow) {
  AccessList a;
  ASSERT_FALSE(a.allow("10.0.0.0/8"));
  ASSERT_FALSE(a.deny("10.0.0.0/24"));
  EXPECT_FALSE(allowed(a, "10.0.0.7"));
  EXPECT_TRUE(allowed(a, "10.0.1.7"));
  auto ss = addr("10.0.0.7");
  EXPECT_EQ(a.check(reinterpret_cast<sockaddr*>(&ss)).rule, "deny 10.0.0.0/24");
}

TEST(AccessList, MappedClientsMatchIpv4Rules) {
  AccessList a;
  ASSERT_FALSE(a.deny("127.0.0.1"));
  EXPECT_FALSE(allowed(a, "::ffff:127.0.0.1"));
  EXPECT_TRUE(allowed(a, "::ffff:127.0.0.2"));
  AccessList b;
  ASSERT_FALSE(b.allow("::ffff:192.168.0.0/112"));  // A mapped prefix is an IPv4 rule.
  EXPECT_TRUE(allowed(b, "192.168.3.4"));
  EXPECT_FALSE(allowed(b, "192.169.0.1"));
}

TEST(AccessList, PrefixBitsNotOnByteBoundaries) {
  AccessList a;
  ASSERT_FALSE(a.allow("192.168.4.0/22"));
  EXPECT_TRUE(allowed(a, "192.168.7.255"));
  EXPECT_FALSE(allowed(a, "192.168.8.0"));
  ASSERT_FALSE(a.allow("0.0.0.0/0"));
  EXPECT_TRUE(allowed(a, "1.2.3.4"));
}

TEST(AccessList, HostNamesResolveOnce) {
  AccessList a;
  ASSERT_FALSE(a.allow("localhost"));
  EXPECT_TRUE(allowed(a, "127.0.0.1"));
  EXPECT_FALSE(allowed(a, "10.0.0.1"));
  AccessList b;
  EXPECT_EQ(b.allow("no-such-host.invalid"), make_error_code(Errc::name_not_resolved));
}

// The resolver is a seam: a list built with its own never asks DNS (the fuzz target relies on it).
TEST(AccessList, ResolverIsInjectable) {
  std::vector<std::string> asked;
  AccessList a([&](const std::string& host) -> Result<std::vector<SocketAddress>> {
    asked.push_back(host);
    if (host != "lab.test") return Errc::name_not_resolved;
    return resolve("192.0.2.7", 0, {Family::any, true, SOCK_STREAM, false});
  });
  ASSERT_FALSE(a.allow("lab.test, 10.0.0.1"));
  EXPECT_EQ(a.allow("elsewhere.test"), make_error_code(Errc::name_not_resolved));
  EXPECT_EQ(asked, (std::vector<std::string>{"lab.test", "elsewhere.test"}));
  EXPECT_TRUE(allowed(a, "192.0.2.7"));
  EXPECT_TRUE(allowed(a, "10.0.0.1"));
  EXPECT_FALSE(allowed(a, "192.0.2.8"));
}

TEST(AccessList, RejectsMalformedRules) {
  for (const char* bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x", "1.2.3.4/-1", "",
                          "10.0.0.1,", "a b", "[::1]/200"}) {
    AccessList a;
    EXPECT_EQ(a.allow(bad), std::errc::invalid_argument) << bad;
  }
  AccessList a;
  EXPECT_EQ(a.allow("10.0.0.0/33"), std::errc::invalid_argument);
  EXPECT_EQ(a.error_text(), "10.0.0.0/33");
}

TEST(AccessList, Files) {
  std::string path = testing::TempDir() + "/parley-allow.txt";
  {
    std::ofstream f(path);
    f << "# the lab\n10.1.0.0/16   # room 1\n\n  ::1\n";
  }
  AccessList a;
  ASSERT_FALSE(a.allow_file(path));
  EXPECT_TRUE(allowed(a, "10.1.2.3"));
  EXPECT_TRUE(allowed(a, "::1"));
  EXPECT_FALSE(allowed(a, "10.2.0.1"));
  std::remove(path.c_str());
  AccessList b;
  EXPECT_EQ(b.deny_file("/nonexistent/list"), std::errc::no_such_file_or_directory);
}

}  // namespace
}  // namespace parley
