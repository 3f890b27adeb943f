// listen's server modes on the runtime: -k, --broker, --chat (the hub service) and -e/-c (the
// exec service), with ncat's -v messages.

#include <unistd.h>

#include "listen.hpp"
#include "parley/duration.hpp"
#include "parley/errors.hpp"
#include "parley/hub.hpp"

namespace parley::cmd {

void add_exec_options(CLI::App& app, std::string& exec, std::string& sh_exec) {
  auto* e = app.add_option("-e,--exec", exec,
                           "Run PROG with ARGS for each connection, its stdin/stdout the socket "
                           "(split on spaces, no shell)")
                ->type_name("'PROG ARGS'");
  auto* c =
      app.add_option("-c,--sh-exec", sh_exec, "The same through /bin/sh -c CMD")->type_name("CMD");
  e->excludes(c);
}

bool exec_of(const char* command, const std::string& exec, const std::string& sh_exec,
             ExecCommand* out) {
  if (!sh_exec.empty()) {
    *out = shell_command(sh_exec);
    return true;
  }
  if (exec.empty()) return true;
  auto c = exec_command(exec);
  if (!c) {
    if (c.error() == std::errc::invalid_argument)
      say("{}: -e: give the program to run", command);
    else
      say("{}: -e {}: {}", command, exec, describe(c.error()));
    return false;
  }
  *out = std::move(*c);
  return true;
}

namespace {

// ncat's -v wording for the runtime's connection events.
void say_event(const ServerEvent& e, std::size_t max_clients) {
  switch (e.kind) {
    case ServerEvent::Kind::connected:
      return say("Connection from {}.", e.peer);
    case ServerEvent::Kind::closed:
      if (e.detail == "closed by peer" || e.detail == "done")
        return say("Connection from {} closed.", e.peer);
      return say("Connection from {} closed: {}.", e.peer, e.detail);
    case ServerEvent::Kind::refused:
      if (!e.full) return say("Connection from {} refused: {}.", e.peer, e.detail);  // TLS, PROXY
      return say("Connection from {} refused: already {} client{} (-m).", e.peer, max_clients,
                 max_clients == 1 ? "" : "s");
    case ServerEvent::Kind::denied:
      return say("Connection from {} refused by {}.", e.peer, e.detail);
  }
}

std::shared_ptr<Service> service_of(const ListenArgs& o) {
  if (!o.exec.empty() || !o.sh_exec.empty()) {
    ExecOptions x;
    exec_of("listen", o.exec, o.sh_exec, &x.command);  // Checked at startup already.
    x.keep_open = o.keep_open;
    x.max_children = o.max_clients;
    x.udp = o.udp;
    return exec_service(x);
  }
  HubOptions h;
  h.mode = o.chat     ? HubOptions::Mode::chat
           : o.broker ? HubOptions::Mode::broker
                      : HubOptions::Mode::keep_open;
  h.send = !o.recv_only;
  h.receive = !o.send_only;
  h.crlf = o.crlf;
  return hub_service(h);
}

}  // namespace

int run_listen_server(const ListenArgs& o, std::vector<Listener> listeners, AccessList access,
                      std::shared_ptr<TrafficLog> traffic,
                      std::shared_ptr<const tls::Context> tls) {
  const auto start = std::chrono::steady_clock::now();
  const bool exec = !o.exec.empty() || !o.sh_exec.empty();
  ServerConfig config;
  config.listeners = std::move(listeners);
  config.udp = o.udp;
  config.threads = 1;
  // Children beyond -m wait in the backlog; hub clients beyond -m are closed at once.
  config.max_conns = exec ? SIZE_MAX : o.max_clients;
  config.refusal.clear();
  config.idle_timeout = o.idle;
  config.access = std::move(access);
  if (!apply_proxy_protocol("listen", o.proxy_protocol, &config)) return kExitUsage;
  config.traffic = traffic;
  config.tls = std::move(tls);
  const bool json = o.log_format == LogFormat::json;
  if (json) {
    use_json_log(config, false);
  } else {
    config.log_connections = o.verbose > 0;
    config.log = [](std::string_view line) { say("{}", line); };
    const std::size_t max_clients = o.max_clients;
    config.on_event = [max_clients](const ServerEvent& e) { say_event(e, max_clients); };
  }
  auto server = Server::open(std::move(config), service_of(o));
  if (!server) {
    say("listen: {}", describe(server.error()));
    return kExitUsage;
  }
  sigset_t signals = block_server_signals();
  bool failed = false;
  const char* service = exec ? "exec" : o.chat ? "chat" : o.broker ? "broker" : "listen -k";
  auto metrics = start_metrics("listen", o.metrics, **server, service, &failed);
  if (failed) return kExitUsage;
  (*server)->start();
  serve(**server, signals, std::chrono::milliseconds(0), {}, o.log_format);
  ServerStats s = (*server)->stats();
  int code = kExitOk;
  if (auto ec = (*server)->failure()) {
    say("cannot write output: {}", describe(ec));
    code = kExitNetwork;
  }
  if (traffic && traffic->error()) {
    say("cannot write {}: {}", traffic->error_path(), describe(traffic->error()));
    code = kExitNetwork;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  if (json) {
    log_json_stats("summary", s, std::chrono::duration<double>(elapsed).count());
  } else if (o.verbose > 0) {
    say("{} bytes sent, {} bytes received in {} seconds.", s.bytes_out, s.bytes_in,
        format_seconds(elapsed));
  }
  return code;
}

}  // namespace parley::cmd
