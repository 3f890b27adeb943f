#pragma once
// parley doctor's two halves (the facts come from parley/doctor.hpp; the words are here): each
// renders its report as text or JSON on stdout and returns the exit status (0 open, 1 not).

#include <chrono>
#include <string>
#include <vector>

#include "parley/doctor.hpp"

namespace parley::cmd {

struct DoctorArgs {
  std::vector<std::string> target;  // HOST PORT or HOST:PORT (client side).
  int listen_port = -1;             // --listen PORT (server side).
  bool udp = false, json = false, ipv4 = false, ipv6 = false, numeric = false;
  bool quiet = false;  // --quiet: the verdict line only.
  int verbose = 0;     // -v: also what each probe and the firewall check looked at.
  std::chrono::milliseconds wait{3000};
};

int report_client(const DoctorArgs& o, const HostPort& target, const ClientReport& report);
int report_server(const DoctorArgs& o, const ServerReport& report);

// "TCP" or "UDP"; "tcp" or "udp" (as firewalls and --json write it).
inline const char* proto_upper(const DoctorArgs& o) {
  return o.udp ? "UDP" : "TCP";
}
inline const char* proto_lower(const DoctorArgs& o) {
  return o.udp ? "udp" : "tcp";
}

}  // namespace parley::cmd
