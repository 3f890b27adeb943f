#pragma once
// The stdin/stdout services of `listen -k`: many clients at once around the operator's terminal.
//   keep_open  every client's data goes to the output; every chunk of input goes to all clients.
//   broker     as keep_open, and what a client sends also goes to every *other* client.
//   chat       line-based broker: each line is delivered as "<user3> text" (to everybody,
//              the sender included, so a line client sees its line as the room does), joins,
//              leaves and /nick renames are announced, control bytes are escaped so no client can
//              drive another's terminal, and the operator's input takes part as "<server>".
//
// Memory: each client has a queue of at most queue_limit bytes; a client that stops reading is
// disconnected when its queue is full, and the others are not slowed. Input that arrives before
// the first client is kept for it, up to early_input_limit bytes (then input waits unread).
// A slow reader of the output pauses reading from clients (their data waits in the kernel).
//
// Runs on one worker of the server runtime (server.hpp); in_fd/out_fd stay owned by the caller.

#include <cstddef>
#include <memory>

#include "parley/server.hpp"

namespace parley {

struct HubOptions {
  enum class Mode { keep_open, broker, chat };
  Mode mode = Mode::keep_open;
  int in_fd = 0;        // Input broadcast to clients (-1: none).
  int out_fd = 1;       // Where clients' data goes (-1: nowhere).
  bool send = true;     // Broadcast input (false: --recv-only).
  bool receive = true;  // Write clients' data to the output (false: --send-only).
  bool crlf = false;    // -C: input LF becomes CRLF.
  std::size_t queue_limit = 1 << 20;
  std::size_t early_input_limit = 1 << 20;
  std::size_t max_line = 4096;  // chat: longer lines are delivered in pieces of this size.
};

// Sent and received bytes are the server's bytes_out and bytes_in (ServerStats).
std::shared_ptr<Service> hub_service(const HubOptions& options);

}  // namespace parley
