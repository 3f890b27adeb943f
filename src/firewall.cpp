// The firewall evaluator: nft's JSON ruleset walked for one packet (see firewall.hpp).

#include "parley/firewall.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "firewall_internal.hpp"

namespace parley {
namespace {

using json = nlohmann::json;

// How a condition holds for the packet: surely, surely not, for some senders only, or unreadable.
enum class Match { yes, no, sender, opaque };

Match worse(Match a, Match b) {
  auto rank = [](Match m) { return m == Match::yes ? 0 : m == Match::sender ? 1 : 2; };
  return rank(a) >= rank(b) ? a : b;
}

struct Packet {
  bool v6 = false;
  int proto = IPPROTO_TCP;
  std::uint16_t port = 0;
};

// A field of the packet: known (number and/or name), absent (a TCP field of a UDP packet: the
// rule cannot match), depending on the sender, or not understood.
struct Value {
  enum Kind { known, absent, sender, opaque } kind = opaque;
  std::optional<long long> number;
  std::string name;
};

enum class Act { none, accept, drop, reject, jump, go, ret, unknown };

struct Decision {
  Act act = Act::none;
  std::string target;       // Chain for jump/goto.
  std::string reject_with;  // For reject.
};

struct Chain {
  std::string family, table, name, hook, type, policy;
  long long prio = 0;
  std::vector<const json*> rules;
};

struct Model {
  std::map<std::string, Chain> chains;       // "family table name"
  std::map<std::string, const json*> sets;   // "family table name" -> set object
  std::map<std::string, std::string> texts;  // rule_key -> text
};

std::string key3(const std::string& f, const std::string& t, const std::string& n) {
  return f + ' ' + t + ' ' + n;
}

Value known(long long number, std::string name = {}) {
  return {Value::known, number, std::move(name)};
}

bool is_l4(const std::string& p) {
  return p == "tcp" || p == "udp" || p == "udplite" || p == "sctp" || p == "dccp" || p == "icmp" ||
         p == "icmpv6" || p == "ah" || p == "esp" || p == "comp" || p == "igmp";
}

Value payload_value(const json& p, const Packet& pkt) {
  std::string proto = p.value("protocol", "");
  std::string field = p.value("field", "");
  const char* mine = pkt.proto == IPPROTO_TCP ? "tcp" : "udp";
  if (proto == "th" || is_l4(proto)) {
    if (proto != "th" && proto != mine) return Value{Value::absent, std::nullopt, {}};
    if (field == "dport") return known(pkt.port);
    if (field == "sport") return Value{Value::sender, std::nullopt, {}};
    return Value{Value::opaque, std::nullopt, {}};
  }
  if (proto == "ip" || proto == "ip6") {
    if ((proto == "ip6") != pkt.v6) return Value{Value::absent, std::nullopt, {}};
    if (field == "protocol" || field == "nexthdr") return known(pkt.proto, mine);
    if (field == "saddr" || field == "daddr") return Value{Value::sender, std::nullopt, {}};
    return Value{Value::opaque, std::nullopt, {}};
  }
  if (proto == "ether" || proto == "vlan") return Value{Value::sender, std::nullopt, {}};
  return Value{Value::opaque, std::nullopt, {}};
}

Value value_of(const json& left, const Packet& pkt) {
  if (!left.is_object()) return {};
  if (left.contains("payload")) return payload_value(left["payload"], pkt);
  const char* mine = pkt.proto == IPPROTO_TCP ? "tcp" : "udp";
  if (left.contains("meta")) {
    std::string key = left["meta"].value("key", "");
    if (key == "l4proto") return known(pkt.proto, mine);
    if (key == "nfproto") return known(pkt.v6 ? 10 : 2, pkt.v6 ? "ipv6" : "ipv4");
    if (key == "protocol") return known(pkt.v6 ? 0x86dd : 0x0800, pkt.v6 ? "ip6" : "ip");
    if (key == "pkttype") return known(0, "host");
    if (key == "iif" || key == "iifname") return Value{Value::sender, std::nullopt, "iif"};
    return {};
  }
  if (left.contains("ct")) {
    std::string key = left["ct"].value("key", "");
    if (key == "state") return known(8, "new");
    if (key == "status") return known(0, "");  // A new connection: not dnat, not snat, ...
    return {};
  }
  if (left.contains("fib")) return Value{Value::sender, std::nullopt, {}};
  return {};
}

// Whether `right` (a value, a set, a range, a named set) contains the packet's value; nullopt
// when it cannot be read.
std::optional<bool> contains(const json& right, const Value& v, const Model& m,
                             const Chain& where) {
  if (right.is_number_integer()) return v.number && *v.number == right.get<long long>();
  if (right.is_string()) {
    std::string s = right.get<std::string>();
    if (!s.empty() && s[0] == '@') {
      auto it = m.sets.find(key3(where.family, where.table, s.substr(1)));
      if (it == m.sets.end() || !it->second->contains("elem")) return false;
      return contains((*it->second)["elem"], v, m, where);
    }
    return !v.name.empty() && s == v.name;
  }
  if (right.is_array()) {
    bool unreadable = false;
    for (const auto& e : right) {
      auto hit = contains(e, v, m, where);
      if (hit && *hit) return true;
      unreadable |= !hit;
    }
    if (unreadable) return std::nullopt;
    return false;
  }
  if (!right.is_object()) return std::nullopt;
  if (right.contains("set")) return contains(right["set"], v, m, where);
  if (right.contains("elem")) return contains(right["elem"].value("val", json()), v, m, where);
  if (right.contains("range") && right["range"].is_array() && right["range"].size() == 2) {
    const auto& r = right["range"];
    if (!v.number || !r[0].is_number_integer() || !r[1].is_number_integer()) return std::nullopt;
    return r[0].get<long long>() <= *v.number && *v.number <= r[1].get<long long>();
  }
  return std::nullopt;
}

// The input interface is unknown but it is not lo: that much decides `iifname "lo"` rules.
Match interface_match(const std::string& op, const json& right) {
  bool is_lo = right.is_string() && right.get<std::string>() == "lo";
  if (!is_lo) return Match::sender;
  if (op == "==") return Match::no;
  if (op == "!=") return Match::yes;
  return Match::sender;
}

Match eval_match(const json& m, const Packet& pkt, const Model& model, const Chain& where) {
  std::string op = m.value("op", "==");
  Value v = value_of(m.value("left", json()), pkt);
  const json& right = m.contains("right") ? m["right"] : json();
  if (v.kind == Value::absent) return Match::no;
  if (v.kind == Value::sender && v.name == "iif") return interface_match(op, right);
  if (v.kind == Value::sender) return Match::sender;
  if (v.kind == Value::opaque) return Match::opaque;
  if ((op == "<" || op == ">" || op == "<=" || op == ">=") && right.is_number_integer() &&
      v.number) {
    long long a = *v.number, b = right.get<long long>();
    bool r = op == "<" ? a < b : op == ">" ? a > b : op == "<=" ? a <= b : a >= b;
    return r ? Match::yes : Match::no;
  }
  auto hit = contains(right, v, model, where);
  if (!hit) return Match::opaque;
  if (op == "==" || op == "in") return *hit ? Match::yes : Match::no;
  if (op == "!=") return *hit ? Match::no : Match::yes;
  return Match::opaque;
}

std::string reject_text(const json& r) {
  if (!r.is_object()) return "";
  std::string type = r.value("type", "");
  std::string what =
      r.contains("expr") && r["expr"].is_string() ? r["expr"].get<std::string>() : "";
  if (type == "tcp reset") return "tcp reset";
  return type + (what.empty() ? "" : " " + what);
}

std::optional<Decision> verdict_of(const json& stmt) {
  if (stmt.contains("accept")) return Decision{Act::accept, {}, {}};
  if (stmt.contains("drop")) return Decision{Act::drop, {}, {}};
  if (stmt.contains("reject")) {
    std::string with = reject_text(stmt["reject"]);
    return Decision{Act::reject, "", with.empty() ? "icmp port-unreachable" : with};
  }
  if (stmt.contains("return")) return Decision{Act::ret, {}, {}};
  if (stmt.contains("jump")) return Decision{Act::jump, stmt["jump"].value("target", ""), {}};
  if (stmt.contains("goto")) return Decision{Act::go, stmt["goto"].value("target", ""), {}};
  if (stmt.contains("queue")) return Decision{Act::unknown, {}, {}};
  if (stmt.contains("xt") && stmt["xt"].value("type", "") == "target") {
    std::string name = stmt["xt"].value("name", "");
    if (name == "REJECT")
      return Decision{Act::reject, {}, "icmp port-unreachable"};  // Its default.
  }
  return std::nullopt;
}

struct RuleResult {
  Match match = Match::yes;
  Decision decision;
};

// A verdict map (`tcp dport vmap { 22 : accept }`): the entry for the packet's value.
RuleResult eval_vmap(const json& vmap, const Packet& pkt, const Model& m, const Chain& where) {
  Value v = value_of(vmap.value("key", json()), pkt);
  if (v.kind == Value::absent) return {Match::no, {}};
  if (v.kind != Value::known)
    return {v.kind == Value::sender ? Match::sender : Match::opaque, Decision{}};
  const json& data = vmap.contains("data") ? vmap["data"] : json();
  const json* entries = data.is_object() && data.contains("set") ? &data["set"] : nullptr;
  if (entries == nullptr || !entries->is_array()) return {Match::opaque, {}};
  for (const auto& e : *entries) {
    if (!e.is_array() || e.size() != 2) continue;
    auto hit = contains(e[0], v, m, where);
    if (!hit) return {Match::opaque, {}};
    if (*hit) {
      auto d = verdict_of(e[1]);
      return {Match::yes, d ? *d : Decision{Act::unknown, {}, {}}};
    }
  }
  return {Match::no, {}};
}

RuleResult eval_rule(const json& rule, const Packet& pkt, const Model& m, const Chain& where) {
  RuleResult r;
  for (const auto& stmt : rule.value("expr", json::array())) {
    if (!stmt.is_object()) continue;
    if (stmt.contains("match")) {
      Match c = eval_match(stmt["match"], pkt, m, where);
      if (c == Match::no) return {Match::no, {}};
      r.match = worse(r.match, c);
    } else if (stmt.contains("xt") && stmt["xt"].value("type", "") == "match") {
      r.match = worse(r.match, Match::opaque);
    } else if (stmt.contains("limit") || stmt.contains("quota")) {
      r.match = worse(r.match, Match::sender);
    } else if (stmt.contains("vmap")) {
      RuleResult v = eval_vmap(stmt["vmap"], pkt, m, where);
      if (v.match == Match::no) return v;
      r.match = worse(r.match, v.match);
      r.decision = v.decision;
      return r;
    } else if (auto d = verdict_of(stmt)) {
      r.decision = *d;
      return r;
    }
  }
  return r;
}

// The outcome of walking a chain: a final verdict (and the rule that gave it) or falling through.
struct Outcome {
  bool decided = false;
  Act act = Act::none;
  FirewallRule rule;
  std::string reject_with;
};

struct Conditional {
  Match match;
  Outcome would;  // What the rule (or the chain it jumps to) decides when it matches.
  FirewallRule rule;
};

class Walker {
 public:
  Walker(const Model& m, const Packet& p) : model_(m), pkt_(p) {}
  std::vector<Conditional> conditionals;

