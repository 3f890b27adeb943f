// parley doctor: why can't the other PC connect? The client side probes HOST PORT and says, per
// address, what stopped it and what to do; the server side (--listen PORT) says who listens, on
// which addresses, what the firewall does with the port, and what to open or forward.

#include <memory>

#include "commands.hpp"
#include "doctor.hpp"
#include "netcat.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
namespace {

int run_doctor(const DoctorArgs& o) {
  if (o.listen_port >= 0) {
    ServerOptions so;
    so.socktype = o.udp ? SOCK_DGRAM : SOCK_STREAM;
    auto report = check_server(static_cast<std::uint16_t>(o.listen_port), so);
    if (!report) {
      say("doctor: cannot read the socket table: {}", describe(report.error()));
      return kExitUsage;
    }
    return report_server(o, *report);
  }
  if (o.target.empty()) {
    say("doctor: say what to check: HOST PORT (on the client) or --listen PORT (on the server); "
        "see parley doctor --help");
    return kExitUsage;
  }
  auto target = target_or_say("doctor", o.target);
  if (!target) return kExitUsage;
  if (target->port == 0) {
    say("doctor: port 0 cannot be connected to; give the server's port");
    return kExitUsage;
  }
  ClientOptions co;
  co.family = o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
  co.numeric_only = o.numeric;
  co.socktype = o.udp ? SOCK_DGRAM : SOCK_STREAM;
  co.timeout = o.wait;
  auto report = check_client(target->host, target->port, co);
  if (!report) {
    say("doctor: {}", describe(report.error()));
    return kExitUsage;
  }
  return report_client(o, *target, *report);
}

}  // namespace

Subcommand doctor_command(CLI::App& root) {
  auto o = std::make_shared<DoctorArgs>();
  auto* app = root.add_subcommand(
      "doctor", "Why can't another machine connect? Check a port from the client or the server");
  app->footer(
      "Examples:\n"
      "  parley doctor 192.168.1.20 12345       on the client: can I reach the server's port?\n"
      "  parley doctor --listen 12345           on the server: who listens, firewall, router\n"
      "  parley doctor -u 192.168.1.20 5353     UDP (an answer means open; silence is filtered)\n"
      "  parley doctor --json example.org 80    one JSON object (fields below)\n"
      "  parley doctor --quiet db.lan 5432      just 'verdict: open' (or what stopped it)\n"
      "Client verdicts, one per address the name resolves to:\n"
      "  open               the server accepted the connection\n"
      "  refused            the host answered with a TCP reset: nothing listens on that port\n"
      "                     (or the server listens on 127.0.0.1 only, or a firewall resets)\n"
      "  rejected           a firewall answered with ICMP (port-unreachable, admin-prohibited)\n"
      "  filtered           no answer within -w: a firewall drops the packets, or the host is off\n"
      "  no-route           no route to the address (from here, or a router said so)\n"
      "  host-unreachable   the address is on a network, but nobody answers there\n"
      "  dns-failure        the name did not resolve\n"
      "Every verdict comes with the reason and the next step. The server side reads the\n"
      "socket table and the nftables ruleset (iptables-nft, ufw and firewalld rules live there\n"
      "too); reading the ruleset needs root. Nothing is ever changed.\n"
      "--json (client): target, port, protocol, resolver, verdict, notes, addresses[] with\n"
      "  address, scope, verdict, rtt_us, reason, next_step, icmp, route.\n"
      "--json (server): port, protocol, listening, loopback_only, listeners[], addresses[],\n"
      "  router, firewall, firewall_rule, firewall_ipv6, firewall_rule_ipv6, next_steps[].\n"
      "Exit status: 0 open (client) or reachable (server), 1 otherwise, 2 bad input.");
  auto* target =
      app->add_option("target", o->target, "HOST PORT or HOST:PORT to check")->expected(0, 2);
  auto* listen = app->add_option("-l,--listen", o->listen_port,
                                 "Check this machine's PORT as a server instead")
                     ->type_name("PORT")
                     ->check(CLI::Range(1, 65535));
  listen->excludes(target);
  app->add_flag("-u,--udp", o->udp, "UDP instead of TCP");
  auto* json = app->add_flag("--json", o->json, "One JSON object instead of text");
  auto* quiet = app->add_flag("--quiet", o->quiet,
                              "The verdict line only (client: open, refused, ...; server: "
                              "reachable or not reachable)")
                    ->excludes(json);
  app->add_flag("-v,--verbose", o->verbose,
                "Also each address's scope and ICMP sender, and the firewall chains and rules "
                "that decided")
      ->excludes(quiet)
      ->excludes(json);
  auto* wait =
      add_duration_option(*app, "-w,--wait", o->wait, "How long to wait for an answer (default 3s)")
          ->check(positive_time());
  auto* v4 = app->add_flag("-4", o->ipv4, "IPv4 addresses only");
  auto* v6 = app->add_flag("-6", o->ipv6, "IPv6 addresses only");
  auto* numeric = app->add_flag("-n,--nodns", o->numeric, "Numeric address only, never ask DNS");
  v4->excludes(v6);
  for (auto* client_only : {wait, v4, v6, numeric}) listen->excludes(client_only);
  return {app, [o] { return run_doctor(*o); }};
}

}  // namespace parley::cmd
