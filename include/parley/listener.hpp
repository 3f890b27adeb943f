#pragma once
// Listening sockets. With no address, parley listens on both [::] (IPv6 only) and 0.0.0.0 on the
// same port, so IPv4 and IPv6 clients reach it whatever the system's bindv6only setting; port 0
// picks one free port for both. Blocking setup calls; any thread; sockets are owned by the caller.

#include <string>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/fd.hpp"
#include "parley/result.hpp"

namespace parley {

struct Listener {
  Fd fd;  // Bound (and for streams, listening) socket, non-blocking, close-on-exec.
  SocketAddress local;
};

struct ListenOptions {
  int socktype = SOCK_STREAM;
  Family family = Family::any;
  bool numeric_only = false;
  int backlog = 511;
  bool reuse_port = false;  // SO_REUSEPORT, for one listener per thread.
  // With no host: one [::] socket that also takes IPv4 (V6ONLY off) instead of two sockets; falls
  // back to 0.0.0.0 when the machine has no IPv6. Datagram listeners use it to have one socket.
  bool dual_stack = false;
};

// Binds host:port (empty host: every address of the allowed families). Errors: resolution errors,
// EADDRINUSE, EACCES (a port below 1024 without privileges), EADDRNOTAVAIL.
Result<std::vector<Listener>> open_listeners(const std::string& host, std::uint16_t port,
                                             const ListenOptions& options);

// Binds a Unix socket at path. A stale socket file left by a dead process is replaced; a path
// where a server still answers gives EADDRINUSE. The caller unlinks the path when done.
Result<Listener> open_unix_listener(const std::string& path, int socktype);

}  // namespace parley
