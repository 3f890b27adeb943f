#include "netcat.hpp"

#include <algorithm>

#include "parley/duration.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {
// Accepts "500ms", "2s", "1.5m", "1h" or plain seconds and stores milliseconds.
CLI::Option* add_duration_option(CLI::App& app, const std::string& name,
                                 std::chrono::milliseconds& out, const std::string& help) {
  return app
      .add_option_function<std::string>(
          name, [&out](const std::string& text) { out = *parse_duration(text); }, help)
      ->type_name("TIME")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            auto d = parse_duration(text);
            if (!d) return "'" + text + "' is not a time (use 500ms, 2s, 1m, 1h)";
            return {};
          },
          ""));
}

CLI::Validator positive_time() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        auto d = parse_duration_us(text);
        if (d && d->count() == 0) return "must be longer than 0";
        return {};
      },
      "");
}

CLI::Option* one_value_each(CLI::Option* option) {
  return option->expected(1)->allow_extra_args(false)->multi_option_policy(
      CLI::MultiOptionPolicy::TakeAll);
}

namespace {

// nc's -q: a time, or a negative number (-q -1) for never.
void add_quit_after_option(CLI::App& app, NetcatOptions& o) {
  app.add_option_function<std::string>(
         "-q",
         [&o](const std::string& text) {
           if (text.front() == '-') return o.quit_after.reset();  // nc's -q -1: never.
           o.quit_after = *parse_duration(text);
         },
         "Quit this long after stdin EOF, whatever the peer does (-q 0: at once)")
      ->type_name("TIME")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            if (!text.empty() && text.front() == '-' && text.size() > 1 &&
                text.find_first_not_of("0123456789", 1) == std::string::npos)
              return {};
            if (!parse_duration(text)) return "'" + text + "' is not a time (use 2, 500ms, 1m)";
            return {};
          },
          ""));
}

}  // namespace

void add_traffic_log_options(CLI::App& app, NetcatOptions& o, bool listening) {
  app.add_option("-o,--output", o.output_file, "Log the data both ways into FILE")
      ->type_name("FILE")
      ->group("Traffic log");
  app.add_option("-x", o.x_arg,
                 listening ? "Hex dump of the data both ways into FILE (> sent, < received)"
                           : "Hex dump into FILE (> sent, < received); with -X: the proxy")
      ->type_name("FILE")
      ->group("Traffic log");
  app.add_option("--hex-dump", o.hex_dump, "Same as -x FILE")
      ->type_name("FILE")
      ->group("Traffic log");
  app.add_flag("--append-output", o.append_output, "Append to -o/-x files instead of truncating")
      ->group("Traffic log");
}

void add_common_options(CLI::App& app, NetcatOptions& o, bool listening) {
  auto* v4 = app.add_flag("-4", o.ipv4, "Use IPv4 only");
  auto* v6 = app.add_flag("-6", o.ipv6, "Use IPv6 only");
  v4->excludes(v6);
  app.add_flag("-n,--nodns", o.numeric, "Numeric addresses only, never ask DNS");
  auto* udp =
      app.add_flag("-u,--udp", o.udp, "Use UDP instead of TCP (with -U: a Unix datagram socket)");
  auto* unix_opt = app.add_option("-U,--unixsock", o.unix_path,
                                  listening ? "Listen on the Unix socket at PATH"
                                            : "Connect to the Unix socket at PATH")
                       ->type_name("PATH");
  unix_opt->excludes(v4);
  unix_opt->excludes(v6);
  app.add_flag("-C,--crlf", o.crlf, "Send LF line endings as CRLF");
  auto* source =
      app.add_option(listening ? "-s,--source,--bind" : "-s,--source", o.source,
                     listening ? "Local address to listen on" : "Local address to connect from")
          ->type_name("ADDR");
  source->excludes(unix_opt);
  app.add_option(
         listening ? "-p,--source-port,--port" : "-p,--source-port", o.port_option,
         listening ? "Port to listen on (same as the PORT argument)" : "Local port to connect from")
      ->type_name("PORT")
      ->check(CLI::Range(0, 65535))
      ->excludes(unix_opt);
  // A listener never connects, so -w would be accepted there and do nothing: offer it only
  // where it means something.
  if (!listening) add_duration_option(app, "-w,--wait", o.wait, "Connect timeout");
  add_duration_option(app, "-i,--idle-timeout", o.idle,
                      "End after this long with no data either way");
  auto* send_only = app.add_flag("--send-only", o.send_only, "Only send; ignore what arrives");
  auto* recv_only = app.add_flag("--recv-only", o.recv_only, "Only receive; never read stdin");
  send_only->excludes(recv_only);
  auto* no_shutdown = app.add_flag("--no-shutdown", o.no_shutdown,
                                   "Keep the sending side open at stdin EOF (no half-close)");
  app.add_flag("-N", o.shutdown_flag, "Half-close at stdin EOF (OpenBSD nc; parley does so anyway)")
      ->excludes(no_shutdown);
  add_quit_after_option(app, o);
  add_traffic_log_options(app, o, listening);
  auto* delay =
      add_duration_option(app, "-d,--delay", o.delay, "Wait this long between lines sent");
  auto* telnet =
      app.add_flag("-t,--telnet", o.telnet, "Answer Telnet negotiation (refusing every option)");
  delay->excludes(udp);
  telnet->excludes(udp);
  app.add_flag("-v,--verbose", o.verbose, "Say what happens on stderr (repeat for more)");
}

