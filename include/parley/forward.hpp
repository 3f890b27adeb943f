#pragma once
// The forwarder (parley forward): a relay from a listening side to one of several targets, on the
// server runtime (server.hpp), one worker per core.
//
// TCP and Unix streams: each client gets a connection to a target, chosen round robin; a target
// that refuses (or does not answer within connect_timeout) is skipped for retry_after, and the
// client is tried on the next one, so it never sees a refused backend while another one works.
// Bytes move socket -> pipe -> socket with splice(2), never entering user space (with TLS on a
// side: through a 64 KiB buffer per stuck direction instead). Each direction
// half-closes on its own (one side's FIN becomes a shutdown(SHUT_WR) on the other); a session
// ends when both directions are done, or at once when either side resets (the reset is passed
// on). A side that does not read pauses the other: at most one pipe (1 MiB) per direction.
//
// UDP: a session per client address (a connected socket towards the target), expiring after
// udp_timeout without traffic; answers go back from the address the client sent to.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/proxy_protocol.hpp"
#include "parley/result.hpp"
#include "parley/server.hpp"

namespace parley {

// One side as the user wrote it: "[HOST:]PORT", "[IPv6]:PORT", "unix:PATH" or "unix:@NAME".
struct ForwardEndpoint {
  std::string host;  // Empty on the listening side: every address.
  std::uint16_t port = 0;
  std::string unix_path;  // Set for unix: ("@name": the abstract namespace).
  bool is_unix() const { return !unix_path.empty(); }
};

// Errors: Errc::bad_endpoint, Errc::bad_port, Errc::path_too_long.
Result<ForwardEndpoint> parse_forward_endpoint(std::string_view text, bool listening);

struct ForwardTarget {
  std::string text;                      // As given, for the logs.
  std::string host;                      // The name or address given (TLS: SNI, checked).
  std::vector<SocketAddress> addresses;  // Tried in order.
};

struct ForwardOptions {
  std::vector<ForwardTarget> targets;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds retry_after{2000};         // A failing target is skipped this long.
  std::optional<ProxyProtocolVersion> proxy_protocol;  // Sent to the target first.
  bool udp = false;
  std::chrono::milliseconds udp_timeout{60000};
  std::size_t max_udp_sessions = 10000;
  // --target-tls: TLS to every target (a client context; the target's host is checked and sent
  // as SNI unless the context names another). With TLS on either side (this, or ServerConfig::tls
  // on the listening side) the bytes go through user space, since a session cannot splice.
  std::shared_ptr<const tls::Context> target_tls;
};

std::shared_ptr<Service> forward_service(const ForwardOptions& options);

}  // namespace parley
