#pragma once
// Probing a port the way `parley doctor` does: one attempt per address, all at once, each
// with its own outcome and time, and the ICMP error that ended it if there was one. The sockets
// ask for IP_RECVERR / IPV6_RECVERR, so the kernel queues the ICMP message itself (type, code,
// sender): a firewall's "reject" is told apart from the server's own TCP reset, which both
// surface as ECONNREFUSED otherwise. Blocking (polls internally); any thread.

#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"

namespace parley {

enum class Verdict { open, refused, rejected, filtered, no_route, host_unreachable, dns_failure };

// "open", "refused", "rejected", "filtered", "no-route", "host-unreachable", "dns-failure".
const char* verdict_name(Verdict v);
// The better of two verdicts, best first: open, refused, rejected, filtered, host-unreachable,
// no-route, dns-failure (how far towards the server the attempt got).
Verdict better(Verdict a, Verdict b);

// An ICMP or ICMPv6 error as the kernel queued it (struct sock_extended_err).
struct IcmpError {
  int family = AF_INET;  // AF_INET: ICMP; AF_INET6: ICMPv6.
  int type = 0, code = 0;
  std::optional<SocketAddress> sender;  // Who sent it (SO_EE_OFFENDER), port 0.
};
// "port-unreachable", "admin-prohibited", "host-unreachable", "net-unreachable", ... (nft's
// names for the reject types), or "type T code C".
std::string icmp_name(const IcmpError& e);

struct ProbeOptions {
  int socktype = SOCK_STREAM;
  // How long to wait for an answer; an address that has none by then is `filtered`.
  std::chrono::milliseconds timeout{3000};
  // UDP: the datagram sent (a server that answers anything, such as an echo, makes it `open`).
  std::string payload = "parley doctor\n";
};

struct ProbeResult {
  SocketAddress address;
  Verdict verdict = Verdict::filtered;
  std::chrono::microseconds rtt{0};     // Until the answer; zero when none came.
  std::error_code error;                // What the socket reported; empty when open or filtered.
  std::optional<IcmpError> icmp;        // The ICMP error behind `error`, if one was queued.
  std::optional<SocketAddress> source;  // The local address used, port 0 (when the kernel chose).
};

// Probes every address at once. Errors: only local failures (no sockets left); every network
// outcome is a ProbeResult.
Result<std::vector<ProbeResult>> probe_all(const std::vector<SocketAddress>& addresses,
                                           const ProbeOptions& options);

// The verdict for a failed attempt (exposed for tests): TCP reset -> refused; ICMP
// port-unreachable or *-prohibited -> rejected (for UDP, port-unreachable is the host's own
// "closed": refused); ICMP/ENETUNREACH -> no-route; EHOSTUNREACH/ICMP host-unreachable ->
// host-unreachable; EPERM/EACCES (this machine's own firewall) -> rejected.
Verdict verdict_for(const std::error_code& error, const std::optional<IcmpError>& icmp,
                    int socktype);

}  // namespace parley
