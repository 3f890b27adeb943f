#include "serve.hpp"

#include <unistd.h>

#include <cmath>
#include <ctime>

#include <nlohmann/json.hpp>

#include "netcat.hpp"
#include "parley/access.hpp"
#include "parley/address_scope.hpp"
#include "parley/errors.hpp"

namespace parley::cmd {

void add_access_options(CLI::App& app, AccessArgs& a) {
  const char* group = "Access control (deny wins over allow)";
  one_value_each(
      app.add_option("--allow", a.allow,
                     "Only these clients: addresses, CIDR prefixes, host names (comma list, "
                     "repeatable)")
          ->type_name("LIST")
          ->group(group));
  one_value_each(
      app.add_option("--deny", a.deny, "Refuse these clients, even if --allow lists them")
          ->type_name("LIST")
          ->group(group));
  one_value_each(
      app.add_option("--allowfile", a.allow_files, "Read --allow rules from FILE, one per line")
          ->type_name("FILE")
          ->group(group));
  one_value_each(
      app.add_option("--denyfile", a.deny_files, "Read --deny rules from FILE, one per line")
          ->type_name("FILE")
          ->group(group));
}

void add_proxy_protocol_options(CLI::App& app, ProxyProtocolArgs& p) {
  const char* group = "Behind a proxy";
  auto* on = app.add_flag("--proxy-protocol", p.on,
                          "Clients start with a PROXY v1/v2 header (HAProxy send-proxy): logs, "
                          "--allow/--deny and {peer} see the real client; no header, no service")
                 ->group(group);
  one_value_each(app.add_option("--proxy-protocol-from", p.from,
                                "Take PROXY headers only from these proxies (addresses, CIDR; "
                                "default: any)")
                     ->type_name("LIST")
                     ->group(group))
      ->needs(on);
}

bool apply_proxy_protocol(const char* command, const ProxyProtocolArgs& p, ServerConfig* config) {
  config->proxy_protocol = p.on;
  for (const auto& list : p.from) {
    if (auto ec = config->proxy_from.allow(list)) {
      say("{}: --proxy-protocol-from: '{}' is not an address, prefix or host name ({})", command,
          config->proxy_from.error_text(), describe(ec));
      return false;
    }
  }
  return true;
}

CLI::Option* add_io_option(CLI::App& app, std::string& io) {
  return app
      .add_option("--io", io,
                  "I/O backend: epoll (default), uring (io_uring; streams, not UDP) or auto "
                  "(io_uring where the kernel allows it, else epoll; -v says which and why)")
      ->check(CLI::IsMember({"epoll", "uring", "auto"}))
      ->type_name("BACKEND");
}

bool apply_io(const char* command, const std::string& io, bool tls, const char* streams,
              ServerConfig* config) {
  config->io = io == "uring"   ? IoBackend::uring
               : io == "epoll" ? IoBackend::epoll
                               : IoBackend::automatic;
  if (config->io != IoBackend::uring) return true;
  if (config->udp) {
    say("{}: --io uring is for {}", command, streams);
    return false;
  }
  if (tls) {
    say("{}: --io uring does not take --tls (TLS runs on epoll; use --io auto)", command);
    return false;
  }
  if (config->proxy_protocol) {
    say("{}: --io uring does not take --proxy-protocol (it runs on epoll; use --io auto)", command);
    return false;
  }
  if (auto problem = io_uring_problem(); !problem.empty()) {
    say("{}: --io uring: io_uring unavailable: {} (--io auto falls back to epoll)", command,
        problem);
    return false;
  }
  return true;
}

bool build_access(const char* command, const AccessArgs& a, AccessList* out) {
  auto fail = [&](const char* option, const std::error_code& ec) {
    if (ec == std::errc::invalid_argument)
      say("{}: {}: '{}' is not an address, prefix or host name", command, option,
          out->error_text());
    else
      say("{}: {} {}: {}", command, option, out->error_text(), describe(ec));
    return false;
  };
  for (const auto& list : a.allow)
    if (auto ec = out->allow(list)) return fail("--allow", ec);
  for (const auto& list : a.deny)
    if (auto ec = out->deny(list)) return fail("--deny", ec);
  for (const auto& file : a.allow_files)
    if (auto ec = out->allow_file(file)) return fail("--allowfile", ec);
  for (const auto& file : a.deny_files)
    if (auto ec = out->deny_file(file)) return fail("--denyfile", ec);
  return true;
}

CLI::Option* add_log_format_option(CLI::App& app, LogFormat& format) {
  return app
      .add_option_function<std::string>(
          "--log-format",
          [&format](const std::string& f) {
            format = f == "json" ? LogFormat::json : LogFormat::text;
          },
          "Server log: text lines, or one JSON object per event (time, event, peer, detail, "
          "bytes_in, bytes_out, seconds)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
}

namespace {

// "2025-01-31T12:00:00.123Z": UTC, so that logs from machines in other zones sort together.
std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

nlohmann::ordered_json json_head(std::string_view event) {
  nlohmann::ordered_json j;
  j["time"] = utc_now();
  j["event"] = event;
  return j;
}

// One line, one write(2); bytes that are not UTF-8 (a peer's data in --log-data) become U+FFFD
// instead of making the line invalid JSON.
void write_json(const nlohmann::ordered_json& j) {
  write_all(STDERR_FILENO,
            j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
}

const char* kind_name(ServerEvent::Kind kind) {
  switch (kind) {
    case ServerEvent::Kind::connected:
      return "connected";
    case ServerEvent::Kind::closed:
      return "closed";
    case ServerEvent::Kind::refused:
      return "refused";
    case ServerEvent::Kind::denied:
      return "denied";
  }
  return "event";
}

}  // namespace

void log_json_event(const ServerEvent& e) {
  auto j = json_head(kind_name(e.kind));
  j["peer"] = e.peer;
  if (!e.detail.empty()) j["detail"] = e.detail;
  if (e.kind == ServerEvent::Kind::closed) {
    j["bytes_in"] = e.bytes_in;
    j["bytes_out"] = e.bytes_out;
    j["seconds"] = std::round(e.seconds * 1e6) / 1e6;
  }
  write_json(j);
}

void log_json(std::string_view event, std::string_view detail) {
  auto j = json_head(event);
  j["detail"] = detail;
  write_json(j);
}

void log_json_stats(std::string_view event, const ServerStats& s, double seconds) {
  auto j = json_head(event);
  j["active"] = s.active;
  j["total"] = s.total;
  j["refused"] = s.refused;
  j["denied"] = s.denied;
  j["failed_handshakes"] = s.failed_handshakes;
  j["bytes_in"] = s.bytes_in;
  j["bytes_out"] = s.bytes_out;
  j["messages"] = s.messages;
  if (seconds >= 0) j["seconds"] = std::round(seconds * 1e3) / 1e3;
  write_json(j);
}

void use_json_log(ServerConfig& config, bool quiet) {
  config.log_connections = !quiet;
  config.on_event = log_json_event;
  config.log = [](std::string_view line) { log_json("message", line); };
}

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
  write_all(STDERR_FILENO, line);
}

void print_addresses(const Server& server, bool wildcard, std::string_view fix, LogFormat format) {
  const bool json = format == LogFormat::json;
  bool v4 = false, v6 = false;
  for (const auto& a : server.local_addresses()) {
    if (json)
      log_json("listening", a.to_string());
    else
      say("Listening on {}", a.to_string());
    v4 |= a.family() == AF_INET;
    v6 |= a.family() == AF_INET6;
  }
  if (loopback_only(server.local_addresses())) {
    std::string text = fmt::format("loopback only: other machines cannot connect ({})", fix);
    if (json)
      log_json("warning", text);
    else
      say("Warning: {}", text);
  }
  if (!wildcard || server.local_addresses().empty() || json) return;
  std::vector<std::string> names;
  auto port = server.local_addresses().front().port();
  auto addresses = interface_addresses(port, v4, v6, &names);
  for (std::size_t i = 0; i < addresses.size(); ++i)
    say("Reachable at {} ({})", addresses[i].to_string(), names[i]);
}

std::string listen_failure_hint(const std::error_code& e, Family family) {
  if (e == std::errc::address_not_available) return " (not an address of this machine)";
  if (e == make_error_code(Errc::name_not_resolved))
    return " (listen on a local IP address, or give the port alone for every address)";
  if (e == make_error_code(Errc::no_address_of_family) && family != Family::any)
    return family == Family::v4 ? " (-4: give IPv4 addresses)" : " (-6: give IPv6 addresses)";
  return "";
}

std::string handshakes_text(const ServerStats& s) {
  if (s.failed_handshakes == 0) return {};
  return fmt::format(", {} failed handshake{}", s.failed_handshakes,
                     s.failed_handshakes == 1 ? "" : "s");
}

void print_stats(const ServerStats& s, std::string_view prefix, LogFormat format) {
  if (format == LogFormat::json) return log_json_stats("stats", s);
  say("{}{} active, {} total, {} refused, {} denied, {} bytes in, {} bytes out, {} messages{}",
      prefix, s.active, s.total, s.refused, s.denied, s.bytes_in, s.bytes_out, s.messages,
      handshakes_text(s));
}

void add_metrics_option(CLI::App& app, std::string& address) {
  app.add_option("--metrics", address,
                 "Serve Prometheus metrics at http://ADDR:PORT/metrics and a live page at /")
      ->type_name("ADDR:PORT");
}

std::unique_ptr<MetricsServer> start_metrics(const char* command, const std::string& address,
                                             const Server& server, std::string service,
                                             bool* failed) {
  *failed = false;
  if (address.empty()) return nullptr;
  auto m = MetricsServer::open(address, server, std::move(service));
  if (!m) {
    say("{}: --metrics {}: {}", command, address, describe(m.error()));
    *failed = true;
    return nullptr;
  }
  say("Metrics on http://{}/metrics, live page at http://{}/", (*m)->local_address().to_string(),
      (*m)->local_address().to_string());
  (*m)->start();
  return std::move(*m);
}

sigset_t block_server_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR1}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // Inherited by the workers started next.
  return signals;
}

