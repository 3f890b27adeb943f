// parley bench: the load tester. Options and their rules live here, the run loop (progress,
// interval lines, signals) in bench_run.cpp; the connections are driven by parley::LoadGenerator.

#include <thread>

#include "bench_report.hpp"
#include "bench_run.hpp"
#include "commands.hpp"
#include "netcat.hpp"
#include "parley/duration.hpp"

namespace parley::cmd {
namespace {

const std::map<std::string, BenchMode> kModes = {{"pingpong", BenchMode::pingpong},
                                                 {"stream", BenchMode::stream},
                                                 {"connect", BenchMode::connect},
                                                 {"hold", BenchMode::hold},
                                                 {"http", BenchMode::http}};

// A rate in requests per second: finite and within a range that a run can honour (a rate of
// 1e-300 would make each connection wait longer than the universe is old).
CLI::Validator rate_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        char* end = nullptr;
        double v = std::strtod(text.c_str(), &end);
        if (text.empty() || *end != '\0' || !(v >= 0.001 && v <= 1e8))
          return "'" + text + "' is not a rate: give 0.001 to 100000000 per second";
        return {};
      },
      "RATE");
}

// Rules that depend on the mode's value, which CLI11's excludes/needs cannot express.
bool valid_combination(const BenchArgs& o) {
  const auto& c = o.config;
  const bool exchange = c.mode == BenchMode::pingpong || c.mode == BenchMode::connect;
  const bool http = c.mode == BenchMode::http;
  if (c.udp && c.mode != BenchMode::pingpong && c.mode != BenchMode::stream) {
    say("bench: {} mode needs TCP: UDP has no connections to open or hold", o.mode);
    return false;
  }
  if (c.udp && o.proxy) {
    say("bench: proxies carry TCP only; drop -u or the proxy");
    return false;
  }
  if (c.udp && c.size > kMaxDatagram) {
    say("bench: a UDP message is one datagram, at most {} bytes", kMaxDatagram);
    return false;
  }
  if (c.lines && c.size > (64 << 10)) {
    say("bench: --lines messages are at most 65536 bytes");
    return false;
  }
  if (!http && (!o.method.empty() || !o.headers.empty() || o.body_given)) {
    say("bench: --method, --header and --body are for 'bench http'");
    return false;
  }
  if (http && (o.message_given || !o.until.empty() || c.lines || c.verify || o.greeting_given)) {
    say("bench: http frames its own requests and answers: --message, --until, --lines, "
        "--verify and --greeting are for the other modes");
    return false;
  }
  if (!exchange && !http && (o.message_given || !o.until.empty() || c.expect || o.greeting_given)) {
    say("bench: --message, --until, --expect and --greeting are for pingpong, connect and http");
    return false;
  }
  if (c.pipeline > 1 &&
      (c.mode == BenchMode::connect || !(exchange || http) || c.udp || c.rate > 0)) {
    say("bench: --pipeline needs a closed loop over TCP (pingpong or http, no --rate)");
    return false;
  }
  if (c.verify && c.pipeline > 1 && c.message && !c.message->constant()) {
    say("bench: --verify with a templated --message needs --pipeline 1");
    return false;
  }
  if (c.interval.count() > 0 && c.interval < std::chrono::milliseconds(100)) {
    say("bench: --interval is at least 100ms");
    return false;
  }
  return true;
}

