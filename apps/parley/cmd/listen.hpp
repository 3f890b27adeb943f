#pragma once
// What the two halves of `parley listen` share: its options, and the server modes that run on
// the server runtime (-k, --broker, --chat, -e/-c), which listen_server.cpp starts.

#include <cstddef>
#include <string>
#include <vector>

#include "netcat.hpp"
#include "parley/exec.hpp"
#include "parley/listener.hpp"
#include "serve.hpp"
#include "tls_options.hpp"

namespace parley::cmd {

struct ListenArgs : NetcatOptions {
  bool listen_flag = false;  // -l: accepted for netcat muscle memory.
  bool keep_open = false;
  bool broker = false, chat = false;
  std::size_t max_clients = 100;
  std::string exec, sh_exec;  // -e, -c
  AccessArgs access;
  ProxyProtocolArgs proxy_protocol;
  TlsArgs tls;
  std::string metrics;
  LogFormat log_format = LogFormat::text;  // The server modes' log (-v lines, or JSON).
  std::uint16_t default_port = 31337;      // ncat's; `parley chat` uses the seed's 12345.
};

// The options of listen (also registered by `parley chat`).
void add_listen_options(CLI::App& app, ListenArgs& o);

// Runs -k / --broker / --chat / -e / -c on the server runtime over the opened listeners.
// traffic: the -o/-x log (may be null); tls: --tls's context (null: plain).
int run_listen_server(const ListenArgs& o, std::vector<Listener> listeners, AccessList access,
                      std::shared_ptr<TrafficLog> traffic, std::shared_ptr<const tls::Context> tls);

// The -e/-c options of listen and connect, and their check at startup (exit 2 with one line).
void add_exec_options(CLI::App& app, std::string& exec, std::string& sh_exec);
bool exec_of(const char* command, const std::string& exec, const std::string& sh_exec,
             ExecCommand* out);

}  // namespace parley::cmd
