#pragma once
// Time values on the command line, one syntax for every option of every command: a number with a
// unit -- "1500us", "250ms", "1.5s", "2m", "1h" -- or several of them added up ("1h30m",
// "1m30s", "2s500ms"); a bare number is seconds. Pure functions; any thread.

#include <chrono>
#include <string>
#include <string_view>

#include "parley/result.hpp"

namespace parley {

// Errors: std::errc::invalid_argument for text that is not a non-negative time (or is over ~30
// years, which is a typo, not a timeout).
Result<std::chrono::microseconds> parse_duration_us(std::string_view text);

// The same, in milliseconds; a time under a millisecond that is not zero becomes 1 ms, so that
// "500us" never turns into 0 (which many options read as "never").
Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// "0.06" style seconds with two decimals, as the exit summary prints them.
std::string format_seconds(std::chrono::nanoseconds d);

}  // namespace parley
