// The pure parts of `parley doctor`: address scopes, the loopback-only decision, verdicts from
// socket errors and ICMP, the firewall evaluator over nft's JSON, the resolver files.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "parley/address_scope.hpp"
#include "parley/doctor.hpp"
#include "parley/firewall.hpp"
#include "parley/probe.hpp"

namespace parley {
namespace {

SocketAddress ip(const std::string& text) {
  auto r = resolve(text, 0, {Family::any, true, SOCK_STREAM, false});
  EXPECT_TRUE(r) << text;
  return r->front();
}

TEST(AddressScope, Classifies) {
  EXPECT_EQ(classify(ip("127.0.0.1")), AddressScope::loopback);
  EXPECT_EQ(classify(ip("127.5.0.1")), AddressScope::loopback);
  EXPECT_EQ(classify(ip("::1")), AddressScope::loopback);
  EXPECT_EQ(classify(ip("10.1.2.3")), AddressScope::private_net);
  EXPECT_EQ(classify(ip("172.16.0.1")), AddressScope::private_net);
  EXPECT_EQ(classify(ip("172.31.255.255")), AddressScope::private_net);
  EXPECT_EQ(classify(ip("172.32.0.1")), AddressScope::public_net);
  EXPECT_EQ(classify(ip("192.168.0.110")), AddressScope::private_net);
  EXPECT_EQ(classify(ip("fd00::1")), AddressScope::private_net);
  EXPECT_EQ(classify(ip("100.64.0.1")), AddressScope::cgnat);
  EXPECT_EQ(classify(ip("100.127.255.255")), AddressScope::cgnat);
  EXPECT_EQ(classify(ip("100.128.0.1")), AddressScope::public_net);
  EXPECT_EQ(classify(ip("169.254.1.1")), AddressScope::link_local);
  EXPECT_EQ(classify(ip("fe80::1")), AddressScope::link_local);
  EXPECT_EQ(classify(ip("203.0.113.5")), AddressScope::documentation);
  EXPECT_EQ(classify(ip("2001:db8::5")), AddressScope::documentation);
  EXPECT_EQ(classify(ip("0.0.0.0")), AddressScope::unspecified);
  EXPECT_EQ(classify(ip("::")), AddressScope::unspecified);
  EXPECT_EQ(classify(ip("224.0.0.1")), AddressScope::multicast);
  EXPECT_EQ(classify(ip("9.9.9.9")), AddressScope::public_net);
  EXPECT_EQ(classify(ip("2a00::1")), AddressScope::public_net);
  EXPECT_EQ(classify(ip("::ffff:192.168.1.2")), AddressScope::private_net);
  EXPECT_STREQ(scope_name(AddressScope::cgnat), "cgnat");
  EXPECT_STREQ(scope_name(AddressScope::private_net), "private");
}

TEST(AddressScope, LoopbackOnly) {
  EXPECT_TRUE(loopback_only({ip("127.0.0.1")}));
  EXPECT_TRUE(loopback_only({ip("127.0.0.1"), ip("::1")}));
  EXPECT_FALSE(loopback_only({}));
  EXPECT_FALSE(loopback_only({ip("0.0.0.0")}));
  EXPECT_FALSE(loopback_only({ip("127.0.0.1"), ip("::")}));
  EXPECT_FALSE(loopback_only({ip("192.168.1.2")}));
  EXPECT_FALSE(loopback_only({*SocketAddress::unix_path("/tmp/x.sock")}));
}

IcmpError icmp4(int code) {
  return {AF_INET, ICMP_DEST_UNREACH, code, std::nullopt};
}
IcmpError icmp6(int code) {
  return {AF_INET6, ICMP6_DST_UNREACH, code, std::nullopt};
}
std::error_code sys(int e) {
  return {e, std::system_category()};
}

TEST(Verdict, FromErrorsAndIcmp) {
  EXPECT_EQ(verdict_for(sys(ECONNREFUSED), std::nullopt, SOCK_STREAM), Verdict::refused);
  EXPECT_EQ(verdict_for(sys(ECONNREFUSED), icmp4(ICMP_PORT_UNREACH), SOCK_STREAM),
            Verdict::rejected);
  EXPECT_EQ(verdict_for(sys(ECONNREFUSED), icmp4(ICMP_PORT_UNREACH), SOCK_DGRAM), Verdict::refused);
  EXPECT_EQ(verdict_for(sys(EHOSTUNREACH), icmp4(ICMP_PKT_FILTERED), SOCK_STREAM),
            Verdict::rejected);
  EXPECT_EQ(verdict_for(sys(EHOSTUNREACH), icmp4(ICMP_HOST_ANO), SOCK_STREAM), Verdict::rejected);
  EXPECT_EQ(verdict_for(sys(EHOSTUNREACH), icmp4(ICMP_HOST_UNREACH), SOCK_STREAM),
            Verdict::host_unreachable);
  EXPECT_EQ(verdict_for(sys(ENETUNREACH), icmp4(ICMP_NET_UNREACH), SOCK_STREAM), Verdict::no_route);
  EXPECT_EQ(verdict_for(sys(EACCES), icmp6(ICMP6_DST_UNREACH_ADMIN), SOCK_STREAM),
            Verdict::rejected);
  EXPECT_EQ(verdict_for(sys(ECONNREFUSED), icmp6(ICMP6_DST_UNREACH_NOPORT), SOCK_STREAM),
            Verdict::rejected);
  EXPECT_EQ(verdict_for(sys(EHOSTUNREACH), icmp6(ICMP6_DST_UNREACH_ADDR), SOCK_STREAM),
            Verdict::host_unreachable);
  EXPECT_EQ(verdict_for(sys(ENETUNREACH), std::nullopt, SOCK_STREAM), Verdict::no_route);
  EXPECT_EQ(verdict_for(sys(EHOSTUNREACH), std::nullopt, SOCK_STREAM), Verdict::host_unreachable);
  EXPECT_EQ(verdict_for(sys(EPERM), std::nullopt, SOCK_STREAM), Verdict::rejected);
  EXPECT_EQ(icmp_name(icmp4(ICMP_PKT_FILTERED)), "admin-prohibited");
  EXPECT_EQ(icmp_name(icmp6(ICMP6_DST_UNREACH_NOPORT)), "port-unreachable");
  EXPECT_EQ(icmp_name({AF_INET, 5, 1, std::nullopt}), "type 5 code 1");
}

TEST(Verdict, BestFirst) {
  EXPECT_EQ(better(Verdict::filtered, Verdict::open), Verdict::open);
  EXPECT_EQ(better(Verdict::rejected, Verdict::refused), Verdict::refused);
  EXPECT_EQ(better(Verdict::no_route, Verdict::filtered), Verdict::filtered);
  EXPECT_STREQ(verdict_name(Verdict::host_unreachable), "host-unreachable");
}

// A ruleset as `nft -j -s list ruleset` prints it (abridged to what the evaluator reads).
const char* kJson = R"({"nftables": [
 {"set": {"family": "inet", "table": "f", "name": "web", "type": "inet_service", "elem": [80, 443]}},
 {"chain": {"family": "inet", "table": "f", "name": "input", "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
 {"chain": {"family": "inet", "table": "f", "name": "services"}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 5, "expr": [{"jump": {"target": "services"}}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [53, {"range": [6000, 6010]}]}}}, {"reject": {"type": "icmpx", "expr": "admin-prohibited"}}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "services", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@web"}}, {"counter": null}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "services", "handle": 8, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "nexthdr"}}, "right": "tcp"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 8080}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "services", "handle": 9, "expr": [{"xt": {"type": "match", "name": "multiport"}}, {"accept": null}]}},
 {"rule": {"family": "inet", "table": "f", "chain": "services", "handle": 10, "expr": [{"vmap": {"key": {"payload": {"protocol": "tcp", "field": "dport"}}, "data": {"set": [[7000, {"drop": null}], [7001, {"accept": null}]]}}}]}}
]})";

