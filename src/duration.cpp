#include "parley/duration.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace parley {
namespace {

// Microseconds per unit, or 0 for an unknown unit.
double unit_scale(std::string_view unit) {
  if (unit == "us") return 1;
  if (unit == "ms") return 1e3;
  if (unit == "s") return 1e6;
  if (unit == "m") return 60e6;
  if (unit == "h") return 3600e6;
  return 0;
}

}  // namespace

Result<std::chrono::microseconds> parse_duration_us(std::string_view text) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  if (text.empty()) return invalid;
  double total = 0;
  bool bare = false;  // A unitless number: allowed alone only.
  int parts = 0;
  while (!text.empty()) {
    std::size_t unit_at = text.find_first_not_of("0123456789.");
    std::string number(text.substr(0, unit_at));
    if (number.empty() || number.find('.') != number.rfind('.') || number == ".") return invalid;
    char* end = nullptr;
    double value = std::strtod(number.c_str(), &end);
    if (end != number.c_str() + number.size() || !std::isfinite(value)) return invalid;
    text.remove_prefix(number.size());
    std::size_t unit_len = text.find_first_of("0123456789.");
    std::string_view unit = text.substr(0, unit_len);
    text.remove_prefix(unit.size());
    double scale = unit.empty() ? 1e6 : unit_scale(unit);
    if (scale == 0) return invalid;
    bare |= unit.empty();
    total += value * scale;
    ++parts;
  }
  if (bare && parts > 1) return invalid;  // "1m30" is ambiguous.
  if (total > 1e15) return invalid;       // Over 30 years: a typo, not a timeout.
  return std::chrono::microseconds(static_cast<long long>(std::llround(total)));
}

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto us = parse_duration_us(text);
  if (!us) return us.error();
  if (us->count() > 0 && us->count() < 1000) return std::chrono::milliseconds(1);
  return std::chrono::duration_cast<std::chrono::milliseconds>(*us +
                                                               std::chrono::microseconds(500));
}

std::string format_seconds(std::chrono::nanoseconds d) {
  return fmt::format("{:.2f}", std::chrono::duration<double>(d).count());
}

}  // namespace parley
