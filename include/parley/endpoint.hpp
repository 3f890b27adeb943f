#pragma once
// Endpoints: parsing what users type ("host port", "host:port", "[v6]:port"), resolving names,
// and formatting socket addresses the way the messages print them. Pure functions; any thread.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/result.hpp"

namespace parley {

enum class Family { any, v4, v6 };

// A host and a port as the user gave them. host may be empty (listen on all addresses).
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// Parses "0".."65535"; service names are not accepted (they vary between machines).
Result<std::uint16_t> parse_port(std::string_view text);

// Splits one argument "host:port", "[v6addr]:port" or "port" (only when allow_port_only).
// A bare IPv6 address without brackets is rejected as ambiguous.
Result<HostPort> parse_endpoint(std::string_view text, bool allow_port_only);

// Turns the positional arguments of connect/listen into a HostPort: ["host", "port"] or
// ["host:port"]; with allow_port_only also ["port"] and [] (port stays 0, host empty).
Result<HostPort> parse_endpoint_args(const std::vector<std::string>& args, bool allow_port_only);

// A resolved socket address of any family, including AF_UNIX.
class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* sa, socklen_t len);
  // A Unix socket path; "@name" is a name in Linux's abstract namespace (no file).
  static Result<SocketAddress> unix_path(std::string_view path);
  // Wildcard address of the family (:: or 0.0.0.0) with the port.
  static SocketAddress any(int family, std::uint16_t port);

  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }
  socklen_t* size_ptr() noexcept { return &len_; }
  static constexpr socklen_t capacity() noexcept { return sizeof(sockaddr_storage); }
  int family() const noexcept { return storage_.ss_family; }
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t port) noexcept;
  // "127.0.0.1:80", "[::1]:80", or the path of a Unix socket.
  std::string to_string() const;
  // The address without the port ("127.0.0.1", "::1").
  std::string host_string() const;

 private:
  sockaddr_storage storage_{};
  socklen_t len_ = 0;
};

struct ResolveOptions {
  Family family = Family::any;
  bool numeric_only = false;  // -n: never ask DNS.
  int socktype = SOCK_STREAM;
  bool passive = false;  // For binding: empty host means the wildcard address.
};

// Resolves host and port into addresses ordered for connecting: the resolver's preferred order
// (RFC 6724), then interleaved by family as RFC 8305 §4 asks, so a Happy Eyeballs connect
// alternates IPv6 and IPv4. Errors: Errc::name_not_resolved, Errc::no_address_of_family.
Result<std::vector<SocketAddress>> resolve(const std::string& host, std::uint16_t port,
                                           const ResolveOptions& options);

// Interleaves addresses by family, keeping each family's relative order, starting with the family
// of the first address. Exposed for tests.
std::vector<SocketAddress> interleave_families(std::vector<SocketAddress> addresses);

}  // namespace parley
