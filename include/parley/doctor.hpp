#pragma once
// `parley doctor`: the facts behind "why can't the other PC connect?", gathered without printing.
//   check_client: resolve the name (and say who answered), ask the kernel for the route to each
//                 address, probe each (probe.hpp), classify each address (address_scope.hpp).
//   check_server: who listens on the port (socket table), this machine's addresses, the route
//                 towards the internet (the router), and what the local firewall does with a new
//                 connection to the port (firewall.hpp).
// The command turns these facts into verdicts, reasons and next steps. Blocking; any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "parley/address_scope.hpp"
#include "parley/endpoint.hpp"
#include "parley/firewall.hpp"
#include "parley/probe.hpp"
#include "parley/result.hpp"
#include "parley/route.hpp"
#include "parley/socket_table.hpp"

namespace parley {

// Who turns the name into addresses: the literal itself, /etc/hosts, or DNS (getaddrinfo does
// not say, so this reads the files it reads: hosts, then resolv.conf's name servers).
struct ResolverInfo {
  enum class Source { literal, hosts_file, dns } source = Source::dns;
  std::vector<std::string> nameservers;  // From resolv.conf, in order.
};
ResolverInfo resolver_info(const std::string& host, const std::string& hosts_path = "/etc/hosts",
                           const std::string& resolv_path = "/etc/resolv.conf");

struct ClientOptions {
  Family family = Family::any;
  bool numeric_only = false;
  int socktype = SOCK_STREAM;
  std::chrono::milliseconds timeout{3000};
};

struct AddressReport {
  ProbeResult probe;
  AddressScope scope = AddressScope::public_net;
  std::optional<Route> route;  // Empty when the lookup failed (route_error).
  std::error_code route_error;
};

struct ClientReport {
  ResolverInfo resolver;
  std::error_code resolve_error;  // Set: the name did not resolve (verdict dns-failure).
  std::vector<AddressReport> addresses;
  Verdict verdict = Verdict::dns_failure;  // The best of the addresses.
};

// Errors: local failures only (no sockets left); network outcomes are in the report.
Result<ClientReport> check_client(const std::string& host, std::uint16_t port,
                                  const ClientOptions& options);

struct ListenerReport {
  SocketAddress address;
  std::vector<SocketOwner> owners;  // Empty when unknown (another user's process, no root).
};

struct InterfaceAddress {
  std::string interface;
  SocketAddress address;  // Port 0.
  AddressScope scope = AddressScope::public_net;
};

struct ServerOptions {
  int socktype = SOCK_STREAM;
  RulesetReader ruleset;  // live_ruleset() unless a test substitutes one.
};

struct ServerReport {
  std::vector<ListenerReport> listeners;
  bool owners_hidden = false;  // Some processes could not be read (run as root to see all).
  bool loopback_only = false;  // Someone listens, but only on 127.0.0.1 / ::1.
  std::vector<InterfaceAddress> addresses;  // Loopback last.
  std::optional<Route> internet_route;      // How this machine reaches the internet (IPv4).
  std::optional<FirewallReport> firewall;
  std::error_code firewall_error;  // Why the ruleset could not be read (firewall unknown).
};

// Errors: the socket table could not be read at all.
Result<ServerReport> check_server(std::uint16_t port, const ServerOptions& options);

}  // namespace parley
