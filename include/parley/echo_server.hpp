#pragma once
// The echo service (parley echo): RFC 862 echo over TCP and UDP; a reply template for each chunk
// read (the seed's servers answer every recv() with "You told me: ..."); and a line mode that
// answers each line. Runs on the server runtime (server.hpp), one worker per core.
//
// Memory: a client that sends but does not read makes the server hold at most one read's input
// and about 64 KiB of replies before it stops reading from that client, in every mode.

#include <cstddef>
#include <memory>
#include <string>

#include "parley/result.hpp"
#include "parley/server.hpp"

namespace parley {

struct EchoOptions {
  bool lines = false;  // Answer each line (LF or CRLF) with `reply`.
  std::string reply;   // Template (framing.hpp); empty: echo the bytes. Without `lines`, each
                       // chunk read is one message and {line} is the chunk.
  std::size_t max_line = 64 << 10;
  bool log_data = false;     // One log line per chunk received, escaped.
  bool udp_amplify = false;  // UDP: allow replies larger than their request (else cut, logged).
};

// Errors: std::errc::invalid_argument for a bad reply template.
Result<std::shared_ptr<Service>> echo_service(const EchoOptions& options);

}  // namespace parley
