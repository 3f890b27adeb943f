#pragma once
// What this machine's firewall does with a new connection from another machine to a local port,
// read from nftables (which also holds the rules of iptables-nft, ufw and firewalld). Read-only:
// parley lists the ruleset and never changes it.
//
// The evaluation follows one packet through the input path: every filter chain hooked at
// prerouting and input for its family (ip, ip6, inet), in priority order, rule by rule, into
// jumped-to chains, until a verdict or the chain's policy. The packet is a new connection
// (ct state new) to the port over TCP or UDP, arriving on an interface that is not lo, from a
// sender parley does not know. A rule that matches only some senders (a source address, an
// input interface) is passed over and reported; a rule parley cannot read (an iptables
// extension) makes the answer `unknown` when it could change it.
//
// Pure functions over the ruleset text; live_ruleset() is the only part that talks to the kernel.
// Any thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "parley/result.hpp"

namespace parley {

enum class FirewallVerdict { allowed, dropped, rejected, unknown };
// "allowed", "dropped", "rejected", "unknown".
const char* firewall_verdict_name(FirewallVerdict v);

struct FirewallRule {
  std::string family, table, chain;  // "inet", "filter", "input".
  std::uint64_t handle = 0;          // 0 for a chain's policy.
  std::string text;                  // As `nft list ruleset` shows it, or "policy drop".
};

// The outcome for one IP family.
struct FirewallFinding {
  FirewallVerdict verdict = FirewallVerdict::allowed;
  // The rule or chain policy that decided; empty when no chain filters the packet at all.
  std::optional<FirewallRule> rule;
  std::string reject_with;  // For rejected: "icmp port-unreachable", "tcp reset", ...
  // Rules that would decide differently for some senders only (source address, interface).
  std::vector<FirewallRule> some_senders;
};

struct FirewallReport {
  FirewallFinding ipv4, ipv6;
  std::size_t chains = 0;  // Filter chains on the input path (0: nothing filters).
  bool iptables_nft = false, ufw = false, firewalld = false;  // Who manages the rules.
  bool legacy_iptables = false;  // iptables-legacy tables exist: not visible through nftables.
};

// The ruleset as `nft -j -s list ruleset` (json) and `nft -a -s list ruleset` (text, for
// showing rules as the user knows them) print it.
struct Ruleset {
  std::string json, text;
  bool legacy_iptables = false;  // /proc/net/ip_tables_names lists tables.
};
using RulesetReader = std::function<Result<Ruleset>()>;

// Lists the kernel's ruleset through libnftables, in a dry-run context (nothing can be
// committed). Errors: EPERM without CAP_NET_ADMIN, EPROTONOSUPPORT without nf_tables, EIO for
// anything else libnftables reports.
RulesetReader live_ruleset();

// protocol: IPPROTO_TCP or IPPROTO_UDP. Errors: EBADMSG for JSON that is not nft's.
Result<FirewallReport> evaluate_firewall(const Ruleset& ruleset, std::uint16_t port, int protocol);

}  // namespace parley