int serve(Server& server, const sigset_t& signals, std::chrono::milliseconds stats_interval,
          const std::function<void()>& on_stop, LogFormat format) {
  // GNU timeout sends its signal to the server and then to its whole process group, and `kill
  // -- -PGID` after a job's own kill does the same: a second stop signal this soon after the
  // first is that same stop, not a person asking to stop now.
  constexpr auto kSameStop = std::chrono::milliseconds(250);
  auto next_stats = std::chrono::steady_clock::now() + stats_interval;
  std::chrono::steady_clock::time_point first_stop;
  int stops = 0;
  while (!server.finished()) {
    timespec tick{0, 100'000'000};
    int sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig == SIGINT || sig == SIGTERM) {
      const auto now = std::chrono::steady_clock::now();
      if (stops == 1 && now - first_stop < kSameStop) continue;
      if (++stops == 1) {
        first_stop = now;
        if (on_stop) on_stop();
      }
      server.stop(stops == 1);
    } else if (sig == SIGUSR1) {
      print_stats(server.stats(), "stats: ", format);
    }
    if (stats_interval.count() > 0 && std::chrono::steady_clock::now() >= next_stats) {
      print_stats(server.stats(), "stats: ", format);
      next_stats += stats_interval;
    }
  }
  server.wait();
  return stops;
}

}  // namespace parley::cmd
