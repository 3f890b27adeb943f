// parse_duration_us and parse_duration (duration.hpp). Input: the text.

#include "parley/duration.hpp"
#include "fuzz.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::bytes(data, size);
  auto us = parse_duration_us(text);
  auto ms = parse_duration(text);
  FUZZ_CHECK(us.ok() == ms.ok());
  if (!us) {
    FUZZ_CHECK(us.error() == std::make_error_code(std::errc::invalid_argument));
    return 0;
  }
  // Non-negative, at most ~30 years, and a time under a millisecond is never rounded to 0 ms.
  FUZZ_CHECK(us->count() >= 0 && us->count() <= 1'000'000'000'000'000LL);
  FUZZ_CHECK(ms->count() >= 0);
  FUZZ_CHECK((us->count() == 0) == (ms->count() == 0));
  FUZZ_CHECK(ms->count() * 1000 - us->count() <= 1000 && us->count() - ms->count() * 1000 <= 500);
  return 0;
}
