// parley doctor --listen PORT: who listens, where this machine can be reached, what its firewall
// does with the port, and the next steps: open the port (nft, ufw, firewalld, iptables, or the
// Windows Defender Firewall on the seed's Windows PCs) and forward it on the router.

#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "doctor.hpp"
#include "netcat.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
namespace {

using json = nlohmann::json;

struct Listener {
  std::string address;
  std::vector<SocketOwner> owners;
};

// One entry per address (echo's workers each hold a listener on the same address).
std::vector<Listener> grouped(const ServerReport& r) {
  std::vector<Listener> out;
  for (const auto& l : r.listeners) {
    std::string a = l.address.to_string();
    auto it =
        std::find_if(out.begin(), out.end(), [&](const Listener& x) { return x.address == a; });
    if (it == out.end()) it = out.insert(out.end(), {a, {}});
    for (const auto& o : l.owners)
      if (std::none_of(it->owners.begin(), it->owners.end(),
                       [&](const SocketOwner& x) { return x.pid == o.pid; }))
        it->owners.push_back(o);
  }
  return out;
}

std::string owners_text(const std::vector<SocketOwner>& owners) {
  if (owners.empty()) return "process unknown: run as root to see it";
  std::vector<std::string> parts;
  for (const auto& o : owners) parts.push_back(fmt::format("{}, pid {}", o.name, o.pid));
  return fmt::format("{}", fmt::join(parts, "; "));
}

std::string where(const FirewallRule& r) {
  return fmt::format("{} {} {}", r.family, r.table, r.chain);
}

std::string finding_text(const FirewallFinding& f, const DoctorArgs& o) {
  const char* v = firewall_verdict_name(f.verdict);
  if (!f.rule) {
    if (f.verdict == FirewallVerdict::unknown)
      return "unknown: iptables-legacy tables are loaded, and parley reads nftables only (see "
             "'iptables-legacy -S')";
    return "allowed (no firewall rule filters incoming connections)";
  }
  const FirewallRule& r = *f.rule;
  if (f.verdict == FirewallVerdict::unknown)
    return fmt::format("unknown: parley cannot read '{}' ({}), which may decide", r.text, where(r));
  // "reject" alone answers with the family's default; name it (a "reject with" rule says it).
  std::string with = f.reject_with.empty() || r.text.find("reject with") != std::string::npos
                         ? ""
                         : ", answering with " + f.reject_with;
  if (r.handle == 0) {
    if (f.verdict == FirewallVerdict::allowed)
      return fmt::format("allowed (no rule matches port {}/{}; {} of {})", o.listen_port,
                         proto_lower(o), r.text, where(r));
    return fmt::format("{} by the {} of {}", v, r.text, where(r));
  }
  return fmt::format("{} by '{}' ({}){}", v, r.text, where(r), with);
}

bool blocks(FirewallVerdict v) {
  return v == FirewallVerdict::dropped || v == FirewallVerdict::rejected;
}

// The command that opens the port, in the tool that manages the rules.
std::string open_command(const FirewallReport& fw, const FirewallRule& r, const DoctorArgs& o) {
  int port = o.listen_port;
  const char* p = proto_lower(o);
  if (fw.ufw) return fmt::format("sudo ufw allow {}/{}", port, p);
  if (fw.firewalld)
    return fmt::format("sudo firewall-cmd --add-port={}/{} (again with --permanent to keep it)",
                       port, p);
  if ((r.family == "ip" || r.family == "ip6") && r.table == "filter" && r.chain == "INPUT")
    return fmt::format("sudo {} -I INPUT -p {} --dport {} -j ACCEPT",
                       r.family == "ip6" ? "ip6tables" : "iptables", p, port);
  if (r.handle == 0)
    return fmt::format("sudo nft add rule {} {} dport {} accept", where(r), p, port);
  return fmt::format("sudo nft insert rule {} position {} {} dport {} accept", where(r), r.handle,
                     p, port);
}

std::string reach_list(const ServerReport& r) {
  std::vector<std::string> out;
  for (const auto& a : r.addresses)
    if (a.scope != AddressScope::loopback && a.scope != AddressScope::link_local)
      out.push_back(a.address.host_string());
  return fmt::format("{}", fmt::join(out, " or "));
}

std::string internet_step(const ServerReport& r, const DoctorArgs& o) {
  if (!r.internet_route || !r.internet_route->source)
    return "This machine has no route to the internet (no default gateway): only machines on its "
           "own networks can reach it.";
  std::string src = r.internet_route->source->host_string();
  std::string router = r.internet_route->gateway ? r.internet_route->gateway->host_string() : "";
  switch (classify(*r.internet_route->source)) {
    case AddressScope::private_net:
      return fmt::format(
          "From the internet: {0} is a private address, so the router{1} needs a port forward: "
          "{2} port {3} on its public address to {0}:{3}. Clients then connect to the router's "
          "public address. If the router's own internet address is in 100.64.0.0/10 (CGNAT), no "
          "forward can help: ask the provider for a public IPv4 address, or use IPv6.",
          src, router.empty() ? "" : " (" + router + ")", proto_upper(o), o.listen_port);
    case AddressScope::cgnat:
      return fmt::format(
          "From the internet: {} is a CGNAT address (100.64.0.0/10): the provider's NAT is in "
          "the way and no forward on your side can help; ask for a public IPv4 address, or use "
          "IPv6.",
          src);
    default:
      return fmt::format(
          "From the internet: clients connect to {} port {} directly (a public address: no port "
          "forward needed).",
          src, o.listen_port);
  }
}

std::vector<std::string> next_steps(const ServerReport& r, const DoctorArgs& o) {
  std::vector<std::string> steps;
  int port = o.listen_port;
  if (r.listeners.empty())
    steps.push_back(
        fmt::format("Nothing listens on port {}/{}: start the server (for example "
                    "'parley echo{} {}'), or check the port number.",
                    port, proto_lower(o), o.udp ? " -u" : "", port));
  if (r.loopback_only)
    steps.push_back(fmt::format(
        "The server listens on loopback only: other machines cannot connect. Start it on all "
        "addresses: 'parley echo {0}' or 'parley listen {0}' without an address; in Python, bind "
        "to ('', {0}) or ('0.0.0.0', {0}), not ('127.0.0.1', {0}).",
        port));
  if (r.firewall) {
    for (const auto* f : {&r.firewall->ipv4, &r.firewall->ipv6}) {
      if (!blocks(f->verdict) || !f->rule) continue;
      steps.push_back(fmt::format("The firewall blocks port {}/{}. Open it: {}", port,
                                  proto_lower(o), open_command(*r.firewall, *f->rule, o)));
      break;  // One command opens it for both families in an inet table; iptables says which.
    }
    if (r.firewall->ipv4.verdict == FirewallVerdict::unknown)
      steps.push_back("Check the firewall by hand: sudo nft list ruleset");
  } else if (r.firewall_error == std::errc::operation_not_permitted) {
    steps.push_back(
        fmt::format("Run as root to read the firewall: sudo parley doctor{} --listen {}",
                    o.udp ? " -u" : "", port));
  } else {
    steps.push_back("Check the firewall by hand: sudo nft list ruleset");
  }
  std::string lan = reach_list(r);
  if (!lan.empty())
    steps.push_back(fmt::format("Clients on the same network connect to {} port {}.", lan, port));
  steps.push_back(internet_step(r, o));
  steps.push_back(fmt::format(
      "If the server is a Windows PC, allow the port in Windows Defender Firewall (PowerShell as "
      "administrator): New-NetFirewallRule -DisplayName \"parley {0}\" -Direction Inbound "
      "-Protocol {1} -LocalPort {0} -Action Allow",
      port, proto_upper(o)));
  return steps;
}

std::string firewall_error_text(const ServerReport& r) {
  std::string why = describe(r.firewall_error);
  if (r.firewall_error == std::errc::operation_not_permitted) why += " (reading it needs root)";
  return "unknown: cannot read the nftables ruleset: " + why;
}

json finding_json(const FirewallFinding& f) {
  json j = {{"verdict", firewall_verdict_name(f.verdict)}, {"rule", nullptr}, {"chain", nullptr}};
  if (f.rule) {
    j["rule"] = f.rule->text;
    j["chain"] = where(*f.rule);
  }
  return j;
}

void print_json(const ServerReport& r, const DoctorArgs& o) {
  json j = {{"port", o.listen_port},
            {"protocol", proto_lower(o)},
            {"listening", !r.listeners.empty()},
            {"loopback_only", r.loopback_only},
            {"listeners", json::array()},
            {"addresses", json::array()},
            {"router", nullptr},
            {"firewall", "unknown"},
            {"firewall_rule", nullptr},
            {"firewall_ipv6", "unknown"},
            {"firewall_rule_ipv6", nullptr},
            {"next_steps", next_steps(r, o)}};
  for (const auto& l : grouped(r)) {
    json owners = json::array();
    for (const auto& w : l.owners) owners.push_back({{"pid", w.pid}, {"name", w.name}});
    j["listeners"].push_back({{"address", l.address}, {"processes", owners}});
  }
  for (const auto& a : r.addresses)
    j["addresses"].push_back({{"interface", a.interface},
                              {"address", a.address.host_string()},
                              {"scope", scope_name(a.scope)}});
  if (r.internet_route && r.internet_route->gateway)
    j["router"] = r.internet_route->gateway->host_string();
  if (r.firewall) {
    json v4 = finding_json(r.firewall->ipv4), v6 = finding_json(r.firewall->ipv6);
    j["firewall"] = v4["verdict"];
    j["firewall_rule"] = v4["rule"];
    j["firewall_ipv6"] = v6["verdict"];
    j["firewall_rule_ipv6"] = v6["rule"];
  } else {
    j["firewall_error"] = describe(r.firewall_error);
  }
  out("{}\n", j.dump());
}

void print_firewall(const ServerReport& r, const DoctorArgs& o) {
  if (!r.firewall) {
    out("firewall: {}\n", firewall_error_text(r));
    return;
  }
  const FirewallReport& fw = *r.firewall;
  std::string v4 = finding_text(fw.ipv4, o), v6 = finding_text(fw.ipv6, o);
  if (v4 == v6)
    out("firewall: {}\n", v4);
  else
    out("firewall (IPv4): {}\nfirewall (IPv6): {}\n", v4, v6);
  std::map<std::string, const FirewallRule*> conditional;
  for (const auto* f : {&fw.ipv4, &fw.ipv6})
    for (const auto& rule : f->some_senders) conditional[where(rule) + rule.text] = &rule;
  for (const auto& [key, rule] : conditional)
    out("  for some senders only: '{}' ({})\n", rule->text, where(*rule));
}

// -v: how the firewall verdict was reached.
void print_firewall_details(const ServerReport& r) {
  if (!r.firewall) return;
  const FirewallReport& fw = *r.firewall;
  std::vector<std::string> managers;
  if (fw.iptables_nft) managers.emplace_back("iptables-nft");
  if (fw.ufw) managers.emplace_back("ufw");
  if (fw.firewalld) managers.emplace_back("firewalld");
  out("  chains on the input path: {}{}\n", fw.chains,
      managers.empty() ? "" : fmt::format(" (rules from {})", fmt::join(managers, ", ")));
  for (const auto& [family, f] : {std::pair{"IPv4", &fw.ipv4}, std::pair{"IPv6", &fw.ipv6}}) {
    if (f->rule)
      out("  {} decided by: '{}' ({})\n", family, f->rule->text, where(*f->rule));
    else
      out("  {} decided by: no rule\n", family);
  }
}

void print_text(const ServerReport& r, const DoctorArgs& o, bool reachable) {
  if (o.quiet) {
    out("verdict: {}\n", reachable ? "reachable" : "not reachable");
    return;
  }
  out("parley doctor: port {}/{} on this machine\n", o.listen_port, proto_lower(o));
  auto listeners = grouped(r);
  if (listeners.empty()) out("listening: nobody\n");
  for (const auto& l : listeners) out("listening: {} ({})\n", l.address, owners_text(l.owners));
  if (!listeners.empty())
    out("loopback only: {}\n", r.loopback_only ? "yes (other machines cannot connect)" : "no");
  out("addresses:\n");
  for (const auto& a : r.addresses)
    out("  {} {} ({})\n", a.interface, a.address.host_string(), scope_name(a.scope));
  if (r.internet_route && r.internet_route->gateway)
    out("router: {} (dev {})\n", r.internet_route->gateway->host_string(),
        r.internet_route->interface);
  else
    out("router: none (no default route)\n");
  print_firewall(r, o);
  if (o.verbose > 0) print_firewall_details(r);
  out("next steps:\n");
  for (const auto& s : next_steps(r, o)) out("  - {}\n", s);
}

}  // namespace

int report_server(const DoctorArgs& o, const ServerReport& report) {
  // Reachable: IPv4 (what the seed's LAN uses) gets in, and IPv6 too when an IPv6 socket listens.
  bool v6_listener =
      std::any_of(report.listeners.begin(), report.listeners.end(),
                  [](const ListenerReport& l) { return l.address.family() == AF_INET6; });
  bool allowed = report.firewall && report.firewall->ipv4.verdict == FirewallVerdict::allowed &&
                 (!v6_listener || report.firewall->ipv6.verdict == FirewallVerdict::allowed);
  const bool reachable = !report.listeners.empty() && !report.loopback_only && allowed;
  if (o.json)
    print_json(report, o);
  else
    print_text(report, o, reachable);
  return reachable ? kExitOk : kExitNetwork;
}

}  // namespace parley::cmd
