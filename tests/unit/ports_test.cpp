#include "parley/ports.hpp"

#include <gtest/gtest.h>

#include <map>

#include "parley/errors.hpp"

namespace parley {
namespace {

// A fixed table: the parser must not depend on the machine's /etc/services.
std::optional<std::uint16_t> table(std::string_view name) {
  static const std::map<std::string_view, std::uint16_t> kTable = {
      {"http", 80}, {"https", 443}, {"ssh", 22}, {"kerberos-adm", 749}};
  auto it = kTable.find(name);
  if (it == kTable.end()) return std::nullopt;
  return it->second;
}

std::vector<std::uint16_t> parse(std::string_view text) {
  auto r = parse_port_list(text, table);
  EXPECT_TRUE(r) << text;
  return r ? *r : std::vector<std::uint16_t>{};
}

std::string why_not(std::string_view text) {
  std::string why;
  auto r = parse_port_list(text, table, &why);
  EXPECT_FALSE(r) << text;
  if (!r) {
    EXPECT_EQ(r.error(), make_error_code(Errc::bad_port_list));
  }
  return why;
}

TEST(PortList, SinglesRangesListsAndNames) {
  EXPECT_EQ(parse("22"), (std::vector<std::uint16_t>{22}));
  EXPECT_EQ(parse("20-23"), (std::vector<std::uint16_t>{20, 21, 22, 23}));
  EXPECT_EQ(parse("443,80,http,ssh"), (std::vector<std::uint16_t>{443, 80, 22}));
  EXPECT_EQ(parse("20-22,80,https"), (std::vector<std::uint16_t>{20, 21, 22, 80, 443}));
  EXPECT_EQ(parse("kerberos-adm"), (std::vector<std::uint16_t>{749}));
}

TEST(PortList, OpenEndedAndReversedRanges) {
  EXPECT_EQ(parse("-3"), (std::vector<std::uint16_t>{1, 2, 3}));
  EXPECT_EQ(parse("65534-"), (std::vector<std::uint16_t>{65534, 65535}));
  EXPECT_EQ(parse("5-3"), (std::vector<std::uint16_t>{3, 4, 5}));
  EXPECT_EQ(parse("1-65535").size(), 65535u);
}

TEST(PortList, EachPortOnceInFirstOrder) {
  EXPECT_EQ(parse("80,20-22,21,80,http"), (std::vector<std::uint16_t>{80, 20, 21, 22}));
  EXPECT_EQ(parse("1-65535,1-65535").size(), 65535u);
}

TEST(PortList, Errors) {
  EXPECT_EQ(why_not(""), "no ports given");
  EXPECT_EQ(why_not("80,,81"), "empty item in the port list");
  EXPECT_EQ(why_not("80,"), "empty item in the port list");
  EXPECT_EQ(why_not("0"), "'0' is not a port (1-65535)");
  EXPECT_EQ(why_not("70000"), "'70000' is not a port (1-65535)");
  EXPECT_EQ(why_not("1-70000"), "'70000' is not a port (1-65535)");
  EXPECT_EQ(why_not("99999999999999999999"), "'99999999999999999999' is not a port (1-65535)");
  EXPECT_EQ(why_not("htp"), "unknown service 'htp'");
  EXPECT_EQ(why_not("-"), "unknown service '-'");
  EXPECT_EQ(why_not("80 81"), "'80 81' is not a port or a service name");
  EXPECT_EQ(why_not(std::string_view("8\0", 2)), "'8?' is not a port or a service name");
  EXPECT_EQ(why_not("http-ssh"), "unknown service 'http-ssh'");
}

TEST(PortList, NoLookupMeansNumbersOnly) {
  auto r = parse_port_list("80,http", nullptr);
  EXPECT_FALSE(r);
  EXPECT_TRUE(parse_port_list("80", nullptr));
}

TEST(PortList, SystemServices) {
  // /etc/services is part of netbase on Debian; http is in every copy of it.
  auto http = system_service_port("http", "tcp");
  if (!http) GTEST_SKIP() << "no /etc/services";
  EXPECT_EQ(*http, 80);
  EXPECT_EQ(system_service_name(80, "tcp"), "http");
  EXPECT_FALSE(system_service_port("no-such-service-here", "tcp"));
}

}  // namespace
}  // namespace parley
