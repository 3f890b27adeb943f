#pragma once
// Keep-open listening (listen -k): many clients at once. Every client's data is written to the
// output as it arrives; every chunk of input is broadcast to all connected clients. A slow client
// slows the broadcast (the next chunk is read only when every client took the current one), so
// memory stays bounded by one chunk whatever the clients do.
//
// Threading: run_hub() blocks on its own Asio event loop; input is read on one helper thread that
// it starts and joins. It returns on SIGINT/SIGTERM (handled while it runs) or when the output's
// reader goes away. Listeners and descriptors stay owned by the caller.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "parley/listener.hpp"
#include "parley/relay.hpp"

namespace parley {

struct HubOptions {
  std::size_t max_clients = 100;  // -m: clients beyond this are accepted and closed at once.
  bool send = true;               // Broadcast input to clients (false: --recv-only).
  bool receive = true;            // Write clients' data to the output (false: --send-only).
  bool crlf = false;
  std::chrono::milliseconds idle_timeout{0};  // Per client: close it after this much silence.
  // Event lines for -v ("Connection from 127.0.0.1:5000."), without the "parley: " prefix.
  std::function<void(std::string_view)> log;
};

struct HubResult {
  std::uint64_t sent = 0;      // Bytes written to all clients together.
  std::uint64_t received = 0;  // Bytes received from all clients together.
  std::uint64_t clients = 0;   // Clients served (refused ones not counted).
  std::error_code error;       // Set when the hub stopped on a local failure.
};

HubResult run_hub(std::vector<Listener>& listeners, int in_fd, int out_fd,
                  const HubOptions& options);

}  // namespace parley
