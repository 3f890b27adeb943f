#pragma once
// Time values on the command line, in ncat's units: "500ms", "1.5s", "2m", "1h"; a bare number is
// seconds. Pure functions; any thread.

#include <chrono>
#include <string>
#include <string_view>

#include "parley/result.hpp"

namespace parley {

// Errors: std::errc::invalid_argument for text that is not a non-negative time.
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// "0.06" style seconds with two decimals, as the exit summary prints them.
std::string format_seconds(std::chrono::nanoseconds d);

}  // namespace parley
