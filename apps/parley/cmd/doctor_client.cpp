// parley doctor HOST PORT: the words for what the probes found. Every verdict gets one reason
// (what happened, in plain language) and one next step (what to do about it).

#include <set>

#include <nlohmann/json.hpp>

#include "doctor.hpp"
#include "netcat.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
namespace {

using json = nlohmann::json;

std::string milliseconds_text(std::chrono::microseconds d) {
  return fmt::format("{:.2f} ms", static_cast<double>(d.count()) / 1000.0);
}

std::string wait_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
  return fmt::format("{} ms", d.count());
}

std::string icmp_text(const IcmpError& e) {
  return fmt::format("{} {}", e.family == AF_INET6 ? "ICMPv6" : "ICMP", icmp_name(e));
}

bool same_host(const std::optional<SocketAddress>& a, const SocketAddress& b) {
  return a && a->host_string() == b.host_string();
}

std::string route_text(const AddressReport& a) {
  if (!a.route) return "none: " + describe(a.route_error);
  const Route& r = *a.route;
  if (r.type == "local") return "this machine (local)";
  if (r.type != "unicast") return r.type;
  std::string out = "dev " + (r.interface.empty() ? std::string("?") : r.interface);
  out += r.gateway ? " via " + r.gateway->host_string() : ", on this network";
  if (r.source) out += ", source " + r.source->host_string();
  return out;
}

struct Words {
  std::string reason, next;
};

std::string listen_hint(const DoctorArgs& o, std::uint16_t port) {
  return fmt::format("'parley doctor{} --listen {}'", o.udp ? " -u" : "", port);
}

Words rejected_words(const DoctorArgs& o, std::uint16_t port, const ProbeResult& p) {
  if (!p.icmp)
    return {fmt::format("this machine's own firewall did not let it out ({})", describe(p.error)),
            "check this machine's outgoing rules: sudo nft list ruleset"};
  std::string from = p.icmp->sender ? p.icmp->sender->host_string() : "?";
  if (same_host(p.icmp->sender, p.address))
    return {fmt::format("the firewall of {} answered with {}: it blocks port {}/{}", from,
                        icmp_text(*p.icmp), port, proto_lower(o)),
            fmt::format("open port {}/{} in that machine's firewall: on Linux, {} there names "
                        "the rule; on Windows, allow the port in Windows Defender Firewall",
                        port, proto_lower(o), listen_hint(o, port))};
  return {fmt::format("a firewall on the way, at {}, answered with {}", from, icmp_text(*p.icmp)),
          fmt::format("the router or firewall at {} blocks port {}/{}: open or forward it there",
                      from, port, proto_lower(o))};
}

// A private address that is not on any of this machine's networks (the route goes through a
// router): from outside that network it cannot work, whatever the firewall says.
bool foreign_private(const AddressReport& a) {
  return a.scope == AddressScope::private_net && a.route && a.route->gateway;
}

Words words_for(const DoctorArgs& o, std::uint16_t port, const ProbeResult& p) {
  const std::string addr = p.address.host_string();
  const std::string on_server = fmt::format(
      "on the server, run {}: it shows who listens on which address, and the "
      "firewall rule for the port",
      listen_hint(o, port));
  switch (p.verdict) {
    case Verdict::open:
      return {o.udp ? "the server answered the datagram"
                    : "the server accepted the connection (TCP handshake completed)",
              "nothing to fix: the port is reachable from here"};
    case Verdict::refused:
      if (o.udp)
        return {fmt::format("{} answered with ICMP port-unreachable: nothing listens on UDP port "
                            "{} there (or a firewall rejects the datagram)",
                            addr, port),
                on_server};
      return {fmt::format("the host answered with a TCP reset: nothing listens on port {} there "
                          "(wrong port, or the server listens on 127.0.0.1 only), or a firewall "
                          "rejects with tcp reset",
                          port),
              on_server};
    case Verdict::rejected:
      return rejected_words(o, port, p);
    case Verdict::filtered:
      return {o.udp ? fmt::format("no answer within {}: a firewall drops the datagrams, or the "
                                  "service got one and does not answer (UDP has no handshake)",
                                  wait_text(o.wait))
                    : fmt::format("no answer within {}: a firewall drops the packets silently, "
                                  "or the host is switched off",
                                  wait_text(o.wait)),
              fmt::format("open port {}/{} in the server's firewall (on Linux, {} there names the "
                          "rule; on Windows, allow the port in Windows Defender Firewall); behind "
                          "a router, the router must forward the port",
                          port, proto_lower(o), listen_hint(o, port))};
    case Verdict::no_route:
      if (p.icmp && p.icmp->sender)
        return {fmt::format("the router {} answered with {}: it has no route to {}",
                            p.icmp->sender->host_string(), icmp_text(*p.icmp), addr),
                "check the address: a private address of another network cannot be reached "
                "from here"};
      return {fmt::format("this machine has no route to {} (no default gateway, or no network "
                          "for that address)",
                          addr),
              "check this machine's connection: 'ip route' should show a default route via "
              "your router"};
    case Verdict::host_unreachable:
      if (p.icmp && p.icmp->sender && !(p.source && same_host(p.icmp->sender, *p.source)))
        return {fmt::format("the router {} could not reach {} ({})", p.icmp->sender->host_string(),
                            addr, icmp_text(*p.icmp)),
                "check that the server is switched on and its address: 'ip -br addr' on Linux, "
                "'ipconfig' on Windows"};
      return {fmt::format("nobody answered for {} on the local network (no reply to ARP or "
                          "neighbour discovery): the host is off, or the address is wrong",
                          addr),
              "check that the server is switched on and its address: 'ip -br addr' on Linux, "
              "'ipconfig' on Windows"};
    case Verdict::dns_failure:
      break;
  }
  return {"", ""};
}

