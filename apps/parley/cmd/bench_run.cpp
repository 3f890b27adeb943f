#include "bench_run.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "bench_report.hpp"
#include "netcat.hpp"
#include "parley/connector.hpp"
#include "parley/dial.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "parley/http.hpp"

namespace parley::cmd {
namespace {

constexpr std::size_t kMaxMessageFile = 16 << 20;
// How long the address probe listens for a server that speaks first, before the run.
constexpr std::chrono::milliseconds kGreetingWindow{50};

std::optional<Expectation> parse_expectation(const std::string& text, const char* option) {
  Expectation e;
  if (text.rfind("regex=", 0) == 0) {
    std::string why;
    auto re = Regex::compile(std::string_view(text).substr(6), &why);
    if (!re) {
      say("bench: {}: bad regex: {}", option, why);
      return std::nullopt;
    }
    e.regex = std::move(*re);
    return e;
  }
  auto bytes = unescape(text);
  if (!bytes) {
    say("bench: {}: bad escape in '{}' (use \\r \\n \\t \\0 \\\\ \\xNN)", option, text);
    return std::nullopt;
  }
  e.text = std::move(*bytes);
  return e;
}

bool prepare_http(BenchArgs& o) {
  auto& c = o.config;
  if (o.target.size() != 1) {
    say("bench http: give one URL, e.g. http://127.0.0.1:8080/");
    return false;
  }
  auto url = parse_http_url(o.target[0]);
  if (!url) {
    say("bench http: '{}' is not an http:// or https:// URL (http://HOST[:PORT][/PATH])",
        o.target[0]);
    return false;
  }
  o.tls.enabled = o.tls.enabled || url->tls;  // https:// means TLS, as --tls would.
  for (const auto& h : o.headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0 || h.find_first_of("\r\n") != std::string::npos) {
      say("bench http: --header '{}' is not 'Name: value'", escape_bytes(h));
      return false;
    }
  }
  const std::string method = o.method.empty() ? "GET" : o.method;
  if (method.find_first_of(" \t\r\n") != std::string::npos) {
    say("bench http: --method '{}' is not a method", escape_bytes(method));
    return false;
  }
  o.http_host = url->host, o.http_port = url->port;
  if (o.tls.enabled && !(c.tls = tls_client_or_say("bench", o.tls))) return false;
  c.tls_host = o.http_host;
  c.message = MessageTemplate::literal(http_request(method, *url, o.headers, o.body));
  c.until = UntilSpec{};
  c.until.kind = UntilSpec::Kind::http;
  c.until.head_request = method == "HEAD";
  return true;
}

bool prepare_message(BenchArgs& o) {
  auto& c = o.config;
  if (!o.message_text.empty()) {
    auto t = MessageTemplate::parse(o.message_text);
    if (!t) {
      say("bench: --message '{}': bad escape or field (escapes \\r \\n \\t \\0 \\\\ \\xNN; "
          "fields {{n}} {{conn}} {{rand:N}}; {{{{ and }}}} for braces)",
          escape_bytes(o.message_text));
      return false;
    }
    c.message = std::move(*t);
  } else if (!o.message_file.empty()) {
    std::ifstream in(o.message_file, std::ios::binary);
    std::string bytes;
    bytes.resize(kMaxMessageFile + 1);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    bytes.resize(static_cast<std::size_t>(in.gcount()));
    if (bytes.empty() || bytes.size() > kMaxMessageFile) {
      say("bench: --message-file {}: {}", o.message_file,
          bytes.empty() ? "empty or unreadable" : "over 16 MiB");
      return false;
    }
    c.message = MessageTemplate::literal(std::move(bytes));
  }
  if (c.message && c.udp && c.message->constant() &&
      c.message->constant_text().size() > kMaxDatagram) {
    say("bench: a UDP message is one datagram, at most {} bytes", kMaxDatagram);
    return false;
  }
  return true;
}

// What ends an answer: --until, else the echo of the request (as many bytes), or a line when the
// request is one (--lines, or a message ending in LF).
bool prepare_until(BenchArgs& o) {
  auto& c = o.config;
  if (!o.until.empty()) {
    if (c.udp) {
      say("bench: over UDP each answer is one datagram: --until is for TCP");
      return false;
    }
    std::string why;
    auto u = parse_until(o.until, &why);
    if (!u || u->kind == UntilSpec::Kind::none || u->kind == UntilSpec::Kind::http) {
      say("bench: --until takes newline, crlf, bytes=N, idle=TIME or regex=RE{}{}",
          why.empty() ? "" : ": ", why);
      return false;
    }
    c.until = std::move(*u);
    return true;
  }
  c.until = UntilSpec{};
  if (c.lines || (c.message && c.message->ends_with('\n'))) return true;  // newline
  if (c.message && !c.message->constant() && !c.udp) {
    say("bench: a --message with fields has no fixed answer length: say what ends an answer "
        "with --until (newline, crlf, bytes=N, idle=TIME, regex=RE)");
    return false;
  }
  c.until.kind = UntilSpec::Kind::bytes;
  c.until.bytes = c.message ? c.message->constant_text().size() : c.size;
  return true;
}

}  // namespace