  Outcome run(const Chain& chain, int depth) {
    if (depth > 16)
      return {true,
              Act::unknown,
              {chain.family, chain.table, chain.name, 0, "(chains nest too deep)"},
              {}};
    for (const json* rule : chain.rules) {
      RuleResult r = eval_rule(*rule, pkt_, model_, chain);
      if (r.match == Match::no || r.decision.act == Act::none) continue;
      FirewallRule fr = describe(chain, *rule);
      if (r.match != Match::yes) {
        Walker probe(model_, pkt_);
        Outcome would = probe.follow(chain, r.decision, fr, depth);
        if (would.decided) conditionals.push_back({r.match, would, fr});
        continue;
      }
      Outcome o = follow(chain, r.decision, fr, depth);
      if (o.decided || r.decision.act == Act::go || r.decision.act == Act::ret) return o;
    }
    return {};
  }

 private:
  Outcome follow(const Chain& chain, const Decision& d, const FirewallRule& fr, int depth) {
    if (d.act == Act::jump || d.act == Act::go) {
      auto it = model_.chains.find(key3(chain.family, chain.table, d.target));
      if (it == model_.chains.end()) return {true, Act::unknown, fr, ""};
      return run(it->second, depth + 1);
    }
    if (d.act == Act::ret) return {};
    return {true, d.act, fr, d.reject_with};
  }

