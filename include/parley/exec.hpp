#pragma once
// A program per connection (-e/--exec, -c/--sh-exec), as ncat does it, with end of stream right:
// the child's stdin and stdout are the connection itself (no relay through parley), so when the
// client half-closes, the child reads EOF and what it writes afterwards still reaches the client;
// when the child exits, the connection is shut down for writing (the client sees everything and
// then EOF) and closed once the client has closed too (a lingering close: closing with unread
// input would reset the connection and could destroy the child's last output). A client that
// resets makes the server send the child SIGHUP. The child's stderr stays the server's.
//
// With TLS on the server (ServerConfig::tls) the child cannot have the socket: its stdin and
// stdout are Unix socket pairs and the worker relays them to the client's session, with the same
// end of stream (close_notify becomes EOF on stdin; the end of stdout becomes close_notify and
// FIN, then the lingering close) and 64 KiB per direction before the reading side pauses.
//
// Environment: PARLEY_REMOTE_ADDR, PARLEY_REMOTE_PORT, PARLEY_LOCAL_ADDR, PARLEY_LOCAL_PORT,
// PARLEY_PROTO (tcp, udp or unix), and the same values under ncat's NCAT_* names.
//
// UDP has no connection to hand over: each peer gets a child whose stdin/stdout is a datagram
// socket pair, and the server forwards datagrams between the peer and the child.
//
// Functions: any thread. The service runs on one worker of the server runtime.

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"
#include "parley/server.hpp"

namespace parley {

struct ExecCommand {
  std::string path;  // The program to run (found in PATH when given without a slash).
  std::vector<std::string> argv;
  std::string text;  // As the user gave it, for messages.
};

// -e: "PROG ARGS" split on whitespace (no shell, no quoting, as ncat). The program is looked up
// in PATH now, so a missing or non-executable program is an error before anything listens.
// Errors: std::errc::no_such_file_or_directory, std::errc::permission_denied,
// std::errc::invalid_argument (empty).
Result<ExecCommand> exec_command(std::string_view program_and_args);
// -c: run through /bin/sh -c.
ExecCommand shell_command(std::string_view command);

// Starts the program with in_fd/out_fd as its stdin/stdout (made blocking), default signal
// dispositions and an empty signal mask, and the PARLEY_*/NCAT_* variables for local/remote.
Result<pid_t> spawn_child(const ExecCommand& command, int in_fd, int out_fd,
                          const SocketAddress& local, const SocketAddress& remote,
                          std::string_view proto);

// "exit status 3", "killed by SIGTERM".
std::string describe_wait_status(int status);

struct ExecOptions {
  ExecCommand command;
  bool keep_open = false;          // -k: a child per client; else one client, then the end.
  std::size_t max_children = 100;  // -m: further clients wait in the backlog (UDP: dropped).
  bool udp = false;
};

std::shared_ptr<Service> exec_service(const ExecOptions& options);

}  // namespace parley