// How much load: connections, message size, how long, how fast. Returns -s (a request text
// excludes it).
CLI::Option* add_load_options(CLI::App& app, const std::shared_ptr<BenchArgs>& o) {
  app.add_option("-c,--connections", o->config.connections, "Connections (default 1)")
      ->check(CLI::Range(1u, 1'000'000u));
  auto* size = app.add_option_function<std::size_t>(
                      "-s,--size", [o](std::size_t s) { o->config.size = s, o->size_given = true; },
                      "Message bytes (default 64; stream: 65536)")
                   ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
  add_duration_option(app, "-d,--duration", o->config.duration, "How long to run (default 10s)")
      ->check(positive_time())
      ->each([o](const std::string&) { o->duration_given = true; });
  add_duration_option(app, "--warmup", o->config.warmup,
                      "Run this long first without counting (before -d)");
  add_duration_option(app, "--interval", o->config.interval,
                      "Print a line per interval (and a JSON series), e.g. 1s");
  // The range also refuses -1 and numbers past 2^64, which CLI11 reads as the largest uint64.
  app.add_option("-n,--count", o->config.count,
                 "Stop once this many round trips are done (answers in flight then still count)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000'000}));
  app.add_option("-t,--threads", o->config.threads, "Event loops, one per thread (default: cores)")
      ->check(CLI::Range(1, 256));
  app.add_option("--connect-rate", o->config.connect_rate,
                 "Open at most this many connections per second")
      ->check(rate_check());
  app.add_option("--rate", o->config.rate,
                 "Requests per second in all (default: unpaced; stream: messages)")
      ->check(rate_check());
  return size;
}

// What a request is and what counts as its answer.
void add_answer_options(CLI::App& app, const std::shared_ptr<BenchArgs>& o, CLI::Option* size) {
  auto* message =
      app.add_option("-m,--message", o->message_text,
                     "Request text: escapes \\r \\n \\t \\xNN, fields {n} {conn} {rand:N}")
          ->excludes(size);
  auto* message_file =
      app.add_option("--message-file", o->message_file, "Request bytes from a file, as they are")
          ->excludes(size)
          ->excludes(message)
          ->check(CLI::ExistingFile);
  auto* until = app.add_option("--until", o->until,
                               "What ends an answer: newline, crlf, bytes=N, idle=TIME, regex=RE");
  auto* expect = app.add_option("--expect", o->expect_text,
                                "The answer must be TEXT (escapes as -m), or match regex=RE");
  app.add_flag("--verify", o->config.verify, "Check every byte that comes back")->excludes(expect);
  app.add_flag("--lines", o->config.lines,
               "Line server: messages end with LF, an answer is one line")
      ->excludes(until)
      ->excludes(message)
      ->excludes(message_file);
  app.add_option("--greeting", o->greeting,
                 "The server speaks first: skip, or expect=TEXT (checked)")
      ->each([o](const std::string&) { o->greeting_given = true; });
  app.add_option("--pipeline", o->config.pipeline, "Requests in flight per connection (default 1)")
      ->check(CLI::Range(1u, 1024u));
}

}  // namespace

Subcommand bench_command(CLI::App& root) {
  auto o = std::make_shared<BenchArgs>();
  o->config.threads = std::max(1u, std::thread::hardware_concurrency());
  auto* app = root.add_subcommand(
      "bench", "Load-test a TCP, UDP or HTTP server with many clients (like wrk, tcpkali)");
  app->footer(bench_footer());
  app->add_option("mode", o->mode, "pingpong, stream, connect, hold or http")
      ->required()
      ->check(CLI::IsMember({"pingpong", "stream", "connect", "hold", "http"}));
  app->add_option("target", o->target, "HOST PORT or HOST:PORT (http: a URL)")
      ->required()
      ->expected(1, 2);
  auto* size = add_load_options(*app, o);
  add_answer_options(*app, o, size);
  app->add_flag("--linger0", o->config.linger0, "Close with a reset: no TIME-WAIT left behind");
  add_duration_option(*app, "--timeout", o->config.timeout,
                      "Connect and answer timeout (default 5s)");
  app->add_flag("-u,--udp", o->config.udp, "UDP: datagrams instead of a TCP stream");
  app->add_option("--method", o->method, "http: request method (default GET)");
  app->add_option("-H,--header", o->headers, "http: extra header 'Name: value' (repeatable)");
  app->add_option_function<std::string>(
      "--body", [o](const std::string& b) { o->body = b, o->body_given = true; },
      "http: request body");
  auto* json = app->add_flag("--json", o->json, "Print one JSON object instead of the report");
  auto* quiet =
      app->add_flag("--quiet", o->quiet, "No progress line on the terminal, just the report");
  app->add_flag("-v,--verbose", o->verbose,
                "Say the address and load before the run, and print the progress line once a "
                "second even when stderr is not a terminal")
      ->excludes(quiet)
      ->excludes(json);
  add_proxy_options(*app, o->proxy_args);
  add_tls_options(*app, o->tls, TlsRole::client);
  tls_excludes(*app, {"-u"});
  auto* v4 = app->add_flag("-4", o->ipv4, "IPv4 only");
  app->add_flag("-6", o->ipv6, "IPv6 only")->excludes(v4);
  return {app, [o] {
            o->config.mode = kModes.at(o->mode);
            bool bad = false;
            o->proxy = proxy_spec_or_say("bench", o->proxy_args, "", &bad);
            if (bad || !prepare_bench(*o) || !valid_combination(*o)) return kExitUsage;
            return run_bench(*o);
          }};
}

}  // namespace parley::cmd
