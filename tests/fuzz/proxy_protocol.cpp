// parse_proxy_header and proxy_protocol_header (proxy_protocol.hpp). Input: the first bytes of a
// connection.

#include <netinet/in.h>

#include "fuzz.hpp"
#include "parley/proxy_protocol.hpp"

using namespace parley;

namespace {

bool ip(const SocketAddress& a) {
  return a.family() == AF_INET || a.family() == AF_INET6;
}

bool mapped(const SocketAddress& a) {
  return a.family() == AF_INET6 &&
         IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::bytes(data, size);
  ProxyHeader h = parse_proxy_header(input);
  switch (h.status) {
    case ProxyHeader::Status::incomplete:
      FUZZ_CHECK(size < 16 + 65535 && h.error.empty());
      return 0;
    case ProxyHeader::Status::invalid:
      FUZZ_CHECK(!h.error.empty());
      return 0;
    case ProxyHeader::Status::complete:
      break;
  }
  FUZZ_CHECK(h.size > 0 && h.size <= size);
  if (h.version == ProxyProtocolVersion::v1) FUZZ_CHECK(h.size <= 107);
  // More bytes after a header (the client's data) do not change it.
  ProxyHeader prefix = parse_proxy_header(input.substr(0, h.size));
  FUZZ_CHECK(prefix.status == ProxyHeader::Status::complete && prefix.size == h.size);
  if (h.local) return 0;
  FUZZ_CHECK(ip(h.source) && h.source.family() == h.destination.family());

  // What parses can be announced again, and reads back as the same addresses (v4-mapped ones are
  // announced as IPv4 on purpose, so they are left out here).
  if (mapped(h.source) || mapped(h.destination)) return 0;
  for (auto version : {ProxyProtocolVersion::v1, ProxyProtocolVersion::v2}) {
    std::string again = proxy_protocol_header(version, h.source, h.destination);
    ProxyHeader back = parse_proxy_header(again);
    FUZZ_CHECK(back.status == ProxyHeader::Status::complete && back.size == again.size());
    FUZZ_CHECK(back.source.to_string() == h.source.to_string());
    FUZZ_CHECK(back.destination.to_string() == h.destination.to_string());
  }
  return 0;
}
