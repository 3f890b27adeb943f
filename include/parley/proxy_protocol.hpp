#pragma once
// HAProxy's PROXY protocol (doc/proxy-protocol.txt): a header in front of a relayed connection
// that tells the server who the client really was. v1 is one text line
// ("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n", at most 107 bytes); v2 a binary header (a
// 12-byte signature, version/command, family/protocol, length, addresses, TLVs).
// Pure functions over bytes; any thread.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/endpoint.hpp"

namespace parley {

enum class ProxyProtocolVersion { v1 = 1, v2 = 2 };

// The header announcing a connection from `client` to `server` (the address the client
// connected to). Addresses of another family than IPv4/IPv6 give the "UNKNOWN"/LOCAL form.
std::string proxy_protocol_header(ProxyProtocolVersion version, const SocketAddress& client,
                                  const SocketAddress& server);

struct ProxyHeader {
  enum class Status {
    complete,    // A header: `size` bytes, addresses below (unless `local`).
    incomplete,  // Not enough bytes yet to tell.
    invalid,     // Not a PROXY header, or a malformed one (`error` says how).
  };
  Status status = Status::incomplete;
  std::size_t size = 0;
  ProxyProtocolVersion version = ProxyProtocolVersion::v1;
  bool local = false;  // v2 LOCAL or v1 UNKNOWN: no addresses (a health check).
  SocketAddress source, destination;
  std::string error;
};

// Parses the start of a connection's bytes; never reads past `data`.
ProxyHeader parse_proxy_header(std::string_view data);

}  // namespace parley
