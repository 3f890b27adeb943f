// parley talk: the interactive line client (the seed's §2), done so that answers are never cut
// or merged, unsolicited messages show up at once, and scripts get a clean transcript.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/duration.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "proxy_options.hpp"
#include "talk_format.hpp"
#include "talk_pipe.hpp"
#include "talk_session.hpp"
#include "talk_terminal.hpp"
#include "tls_options.hpp"

namespace parley::cmd {
namespace {

struct TalkArgs : NetcatOptions {
  TalkArgs() { wait = std::chrono::milliseconds(10'000); }
  bool no_history = false, json = false;
  std::chrono::milliseconds timeout{5'000};
  std::string until = "newline", eol = "lf", script;
  ProxyArgs proxy;
  TlsArgs tls;
};

// --until, checked against what the transport can frame.
std::optional<UntilSpec> until_or_say(const TalkArgs& o) {
  std::string why;
  auto until = parse_until(o.until, &why);
  // http frames whole HTTP responses for `bench http`; talk awaits an answer to every line.
  if (!until || until->kind == UntilSpec::Kind::http) {
    say("talk: --until takes newline, crlf, idle=TIME, bytes=N, regex=RE or none{}{}",
        why.empty() ? "" : ": ", why);
    return std::nullopt;
  }
  if (until->kind == UntilSpec::Kind::bytes && until->bytes > kTalkPiece) {
    say("talk: --until bytes=N takes at most {} bytes", kTalkPiece);
    return std::nullopt;
  }
  if (o.udp && until->kind != UntilSpec::Kind::newline && until->kind != UntilSpec::Kind::none) {
    say("talk: over UDP each answer is one datagram: --until takes newline or none with -u");
    return std::nullopt;
  }
  return *until;
}

// Where to connect, as the messages and the history name it; nullopt after a usage message.
std::optional<std::string> target_text_or_say(const TalkArgs& o, HostPort* hp,
                                              const std::optional<ProxySpec>& proxy) {
  if (!o.unix_path.empty()) {
    if (!o.args.empty()) {
      say("talk: -U takes the socket path; drop the host and port arguments");
      return std::nullopt;
    }
    if (proxy) {
      say("talk: proxies carry TCP only; drop -U or the proxy");
      return std::nullopt;
    }
    return o.unix_path;
  }
  if (o.args.empty()) {
    say("talk: say where to: HOST PORT, HOST:PORT or -U PATH (see parley talk --help)");
    return std::nullopt;
  }
  auto parsed = target_or_say("talk", o.args);
  if (!parsed) return std::nullopt;
  if (proxy && o.udp) {
    say("talk: proxies carry TCP only; drop -u or the proxy");
    return std::nullopt;
  }
  *hp = *parsed;
  return format_target(*hp);
}

// The --script file, opened (and checked) before connecting. -1 for none; -2 after a message.
int open_script_or_say(const std::string& path) {
  if (path.empty()) return -1;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    errno = EISDIR;
    fd = -1;
  }
  if (fd < 0) {
    say("talk: cannot read {}: {}", path, std::strerror(errno));
    return -2;
  }
  return fd;
}

bool config_or_say(const TalkArgs& o, TalkConfig& c, const std::optional<ProxySpec>& proxy) {
  c.unix_path = o.unix_path;
  c.udp = o.udp;
  c.eol = o.crlf || o.eol == "crlf" ? "\r\n" : "\n";
  c.timeout = o.timeout;
  c.dial.family = family_of(o);
  c.dial.numeric_only = o.numeric;
  c.dial.proxy = proxy;
  c.dial.connect.timeout = o.wait;
  if (o.verbose > 1) {
    c.dial.connect.on_attempt_failed = [](const SocketAddress& a, std::error_code ec) {
      say("Attempt to {} failed: {}.", a.to_string(), describe(ec));
    };
  }
  if (!o.source.empty() || o.port_option >= 0) {
    ResolveOptions ro{family_of(o), o.numeric, o.udp ? SOCK_DGRAM : SOCK_STREAM, true};
    auto sources = resolve(o.source, static_cast<std::uint16_t>(std::max(o.port_option, 0)), ro);
    if (!sources) {
      say("talk: source address {}: {}", o.source, describe(sources.error()));
      return false;
    }
    c.dial.connect.sources = std::move(*sources);
  }
  bool bad = false;
  const std::string hex_path =
      o.proxy.nc_type.empty() ? hex_dump_path_or_say("talk", o, &bad) : o.hex_dump;
  if (bad) return false;
  c.log = traffic_log_or_say("talk", o, hex_path, &bad);
  if (bad) return false;
  return !o.tls.enabled || (c.tls = tls_client_or_say("talk", o.tls));
}

int run_talk(const TalkArgs& o) {
  const auto start = std::chrono::steady_clock::now();
  bool bad = false;
  auto proxy = proxy_spec_or_say("talk", o.proxy, o.x_arg, &bad);
  if (bad) return kExitUsage;
  TalkConfig config;
  auto target = target_text_or_say(o, &config.where, proxy);
  if (!target) return kExitUsage;
  auto until = until_or_say(o);
  if (!until) return kExitUsage;
  config.until = *until;
  Fd script(open_script_or_say(o.script));
  if (script.get() == -2) return kExitUsage;
  if (!config_or_say(o, config, proxy)) return kExitUsage;

  TalkSession session(std::move(config));
  if (auto ec = session.connect()) {
    if (proxy && ec.category() == proxy_category())
      say("connect to {} through proxy {}: {}", *target, proxy_text(*proxy), describe(ec));
    else
      say("connect to {}: {}", *target, describe_tls_failure(ec));
    return exit_code_for(ec);
  }
  if (o.verbose > 0) say("Connected to {}.", session.peer());
  if (o.verbose > 0 && o.tls.enabled) say_tls_info(session.tls_info());
  int code;
  if (script.valid()) {
    code = run_pipe(session, script.get(), *target, o.json);
  } else if (o.json || isatty(STDIN_FILENO) != 1 || isatty(STDOUT_FILENO) != 1) {
    code = run_pipe(session, STDIN_FILENO, *target, o.json);
  } else {
    std::string key = o.unix_path.empty() ? *target : "unix-" + *target;
    if (o.udp) key = "udp-" + key;
    code = run_terminal(session, {!o.no_history, *target, key});
  }
  if (o.verbose > 0) {
    say("{}", session.stats());
    say("{} bytes sent, {} bytes received in {} seconds.", session.bytes_sent(),
        session.bytes_received(), format_seconds(std::chrono::steady_clock::now() - start));
  }
  const auto& log = session.config().log;
  if (log && log->error()) {
    say("cannot write {}: {}", log->error_path(), describe(log->error()));
    if (code == kExitOk) code = kExitNetwork;
  }
  return code;
}

void add_talk_options(CLI::App& app, TalkArgs& o) {
  app.add_option("target", o.args, "HOST PORT or HOST:PORT (none with -U)")->expected(0, 2);
  app.add_option("--until", o.until,
                 "What ends an answer: newline, crlf, idle=TIME, bytes=N, regex=RE, none")
      ->type_name("WHAT");
  auto* eol = app.add_option("--eol", o.eol, "Line ending to send: lf or crlf")
                  ->check(CLI::IsMember({"lf", "crlf"}));
  app.add_flag("-C,--crlf", o.crlf, "Send CRLF line endings (same as --eol crlf)")->excludes(eol);
  add_duration_option(app, "--timeout", o.timeout,
                      "How long an answer may take, and the server may read nothing while data "
                      "waits (default 5s; 0: no limit)");
  add_duration_option(app, "-w,--wait", o.wait, "Connect timeout (default 10s)");
  app.add_option("--script", o.script, "Send the lines of FILE instead of reading the terminal")
      ->type_name("FILE");
  auto* json = app.add_flag("--json", o.json,
                            "Transcript as JSON lines: sent, answer, rtt_ms; unsolicited (no "
                            "prompt, even on a terminal)");
  app.add_flag("--no-history", o.no_history, "Do not read or write the history file")
      ->excludes(json);
  auto* v4 = app.add_flag("-4", o.ipv4, "IPv4 only");
  auto* v6 = app.add_flag("-6", o.ipv6, "IPv6 only")->excludes(v4);
  app.add_flag("-n,--nodns", o.numeric, "Numeric addresses only, never ask DNS");
  app.add_flag("-u,--udp", o.udp, "UDP: a datagram per line, an answer is a datagram");
  auto* unix_opt = app.add_option("-U,--unixsock", o.unix_path, "Talk to the Unix socket at PATH")
                       ->type_name("PATH");
  unix_opt->excludes(v4)->excludes(v6);
  app.add_option("-s,--source", o.source, "Local address to connect from")
      ->type_name("ADDR")
      ->excludes(unix_opt);
  app.add_option("-p,--source-port", o.port_option, "Local port to connect from")
      ->type_name("PORT")
      ->check(CLI::Range(0, 65535))
      ->excludes(unix_opt);
  add_traffic_log_options(app, o, false);
  app.add_flag("-v,--verbose", o.verbose, "Say what happens on stderr (repeat for more)");
  add_proxy_options(app, o.proxy);
  add_tls_options(app, o.tls, TlsRole::client);
  tls_excludes(app, {"-u"});
}

}  // namespace

Subcommand talk_command(CLI::App& root) {
  auto o = std::make_shared<TalkArgs>();
  auto* app = root.add_subcommand("talk", "Interactive line client: type a line, see the answer");
  app->footer(
      "Each line you type is sent; the answer is shown with its round-trip time. What the server\n"
      "sends on its own appears at once above the prompt, marked *.\n"
      "Commands: /help /quit /reconnect /stats; //text sends /text. Ctrl-C clears the line.\n"
      "What counts as the answer (--until): newline (one line, the default), crlf (up to CRLF;\n"
      "a bare LF does not end it), idle=200ms (all that arrives until the server is quiet),\n"
      "bytes=N, regex=RE (up to the end of the first match of the PCRE2 pattern RE, such as\n"
      "'regex=(?m)^[0-9]{3} .*\\n' for the last line of an SMTP or FTP reply; an answer with no\n"
      "match ends after 1 MiB), none (do not wait).\n"
      "Over UDP (-u) an answer is one datagram. Lines over 1 MiB are shown (and sent) in 1 MiB\n"
      "pieces, each further piece marked + (>+ or <+ when the other way came in between).\n"
      "Without a terminal (a pipe, a file, --script) parley sends a line when the last one has\n"
      "its answer and prints a transcript:\n"
      "  > line sent     < answer  0.21 ms     * sent by the server unasked\n"
      "and exits 0 if every line was sent and got its answer, 1 on a network error, a missing\n"
      "answer, or a server that closes or stops reading before the input is all sent.\n"
      "--json prints that transcript as one object per line: {\"sent\",\"answer\",\"rtt_ms\"}\n"
      "per answer, {\"unsolicited\"} for what the server sent unasked, {\"sent\"} alone with\n"
      "--until none and for a long line's pieces; \"more\": true marks a 1 MiB piece with more\n"
      "to follow. Text that is not UTF-8 is also given exactly as hex, in sent_hex, answer_hex\n"
      "or unsolicited_hex.\n"
      "History, per server: $XDG_STATE_HOME/parley/talk/HOST:PORT (~/.local/state/parley/talk/).\n"
      "Examples:\n"
      "  parley talk localhost 12345                  prompt, editing, history, round-trip times\n"
      "  parley talk --until idle=200ms example.org 80   an answer: all until the server is quiet\n"
      "  printf 'Hallo\\nwie gehts\\n' | parley talk localhost 12345   a transcript\n"
      "  parley talk --json localhost 12345 < lines.txt | jq .rtt_ms\n"
      "  parley talk --tls --until 'regex=(?m)^[0-9]{3} .*\\n' --eol crlf mail.example 465\n"
      "  parley talk --script smtp.txt --eol crlf mail.example 25   a script, CRLF line ends");
  add_talk_options(*app, *o);
  return {app, [o] { return run_talk(*o); }};
}

}  // namespace parley::cmd