const char* kText = R"(table inet f { # handle 1
	set web { # handle 3
		type inet_service
		elements = { 80, 443 }
	}
	chain input { # handle 1
		type filter hook input priority filter; policy drop;
		iifname "lo" accept # handle 2
		ct state established,related accept # handle 3
		ip saddr 10.0.0.0/8 tcp dport 22 accept # handle 4
		jump services # handle 5
		udp dport { 53, 6000-6010 } reject with icmpx admin-prohibited # handle 6
	}
	chain services { # handle 2
		tcp dport @web counter accept # handle 7
		ip6 nexthdr tcp tcp dport 8080 accept # handle 8
		xt match "multiport" accept # handle 9
		tcp dport vmap { 7000 : drop, 7001 : accept } # handle 10
	}
}
)";

// The same ruleset without the rule parley cannot read (handle 9).
std::string without_multiport() {
  std::string json = kJson;
  const std::string rule =
      R"( {"rule": {"family": "inet", "table": "f", "chain": "services", "handle": 9, "expr": )"
      R"([{"xt": {"type": "match", "name": "multiport"}}, {"accept": null}]}},)";
  auto at = json.find(rule);
  EXPECT_NE(at, std::string::npos);
  return json.erase(at, rule.size() + 1);
}

FirewallReport eval(std::uint16_t port, int proto = IPPROTO_TCP, bool all = true) {
  auto r = evaluate_firewall({all ? std::string(kJson) : without_multiport(), kText, false}, port,
                             proto);
  EXPECT_TRUE(r);
  return *r;
}

FirewallReport eval_readable(std::uint16_t port, int proto = IPPROTO_TCP) {
  return eval(port, proto, false);
}

