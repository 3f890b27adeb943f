#pragma once
// parley's own error conditions, for failures that have no errno: a name that does not resolve,
// a malformed endpoint, a timeout measured by parley rather than by the kernel. The library reports
// every failure as a std::error_code (system_category for errno values, this category for the rest)
// and never prints or exits; only a subcommand's top level turns one into a message and exit code.

#include <string>
#include <system_error>

namespace parley {

enum class Errc {
  name_not_resolved = 1,  // getaddrinfo found no address for the name.
  no_address_of_family,   // The name resolved, but not to the requested family (-4/-6).
  bad_port,               // Port is not a number in 0..65535.
  bad_endpoint,           // The endpoint text cannot be split into host and port.
  timed_out,              // A parley-measured timeout (-w, -i) expired.
  path_too_long,          // A Unix socket path does not fit in sockaddr_un.
  name_server_failed,     // The name could not be looked up: no name server answered.
  bad_port_list,          // A scan's port list is malformed (see parse_port_list).
};

const std::error_category& parley_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), parley_category()};
}

// The errno of the calling thread as an error_code.
std::error_code last_error() noexcept;

// The message users see: system messages keep strerror's wording, parley's are lower-case
// phrases that read well after a colon ("connect to x:80: name not resolved").
std::string describe(const std::error_code& ec);

// True for failures of the network rather than of the command line or local environment; these
// map to exit status 1, everything else to 2 (ncat's convention).
bool is_network_error(const std::error_code& ec) noexcept;

}  // namespace parley

template <>
struct std::is_error_code_enum<parley::Errc> : std::true_type {};
