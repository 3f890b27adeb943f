#include "parley/duration.hpp"

#include <cmath>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace parley {

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  std::size_t unit_at = text.find_first_not_of("0123456789.");
  std::string number(text.substr(0, unit_at));
  std::string_view unit = unit_at == std::string_view::npos ? "" : text.substr(unit_at);
  if (number.empty() || number.find('.') != number.rfind('.')) return invalid;
  char* end = nullptr;
  double value = std::strtod(number.c_str(), &end);
  if (end != number.c_str() + number.size() || !std::isfinite(value)) return invalid;
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else
    return invalid;
  double ms = value * scale;
  if (ms > 1e12) return invalid;  // Over 30 years: a typo, not a timeout.
  return std::chrono::milliseconds(static_cast<long long>(std::llround(ms)));
}

std::string format_seconds(std::chrono::nanoseconds d) {
  return fmt::format("{:.2f}", std::chrono::duration<double>(d).count());
}

}  // namespace parley