std::string note_for(AddressScope scope, const std::string& addr, std::uint16_t port) {
  switch (scope) {
    case AddressScope::private_net:
      return fmt::format(
          "{} is a private address: it works only inside its own network (the same LAN, or over "
          "a VPN). From the internet, clients connect to the router's public address instead, "
          "and the router must forward port {} to the server.",
          addr, port);
    case AddressScope::cgnat:
      return fmt::format(
          "{} is in 100.64.0.0/10, the provider's shared address space (carrier-grade NAT): no "
          "port forward on a home router can make it reachable from the internet; ask the "
          "provider for a public IPv4 address, or use IPv6.",
          addr);
    case AddressScope::loopback:
      return fmt::format(
          "{} is this machine itself (loopback): another PC must use this machine's network "
          "address ('ip -br addr').",
          addr);
    case AddressScope::link_local:
      return fmt::format(
          "{} is link-local: it works only on the same network segment, and usually means DHCP "
          "gave no address.",
          addr);
    case AddressScope::documentation:
      return fmt::format(
          "{} is a documentation address (RFC 5737, RFC 3849): it stands for a public address in "
          "examples and tests.",
          addr);
    case AddressScope::public_net:
      return fmt::format(
          "{} is a public address: reachable from anywhere on the internet, if the server's "
          "firewall lets port {} in.",
          addr, port);
    default:
      return "";
  }
}

std::vector<std::string> notes_of(const ClientReport& r, std::uint16_t port) {
  std::vector<std::string> out;
  std::set<AddressScope> seen;
  for (const auto& a : r.addresses) {
    if (!seen.insert(a.scope).second) continue;
    std::string n = note_for(a.scope, a.probe.address.host_string(), port);
    if (!n.empty()) out.push_back(std::move(n));
  }
  return out;
}

std::string resolver_text(const HostPort& t, const ClientReport& r, const DoctorArgs& o) {
  if (o.numeric && r.resolver.source != ResolverInfo::Source::literal)
    return "none (-n: names are not looked up)";
  switch (r.resolver.source) {
    case ResolverInfo::Source::literal:
      return fmt::format("none needed ({} is an address)", t.host);
    case ResolverInfo::Source::hosts_file:
      return "/etc/hosts";
    case ResolverInfo::Source::dns:
      break;
  }
  if (r.resolver.nameservers.empty()) return "DNS (no nameserver in /etc/resolv.conf)";
  return fmt::format("DNS ({} from /etc/resolv.conf)", fmt::join(r.resolver.nameservers, ", "));
}

Words dns_words(const HostPort& t, const ClientReport& r, const DoctorArgs& o) {
  const std::string asked = "asked /etc/hosts, then " + resolver_text(t, r, o);
  const char* use_ip =
      "use the server's IP address ('ip -br addr' on the server, 'ipconfig' on Windows)";
  if (o.numeric)
    return {fmt::format("-n: the name {} is not looked up", t.host),
            fmt::format("leave out -n, or {}", use_ip)};
  if (r.resolve_error == make_error_code(Errc::name_server_failed))
    return {fmt::format("no name server answered for {} ({})", t.host, asked),
            fmt::format("check this machine's network and its DNS servers (/etc/resolv.conf), "
                        "or {}",
                        use_ip)};
  if (r.resolve_error == make_error_code(Errc::name_not_resolved))
    return {fmt::format("no address for the name {} ({})", t.host, asked),
            fmt::format("check the spelling, or {}", use_ip)};
  return {
      fmt::format("the name {} did not resolve: {} ({})", t.host, describe(r.resolve_error), asked),
      fmt::format("check the spelling, or {}", use_ip)};
}

