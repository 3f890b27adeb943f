#pragma once
// The port scan shared by `parley scan HOST PORTS` and `parley connect -z HOST PORTS`.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "parley/proxy.hpp"

namespace parley::cmd {

struct ScanArgs {
  std::vector<std::string> args;  // HOST PORTS [PORTS...], or HOST:PORTS.
  bool ipv4 = false, ipv6 = false, numeric = false, udp = false, random = false, json = false;
  int verbose = 0;
  bool quiet = false;                 // --quiet: no lines at all, the exit status says it.
  std::chrono::milliseconds wait{0};  // -w per probe; zero: kDefaultScanWait.
  std::size_t parallel = 0;           // Zero: the default (bounded by the descriptor limit).
  std::string source;                 // -s
  int source_port = -1;               // -p
};

inline constexpr std::chrono::milliseconds kDefaultScanWait{2000};
inline constexpr std::size_t kDefaultParallel = 500;

// Runs the scan and prints the results: nc's lines on stderr, or with --json one object per port
// on stdout. Returns the exit status: 0 if a port is open (UDP: or open|filtered), 1 if none,
// 2 for a bad port list or other usage errors.
int run_scan(const char* command, const ScanArgs& a, const std::optional<ProxySpec>& proxy);

// -r, --parallel and --json (connect -z has them too).
void add_scan_options(CLI::App& app, ScanArgs& o);

}  // namespace parley::cmd