Family family_of(const NetcatOptions& o) {
  return o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
}

std::string hex_dump_path_or_say(const char* command, const NetcatOptions& o, bool* bad) {
  *bad = !o.x_arg.empty() && !o.hex_dump.empty();
  if (*bad) say("{}: -x and --hex-dump both name a hex dump file; give one", command);
  return o.x_arg.empty() ? o.hex_dump : o.x_arg;
}

std::optional<RelayOptions> relay_options_or_say(const char* command, const NetcatOptions& o,
                                                 const std::string& hex_path) {
  RelayOptions r;
  r.send = !o.recv_only;
  r.receive = !o.send_only;
  r.shutdown_on_eof = !o.no_shutdown;
  r.crlf = o.crlf;
  r.idle_timeout = o.idle;
  r.quit_after_eof = o.quit_after;
  r.line_delay = o.delay;
  r.telnet = o.telnet;
  bool bad = false;
  r.log = traffic_log_or_say(command, o, hex_path, &bad);
  if (bad) return std::nullopt;
  return r;
}

std::shared_ptr<TrafficLog> traffic_log_or_say(const char* command, const NetcatOptions& o,
                                               const std::string& hex_path, bool* bad) {
  *bad = false;
  if (o.output_file.empty() && hex_path.empty()) return nullptr;
  *bad = true;
  if (o.output_file == hex_path) {
    say("{}: -o and -x name the same file", command);
    return nullptr;
  }
  std::string failed;
  auto log = TrafficLog::open({o.output_file, hex_path, o.append_output}, &failed);
  if (!log) {
    say("{}: cannot open {}: {}", command, failed, describe(log.error()));
    return nullptr;
  }
  *bad = false;
  return std::move(*log);
}

std::optional<HostPort> target_or_say(const char* command, const std::vector<std::string>& args) {
  auto hp = parse_endpoint_args(args, false);
  if (hp) return *hp;
  if (hp.error() == make_error_code(Errc::bad_port))
    say("{}: {}", command, describe(hp.error()));
  else if (auto port_only = parse_endpoint_args(args, true); port_only && port_only->host.empty())
    say("{}: no host given: give the server as HOST PORT or HOST:PORT", command);
  else if (args.size() == 2 && std::count(args[0].begin(), args[0].end(), ':') == 1)
    say("{}: '{}' has a port already: give the server as HOST PORT or HOST:PORT", command, args[0]);
  else if (args.size() == 1)
    say("{}: no port given for '{}': give the server as HOST PORT or HOST:PORT", command,
        args.front());
  else
    say("{}: give the server as HOST PORT or HOST:PORT", command);
  return std::nullopt;
}

std::string format_target(const HostPort& hp) {
  if (hp.host.find(':') != std::string::npos) return fmt::format("[{}]:{}", hp.host, hp.port);
  return fmt::format("{}:{}", hp.host, hp.port);
}

int exit_code_for(const std::error_code& ec) {
  return is_network_error(ec) ? kExitNetwork : kExitUsage;
}

int finish_relay(const NetcatOptions& o, const RelayResult& r,
                 std::chrono::steady_clock::time_point start) {
  int code = kExitOk;
  if (r.end == RelayEnd::idle_timeout) {
    say("Idle timeout expired ({} ms).", o.idle.count());
    code = kExitNetwork;
  } else if (r.end == RelayEnd::network_error) {
    say("{}.", describe(r.error));
    code = kExitNetwork;
  } else if (r.end == RelayEnd::local_error && r.output_failed) {
    // The output policy (output.hpp): lost output is one line and exit 1, as for every command.
    say("cannot write output: {}", describe(r.error));
    code = kExitNetwork;
  } else if (r.end == RelayEnd::local_error) {
    say("{}.", describe(r.error));
    code = kExitUsage;
  }
  if (o.verbose > 0) {
    say("{} bytes sent, {} bytes received in {} seconds.", r.sent, r.received,
        format_seconds(std::chrono::steady_clock::now() - start));
  }
  // A log with a hole in it is lost output: say so, and do not call the run a success.
  if (r.log_error) {
    say("cannot write {}: {}", r.log_path, describe(r.log_error));
    if (code == kExitOk) code = kExitNetwork;
  }
  return code;
}

}  // namespace parley::cmd
