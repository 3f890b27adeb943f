#pragma once
// Port lists as people type them for a scan: "22", "20-30", "80,443", "http", "-1024" (1-1024),
// "8000-" (8000-65535), and any mix of these separated by commas ("20-30,80,443,http").
//
// parse_port_list() is a pure function: it looks nothing up by itself (service names go through
// the caller's ServiceLookup), touches no global state and is safe on any input (memory stays
// bounded by 64 Ki ports however long the text), so it can be fuzzed directly.
// The system lookups below read /etc/services (getservbyname_r) and are thread-safe.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/result.hpp"

namespace parley {

// Maps a service name ("http") to its port, or nullopt when the name is unknown.
using ServiceLookup = std::function<std::optional<std::uint16_t>(std::string_view name)>;

// Parses a port list into the ports in the order given, each at most once (the first mention
// counts). A reversed range ("30-20") is taken as written the other way round, as nc does.
// Port 0 cannot be probed and is rejected. Errors: Errc::bad_port_list, with *why (when given)
// saying which item is wrong and how: "unknown service 'htp'", "'70000' is not a port (1-65535)".
Result<std::vector<std::uint16_t>> parse_port_list(std::string_view text,
                                                   const ServiceLookup& services,
                                                   std::string* why = nullptr);

// /etc/services: the port of a service name for "tcp" or "udp".
std::optional<std::uint16_t> system_service_port(std::string_view name, const char* proto);
// /etc/services: the name of a port ("http"), or empty when it has none.
std::string system_service_name(std::uint16_t port, const char* proto);

}  // namespace parley
