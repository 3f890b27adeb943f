// parley echo: the multi-client echo server (RFC 862), with a line mode for the seed's
// "You told me: ..." servers. Options, startup messages, signals and the summary live here; the
// server itself is parley::EchoServer.

#include <signal.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <thread>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/address_scope.hpp"
#include "parley/duration.hpp"
#include "parley/echo_server.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
namespace {

struct EchoArgs {
  std::vector<std::string> positional;  // [PORT]
  int port = -1;
  EchoConfig config;
  bool quiet = false;
  std::chrono::milliseconds stats_interval{0};
};

// One log line: local time with milliseconds, then the event, written with one write(2) so lines
// from different worker threads never interleave.
void log_line(std::string_view event) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::string line =
      fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03} {}\n", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms, event);
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

void print_stats(const EchoStats& s, std::string_view prefix) {
  say("{}{} active, {} total, {} refused, {} bytes in, {} bytes out, {} messages", prefix, s.active,
      s.total, s.refused, s.bytes_in, s.bytes_out, s.messages);
}

void print_startup(const EchoArgs& o, const EchoServer& server) {
  bool v4 = false, v6 = false;
  for (const auto& a : server.local_addresses()) {
    say("Listening on {}", a.to_string());
    v4 |= a.family() == AF_INET;
    v6 |= a.family() == AF_INET6;
  }
  say("Echo server{} ({}, {} thread{}). Stop with Ctrl-C; kill -USR1 {} prints counters.",
      o.config.lines ? " in line mode" : "", o.config.udp ? "UDP" : "TCP", o.config.threads,
      o.config.threads == 1 ? "" : "s", getpid());
  if (loopback_only(server.local_addresses()))
    say("Warning: loopback only: other machines cannot connect (leave out --bind to listen on "
        "every address)");
  if (!o.config.bind.empty()) return;  // Bound to chosen addresses: those are the answer.
  std::vector<std::string> names;
  auto port = server.local_addresses().front().port();
  auto addresses = interface_addresses(port, v4, v6, &names);
  for (std::size_t i = 0; i < addresses.size(); ++i)
    say("Reachable at {} ({})", addresses[i].to_string(), names[i]);
}

// Waits for signals on this thread (workers have them blocked): the first SIGINT/SIGTERM drains,
// the second stops at once; SIGUSR1 and --stats-interval print counters.
void serve(const EchoArgs& o, EchoServer& server, const sigset_t& signals) {
  auto next_stats = std::chrono::steady_clock::now() + o.stats_interval;
  int stops = 0;
  while (!server.finished()) {
    timespec tick{0, 100'000'000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      ++stops;
      if (stops == 1) say("Stopping: finishing what clients sent (signal again to stop now).");
      server.stop(stops == 1);
    } else if (sig == SIGUSR1) {
      print_stats(server.stats(), "stats: ");
    }
    if (o.stats_interval.count() > 0 && std::chrono::steady_clock::now() >= next_stats) {
      print_stats(server.stats(), "stats: ");
      next_stats += o.stats_interval;
    }
  }
  server.wait();
}

int run_echo(EchoArgs& o) {
  const auto start = std::chrono::steady_clock::now();
  if (!o.positional.empty()) {
    auto port = parse_port(o.positional.front());
    if (!port) {
      say("echo: {}", describe(port.error()));
      return kExitUsage;
    }
    o.config.port = *port;
  }
  if (o.port >= 0) o.config.port = static_cast<std::uint16_t>(o.port);
  o.config.log_connections = !o.quiet;
  o.config.log = log_line;
  auto server = EchoServer::open(o.config);
  if (!server) {
    if (server.error() == std::errc::invalid_argument) {
      say("echo: --reply: unknown field or unmatched brace (fields: {{line}} {{peer}} {{n}} "
          "{{len}})");
      return kExitUsage;
    }
    if (server.error() == make_error_code(Errc::name_not_resolved)) {
      say("echo: --bind takes a local IP address");
      return kExitUsage;
    }
    say("cannot listen: {}", describe(server.error()));
    return kExitUsage;
  }
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // Inherited by the workers started next.
  print_startup(o, **server);
  (*server)->start();
  serve(o, **server, signals);
  EchoStats s = (*server)->stats();
  say("{} connections served ({} refused), {} bytes in, {} bytes out, {} messages in {} s.",
      s.total, s.refused, s.bytes_in, s.bytes_out, s.messages,
      format_seconds(std::chrono::steady_clock::now() - start));
  return kExitOk;
}

}  // namespace

Subcommand echo_command(CLI::App& root) {
  auto o = std::make_shared<EchoArgs>();
  o->config.threads = std::max(1u, std::thread::hardware_concurrency());
  auto* app =
      root.add_subcommand("echo", "Echo server for many clients (RFC 862), or a line server");
  app->footer(
      "Examples:\n"
      "  parley echo                              TCP echo on port 12345, every core\n"
      "  parley echo 7000 --log-data              also log what each client sent\n"
      "  parley echo --lines --reply 'You told me: {line}'\n"
      "  parley echo -u 12345                     UDP: one datagram back per datagram\n"
      "Reply fields: {line} {peer} {n} (message number) {len}. Lines end with LF or CRLF; the\n"
      "answer uses the same ending. SIGINT/SIGTERM finish the echoes in flight, then exit 0.");
  auto* pos =
      app->add_option("port", o->positional, "Port to listen on (default 12345)")->expected(0, 1);
  app->add_option("-p,--port", o->port, "Port to listen on")
      ->check(CLI::Range(0, 65535))
      ->excludes(pos);
  app->add_option("--bind", o->config.bind, "Local address to listen on (repeatable; default all)")
      ->type_name("ADDR");
  app->add_flag("-u,--udp", o->config.udp, "UDP echo instead of TCP");
  app->add_option("--threads", o->config.threads, "Event loops, one per thread (default: cores)")
      ->check(CLI::Range(1, 256));
  auto* lines =
      app->add_flag("--lines", o->config.lines, "Line mode: answer each line with --reply");
  app->add_option("--reply", o->config.reply, "Reply template in line mode (default '{line}')")
      ->type_name("TEMPLATE")
      ->needs(lines);
  app->add_option("--max-line", o->config.max_line, "Longest line accepted (default 65536)")
      ->type_name("BYTES")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 30))
      ->needs(lines);
  app->add_option("--max-conns", o->config.max_conns, "Most clients at once (default 10000)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  add_duration_option(*app, "--idle-timeout", o->config.idle_timeout,
                      "Close clients silent this long");
  add_duration_option(*app, "--drain-timeout", o->config.drain_timeout,
                      "On SIGTERM, time allowed to finish echoes (default 5s)");
  add_duration_option(*app, "--stats-interval", o->stats_interval, "Print counters this often");
  auto* quiet = app->add_flag("-q,--quiet", o->quiet, "No per-connection log lines");
  app->add_flag("--log-data", o->config.log_data, "Log what each client sends")->excludes(quiet);
  return {app, [o] { return run_echo(*o); }};
}

}  // namespace parley::cmd