bool prepare_bench(BenchArgs& o) {
  auto& c = o.config;
  o.message_given = !o.message_text.empty() || !o.message_file.empty();
  // Stream default: 64 KiB writes; over UDP, the largest datagram one Ethernet frame carries.
  if (c.mode == BenchMode::stream && !o.size_given) c.size = c.udp ? 1472 : 64 << 10;
  if (c.count > 0 && !o.duration_given) c.duration = std::chrono::minutes(5);  // Always bounded.
  if (!o.expect_text.empty()) {
    c.expect = parse_expectation(o.expect_text, "--expect");
    if (!c.expect) return false;
  }
  if (c.mode == BenchMode::http) return prepare_http(o);
  if (o.target.size() == 1 && o.target[0].rfind("http://", 0) == 0) {
    say("bench: a URL is for 'bench http': parley bench http {}", o.target[0]);
    return false;
  }
  if (!prepare_message(o) || !prepare_until(o)) return false;
  if (o.greeting_given) {
    if (c.udp) {
      say("bench: --greeting is for TCP servers");
      return false;
    }
    c.greeting = true;
    if (o.greeting.rfind("expect=", 0) == 0) {
      c.greeting_expect = parse_expectation(o.greeting.substr(7), "--greeting");
      if (!c.greeting_expect) return false;
    } else if (o.greeting != "skip") {
      say("bench: --greeting takes skip or expect=TEXT");
      return false;
    }
  }
  return true;
}

namespace {

// Picks the address to load by connecting once; that connection becomes the run's first, so a
// server that takes a single connection is not used up by a probe. When no address accepts, the
// first resolved one is taken (the run then reports the refusals, which is what a user aiming at
// a dead port wants to see). UDP has no handshake: the first resolved address it is.
Result<SocketAddress> pick_target(BenchArgs& o, const HostPort& hp, Fd* probe) {
  Family family = o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
  if (o.proxy) {
    // Through a proxy the probe is a whole dial: a proxy that is down, wants a password or
    // refuses the target is said once, before the run, as connect says it.
    auto request = proxy_request_target(hp, *o.proxy, family, false);
    if (!request) return request.error();
    DialOptions d;
    d.family = family;
    d.connect.timeout =
        std::min<std::chrono::milliseconds>(o.config.timeout, std::chrono::seconds(5));
    d.proxy = o.proxy;
    auto c = dial(hp, d);
    if (!c) return c.error();
    *probe = std::move(c->fd);
    o.config.proxy = LoadConfig::Tunnel{o.proxy->type, *request, o.proxy->auth};
    return c->peer;
  }
  const int type = o.config.udp ? SOCK_DGRAM : SOCK_STREAM;
  auto addresses = resolve(hp.host, hp.port, {family, false, type, false});
  if (!addresses) return addresses.error();
  if (o.config.udp) return addresses->front();
  ConnectOptions co;
  co.timeout = std::min<std::chrono::milliseconds>(o.config.timeout, std::chrono::seconds(5));
  auto c = connect_any(*addresses, co);
  if (!c) return addresses->front();
  *probe = std::move(c->fd);
  return c->peer;
}

// A server that speaks first would have its greeting taken for the first answer, and every
// answer after it for the previous request's: say so instead of measuring nonsense.
bool greets(int fd, std::string* text) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(kGreetingWindow.count())) <= 0) return false;
  char buf[120];
  ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
  if (n <= 0) return false;
  *text = escape_bytes({buf, static_cast<std::size_t>(n)}, 80);
  return true;
}

