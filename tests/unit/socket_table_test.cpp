// The socket table's parsers on crafted input: valid answers parse field by field; short,
// truncated, random and mutated ones are errors (never an out-of-bounds read: run under ASan),
// and recordings never write through a planted symlink.

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "parley/socket_table.hpp"

namespace parley {
namespace {

void put(std::string* out, const void* p, std::size_t n) {
  out->append(static_cast<const char*>(p), n);
  out->resize(NLMSG_ALIGN(out->size()), '\0');
}

std::string attr(unsigned short type, const void* p, std::size_t n) {
  std::string a;
  rtattr h{static_cast<unsigned short>(RTA_LENGTH(n)), type};
  a.append(reinterpret_cast<const char*>(&h), sizeof(h));
  a.append(static_cast<const char*>(p), n);
  a.resize(RTA_ALIGN(a.size()), '\0');
  return a;
}

std::string message(std::uint16_t type, const std::string& payload) {
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(NLMSG_LENGTH(payload.size()));
  h.nlmsg_type = type;
  std::string m;
  m.append(reinterpret_cast<const char*>(&h), sizeof(h));
  put(&m, payload.data(), payload.size());
  return m;
}

std::string done(int status = 0) {
  return message(NLMSG_DONE, std::string(reinterpret_cast<const char*>(&status), 4));
}

std::string inet_socket(int state, std::uint16_t sport, std::uint16_t dport, std::uint32_t inode,
                        const std::string& attrs = {}) {
  inet_diag_msg m{};
  m.idiag_family = AF_INET;
  m.idiag_state = static_cast<std::uint8_t>(state);
  m.idiag_timer = 2;
  m.idiag_retrans = 3;
  m.idiag_expires = 7200;
  m.id.idiag_sport = htons(sport);
  m.id.idiag_dport = htons(dport);
  m.id.idiag_src[0] = htonl(0x7f000001);
  m.id.idiag_dst[0] = htonl(0x7f000002);
  m.idiag_rqueue = 5;
  m.idiag_wqueue = 6;
  m.idiag_uid = 1000;
  m.idiag_inode = inode;
  return message(SOCK_DIAG_BY_FAMILY,
                 std::string(reinterpret_cast<const char*>(&m), sizeof(m)) + attrs);
}

std::string unix_socket(std::uint32_t inode, const std::string& attrs) {
  unix_diag_msg m{};
  m.udiag_family = AF_UNIX;
  m.udiag_type = SOCK_STREAM;
  m.udiag_state = kEstablished;
  m.udiag_ino = inode;
  return message(SOCK_DIAG_BY_FAMILY,
                 std::string(reinterpret_cast<const char*>(&m), sizeof(m)) + attrs);
}

// A source whose "kernel" answers each dump with the given bytes for that kind of request.
struct Fake {
  std::string inet4, inet6 = done(), unix_answer = done();
  NetlinkExchange exchange() {
    return [this](std::string_view request, const DatagramSink& sink, std::string*) {
      int family = static_cast<unsigned char>(request[NLMSG_HDRLEN]);
      const std::string& bytes = family == AF_INET    ? inet4
                                 : family == AF_INET6 ? inet6
                                                      : unix_answer;
      auto fed = sink(bytes);
      if (!fed) return fed.error();
      return *fed == Feed::done ? std::error_code() : std::make_error_code(std::errc::bad_message);
    };
  }
};

struct Listing {
  std::error_code ec;
  std::string detail;
  std::vector<SocketRecord> records;
  std::vector<std::string> names;
};

Listing list(SocketSource& src, DiagQuery q = {}) {
  Listing l;
  l.ec = src.list(q, [&](const SocketRecord& r) {
    l.records.push_back(r);
    l.names.emplace_back(r.unix_name);
    return true;
  });
  l.detail = src.error_detail();
  return l;
}

TEST(SocketTable, InetMessagesParseFieldByField) {
  Fake fake;
  std::uint8_t v6only = 1;
  fake.inet4 = inet_socket(kEstablished, 8080, 5555, 42) +
               inet_socket(kListen, 22, 0, 43, attr(INET_DIAG_SKV6ONLY, &v6only, 1)) + done();
  auto src = make_netlink_source(fake.exchange());
  auto l = list(*src);
  ASSERT_FALSE(l.ec) << l.detail;
  ASSERT_EQ(l.records.size(), 2u);
  const auto& r = l.records[0];
  EXPECT_EQ(r.family, AF_INET);
  EXPECT_EQ(r.state, kEstablished);
  EXPECT_EQ(r.local_port, 8080);
  EXPECT_EQ(r.peer_port, 5555);
  EXPECT_EQ(r.local[0], 127);
  EXPECT_EQ(r.peer[3], 2);
  EXPECT_EQ(r.recv_q, 5u);
  EXPECT_EQ(r.send_q, 6u);
  EXPECT_EQ(r.uid, 1000u);
  EXPECT_EQ(r.inode, 42u);
  EXPECT_EQ(r.timer, Timer::keepalive);
  EXPECT_EQ(r.retrans, 3);
  EXPECT_EQ(r.expires_ms, 7200u);
  EXPECT_EQ(l.records[1].v6only, 1);
}

TEST(SocketTable, TcpInfoOfAnyLengthAndSkmem) {
  Fake fake;
  std::vector<std::uint8_t> info(104, 0);  // An old kernel's shorter tcp_info.
  info[5] = 4;                             // tcpi_options: wscale
  std::uint32_t rtt = 35;
  std::memcpy(&info[68], &rtt, 4);  // tcpi_rtt
  std::uint32_t mem[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const char cong[] = "cubic";
  fake.inet4 = inet_socket(kEstablished, 1, 2, 3,
                           attr(INET_DIAG_INFO, info.data(), info.size()) +
                               attr(INET_DIAG_CONG, cong, sizeof(cong)) +
                               attr(INET_DIAG_SKMEMINFO, mem, sizeof(mem))) +
               done();
  auto src = make_netlink_source(fake.exchange());
  DiagQuery q;
  q.tcp_info = true;
  q.memory = true;
  SocketRecord seen;
  TcpInfo ti;
  SkMem sk;
  std::string congestion;
  ASSERT_FALSE(src->list(q, [&](const SocketRecord& r) {
    seen = r;
    if (r.info) ti = *r.info;
    if (r.memory) sk = *r.memory;
    congestion = r.congestion;
    return true;
  }));
  ASSERT_NE(seen.info, nullptr);
  EXPECT_EQ(ti.rtt, 35u);
  EXPECT_EQ(ti.options, 4u);
  EXPECT_EQ(ti.bytes_sent, 0u);  // Beyond the short struct: zero.
  EXPECT_EQ(congestion, "cubic");
  EXPECT_EQ(sk.count, 9);
  EXPECT_EQ(sk.v[8], 9u);
}

TEST(SocketTable, UnixNamesPeersAndQueues) {
  Fake fake;
  const char path[] = "/run/my app.sock";
  const char abstract[] = "\0bus\0x";
  std::uint32_t peer = 99;
  unix_diag_rqlen q{3, 4};
  fake.unix_answer =
      unix_socket(7, attr(UNIX_DIAG_NAME, path, sizeof(path)) + attr(UNIX_DIAG_PEER, &peer, 4) +
                         attr(UNIX_DIAG_RQLEN, &q, sizeof(q))) +
      unix_socket(8, attr(UNIX_DIAG_NAME, abstract, sizeof(abstract) - 1)) + done();
  auto src = make_netlink_source(fake.exchange());
  DiagQuery dq;
  dq.protos = kUnixProtos;
  auto l = list(*src, dq);
  ASSERT_FALSE(l.ec) << l.detail;
  ASSERT_EQ(l.records.size(), 2u);
  EXPECT_EQ(l.names[0], "/run/my app.sock");
  EXPECT_EQ(l.records[0].unix_peer, 99u);
  EXPECT_EQ(l.records[0].recv_q, 3u);
  EXPECT_EQ(l.records[0].send_q, 4u);
  EXPECT_EQ(l.names[1], "@bus@x");  // Abstract, NULs shown as ss shows them.
}

TEST(SocketTable, MalformedAnswersAreErrorsThatSayWhere) {
  struct Case {
    std::string bytes;
    std::string detail;
  };
  std::uint16_t short_peer = 1;
  int int_min = INT_MIN, eperm = -EPERM;
  std::vector<Case> cases = {
      {std::string(10, '\0'), "truncated message header at byte 0 (10 bytes)"},
      {inet_socket(kEstablished, 1, 2, 3).substr(0, 40),
       "message at byte 0 claims 88 bytes, 40 are there"},
      {message(SOCK_DIAG_BY_FAMILY, std::string(20, '\0')) + done(),
       "inet_diag message at byte 0 has 20 of 72 bytes"},
      {inet_socket(0xff, 1, 2, 3) + done(), "inet_diag message at byte 0: state 255"},
      {message(NLMSG_ERROR, std::string(reinterpret_cast<char*>(&int_min), 4)),
       "NLMSG_ERROR at byte 0 with code -2147483648"},
      {message(NLMSG_ERROR, ""), "NLMSG_ERROR at byte 0 without an error code"},
      {inet_socket(kEstablished, 1, 2, 3, attr(INET_DIAG_MARK, &short_peer, 2)) + done(),
       "inet_diag message at byte 0: bad attribute at byte 88 (needs 4 bytes)"},
      {done() + done(), "20 bytes after the end of the dump at byte 20"},
      {message(77, "") + done(), "unexpected message type 77 at byte 0"},
  };
  for (const auto& c : cases) {
    Fake fake;
    fake.inet4 = c.bytes;
    auto src = make_netlink_source(fake.exchange());
    auto l = list(*src);
    EXPECT_EQ(l.ec, std::errc::bad_message) << c.detail;
    EXPECT_EQ(l.detail, c.detail);
  }
  // An error the kernel reports is passed on as its errno.
  Fake fake;
  fake.inet4 = message(NLMSG_ERROR, std::string(reinterpret_cast<char*>(&eperm), 4));
  auto src = make_netlink_source(fake.exchange());
  EXPECT_EQ(list(*src).ec, std::errc::operation_not_permitted);
  // Unix attributes too short for their type.
  Fake u;
  u.unix_answer = unix_socket(7, attr(UNIX_DIAG_PEER, &short_peer, 2)) + done();
  auto usrc = make_netlink_source(u.exchange());
  DiagQuery dq;
  dq.protos = kUnixProtos;
  auto l = list(*usrc, dq);
  EXPECT_EQ(l.ec, std::errc::bad_message);
  EXPECT_EQ(l.detail, "unix_diag message at byte 0: bad attribute at byte 32 (needs 4 bytes)");
}

// Every truncation and thousands of byte mutations of a rich answer: an error or a listing,
// never a read out of bounds (ASan) or undefined behaviour (UBSan).
TEST(SocketTable, TruncatedAndMutatedAnswersNeverCrash) {
  std::vector<std::uint8_t> info(232, 1);
  std::uint32_t mem[9] = {};
  std::uint32_t peer = 5;
  unix_diag_rqlen q{1, 2};
  const std::string inet =
      inet_socket(kEstablished, 1, 2, 3,
                  attr(INET_DIAG_INFO, info.data(), info.size()) + attr(INET_DIAG_CONG, "bbr", 3) +
                      attr(INET_DIAG_SKMEMINFO, mem, sizeof(mem))) +
      inet_socket(kListen, 4, 0, 5) + done();
  const std::string unix_bytes =
      unix_socket(7, attr(UNIX_DIAG_NAME, "/x", 2) + attr(UNIX_DIAG_PEER, &peer, 4) +
                         attr(UNIX_DIAG_RQLEN, &q, sizeof(q)) +
                         attr(UNIX_DIAG_MEMINFO, mem, sizeof(mem))) +
      done();
  DiagQuery dq;
  dq.protos = proto_bit(Proto::tcp) | kUnixProtos;
  dq.tcp_info = dq.memory = true;
  auto run = [&](const std::string& a, const std::string& b) {
    Fake fake;
    fake.inet4 = a;
    fake.unix_answer = b;
    auto src = make_netlink_source(fake.exchange());
    return list(*src, dq).ec;
  };
  for (std::size_t n = 0; n < inet.size(); ++n) EXPECT_TRUE(run(inet.substr(0, n), unix_bytes));
  for (std::size_t n = 0; n < unix_bytes.size(); ++n)
    EXPECT_TRUE(run(inet, unix_bytes.substr(0, n)));
  std::mt19937 rng(7);
  for (int i = 0; i < 5000; ++i) {
    std::string a = inet, b = unix_bytes;
    for (int k = 0; k < 1 + i % 4; ++k) {
      std::string& s = rng() % 2 ? a : b;
      s[rng() % s.size()] = static_cast<char>(rng());
    }
    (void)run(a, b);
  }
  for (int i = 0; i < 500; ++i) {
    std::string junk(rng() % 200, '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    EXPECT_TRUE(run(junk, unix_bytes));
  }
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-table-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(mkdir((dir_ + "/net").c_str(), 0755), 0);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }
  std::string dir_;
};

const char kTcpHeader[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n";

// /proc/net/tcp is read in pieces, and the kernel resumes each read by position: sockets opened
// and closed meanwhile shift it, so a busy table can list one socket several times (seen 7 times
// in CI). A socket with an inode is listed once; TIME-WAIT sockets (inode 0) are all kept.
TEST_F(TempDir, ProcListsASocketOnceWhateverTheKernelRepeats) {
  const std::string listener =
      "   0: 0100007F:3039 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 1001\n";
  const std::string timewait =
      "   1: 0100007F:3039 0100007F:C5A1 06 00000000:00000000 03:00001770 00000000 0 0 0\n";
  write("net/tcp", std::string(kTcpHeader) + listener + timewait + listener + listener);
  write("net/tcp6", std::string(kTcpHeader) +
                        "   0: 00000000000000000000000001000000:3039 "
                        "00000000000000000000000001000000:C5A1 06 00000000:00000000 03:00001770 "
                        "00000000 0 0 0\n");
  write("net/unix",
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 2001 /a\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 2001 /a\n");
  auto src = make_proc_source(dir_, true);
  DiagQuery q;
  q.protos = proto_bit(Proto::tcp) | kUnixProtos;
  auto l = list(*src, q);
  ASSERT_FALSE(l.ec) << l.detail;
  ASSERT_EQ(l.records.size(), 4u);  // The listener, two TIME-WAITs (v4 and v6), the Unix socket.
  EXPECT_EQ(l.records[0].inode, 1001u);
  EXPECT_EQ(l.records[1].inode, 0u);
  EXPECT_EQ(l.records[2].inode, 0u);
  EXPECT_EQ(l.records[3].inode, 2001u);
  // A second listing starts afresh.
  EXPECT_EQ(list(*src, q).records.size(), 4u);
}

TEST_F(TempDir, ProcTablesAreChecked) {
  write("net/tcp", std::string(kTcpHeader) +
                       "   0: 0100007F:3039 00000000:0000 0A 00000000:00000002 00:00000000 "
                       "00000000  1000        0 1001 1 0000000000000000 100 0 0 10 0\n"
                       "   1: 0100007F:3039 0100007F:C5A1 06 00000000:00000000 03:00001770 "
                       "00000000     0        0 0 3 0000000000000000\n");
  write("net/unix",
        "Num       RefCount Protocol Flags    Type St Inode Path\n"
        "0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/my server.sock\n");
  auto src = make_proc_source(dir_, true);
  DiagQuery q;
  q.protos = proto_bit(Proto::tcp) | kUnixProtos;
  auto l = list(*src, q);
  ASSERT_FALSE(l.ec) << l.detail;
  ASSERT_EQ(l.records.size(), 3u);
  EXPECT_EQ(l.records[0].state, kListen);
  EXPECT_EQ(l.records[0].local_port, 12345);
  EXPECT_EQ(l.records[0].recv_q, 2u);
  EXPECT_EQ(l.records[0].uid, 1000u);
  EXPECT_EQ(l.records[1].timer, Timer::timewait);
  EXPECT_EQ(l.records[1].expires_ms, 60000u);    // 0x1770 ticks of 1/100 s.
  EXPECT_EQ(l.names[2], "/run/my server.sock");  // Spaces in a path are kept.
  EXPECT_EQ(l.records[2].state, kListen);

  struct Case {
    std::string text, detail;
  };
  std::vector<Case> bad = {
      {"", "net/tcp: empty (no header line)"},
      {"garbage\n", "net/tcp: line 1 is not the table's header"},
      {std::string(kTcpHeader) +
           "   0: 0100007F:3039 00000000:0000 FF 00000000:00000000 00:00000000 00000000  0 0 1\n",
       "net/tcp: line 2: bad state field"},
      {std::string(kTcpHeader) + "   0: 0100007F:3039 00000000:0000 0A 00000000:00000000 00:0",
       "net/tcp: line 2 is cut short (no newline)"},
      {std::string(kTcpHeader) +
           "   0: 0100007F:3039 00000000 0A 00000000:00000000 00:00000000 00000000  0 0 1\n",
       "net/tcp: line 2: bad remote address field"},
  };
  for (const auto& c : bad) {
    write("net/tcp", c.text);
    auto strict = make_proc_source(dir_, false);
    auto r = list(*strict);
    EXPECT_EQ(r.ec, std::errc::bad_message) << c.detail;
    EXPECT_EQ(r.detail, dir_ + "/" + c.detail);
  }
  // A replay must have every file it needs.
  auto strict = make_proc_source(dir_, false);
  DiagQuery udp;
  udp.protos = proto_bit(Proto::udp);
  auto r = list(*strict, udp);
  EXPECT_EQ(r.ec, std::errc::no_such_file_or_directory);
  EXPECT_EQ(r.detail, dir_ + "/net/udp");
}

TEST_F(TempDir, ReplayOfEmptyOrTruncatedRecordingsIsAnError) {
  auto src = make_netlink_source(replay_netlink(dir_));
  auto l = list(*src);
  EXPECT_EQ(l.ec, std::errc::no_such_file_or_directory);
  EXPECT_EQ(l.detail, dir_ + "/inet-tcp.nl");
  write("inet-tcp.nl", "");
  l = list(*src);
  EXPECT_EQ(l.ec, std::errc::bad_message);
  EXPECT_EQ(l.detail, dir_ + "/inet-tcp.nl: empty");
  write("inet-tcp.nl", inet_socket(kEstablished, 1, 2, 3));
  l = list(*src);
  EXPECT_EQ(l.ec, std::errc::bad_message);
  EXPECT_EQ(l.detail, dir_ + "/inet-tcp.nl: ends before the dump's NLMSG_DONE");
  write("inet-tcp.nl", inet_socket(kEstablished, 1, 2, 3).substr(0, 50));
  l = list(*src);
  EXPECT_EQ(l.detail, dir_ + "/inet-tcp.nl: message at byte 0 claims 88 bytes, 50 are there");
}

TEST_F(TempDir, RecordingReplacesAPlantedSymlinkInsteadOfFollowingIt) {
  const std::string victim = dir_ + "/victim";
  write("victim", "precious");
  ASSERT_EQ(symlink(victim.c_str(), (dir_ + "/inet-tcp.nl").c_str()), 0);
  Fake fake;
  fake.inet4 = inet_socket(kEstablished, 1, 2, 3) + done();
  auto src = make_netlink_source(recording_netlink(fake.exchange(), dir_));
  DiagQuery q;
  q.v6 = false;
  auto l = list(*src, q);
  ASSERT_FALSE(l.ec) << l.detail;
  std::ifstream in(victim);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "precious");
  struct stat st {};
  ASSERT_EQ(lstat((dir_ + "/inet-tcp.nl").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // And the recording replays.
  auto replay = make_netlink_source(replay_netlink(dir_));
  auto r = list(*replay, q);
  ASSERT_FALSE(r.ec) << r.detail;
  EXPECT_EQ(r.records.size(), 1u);
}

TEST(SocketTable, StateNames) {
  EXPECT_EQ(parse_states("listen"), 1u << kListen);
  EXPECT_EQ(parse_states("LISTENING"), 1u << kListen);
  EXPECT_EQ(parse_states("time_wait"), 1u << kTimeWait);
  EXPECT_EQ(parse_states("closed"), 1u << kClose);
  EXPECT_FALSE(parse_states("bogus"));
  EXPECT_STREQ(state_name(kNewSynRecv), "SYN-RECV");
  EXPECT_STREQ(state_name(255), "UNKNOWN");
}

}  // namespace
}  // namespace parley
