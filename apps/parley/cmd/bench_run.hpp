#pragma once
// parley bench: the parsed options, turning them into a LoadConfig, and the run (address probe,
// greeting check, progress and interval lines, signals, the report). bench.cpp owns the options.

#include <optional>
#include <string>
#include <vector>

#include "parley/loadgen.hpp"
#include "proxy_options.hpp"
#include "tls_options.hpp"

namespace parley::cmd {

struct BenchArgs {
  std::string mode;
  std::vector<std::string> target;
  LoadConfig config;
  bool size_given = false, duration_given = false;
  bool json = false, ipv4 = false, ipv6 = false;
  bool quiet = false;  // --quiet: no progress line, just the report.
  int verbose = 0;     // -v: what is about to run, and progress lines also off a terminal.
  std::string message_text, message_file, until, expect_text, greeting;
  bool message_given = false, greeting_given = false;
  std::string method, body;
  std::vector<std::string> headers;
  bool body_given = false;
  std::string http_host;  // bench http: from the URL.
  std::uint16_t http_port = 80;
  ProxyArgs proxy_args;            // --proxy and its options, as connect has them.
  TlsArgs tls;                     // --tls and its client options, as connect has them.
  std::optional<ProxySpec> proxy;  // Made from proxy_args before the run.
};

// Fills args.config from the options (message, framing, expectations, HTTP request); false after
// one usage line when something is malformed.
bool prepare_bench(BenchArgs& args);
// The run and its report; returns the exit status.
int run_bench(BenchArgs& args);
std::string bench_footer();

}  // namespace parley::cmd
