#pragma once
// Connecting: Happy Eyeballs (RFC 8305) over every resolved address. Attempts start one after the
// other, staggered by a short delay, and overlap; the first to complete wins and the rest are
// closed. So "localhost" works whether the server listens on ::1, 127.0.0.1 or both.
// Blocking call (it polls internally); any thread; the returned descriptor is owned by the caller.

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/fd.hpp"
#include "parley/result.hpp"

namespace parley {

struct ConnectOptions {
  int socktype = SOCK_STREAM;
  // Overall limit for all attempts together; zero means the kernel's own SYN timeout.
  std::chrono::milliseconds timeout{0};
  // RFC 8305's "Connection Attempt Delay" (recommended 250 ms).
  std::chrono::milliseconds stagger{250};
  // Local addresses to bind before connecting (-s/-p); an attempt uses the first source of its
  // family and is skipped when there is none. Empty: the kernel chooses.
  std::vector<SocketAddress> sources;
  // Called for every attempt that failed, for -v output. Optional.
  std::function<void(const SocketAddress&, std::error_code)> on_attempt_failed;
};

struct Connection {
  Fd fd;  // Connected socket, in non-blocking mode.
  SocketAddress peer;
  SocketAddress local;
};

// Errors: the last attempt's system error (ECONNREFUSED, ENETUNREACH, ...), or Errc::timed_out
// when options.timeout expired first.
Result<Connection> connect_any(const std::vector<SocketAddress>& addresses,
                               const ConnectOptions& options);

// Creates a socket for the address's family, non-blocking and close-on-exec.
Result<Fd> open_socket(int family, int socktype);

}  // namespace parley