// Runs the generator; on a terminal a progress line every second; with --interval one line per
// interval as it ends. The first SIGINT or SIGTERM stops it early (with a partial report).
// Signals are blocked (workers inherit the mask) and arrive through a signalfd the generator
// watches.
LoadResult drive(LoadGenerator& gen, const BenchArgs& o, bool* interrupted) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  Fd sigfd(signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
  // On a terminal the progress line redraws itself; with -v elsewhere (a log) it is a line.
  const bool tty = isatty(STDERR_FILENO) == 1;
  const bool live = tty && !o.json && !o.quiet;
  const bool progress_lines = !tty && o.verbose > 0;
  const auto start = std::chrono::steady_clock::now();
  auto next_progress = start + std::chrono::seconds(1);
  const double total_s = std::chrono::duration<double>(o.config.duration + o.config.warmup).count();
  LoadProgress before;
  std::size_t printed = 0;
  auto print_intervals = [&](const std::vector<IntervalStats>& intervals) {
    if (intervals.empty() || o.config.interval.count() == 0 || o.json) return;
    if (live) write_all(STDERR_FILENO, "\r\x1b[K");
    for (const auto& s : intervals) {
      if (printed++ == 0) out_text(interval_header());
      out_text(interval_line(s));
    }
  };
  std::function<void()> tick = [&] {
    const auto now = std::chrono::steady_clock::now();
    if (o.config.interval.count() > 0) print_intervals(gen.take_intervals());
    if (!(live || progress_lines) || now < next_progress) return;
    next_progress += std::chrono::seconds(1);
    LoadProgress p = gen.progress();
    double elapsed = std::chrono::duration<double>(now - start).count();
    std::string line = progress_line(p, before, elapsed, total_s, 1.0);
    write_all(STDERR_FILENO, live ? "\r\x1b[K" + line : line + "\n");
    before = p;
  };
  LoadResult r = gen.run(sigfd.get(), tick);
  signalfd_siginfo info;
  *interrupted = ::read(sigfd.get(), &info, sizeof(info)) == sizeof(info);
  if (live) write_all(STDERR_FILENO, "\r\x1b[K");
  // The intervals the last ticks did not print (the final, partial one among them).
  if (printed < r.series.size())
    print_intervals({r.series.begin() + static_cast<std::ptrdiff_t>(printed), r.series.end()});
  return r;
}

}  // namespace

std::string bench_footer() {
  return "Modes:\n"
         "  pingpong  each connection sends a request, waits for its answer, repeats\n"
         "  stream    send and receive continuously (throughput; UDP: loss and jitter)\n"
         "  connect   open, one round trip, close, again (connections per second)\n"
         "  hold      open -c connections and keep them idle (how many can the server hold)\n"
         "  http      HTTP/1.1 keep-alive requests to a URL (statuses counted, non-2xx errors)\n"
         "Examples:\n"
         "  parley bench pingpong -c 50 -d 10s 127.0.0.1 12345\n"
         "  parley bench pingpong --rate 20000 -c 100 --verify localhost 12345\n"
         "  parley bench pingpong --lines -s 32 localhost 12345     (line servers)\n"
         "  parley bench pingpong -m 'PING\\r\\n' --until crlf --expect '+PONG' localhost 6379\n"
         "  parley bench connect -m 'GET {rand:1000}\\n' --linger0 localhost 7000\n"
         "  parley bench http -c 50 -t 1 -d 10s --pipeline 4 http://127.0.0.1:8080/\n"
         "  parley bench pingpong -u -c 10 --timeout 200ms 127.0.0.1 12345\n"
         "  parley bench connect --tls --tls-pin sha256:HEX 127.0.0.1 4433   TLS handshakes/s\n"
         "  parley bench http -c 20 https://127.0.0.1:8443/      https:// speaks TLS (--tls)\n"
         "Requests: -s bytes of a fixed pattern (echo servers; --verify checks the echo), or\n"
         "-m TEXT / --message-file. An answer ends per --until: by default it is the echo (as\n"
         "many bytes as sent), or one line when the request ends in LF (or --lines). --expect\n"
         "TEXT or regex=RE checks each answer (http: the body); a mismatch is an error and the\n"
         "first few are shown. A server that speaks first is refused unless --greeting says\n"
         "what to do with its greeting.\n"
         "UDP (-u): each connection is a connected datagram socket, each message one datagram\n"
         "(at most 65507 bytes) and each answer one datagram; a request unanswered within\n"
         "--timeout counts as a timeout (lost) and the next one goes out on a fresh socket.\n"
         "Modes pingpong and stream only; stream sends 1472-byte datagrams unless -s is given,\n"
         "each stamped with a sequence number and send time (loss, reordering, jitter).\n"
         "With --rate, latency counts from each request's intended send time, so a stalled server\n"
         "shows up in the tail instead of being hidden (no coordinated omission); stream --rate\n"
         "counts messages of -s bytes. Unpaced, a thread with 24 or more connections waiting\n"
         "on a server that queues naps up to 50 us before it waits for answers, so the server\n"
         "sends them without waking it for each (as a network card's interrupt moderation).\n"
         "--warmup runs first and is not counted. Runs are always bounded (-d, default 10 s;\n"
         "with only -n at most 5 min). Exit status: 0 no errors, 1 errors or mismatches, 2 usage.\n"
         "--json fields: mode, protocol, tls, target, connections, size, threads, rate, pipeline,\n"
         "seconds, warmup_seconds, interrupted, round_trips, round_trips_per_s,\n"
         "steady_round_trips_per_s (after all connections were up), connect_ramp_ms,\n"
         "bytes_sent, bytes_received, connections_opened, open_at_end, peak_open,\n"
         "not_open_at_end, "
         "errors{refused,reset,timeout,mismatch,closed_early,malformed,non_2xx,other},\n"
         "errors_total, mismatches[], unasked, status{CODE: n} (http), datagrams{sent,received,\n"
         "lost,loss_pct,reordered,jitter_us} (UDP stream), latency{count,min_us,mean_us,max_us,\n"
         "p50_us,p90_us,p99_us,p99_9_us,p99_99_us,buckets[[upper_us,n]]} (null for stream and\n"
         "hold), series[{start_s,end_s,round_trips,round_trips_per_s,bytes_sent,bytes_received,\n"
         "errors,p50_us,p90_us,p99_us,max_us,mean_us}] (--interval).";
}

