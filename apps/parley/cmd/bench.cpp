// parley bench: the load tester. Options and the run loop (progress, signals) live here; the
// connections are driven by parley::LoadGenerator.

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <memory>
#include <thread>

#include "bench_report.hpp"
#include "commands.hpp"
#include "netcat.hpp"
#include "parley/connector.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"

namespace parley::cmd {
namespace {

struct BenchArgs {
  std::string mode;
  std::vector<std::string> target;
  LoadConfig config;
  bool size_given = false, duration_given = false;
  bool json = false, ipv4 = false, ipv6 = false;
};

const std::map<std::string, BenchMode> kModes = {{"pingpong", BenchMode::pingpong},
                                                 {"stream", BenchMode::stream},
                                                 {"connect", BenchMode::connect},
                                                 {"hold", BenchMode::hold}};

// Picks the address to load: the first that accepts a connection, else the first resolved (the
// run then reports the refusals, which is what a user aiming at a dead port wants to see).
// UDP has no handshake to probe with: the first resolved address it is.
Result<SocketAddress> pick_target(const BenchArgs& o, const HostPort& hp) {
  Family family = o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
  const int type = o.config.udp ? SOCK_DGRAM : SOCK_STREAM;
  auto addresses = resolve(hp.host, hp.port, {family, false, type, false});
  if (!addresses) return addresses.error();
  if (o.config.udp) return addresses->front();
  ConnectOptions co;
  co.timeout = std::chrono::milliseconds(2000);
  auto probe = connect_any(*addresses, co);
  return probe ? probe->peer : addresses->front();
}

// Runs the generator, printing a progress line every second on a terminal; the first SIGINT or
// SIGTERM stops it early (with a partial report). Signals are blocked (workers inherit the mask)
// and arrive through a signalfd that the generator watches.
LoadResult drive(LoadGenerator& gen, const BenchArgs& o, bool* interrupted) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Fd sigfd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  const bool live = isatty(STDERR_FILENO) == 1 && !o.json;
  const auto start = std::chrono::steady_clock::now();
  const double duration_s = std::chrono::duration<double>(o.config.duration).count();
  LoadProgress before;
  std::function<void()> every_second = [&] {
    if (!live) return;
    LoadProgress p = gen.progress();
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    write_all(STDERR_FILENO, "\r\x1b[K" + progress_line(p, before, elapsed, duration_s, 1.0));
    before = p;
  };
  LoadResult r = gen.run(sigfd.get(), every_second);
  signalfd_siginfo info;
  *interrupted = ::read(sigfd.get(), &info, sizeof(info)) == sizeof(info);
  if (live) write_all(STDERR_FILENO, "\r\x1b[K");
  return r;
}

// Rules that depend on the mode's value, which CLI11's excludes/needs cannot express.
bool valid_combination(const BenchArgs& o) {
  const auto& c = o.config;
  if (c.udp && (c.mode == BenchMode::connect || c.mode == BenchMode::hold)) {
    say("bench: {} mode needs TCP: UDP has no connections to open or hold", o.mode);
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
  return true;
}

int run_bench(BenchArgs& o) {
  auto& c = o.config;
  c.mode = kModes.at(o.mode);
  // Stream default: 64 KiB writes; over UDP, the largest datagram one Ethernet frame carries.
  if (c.mode == BenchMode::stream && !o.size_given) c.size = c.udp ? 1472 : 64 << 10;
  if (c.count > 0 && !o.duration_given) c.duration = std::chrono::minutes(5);  // Always bounded.
  if (!valid_combination(o)) return kExitUsage;
  auto hp = target_or_say("bench", o.target);
  if (!hp) return kExitUsage;
  auto target = pick_target(o, *hp);
  if (!target) {
    say("bench: {}: {}", format_target(*hp), describe(target.error()));
    return exit_code_for(target.error());
  }
  c.target = *target;
  auto gen = LoadGenerator::create(c);
  if (!gen) {
    say("bench: {}", describe(gen.error()));
    return kExitUsage;
  }
  BenchHeader header{o.mode, target->to_string(), c, false};
  LoadResult r = drive(**gen, o, &header.interrupted);
  header.config.threads = std::max(1u, std::min(c.threads, c.connections));
  out_text(o.json ? json_result(header, r) : summary(header, r));
  int code = kExitOk;
  bool needs_answers = c.mode == BenchMode::pingpong || c.mode == BenchMode::connect;
  if (r.total_errors() > 0 || (needs_answers && r.round_trips == 0 && !header.interrupted))
    code = kExitNetwork;
  return code;
}

}  // namespace

Subcommand bench_command(CLI::App& root) {
  auto o = std::make_shared<BenchArgs>();
  o->config.threads = std::max(1u, std::thread::hardware_concurrency());
  auto* app =
      root.add_subcommand("bench", "Load-test a TCP or UDP echo or line server with many clients");
  app->footer(
      "Modes:\n"
      "  pingpong  each connection sends -s bytes, waits for them to come back, repeats\n"
      "  stream    send and receive continuously (throughput)\n"
      "  connect   open, one round trip, close, again (connections per second)\n"
      "  hold      open -c connections and keep them idle (how many can the server hold)\n"
      "Examples:\n"
      "  parley bench pingpong -c 50 -d 10s 127.0.0.1 12345\n"
      "  parley bench pingpong --rate 20000 -c 100 --verify localhost 12345\n"
      "  parley bench pingpong --lines -s 32 localhost 12345     (line servers)\n"
      "  parley bench pingpong -u -c 10 --timeout 200ms 127.0.0.1 12345\n"
      "UDP (-u): each connection is a connected datagram socket, each message one datagram\n"
      "(at most 65507 bytes) and each answer one datagram; a request unanswered within\n"
      "--timeout counts as a timeout (lost) and the next one goes out on a fresh socket.\n"
      "Modes pingpong and stream only; stream sends 1472-byte datagrams unless -s is given.\n"
      "With --rate, latency counts from each request's intended send time, so a stalled server\n"
      "shows up in the tail instead of being hidden (no coordinated omission). Runs are always\n"
      "bounded (-d, default 10 s; with only -n at most 5 min). Exit status: 0 no errors, 1 errors\n"
      "or mismatches, 2 usage.\n"
      "--json fields: mode, protocol, target, connections, size, threads, rate, seconds,\n"
      "interrupted, round_trips, round_trips_per_s, steady_round_trips_per_s (after all\n"
      "connections were up), connect_ramp_ms, bytes_sent, bytes_received, connections_opened,\n"
      "open_at_end, peak_open, errors{refused,reset,timeout,mismatch,closed early,other},\n"
      "errors_total,\n"
      "latency{count,min_us,mean_us,max_us,p50_us,p90_us,p99_us,p99.9_us,p99.99_us}.");
  app->add_option("mode", o->mode, "pingpong, stream, connect or hold")
      ->required()
      ->check(CLI::IsMember({"pingpong", "stream", "connect", "hold"}));
  app->add_option("target", o->target, "HOST PORT or HOST:PORT")->required()->expected(1, 2);
  app->add_option("-c,--connections", o->config.connections, "Connections (default 1)")
      ->check(CLI::Range(1u, 1'000'000u));
  app->add_option_function<std::size_t>(
         "-s,--size", [o](std::size_t s) { o->config.size = s, o->size_given = true; },
         "Message bytes (default 64; stream: 65536)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
  add_duration_option(*app, "-d,--duration", o->config.duration, "How long to run (default 10s)")
      ->each([o](const std::string&) { o->duration_given = true; });
  app->add_option("-n,--count", o->config.count, "Stop after this many round trips");
  app->add_option("--threads", o->config.threads, "Event loops, one per thread (default: cores)")
      ->check(CLI::Range(1, 256));
  app->add_option("--connect-rate", o->config.connect_rate,
                  "Open at most this many connections per second")
      ->check(CLI::PositiveNumber);
  app->add_option("--rate", o->config.rate,
                  "Requests per second in all (default: as fast as answered)")
      ->check(CLI::PositiveNumber);
  app->add_flag("--verify", o->config.verify, "Check every byte that comes back");
  app->add_flag("--lines", o->config.lines,
                "Line server: messages end with LF, an answer is one line");
  add_duration_option(*app, "--timeout", o->config.timeout,
                      "Connect and answer timeout (default 5s)");
  app->add_flag("-u,--udp", o->config.udp, "UDP: datagrams instead of a TCP stream");
  app->add_flag("--json", o->json, "Print one JSON object instead of the report");
  auto* v4 = app->add_flag("-4", o->ipv4, "IPv4 only");
  app->add_flag("-6", o->ipv6, "IPv6 only")->excludes(v4);
  return {app, [o] { return run_bench(*o); }};
}

}  // namespace parley::cmd
