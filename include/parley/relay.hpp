#pragma once
// The stdin/stdout relay: moves bytes between a local input/output pair (normally fd 0 and 1) and
// one socket until the conversation is over, with netcat's end-of-stream rules done right:
//   * input EOF  -> shutdown(SHUT_WR) on the socket (unless --no-shutdown), keep receiving;
//   * peer EOF   -> flush, and finish; if the input is a file or pipe that is still sending, keep
//                   sending until it ends or pauses for drain_quiet, so a server that half-closes
//                   early still gets the whole upload, yet a silent pipe does not hold us forever;
//   * input already closed or /dev/null -> immediate EOF, never a busy loop.
// Stream sockets use zero-copy paths where the kernel has them (sendfile from files, splice to and
// from pipes, splice through a private pipe otherwise) and fall back to read/write.
//
// Threading: relay_stream() blocks; it runs each direction on its own thread and joins both
// before it returns. The descriptors stay owned by the caller. relay_datagram() is single-threaded.
//
// Over a Transport (transport.hpp): a plain socket takes the two-thread, zero-copy relay above; a
// TLS session, whose SSL object cannot be shared between two threads, runs a single-threaded
// poll() loop with the same end-of-stream rules and options (input EOF sends close_notify and the
// reply is still read), except -d and -t, which the commands refuse with TLS.

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <system_error>

#include "parley/endpoint.hpp"
#include "parley/traffic_log.hpp"
#include "parley/transport.hpp"

namespace parley {

struct RelayOptions {
  bool send = true;             // Read input and send it (false: --recv-only).
  bool receive = true;          // Receive and write output (false: --send-only).
  bool shutdown_on_eof = true;  // Half-close the socket at input EOF (false: --no-shutdown).
  bool crlf = false;            // -C: send LF as CRLF.
  // -i: end when nothing moved in either direction for this long. Zero: never.
  std::chrono::milliseconds idle_timeout{0};
  // After the peer closed: how long a still-open, non-terminal input may stay silent before the
  // relay gives up waiting for more of it.
  std::chrono::milliseconds drain_quiet{1000};
  // Datagram only: after input EOF, end once the peer has been quiet this long (UDP has no EOF).
  std::optional<std::chrono::milliseconds> linger_after_eof;
  // -q: end this long after input EOF, whatever the peer does (zero: at once).
  std::optional<std::chrono::milliseconds> quit_after_eof;
  // Stream only: at input EOF, half-close only once the peer has been quiet this long, instead
  // of at once. For tunnels through proxies that close the whole connection at the client's
  // half-close (ncat's HTTP proxy, microsocks, tinyproxy), which would cut off the reply.
  std::optional<std::chrono::milliseconds> hold_half_close;
  // -o/-x: every byte sent and received is recorded here too (shared, thread-safe).
  std::shared_ptr<TrafficLog> log;
  // Stream only: -d sends the input a line at a time, this far apart; -t answers Telnet
  // negotiation (refusing every option) and strips it from the output.
  std::chrono::milliseconds line_delay{0};
  bool telnet = false;
};

enum class RelayEnd {
  finished,       // Both directions ended normally (EOF), or the output was closed by its reader.
  idle_timeout,   // -i expired.
  network_error,  // The socket failed: reset, refused, unreachable.
  local_error,    // Reading the input or writing the output failed.
};

struct RelayResult {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  RelayEnd end = RelayEnd::finished;
  std::error_code error;  // Set for the *_error ends.
  // local_error only: writing the output failed (a full disk), rather than reading the input.
  bool output_failed = false;
  // The traffic log's first write error (the conversation went on without it), and its file.
  std::error_code log_error;
  std::string log_path;
};

RelayResult relay_stream(int in_fd, int out_fd, int sock_fd, const RelayOptions& options);
// The same over any transport, which must have completed its handshake (the caller's: it words
// a failure in its own way). The transport's descriptor is made non-blocking; at the end a TLS
// session has sent close_notify (waiting at most 1 s for room), and the caller closes the socket.
RelayResult relay_stream(int in_fd, int out_fd, Transport& transport, const RelayOptions& options);

// Datagram relay on a UDP socket. Connected socket: one peer. Unconnected (multi_peer): every
// datagram from any peer goes to the output, input is sent to every peer seen so far (at most
// max_peers; datagrams from further peers are dropped), and on_new_peer is called once per peer.
// Answers to a peer go out from the address it sent to (IP_PKTINFO). The first max_peers
// senders that admit() accepts become peers (1: netcat's one-peer UDP listener).
struct DatagramPeers {
  std::size_t max_peers = 100;
  std::function<void(const SocketAddress&)> on_new_peer;
  std::function<bool(const SocketAddress&)> admit;  // Access control; empty: everyone.
};
RelayResult relay_datagram(int in_fd, int out_fd, int sock_fd, const RelayOptions& options,
                           DatagramPeers* multi_peer = nullptr);

// Converts LF to CRLF, leaving existing CRLF alone. prev_cr carries the "last byte was CR"
// state across chunks. Exposed for tests.
std::size_t lf_to_crlf(const char* in, std::size_t n, char* out, bool* prev_cr);

}  // namespace parley