int run_bench(BenchArgs& o) {
  auto& c = o.config;
  std::optional<HostPort> hp;
  if (c.mode == BenchMode::http)
    hp = HostPort{o.http_host, o.http_port};
  else
    hp = target_or_say("bench", o.target);
  if (!hp) return kExitUsage;
  Fd probe;
  auto target = pick_target(o, *hp, &probe);
  if (!target && o.proxy) {
    say("bench: {} through proxy {}: {}", format_target(*hp), proxy_text(*o.proxy),
        describe(target.error()));
    return exit_code_for(target.error());
  }
  if (!target) {
    say("bench: {}: {}", format_target(*hp), describe(target.error()));
    return exit_code_for(target.error());
  }
  const bool exchange = c.mode == BenchMode::pingpong || c.mode == BenchMode::connect;
  std::string greeting;
  if (probe.get() >= 0 && exchange && !c.greeting && greets(probe.get(), &greeting)) {
    say("bench: {} speaks first ('{}'): its greeting would be taken for the first answer; use "
        "--greeting skip, or --greeting expect=TEXT to check it",
        target->to_string(), greeting);
    return kExitUsage;
  }
  c.target = *target;
  c.adopt_fd = probe.get();
  if (o.tls.enabled && !c.tls && !(c.tls = tls_client_or_say("bench", o.tls))) return kExitUsage;
  if (c.mode != BenchMode::http) c.tls_host = hp->host;  // Through a proxy too: the real target.
  if (o.verbose > 0)
    say("bench: {} {} at {}{}: {} connection{} on up to {} thread{} for {}", o.mode,
        c.mode == BenchMode::http ? o.target[0] : format_target(*hp), target->to_string(),
        o.proxy ? " (the proxy)" : "", c.connections, c.connections == 1 ? "" : "s", c.threads,
        c.threads == 1 ? "" : "s", format_seconds(c.duration) + " s");
  auto gen = LoadGenerator::create(c);
  if (!gen) {
    say("bench: {}", describe(gen.error()));
    return kExitUsage;
  }
  probe.release();  // The generator owns it now (it closes it with its connection).
  BenchHeader header{o.mode, c.mode == BenchMode::http ? o.target[0] : target->to_string(), c,
                     false};
  LoadResult r = drive(**gen, o, &header.interrupted);
  header.config.threads = std::max(1u, std::min(c.threads, c.connections));
  out_text(o.json ? json_result(header, r) : summary(header, r));
  const bool needs_answers = c.mode != BenchMode::stream && c.mode != BenchMode::hold;
  if (r.total_errors() > 0 || (needs_answers && r.round_trips == 0 && !header.interrupted))
    return kExitNetwork;
  return kExitOk;
}

}  // namespace parley::cmd