  FirewallRule describe(const Chain& chain, const json& rule) const {
    FirewallRule fr{chain.family, chain.table, chain.name, rule.value("handle", 0ull), ""};
    auto it =
        model_.texts.find(firewall_detail::rule_key(fr.family, fr.table, fr.chain, fr.handle));
    fr.text =
        it != model_.texts.end() ? it->second : "(rule handle " + std::to_string(fr.handle) + ")";
    return fr;
  }

  const Model& model_;
  const Packet& pkt_;
};

FirewallVerdict verdict_of_act(Act a) {
  switch (a) {
    case Act::accept:
      return FirewallVerdict::allowed;
    case Act::drop:
      return FirewallVerdict::dropped;
    case Act::reject:
      return FirewallVerdict::rejected;
    default:
      return FirewallVerdict::unknown;
  }
}

// The input-path base chains that see the packet's family, in the order the kernel runs them.
std::vector<const Chain*> path_for(const Model& m, bool v6) {
  std::vector<const Chain*> out;
  for (const auto& [key, c] : m.chains) {
    if (c.type != "filter" || (c.hook != "prerouting" && c.hook != "input")) continue;
    if (c.family == "inet" || c.family == (v6 ? "ip6" : "ip")) out.push_back(&c);
  }
  std::stable_sort(out.begin(), out.end(), [](const Chain* a, const Chain* b) {
    if (a->hook != b->hook) return a->hook == "prerouting";
    return a->prio < b->prio;
  });
  return out;
}

FirewallFinding evaluate_family(const Model& m, const Packet& pkt) {
  FirewallFinding f;
  Walker w(m, pkt);
  // Every chain on the path must accept. Accepted, the answer names the first rule that accepted
  // the port explicitly, else the first chain's policy.
  std::optional<FirewallRule> accepted_by_rule, accepted_by_policy;
  for (const Chain* c : path_for(m, pkt.v6)) {
    Outcome o = w.run(*c, 0);
    if (!o.decided) {
      o = {
          true,
          c->policy == "drop" ? Act::drop : Act::accept,
          {c->family, c->table, c->name, 0, "policy " + (c->policy.empty() ? "accept" : c->policy)},
          ""};
    }
    f.verdict = verdict_of_act(o.act);
    f.rule = o.rule;
    f.reject_with = o.reject_with;
    if (o.act != Act::accept) break;
    auto& first = o.rule.handle == 0 ? accepted_by_policy : accepted_by_rule;
    if (!first) first = o.rule;
  }
  if (f.verdict == FirewallVerdict::allowed && f.rule)
    f.rule = accepted_by_rule ? accepted_by_rule : accepted_by_policy;
  for (const auto& c : w.conditionals) {
    if (verdict_of_act(c.would.act) == f.verdict) continue;
    if (c.match == Match::opaque) {
      f.verdict = FirewallVerdict::unknown;
      f.rule = c.rule;
      f.reject_with.clear();
      break;
    }
    f.some_senders.push_back(c.rule);
  }
  return f;
}

Model build_model(const json& items, const std::string& text) {
  Model m;
  m.texts = firewall_detail::index_rule_texts(text);
  for (const auto& item : items) {
    if (item.contains("chain")) {
      const auto& c = item["chain"];
      Chain ch{c.value("family", ""), c.value("table", ""),
               c.value("name", ""),   c.value("hook", ""),
               c.value("type", ""),   c.value("policy", "accept"),
               c.value("prio", 0ll),  {}};
      m.chains[key3(ch.family, ch.table, ch.name)] = std::move(ch);
    } else if (item.contains("set") || item.contains("map")) {
      const auto& s = item.contains("set") ? item["set"] : item["map"];
      m.sets[key3(s.value("family", ""), s.value("table", ""), s.value("name", ""))] = &s;
    }
  }
  for (const auto& item : items) {
    if (!item.contains("rule")) continue;
    const auto& r = item["rule"];
    auto it =
        m.chains.find(key3(r.value("family", ""), r.value("table", ""), r.value("chain", "")));
    if (it != m.chains.end()) it->second.rules.push_back(&r);
  }
  return m;
}

}  // namespace

const char* firewall_verdict_name(FirewallVerdict v) {
  switch (v) {
    case FirewallVerdict::allowed:
      return "allowed";
    case FirewallVerdict::dropped:
      return "dropped";
    case FirewallVerdict::rejected:
      return "rejected";
    case FirewallVerdict::unknown:
      return "unknown";
  }
  return "unknown";
}

Result<FirewallReport> evaluate_firewall(const Ruleset& ruleset, std::uint16_t port, int protocol) {
  json doc = json::parse(ruleset.json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("nftables") ||
      !doc["nftables"].is_array())
    return std::make_error_code(std::errc::bad_message);
  const json& items = doc["nftables"];
  Model m = build_model(items, ruleset.text);
  FirewallReport report;
  report.ipv4 = evaluate_family(m, {false, protocol, port});
  report.ipv6 = evaluate_family(m, {true, protocol, port});
  for (const auto& [key, c] : m.chains) {
    if (c.type == "filter" && (c.hook == "prerouting" || c.hook == "input") &&
        (c.family == "ip" || c.family == "ip6" || c.family == "inet"))
      ++report.chains;
    if (c.name.rfind("ufw-", 0) == 0) report.ufw = true;
    if (c.table == "firewalld") report.firewalld = true;
  }
  // iptables-nft keeps its rules in tables and chains named as iptables names them.
  for (const auto& [key, c] : m.chains)
    if ((c.family == "ip" || c.family == "ip6") && c.table == "filter" && c.name == "INPUT")
      report.iptables_nft = true;
  report.legacy_iptables = ruleset.legacy_iptables;
  if (report.legacy_iptables) {
    for (auto* f : {&report.ipv4, &report.ipv6}) {
      if (f->verdict != FirewallVerdict::allowed) continue;
      f->verdict = FirewallVerdict::unknown;  // iptables-legacy may still drop it.
      f->rule.reset();
    }
  }
  return report;
}

}  // namespace parley
