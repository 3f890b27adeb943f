// ss's filter language: parsing, matching, and the inet_diag bytecode it compiles to, checked
// against a copy of the kernel's bytecode checker and interpreter (net/ipv4/inet_diag.c).

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "parley/socket_filter.hpp"

namespace parley {
namespace {

SocketRecord inet(int family, const char* local, int lport, const char* peer, int pport,
                  int state = kEstablished) {
  SocketRecord r;
  r.family = family;
  r.state = state;
  inet_pton(family, local, r.local.data());
  inet_pton(family, peer, r.peer.data());
  r.local_port = static_cast<std::uint16_t>(lport);
  r.peer_port = static_cast<std::uint16_t>(pport);
  return r;
}

SocketFilter parse(const std::vector<std::string>& args, FilterContext ctx = {}) {
  std::string why;
  auto f = parse_socket_filter(args, ctx, &why);
  EXPECT_TRUE(f.ok()) << why;
  return f.ok() ? *f : SocketFilter{};
}

std::string parse_error(const std::vector<std::string>& args) {
  std::string why;
  auto f = parse_socket_filter(args, {}, &why);
  EXPECT_FALSE(f.ok()) << "parsed: " << args.front();
  return why;
}

// The kernel's inet_diag_bc_audit: every op in bounds, every jump onto an op or an exit.
bool audit(const std::string& bc) {
  auto valid_cc = [&](std::size_t len, std::size_t cc) {
    const char* p = bc.data();
    while (len > 0) {
      if (cc == len) return true;
      if (cc > len) return false;
      inet_diag_bc_op op;
      std::memcpy(&op, p, sizeof(op));
      if (op.yes < 4 || op.yes & 3) return false;
      len -= op.yes;
      p += op.yes;
    }
    return cc == 0;
  };
  std::size_t len = bc.size();
  const char* p = bc.data();
  while (len > 0) {
    if (len < sizeof(inet_diag_bc_op)) return false;
    inet_diag_bc_op op;
    std::memcpy(&op, p, sizeof(op));
    std::size_t min_len = sizeof(op);
    switch (op.code) {
      case INET_DIAG_BC_S_COND:
      case INET_DIAG_BC_D_COND: {
        if (len < sizeof(op) + sizeof(inet_diag_hostcond)) return false;
        inet_diag_hostcond cond;
        std::memcpy(&cond, p + sizeof(op), sizeof(cond));
        std::size_t alen = cond.family == AF_INET ? 4 : cond.family == AF_INET6 ? 16 : 0;
        if (cond.family != AF_UNSPEC && alen == 0) return false;
        min_len += sizeof(cond) + alen;
        if (len < min_len || cond.prefix_len > 8 * alen) return false;
        break;
      }
      case INET_DIAG_BC_S_GE:
      case INET_DIAG_BC_S_LE:
      case INET_DIAG_BC_D_GE:
      case INET_DIAG_BC_D_LE:
        min_len += sizeof(op);
        if (len < min_len) return false;
        break;
      case INET_DIAG_BC_DEV_COND:
        min_len += 4;
        break;
      case INET_DIAG_BC_MARK_COND:
        min_len += sizeof(inet_diag_markcond);
        break;
      case INET_DIAG_BC_CGROUP_COND:
        min_len += 8;
        break;
      case INET_DIAG_BC_AUTO:
      case INET_DIAG_BC_JMP:
      case INET_DIAG_BC_NOP:
        break;
      default:
        return false;
    }
    if (op.code != INET_DIAG_BC_NOP) {
      if (op.no < min_len || op.no > len + 4 || op.no & 3) return false;
      if (op.no < len && !valid_cc(bc.size(), len - op.no)) return false;
    }
    if (op.yes < min_len || op.yes > len + 4 || op.yes & 3) return false;
    p += op.yes;
    len -= op.yes;
  }
  return true;
}

bool bitstring_match(const std::uint8_t* a, const std::uint8_t* b, int bits) {
  int words = bits / 8, rest = bits % 8;
  if (std::memcmp(a, b, static_cast<std::size_t>(words)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[words] & mask) == (b[words] & mask);
}

// The kernel's inet_diag_bc_run (autobound: the entry's port in 32768..60999).
bool run(const std::string& bc, const SocketRecord& e) {
  int len = static_cast<int>(bc.size());
  const char* p = bc.data();
  while (len > 0) {
    inet_diag_bc_op op;
    std::memcpy(&op, p, sizeof(op));
    bool yes = true;
    switch (op.code) {
      case INET_DIAG_BC_NOP:
        break;
      case INET_DIAG_BC_JMP:
        yes = false;
        break;
      case INET_DIAG_BC_S_GE:
      case INET_DIAG_BC_S_LE:
      case INET_DIAG_BC_D_GE:
      case INET_DIAG_BC_D_LE: {
        inet_diag_bc_op arg;
        std::memcpy(&arg, p + sizeof(op), sizeof(arg));
        int port = op.code == INET_DIAG_BC_S_GE || op.code == INET_DIAG_BC_S_LE ? e.local_port
                                                                                : e.peer_port;
        yes = op.code == INET_DIAG_BC_S_GE || op.code == INET_DIAG_BC_D_GE ? port >= arg.no
                                                                           : port <= arg.no;
        break;
      }
      case INET_DIAG_BC_AUTO:
        yes = e.local_port >= 32768 && e.local_port <= 60999;
        break;
      case INET_DIAG_BC_S_COND:
      case INET_DIAG_BC_D_COND: {
        inet_diag_hostcond cond;
        std::memcpy(&cond, p + sizeof(op), sizeof(cond));
        const auto* caddr = reinterpret_cast<const std::uint8_t*>(p + sizeof(op) + sizeof(cond));
        bool src = op.code == INET_DIAG_BC_S_COND;
        const std::uint8_t* addr = src ? e.local.data() : e.peer.data();
        if (cond.port != -1 && cond.port != (src ? e.local_port : e.peer_port)) {
          yes = false;
          break;
        }
        if (cond.family != AF_UNSPEC && cond.family != e.family) {
          static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
          yes = e.family == AF_INET6 && cond.family == AF_INET &&
                std::memcmp(addr, mapped, 12) == 0 &&
                bitstring_match(addr + 12, caddr, cond.prefix_len);
          break;
        }
        yes = cond.prefix_len == 0 || bitstring_match(addr, caddr, cond.prefix_len);
        break;
      }
      case INET_DIAG_BC_DEV_COND: {
        std::uint32_t ifindex;
        std::memcpy(&ifindex, p + sizeof(op), 4);
        yes = ifindex == e.iface;
        break;
      }
      case INET_DIAG_BC_MARK_COND: {
        inet_diag_markcond m;
        std::memcpy(&m, p + sizeof(op), sizeof(m));
        yes = (e.mark & m.mask) == m.mark;
        break;
      }
      default:
        ADD_FAILURE() << "unknown op " << int{op.code};
        return false;
    }
    int step = yes ? op.yes : op.no;
    len -= step;
    p += step;
  }
  return len == 0;
}

TEST(SocketFilter, StateKeywordsAndGroups) {
  auto f = parse({"state", "established", "state", "time-wait"});
  ASSERT_TRUE(f.states);
  EXPECT_EQ(*f.states, (1u << kEstablished) | (1u << kTimeWait));
  EXPECT_FALSE(f.has_expression());
  f = parse({"exclude", "listening"});
  EXPECT_EQ(*f.states, kAllStates & ~(1u << kListen));
  f = parse({"state", "connected"});
  EXPECT_EQ(*f.states, kAllStates & ~((1u << kListen) | (1u << kClose)));
  f = parse({"state", "synchronized"});
  EXPECT_EQ(*f.states, kAllStates & ~((1u << kListen) | (1u << kClose) | (1u << kSynSent)));
  f = parse({"state", "bucket"});
  EXPECT_EQ(*f.states, (1u << kSynRecv) | (1u << kTimeWait));
  f = parse({"state", "big"});
  EXPECT_EQ(*f.states, kAllStates & ~((1u << kSynRecv) | (1u << kTimeWait)));
}

TEST(SocketFilter, PortsAndComparisons) {
  auto r = inet(AF_INET, "127.0.0.1", 8080, "127.0.0.1", 5000);
  EXPECT_TRUE(parse({"sport = :8080"}).matches(r));
  EXPECT_TRUE(parse({"sport", "8080"}).matches(r));    // No colon, no operator.
  EXPECT_TRUE(parse({"sport == 0x1f90"}).matches(r));  // ss's base-0 numbers.
  EXPECT_FALSE(parse({"sport != :8080"}).matches(r));
  EXPECT_TRUE(parse({"sport > :1024"}).matches(r));
  EXPECT_FALSE(parse({"sport gt :8080"}).matches(r));
  EXPECT_TRUE(parse({"sport ge :8080"}).matches(r));
  EXPECT_TRUE(parse({"dport < :5001"}).matches(r));
  EXPECT_FALSE(parse({"dport lt :5000"}).matches(r));
  EXPECT_TRUE(parse({"dport <= :5000 and sport >= :8080"}).matches(r));
  EXPECT_TRUE(parse({"( dport = :ssh or sport = :8080 )"}).matches(r));
  EXPECT_TRUE(parse({"sport = :*"}).matches(r));
}

TEST(SocketFilter, AndOrGroupFromTheLeftLikeSs) {
  auto r = inet(AF_INET, "127.0.0.1", 1, "127.0.0.1", 2);
  // ss: `a or b and c` is `(a or b) and c`.
  EXPECT_FALSE(parse({"sport = :1 or sport = :9 and dport = :9"}).matches(r));
  EXPECT_TRUE(parse({"sport = :1 or ( sport = :9 and dport = :9 )"}).matches(r));
  EXPECT_TRUE(parse({"not sport = :9 dport = :2"}).matches(r));  // Juxtaposition is and.
  EXPECT_FALSE(parse({"! sport = :1"}).matches(r));
  EXPECT_TRUE(parse({"sport = :1 || sport = :9 && dport = :2"}).matches(r));
}

TEST(SocketFilter, AddressesPrefixesAndMappedPeers) {
  auto r = inet(AF_INET, "10.1.2.3", 80, "193.233.7.9", 40000);
  EXPECT_TRUE(parse({"src 10.0.0.0/8"}).matches(r));
  EXPECT_TRUE(parse({"dst 193.233.7/24"}).matches(r));  // Short form, as ss reads it.
  EXPECT_FALSE(parse({"dst 193.233.8/24"}).matches(r));
  EXPECT_TRUE(parse({"src 10.1.2.3:80"}).matches(r));
  EXPECT_FALSE(parse({"src 10.1.2.3:81"}).matches(r));
  EXPECT_TRUE(parse({"src *:80"}).matches(r));
  EXPECT_TRUE(parse({"dst 193.233.7.0/255.255.255.0"}).matches(r));
  auto v6 = inet(AF_INET6, "::1", 22, "::ffff:127.0.0.1", 5555);
  EXPECT_TRUE(parse({"src [::1]"}).matches(v6));
  EXPECT_TRUE(parse({"src [::1]:22"}).matches(v6));
  EXPECT_FALSE(parse({"src 127.0.0.1"}).matches(v6));
  EXPECT_TRUE(parse({"dst 127.0.0.1"}).matches(v6));  // v4-mapped peer, as the kernel does.
  EXPECT_TRUE(parse({"dst 127.0.0.0/8:5555"}).matches(v6));
  EXPECT_FALSE(parse({"dst [::1]"}).matches(r));
  auto f = parse({"dst [::1]"});
  EXPECT_FALSE(f.may_match(AF_INET));
  EXPECT_TRUE(f.may_match(AF_INET6));
  EXPECT_TRUE(parse({"dst 127.0.0.1"}).may_match(AF_INET6));
  EXPECT_TRUE(parse({"sport = :1"}).may_match(AF_INET));
}

TEST(SocketFilter, HostNamesResolve) {
  auto v4 = inet(AF_INET, "127.0.0.1", 22, "127.0.0.1", 5555);
  auto v6 = inet(AF_INET6, "::1", 22, "::1", 5555);
  auto f = parse({"src localhost"});
  EXPECT_TRUE(f.matches(v4));
  // Whether localhost has ::1 depends on /etc/hosts; each address it has matches.
  FilterContext only_v4;
  only_v4.default_family = AF_INET;
  EXPECT_FALSE(parse({"src localhost"}, only_v4).matches(v6));
}

TEST(SocketFilter, FamilyPrefixesLimitTheListing) {
  auto f = parse({"src inet6:*:22"});
  ASSERT_EQ(f.families.size(), 1u);
  EXPECT_EQ(f.families[0], AF_INET6);
  EXPECT_FALSE(f.matches(inet(AF_INET, "1.2.3.4", 22, "1.2.3.4", 1)));
  EXPECT_TRUE(f.matches(inet(AF_INET6, "::1", 22, "::1", 1)));
}

TEST(SocketFilter, UnixGlobs) {
  SocketRecord u;
  u.proto = Proto::unix_stream;
  u.family = AF_UNIX;
  u.unix_name = "/tmp/.X11-unix/X0";
  u.inode = 77;
  EXPECT_TRUE(parse({"src unix:/tmp/.X11-unix/*"}).matches(u));
  EXPECT_TRUE(parse({"src unix:/TMP/*"}).matches(u));  // Case-insensitive, as ss.
  EXPECT_FALSE(parse({"src unix:/run/*"}).matches(u));
  FilterContext only_unix;
  only_unix.default_family = AF_UNIX;
  EXPECT_TRUE(parse({"src /tmp/*"}, only_unix).matches(u));
  EXPECT_FALSE(parse({"src unix:/tmp/*"}).matches(inet(AF_INET, "1.2.3.4", 1, "1.2.3.4", 2)));
  EXPECT_TRUE(parse({"sport = :77"}).matches(u));  // ss: a Unix socket's port is its inode.
  EXPECT_TRUE(parse({"src unix:/tmp/*"}).compile().empty());  // Not for the kernel.
}

TEST(SocketFilter, Autobound) {
  FilterContext ctx;
  ctx.ephemeral_low = 32768;
  ctx.ephemeral_high = 60999;
  EXPECT_TRUE(parse({"autobound"}, ctx).matches(inet(AF_INET, "1.2.3.4", 40000, "1.2.3.4", 80)));
  EXPECT_FALSE(parse({"autobound"}, ctx).matches(inet(AF_INET, "1.2.3.4", 80, "1.2.3.4", 40000)));
}

// Deep nesting overflowed the stack (a segfault at 30000 'not's); long flat lists are bounded too.
TEST(SocketFilter, DepthAndSizeAreBounded) {
  std::string nots;
  for (int i = 0; i < 30000; ++i) nots += "not ";
  EXPECT_EQ(parse_error({nots + "sport = :22"}),
            "the filter nests '(' and 'not' more than 100 deep");
  std::string parens;
  for (int i = 0; i < 50000; ++i) parens += "( ";
  EXPECT_EQ(parse_error({parens + "sport = :22"}),
            "the filter nests '(' and 'not' more than 100 deep");
  std::string deepest = "sport = :22";  // 99 'not's and the condition: 100 levels.
  for (int i = 0; i < 99; ++i) deepest = "not " + deepest;
  EXPECT_FALSE(parse({deepest}).matches(inet(AF_INET, "1.2.3.4", 22, "1.2.3.4", 80)));
  EXPECT_EQ(parse_error({"not " + deepest}), "the filter nests '(' and 'not' more than 100 deep");
  std::string many = "sport = :1";
  for (int i = 2; i <= 1500; ++i) many += " or sport = :" + std::to_string(i);
  EXPECT_EQ(parse_error({many}), "the filter has more than 2000 terms");
  std::string fine = "sport = :1";
  for (int i = 2; i <= 900; ++i) fine += " or sport = :" + std::to_string(i);
  EXPECT_TRUE(parse({fine}).matches(inet(AF_INET, "1.2.3.4", 900, "1.2.3.4", 80)));
}

TEST(SocketFilter, MistakesAreNamed) {
  EXPECT_EQ(parse_error({"(dport = :22 )"}),
            "'(dport': put spaces around parentheses, e.g. '( dport = :22 )'");
  EXPECT_EQ(parse_error({"( dport = :22"}), "'(' without a matching ')'");
  EXPECT_EQ(parse_error({"dport = :22 )"}), "')' without a matching '('");
  EXPECT_EQ(parse_error({"sport >"}), "after 'sport >': expected a value, got the end");
  EXPECT_EQ(parse_error({"sport > or"}), "after 'sport >': expected a value, got 'or'");
  EXPECT_EQ(parse_error({"dport = :nosuchservice"}),
            "'nosuchservice' is neither a port number nor a service");
  EXPECT_EQ(parse_error({"dport = :70000"}), "port '70000' is over 65535");
  EXPECT_EQ(parse_error({"frob"}),
            "unknown word 'frob' (expected src, dst, sport, dport, dev, "
            "fwmark, cgroup, autobound, not or '(')");
  EXPECT_EQ(parse_error({"state", "bogus"}).substr(0, 22), "unknown state 'bogus';");
  EXPECT_EQ(parse_error({"src 10.0.0.0/33"}), "'10.0.0.0/33': prefix length '33' is not 0..32");
  EXPECT_EQ(parse_error({"src link:eth0"}),
            "'link:eth0': parley lists TCP, UDP and Unix sockets only");
  EXPECT_EQ(parse_error({"dev = nosuchdev0"}), "dev 'nosuchdev0': no such network interface");
  EXPECT_EQ(parse_error({"dst inet6:127.0.0.1"}),
            "'inet6:127.0.0.1': 127.0.0.1 is an IPv4 address, but the filter is for IPv6 (-4, -6 "
            "or a FAMILY: prefix)");
  EXPECT_EQ(parse_error({"sport > *"}), "'sport *' needs a port number");
}

TEST(SocketFilter, BytecodeIsWhatSsSends) {
  // ss -tan 'sport = :22': one S_COND {family 0, prefix 0, port 22} with 4 address bytes.
  std::string bc = parse({"sport = :22"}).compile();
  ASSERT_EQ(bc.size(), 4u + sizeof(inet_diag_hostcond) + 4u);
  inet_diag_bc_op op;
  std::memcpy(&op, bc.data(), 4);
  EXPECT_EQ(op.code, INET_DIAG_BC_S_COND);
  EXPECT_EQ(op.yes, bc.size());
  EXPECT_EQ(op.no, bc.size() + 4);
  inet_diag_hostcond cond;
  std::memcpy(&cond, bc.data() + 4, sizeof(cond));
  EXPECT_EQ(cond.family, 0);
  EXPECT_EQ(cond.prefix_len, 0);
  EXPECT_EQ(cond.port, 22);
  EXPECT_TRUE(audit(bc));
}

// Random expressions: the compiled bytecode passes the kernel's checker and selects exactly the
// sockets matches() selects.
TEST(SocketFilter, BytecodeAgreesWithMatchingOnRandomExpressions) {
  std::mt19937 rng(12345);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  const char* v4[] = {"10.0.0.1",     "10.0.0.0/8", "127.0.0.1",
                      "127.0.0.0/24", "0.0.0.0/0",  "10.1/16"};
  const char* v6[] = {"[::1]", "[fe80::/10]", "[::ffff:10.0.0.1]", "[2001:db8::/32]"};
  const char* ops[] = {"=", "!=", "<", "<=", ">", ">="};
  std::function<std::string(int)> expr = [&](int depth) -> std::string {
    int k = depth > 3 ? pick(4) : pick(8);
    std::string port = ":" + std::to_string(pick(3) * 1000 + pick(3));
    switch (k) {
      case 0:
        return std::string(pick(2) ? "sport " : "dport ") + ops[pick(6)] + " " + port;
      case 1:
        return std::string(pick(2) ? "src " : "dst ") + v4[pick(6)] + (pick(2) ? port : "");
      case 2:
        return std::string(pick(2) ? "src " : "dst ") + v6[pick(4)] + (pick(2) ? port : "");
      case 3:
        return pick(2) ? "autobound" : "src *" + port;
      case 4:
        return "not " + expr(depth + 1);
      case 5:
        return "( " + expr(depth + 1) + " )";
      case 6:
        return expr(depth + 1) + (pick(2) ? " or " : " and ") + expr(depth + 1);
      default:
        return expr(depth + 1) + " " + expr(depth + 1);
    }
  };
  std::vector<SocketRecord> sockets;
  const char* a4[] = {"10.0.0.1", "10.1.2.3", "127.0.0.1", "192.168.1.1"};
  const char* a6[] = {"::1", "fe80::1", "::ffff:10.0.0.1", "2001:db8::5", "::ffff:127.0.0.1"};
  for (int i = 0; i < 60; ++i) {
    int ports[] = {0, 1, 2, 1000, 1001, 2000, 2002, 40000};
    if (i % 2)
      sockets.push_back(inet(AF_INET, a4[pick(4)], ports[pick(8)], a4[pick(4)], ports[pick(8)]));
    else
      sockets.push_back(inet(AF_INET6, a6[pick(5)], ports[pick(8)], a6[pick(5)], ports[pick(8)]));
  }
  FilterContext ctx;
  for (int n = 0; n < 400; ++n) {
    std::string text = expr(0);
    auto f = parse({text}, ctx);
    std::string bc = f.compile();
    ASSERT_FALSE(bc.empty()) << text;
    ASSERT_TRUE(audit(bc)) << text;
    for (const auto& s : sockets)
      ASSERT_EQ(run(bc, s), f.matches(s))
          << text << " on port " << s.local_port << "/" << s.peer_port;
  }
}

}  // namespace
}  // namespace parley
