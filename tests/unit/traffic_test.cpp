#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "parley/telnet.hpp"
#include "parley/traffic_log.hpp"

namespace parley {
namespace {

using namespace std::string_literals;

// The exact shape ncat -x writes (checked against ncat 7.93), with parley's direction marker.
TEST(HexDump, NcatShapeWithMarker) {
  std::string data = "Hello, world\nsecond line that is longer than sixteen\n";
  EXPECT_EQ(hex_dump_chunk(TrafficDirection::sent, data.data(), data.size()),
            "> 0000   48 65 6c 6c 6f 2c 20 77  6f 72 6c 64 0a 73 65 63  Hello,.world.sec\n"
            "> 0010   6f 6e 64 20 6c 69 6e 65  20 74 68 61 74 20 69 73  ond.line.that.is\n"
            "> 0020   20 6c 6f 6e 67 65 72 20  74 68 61 6e 20 73 69 78  .longer.than.six\n"
            "> 0030   74 65 65 6e 0a                                    teen.           \n");
  EXPECT_EQ(hex_dump_chunk(TrafficDirection::received, "\xff\x00", 2),
            "< 0000   ff 00                                             ..              \n");
  EXPECT_EQ(hex_dump_chunk(TrafficDirection::received, "", 0), "");
}

TEST(TrafficLog, RawAndHexFromBothCallsAndPipes) {
  char dir[] = "/tmp/parley-log-test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string raw = std::string(dir) + "/raw", hex = std::string(dir) + "/hex";
  auto log = TrafficLog::open({raw, hex, false}, nullptr);
  ASSERT_TRUE(log);
  (*log)->record(TrafficDirection::sent, "ping\n", 5);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "pong\nextra", 10), 10);
  (*log)->record_pipe(TrafficDirection::received, p[0], 5);
  char rest[16];
  EXPECT_EQ(read(p[0], rest, sizeof(rest)), 5);  // Exactly 5 bytes were taken.
  close(p[0]);
  close(p[1]);
  EXPECT_FALSE((*log)->error());
  auto slurp = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
  };
  EXPECT_EQ(slurp(raw), "ping\npong\n");
  EXPECT_EQ(slurp(hex), hex_dump_chunk(TrafficDirection::sent, "ping\n", 5) +
                            hex_dump_chunk(TrafficDirection::received, "pong\n", 5));
  std::string failed;
  EXPECT_FALSE(TrafficLog::open({std::string(dir) + "/no/such/dir", "", false}, &failed));
  EXPECT_EQ(failed, std::string(dir) + "/no/such/dir");
  unlink(raw.c_str());
  unlink(hex.c_str());
  rmdir(dir);
}

TEST(TrafficLog, FullDiskIsRememberedNotFatal) {
  auto log = TrafficLog::open({"/dev/full", "", true}, nullptr);
  ASSERT_TRUE(log);
  (*log)->record(TrafficDirection::sent, "x", 1);
  (*log)->record(TrafficDirection::sent, "y", 1);
  EXPECT_EQ((*log)->error(), std::error_code(ENOSPC, std::system_category()));
  EXPECT_EQ((*log)->error_path(), "/dev/full");
}

std::pair<std::string, std::string> telnet(TelnetFilter& f, const std::string& in) {
  std::string data, replies;
  f.feed(in, &data, &replies);
  return {data, replies};
}

TEST(Telnet, RefusesEveryOptionAndStripsNegotiation) {
  TelnetFilter f;
  // DO ECHO, WILL SUPPRESS-GO-AHEAD, DONT x, WONT y, NOP, then text.
  auto [data, replies] =
      telnet(f, "\xff\xfd\x01\xff\xfb\x03\xff\xfe\x05\xff\xfc\x06\xff\xf1login: "s);
  EXPECT_EQ(data, "login: ");
  EXPECT_EQ(replies, "\xff\xfc\x01\xff\xfe\x03"s);  // WONT ECHO, DONT SGA.
}

TEST(Telnet, SplitAcrossChunksSubnegotiationAndEscapedIac) {
  TelnetFilter f;
  EXPECT_EQ(telnet(f, "a\xff"s), std::make_pair("a"s, ""s));
  EXPECT_EQ(telnet(f, "\xfd"s), std::make_pair(""s, ""s));
  EXPECT_EQ(telnet(f,
                   "\x18"
                   "b"s),
            std::make_pair("b"s, "\xff\xfc\x18"s));
  EXPECT_EQ(telnet(f,
                   "\xff\xfa\x18\x01\xff\xff\xff\xf0"
                   "c\xff\xff"s),
            std::make_pair("c\xff"s, ""s));
}

}  // namespace
}  // namespace parley