Words words_for(const DoctorArgs& o, std::uint16_t port, const AddressReport& a) {
  Words w = words_for(o, port, a.probe);
  if (a.probe.verdict != Verdict::open && a.probe.verdict != Verdict::refused && foreign_private(a))
    w.next = fmt::format(
        "{0} is a private address of another network: from here, connect to the public address "
        "of that network's router instead, which must forward port {1} to {0}",
        a.probe.address.host_string(), port);
  return w;
}

json address_json(const DoctorArgs& o, std::uint16_t port, const AddressReport& a) {
  Words w = words_for(o, port, a);
  json j = {{"address", a.probe.address.host_string()},
            {"scope", scope_name(a.scope)},
            {"verdict", verdict_name(a.probe.verdict)},
            {"rtt_us", a.probe.verdict == Verdict::filtered ? 0 : a.probe.rtt.count()},
            {"reason", w.reason},
            {"next_step", w.next},
            {"icmp", nullptr},
            {"route", nullptr}};
  if (a.probe.icmp)
    j["icmp"] = {{"type", icmp_name(*a.probe.icmp)},
                 {"from", a.probe.icmp->sender ? a.probe.icmp->sender->host_string() : ""}};
  if (a.route)
    j["route"] = {{"type", a.route->type},
                  {"interface", a.route->interface},
                  {"gateway", a.route->gateway ? json(a.route->gateway->host_string()) : json()},
                  {"source", a.route->source ? json(a.route->source->host_string()) : json()}};
  return j;
}

void print_json(const DoctorArgs& o, const HostPort& t, const ClientReport& r) {
  static constexpr const char* kSources[] = {"literal", "hosts", "dns"};
  json j = {{"target", t.host},
            {"port", t.port},
            {"protocol", proto_lower(o)},
            {"resolver", kSources[static_cast<int>(r.resolver.source)]},
            {"nameservers", r.resolver.nameservers},
            {"verdict", verdict_name(r.verdict)},
            {"notes", notes_of(r, t.port)},
            {"addresses", json::array()}};
  if (r.resolve_error) {
    Words w = dns_words(t, r, o);
    j["reason"] = w.reason;
    j["next_step"] = w.next;
  }
  for (const auto& a : r.addresses) j["addresses"].push_back(address_json(o, t.port, a));
  out("{}\n", j.dump());
}

// -v: what the plain text leaves out of an address's probe.
void print_details(const AddressReport& a) {
  out("  scope:  {}\n", scope_name(a.scope));
  if (a.probe.icmp)
    out("  icmp:   {} from {}\n", icmp_name(*a.probe.icmp),
        a.probe.icmp->sender ? a.probe.icmp->sender->host_string() : std::string("?"));
}

void print_text(const DoctorArgs& o, const HostPort& t, const ClientReport& r) {
  if (o.quiet) {
    out("verdict: {}\n", r.resolve_error ? "dns-failure" : verdict_name(r.verdict));
    return;
  }
  out("parley doctor: {} port {}/{}\n", t.host, t.port, proto_lower(o));
  out("resolver: {}\n", resolver_text(t, r, o));
  if (r.resolve_error) {
    Words w = dns_words(t, r, o);
    out("reason: {}\nnext: {}\nverdict: dns-failure\n", w.reason, w.next);
    return;
  }
  for (const auto& a : r.addresses) {
    const ProbeResult& p = a.probe;
    Words w = words_for(o, t.port, a);
    bool answered = p.verdict != Verdict::filtered;
    out("{}: {}{}\n", p.address.to_string(), verdict_name(p.verdict),
        answered ? " in " + milliseconds_text(p.rtt) : "");
    out("  route:  {}\n  reason: {}\n", route_text(a), w.reason);
    if (p.verdict != Verdict::open) out("  next:   {}\n", w.next);
    if (o.verbose > 0) print_details(a);
  }
  for (const auto& n : notes_of(r, t.port)) out("note: {}\n", n);
  out("verdict: {}\n", verdict_name(r.verdict));
}

}  // namespace

int report_client(const DoctorArgs& o, const HostPort& target, const ClientReport& report) {
  if (o.json)
    print_json(o, target, report);
  else
    print_text(o, target, report);
  return report.verdict == Verdict::open ? kExitOk : kExitNetwork;
}

}  // namespace parley::cmd