TEST(Firewall, NamedSetInJumpedChainAccepts) {
  auto r = eval(443);
  EXPECT_EQ(r.ipv4.verdict, FirewallVerdict::allowed);  // Decided before the unreadable rule.
  r = eval(80);
  EXPECT_EQ(r.ipv4.verdict, FirewallVerdict::allowed);
  ASSERT_TRUE(r.ipv4.rule);
  EXPECT_EQ(r.ipv4.rule->text, "tcp dport @web counter accept");
  EXPECT_EQ(r.ipv4.rule->chain, "services");
  EXPECT_EQ(r.ipv4.rule->handle, 7u);
  EXPECT_EQ(r.chains, 1u);
}

TEST(Firewall, FamilySpecificRule) {
  // 8080 is accepted for IPv6 only; IPv4 reaches the multiport rule parley cannot read.
  auto r = eval(8080);
  EXPECT_EQ(r.ipv6.verdict, FirewallVerdict::allowed);
  EXPECT_EQ(r.ipv4.verdict, FirewallVerdict::unknown);
  ASSERT_TRUE(r.ipv4.rule);
  EXPECT_EQ(r.ipv4.rule->text, "xt match \"multiport\" accept");
}

TEST(Firewall, UnreadableRuleThatCouldDecideMakesItUnknown) {
  auto r = eval(6005, IPPROTO_UDP);
  EXPECT_EQ(r.ipv4.verdict, FirewallVerdict::unknown);
}

TEST(Firewall, RejectFromSetRangeAndPolicyDrop) {
  auto r = eval_readable(6005, IPPROTO_UDP);
  EXPECT_EQ(r.ipv4.verdict, FirewallVerdict::rejected);
  EXPECT_EQ(r.ipv4.reject_with, "icmpx admin-prohibited");
  r = eval_readable(9999, IPPROTO_UDP);
  EXPECT_EQ(r.ipv4.verdict, FirewallVerdict::dropped);
  ASSERT_TRUE(r.ipv4.rule);
  EXPECT_EQ(r.ipv4.rule->text, "policy drop");
  EXPECT_EQ(r.ipv4.rule->handle, 0u);
}

TEST(Firewall, SomeSendersOnly) {
  // Port 22 is accepted for 10.0.0.0/8 only: dropped for a stranger, with the rule reported.
  std::string json = without_multiport();
  auto r = evaluate_firewall({json, kText, false}, 22, IPPROTO_TCP);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ipv4.verdict, FirewallVerdict::dropped);
  ASSERT_EQ(r->ipv4.some_senders.size(), 1u);
  EXPECT_EQ(r->ipv4.some_senders[0].text, "ip saddr 10.0.0.0/8 tcp dport 22 accept");
  EXPECT_TRUE(r->ipv6.some_senders.empty());  // "ip saddr" never matches IPv6.
  r = evaluate_firewall({json, kText, false}, 7000, IPPROTO_TCP);
  EXPECT_EQ(r->ipv4.verdict, FirewallVerdict::dropped);
  EXPECT_EQ(r->ipv4.rule->text, "tcp dport vmap { 7000 : drop, 7001 : accept }");
  r = evaluate_firewall({json, kText, false}, 7001, IPPROTO_TCP);
  EXPECT_EQ(r->ipv4.verdict, FirewallVerdict::allowed);
}

TEST(Firewall, EmptyRulesetAllowsAndLegacyMakesItUnknown) {
  auto r = evaluate_firewall({R"({"nftables": [{"metainfo": {}}]})", "", false}, 80, IPPROTO_TCP);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ipv4.verdict, FirewallVerdict::allowed);
  EXPECT_FALSE(r->ipv4.rule);
  EXPECT_EQ(r->chains, 0u);
  r = evaluate_firewall({R"({"nftables": []})", "", true}, 80, IPPROTO_TCP);
  EXPECT_EQ(r->ipv4.verdict, FirewallVerdict::unknown);
  EXPECT_FALSE(evaluate_firewall({"not json", "", false}, 80, IPPROTO_TCP));
}

TEST(Resolver, LiteralHostsOrDns) {
  char dir[] = "/tmp/parley-resolver.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string hosts = std::string(dir) + "/hosts", resolv = std::string(dir) + "/resolv.conf";
  std::ofstream(hosts) << "# comment srv\n192.168.1.20 Srv.Lan srv  # the server\n";
  std::ofstream(resolv) << "search lan\nnameserver 192.168.1.1\nnameserver 9.9.9.9\n";
  EXPECT_EQ(resolver_info("192.168.1.20", hosts, resolv).source, ResolverInfo::Source::literal);
  EXPECT_EQ(resolver_info("::1", hosts, resolv).source, ResolverInfo::Source::literal);
  EXPECT_EQ(resolver_info("srv.lan", hosts, resolv).source, ResolverInfo::Source::hosts_file);
  auto dns = resolver_info("comment", hosts, resolv);
  EXPECT_EQ(dns.source, ResolverInfo::Source::dns);
  EXPECT_EQ(dns.nameservers, (std::vector<std::string>{"192.168.1.1", "9.9.9.9"}));
  std::system((std::string("rm -rf ") + dir).c_str());
}

}  // namespace
}  // namespace parley
