#include "parley/doctor.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>

#include <fstream>
#include <sstream>

#include "parley/echo_server.hpp"
#include "parley/errors.hpp"

namespace parley {
namespace {

bool is_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool in_hosts_file(const std::string& host, const std::string& path) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::istringstream words(line);
    std::string address, name;
    if (!(words >> address)) continue;
    while (words >> name)
      if (strcasecmp(name.c_str(), host.c_str()) == 0) return true;
  }
  return false;
}

// A UDP socket "listens" while it is bound and not connected (ss shows UNCONN).
bool is_listener(const SocketRecord& r, int socktype) {
  if (socktype == SOCK_STREAM) return r.state == kListen;
  return r.state == kClose && r.peer_port == 0;
}

struct Listening {
  SocketAddress address;
  std::uint64_t inode;
};

Result<std::vector<Listening>> listeners_on(std::uint16_t port, int socktype) {
  DiagQuery q;
  q.protos = proto_bit(socktype == SOCK_STREAM ? Proto::tcp : Proto::udp);
  q.states = socktype == SOCK_STREAM ? (1u << kListen) : (1u << kClose);
  std::vector<Listening> out;
  RecordSink keep = [&](const SocketRecord& r) {
    if (r.local_port == port && is_listener(r, socktype))
      out.push_back({r.local_address(), r.inode});
    return true;
  };
  auto ec = make_netlink_source(live_netlink())->list(q, keep);
  if (ec) {  // No sock_diag: /proc/net still works.
    out.clear();
    ec = make_proc_source()->list(q, keep);
  }
  if (ec) return ec;
  return out;
}

// The route a packet to the internet takes (a documentation address stands for "anywhere";
// the lookup sends nothing).
std::optional<Route> internet_route() {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, "198.51.100.1", &sin.sin_addr);
  auto r = route_to(SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof(sin)));
  if (!r) return std::nullopt;
  return *r;
}

}  // namespace

ResolverInfo resolver_info(const std::string& host, const std::string& hosts_path,
                           const std::string& resolv_path) {
  ResolverInfo info;
  if (is_literal(host)) {
    info.source = ResolverInfo::Source::literal;
    return info;
  }
  if (in_hosts_file(host, hosts_path)) {
    info.source = ResolverInfo::Source::hosts_file;
    return info;
  }
  std::ifstream in(resolv_path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (words >> key >> value && key == "nameserver") info.nameservers.push_back(value);
  }
  return info;
}

Result<ClientReport> check_client(const std::string& host, std::uint16_t port,
                                  const ClientOptions& options) {
  ClientReport report;
  report.resolver = resolver_info(host);
  auto addresses =
      resolve(host, port, {options.family, options.numeric_only, options.socktype, false});
  if (!addresses) {
    report.resolve_error = addresses.error();
    return report;
  }
  ProbeOptions po;
  po.socktype = options.socktype;
  po.timeout = options.timeout;
  auto probes = probe_all(*addresses, po);
  if (!probes) return probes.error();
  for (auto& p : *probes) {
    AddressReport a;
    a.scope = classify(p.address);
    auto route = route_to(p.address);
    if (route)
      a.route = *route;
    else
      a.route_error = route.error();
    a.probe = std::move(p);
    report.verdict =
        report.addresses.empty() ? a.probe.verdict : better(report.verdict, a.probe.verdict);
    report.addresses.push_back(std::move(a));
  }
  return report;
}

Result<ServerReport> check_server(std::uint16_t port, const ServerOptions& options) {
  ServerReport report;
  auto records = listeners_on(port, options.socktype);
  if (!records) return records.error();
  OwnerMap owners = scan_owners();
  report.owners_hidden = owners.unreadable_processes > 0;
  std::vector<SocketAddress> bound;
  for (const auto& l : *records) {
    report.listeners.push_back({l.address, owners.find(l.inode)});
    bound.push_back(l.address);
  }
  report.loopback_only = loopback_only(bound);
  std::vector<std::string> names;
  auto addresses = interface_addresses(0, true, true, &names);
  for (std::size_t i = 0; i < addresses.size(); ++i)
    report.addresses.push_back({names[i], addresses[i], classify(addresses[i])});
  report.internet_route = internet_route();
  RulesetReader reader = options.ruleset ? options.ruleset : live_ruleset();
  auto ruleset = reader();
  if (!ruleset) {
    report.firewall_error = ruleset.error();
    return report;
  }
  auto fw = evaluate_firewall(*ruleset, port,
                              options.socktype == SOCK_STREAM ? IPPROTO_TCP : IPPROTO_UDP);
  if (fw)
    report.firewall = std::move(*fw);
  else
    report.firewall_error = fw.error();
  return report;
}

}  // namespace parley
