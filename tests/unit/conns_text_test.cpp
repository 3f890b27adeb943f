// conns' text pieces and its compact row store.

#include <arpa/inet.h>
#include <sys/socket.h>

#include <random>

#include <gtest/gtest.h>

#include "cmd/conns_store.hpp"
#include "cmd/conns_text.hpp"

namespace parley::cmd {
namespace {

std::string address(int family, const char* text) {
  std::uint8_t a[16] = {};
  EXPECT_EQ(inet_pton(family, text, a), 1);
  std::string out;
  append_address(&out, family, a);
  return out;
}

TEST(ConnsText, AddressesAsInetNtopWritesThem) {
  for (const char* a : {"0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.100.9"})
    EXPECT_EQ(address(AF_INET, a), a);
  std::mt19937 rng(3);
  for (int i = 0; i < 20000; ++i) {
    std::uint8_t a[16];
    for (auto& b : a) b = static_cast<std::uint8_t>(rng() % 4 == 0 ? rng() : 0);
    if (i % 7 == 0) a[10] = a[11] = 0xff;
    char expected[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a, expected, sizeof(expected));
    std::string got;
    append_address(&got, AF_INET6, a);
    ASSERT_EQ(got, expected);
  }
  EXPECT_EQ(address(AF_INET6, "::ffff:127.0.0.1"), "::ffff:127.0.0.1");
}

TEST(ConnsText, NamesAreSafeForTheTerminal) {
  std::string out;
  append_escaped(&out, std::string("a\x1b[2Jb\\c\n\xff\x7f", 11));
  EXPECT_EQ(out, "a\\x1b[2Jb\\\\c\\x0a\\xff\\x7f");
  out.clear();
  append_escaped(&out, "grüß 世界");  // Valid UTF-8 stays.
  EXPECT_EQ(out, "grüß 世界");
  out.clear();
  append_escaped(&out, "\xc2\x9b");  // C1 control (CSI): escaped.
  EXPECT_EQ(out, "\\xc2\\x9b");
  out.clear();
  append_escaped(&out, "\xc0\xaf");  // Overlong '/': not UTF-8.
  EXPECT_EQ(out, "\\xc0\\xaf");
}

TEST(ConnsText, DisplayWidthCountsColumns) {
  EXPECT_EQ(display_width("abc"), 3u);
  EXPECT_EQ(display_width("grüß"), 4u);
  EXPECT_EQ(display_width("世界"), 4u);
  EXPECT_TRUE(valid_utf8("grüß"));
  EXPECT_FALSE(valid_utf8("a\xff"));
  EXPECT_EQ(hex_bytes("a\xff"), "61ff");
}

TEST(ConnsText, TimersAsSsPrintsThem) {
  auto t = [](Timer k, std::uint32_t ms, unsigned retrans) {
    std::string s;
    append_timer(&s, k, ms, retrans);
    return s;
  };
  EXPECT_EQ(t(Timer::off, 5, 0), "");
  EXPECT_EQ(t(Timer::keepalive, 7200, 0), "timer:(keepalive,7.200ms,0)");  // Sic: ss's form.
  EXPECT_EQ(t(Timer::on, 204, 2), "timer:(on,204ms,2)");
  EXPECT_EQ(t(Timer::timewait, 59000, 0), "timer:(timewait,59sec,0)");
  EXPECT_EQ(t(Timer::keepalive, 7200000, 0), "timer:(keepalive,120min,0)");
  EXPECT_EQ(t(Timer::persist, 61500, 1), "timer:(persist,1min1sec,1)");
}

TEST(ConnsText, TcpInfoAsSsPrintsIt) {
  TcpInfo i;
  i.options = 4 | 1;
  i.snd_wscale = 7;
  i.rcv_wscale = 7;
  i.rto = 204000;
  i.rtt = 35;
  i.rttvar = 17;
  i.snd_mss = 32768;
  i.snd_cwnd = 10;
  i.bytes_sent = 100;
  i.bytes_acked = 101;
  i.reordering = 3;
  i.last_data_sent_ms = 12;
  i.total_retrans = 2;
  std::string s;
  append_tcp_info(&s, i, "cubic", kEstablished, false, false);
  EXPECT_EQ(s,
            "cubic wscale:7,7 rto:204 rtt:0.035/0.017 mss:32768 cwnd:10 bytes_sent:100 "
            "bytes_acked:101 send 74.9Gbps lastsnd:12 retrans:0/2");
  s.clear();
  append_tcp_info(&s, i, "cubic", kEstablished, true, true);
  EXPECT_EQ(s.substr(0, 9), "ts cubic ");
  EXPECT_NE(s.find("send 74898285714bps"), std::string::npos) << s;
}

TEST(ConnsStore, RowsAndExtrasRoundTrip) {
  ConnTable t;
  TcpInfo info;
  info.rtt = 123;
  info.bytes_sent = 1ull << 40;
  info.snd_wnd = 65536;
  SkMem mem;
  mem.count = 9;
  mem.v = {1, 2, 3, 4, 5, 6, 7, 8, 900000};
  for (int i = 0; i < 5000; ++i) {
    SocketRecord r;
    r.inode = static_cast<std::uint64_t>(i);
    r.local_port = static_cast<std::uint16_t>(i);
    r.state = kEstablished;
    if (i % 3 == 0) {
      r.info = &info;
      r.congestion = "bbr";
    }
    if (i % 5 == 0) r.memory = &mem;
    if (i % 7 == 0) {
      r.proto = Proto::unix_stream;
      r.unix_name = "/run/x";
    }
    if (i % 2 == 0) {
      r.timer = Timer::keepalive;
      r.retrans = 3;
      r.expires_ms = 7200000;
    }
    t.add(r, {true, true, true});
  }
  ASSERT_EQ(t.size(), 5000u);
  ConnTable copy;
  for (std::size_t i = 0; i < t.size(); ++i) copy.add_copy(t, i);
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (const ConnTable* table : {&t, &copy}) {
      const ConnRow& r = (*table)[i];
      ASSERT_EQ(r.inode, i);
      ConnExtras e = table->extras(r);
      EXPECT_EQ(e.has_info, i % 3 == 0);
      if (e.has_info) {
        EXPECT_EQ(e.info.rtt, 123u);
        EXPECT_EQ(e.info.bytes_sent, 1ull << 40);
        EXPECT_EQ(e.info.snd_wnd, 65536u);
        EXPECT_EQ(e.congestion, "bbr");
      }
      EXPECT_EQ(e.has_memory, i % 5 == 0);
      if (e.has_memory) {
        EXPECT_EQ(e.memory.v[8], 900000u);
      }
      EXPECT_EQ(table->name(r), i % 7 == 0 ? "/run/x" : "");
      EXPECT_EQ(e.timer, i % 2 == 0 ? Timer::keepalive : Timer::off);
      EXPECT_EQ(e.expires_ms, i % 2 == 0 ? 7200000u : 0u);
    }
  }
  EXPECT_EQ(sizeof(ConnRow), 64u);
}

}  // namespace
}  // namespace parley::cmd
