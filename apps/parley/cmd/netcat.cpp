#include "netcat.hpp"

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

CLI::Option* one_value_each(CLI::Option* option) {
  return option->expected(1)->allow_extra_args(false)->multi_option_policy(
      CLI::MultiOptionPolicy::TakeAll);
}

void add_common_options(CLI::App& app, NetcatOptions& o, bool listening) {
  auto* v4 = app.add_flag("-4", o.ipv4, "Use IPv4 only");
  auto* v6 = app.add_flag("-6", o.ipv6, "Use IPv6 only");
  v4->excludes(v6);
  app.add_flag("-n,--nodns", o.numeric, "Numeric addresses only, never ask DNS");
  app.add_flag("-u,--udp", o.udp, "Use UDP instead of TCP (with -U: a Unix datagram socket)");
  auto* unix_opt = app.add_option("-U,--unixsock", o.unix_path,
                                  listening ? "Listen on the Unix socket at PATH"
                                            : "Connect to the Unix socket at PATH")
                       ->type_name("PATH");
  unix_opt->excludes(v4);
  unix_opt->excludes(v6);
  app.add_flag("-C,--crlf", o.crlf, "Send LF line endings as CRLF");
  auto* source =
      app.add_option("-s,--source", o.source,
                     listening ? "Local address to listen on" : "Local address to connect from")
          ->type_name("ADDR");
  source->excludes(unix_opt);
  app.add_option(
         "-p,--source-port", o.port_option,
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
  app.add_flag("--no-shutdown", o.no_shutdown,
               "Keep the sending side open at stdin EOF (no half-close)");
  app.add_flag("-v,--verbose", o.verbose, "Say what happens on stderr (repeat for more)");
}

Family family_of(const NetcatOptions& o) {
  return o.ipv4 ? Family::v4 : o.ipv6 ? Family::v6 : Family::any;
}

RelayOptions relay_options_of(const NetcatOptions& o) {
  RelayOptions r;
  r.send = !o.recv_only;
  r.receive = !o.send_only;
  r.shutdown_on_eof = !o.no_shutdown;
  r.crlf = o.crlf;
  r.idle_timeout = o.idle;
  return r;
}

std::optional<HostPort> target_or_say(const char* command, const std::vector<std::string>& args) {
  auto hp = parse_endpoint_args(args, false);
  if (hp) return *hp;
  if (hp.error() == make_error_code(Errc::bad_port))
    say("{}: {}", command, describe(hp.error()));
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
  } else if (r.end == RelayEnd::local_error) {
    say("{}.", describe(r.error));
    code = kExitUsage;
  }
  if (o.verbose > 0) {
    say("{} bytes sent, {} bytes received in {} seconds.", r.sent, r.received,
        format_seconds(std::chrono::steady_clock::now() - start));
  }
  return code;
}

}  // namespace parley::cmd
