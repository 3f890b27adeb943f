#include "parley/duration.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, Units) {
  EXPECT_EQ(*parse_duration("3"), milliseconds(3000));
  EXPECT_EQ(*parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(*parse_duration("200ms"), milliseconds(200));
  EXPECT_EQ(*parse_duration("2m"), milliseconds(120000));
  EXPECT_EQ(*parse_duration("1h"), milliseconds(3600000));
  EXPECT_EQ(*parse_duration("0"), milliseconds(0));
}

TEST(ParseDuration, MicrosecondsAndSums) {
  using std::chrono::microseconds;
  EXPECT_EQ(*parse_duration_us("1500us"), microseconds(1500));
  EXPECT_EQ(*parse_duration_us("250ms"), microseconds(250000));
  EXPECT_EQ(*parse_duration_us("1h30m"), microseconds(5'400'000'000LL));
  EXPECT_EQ(*parse_duration_us("1m30s"), microseconds(90'000'000));
  EXPECT_EQ(*parse_duration_us("2s500ms"), microseconds(2'500'000));
  EXPECT_EQ(*parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(*parse_duration("1500us"), milliseconds(2));  // Rounded to the nearest ms.
  EXPECT_EQ(*parse_duration("200us"), milliseconds(1));   // Never rounded down to "never".
  EXPECT_EQ(*parse_duration("0us"), milliseconds(0));
}

TEST(ParseDuration, Rejects) {
  for (const char* bad : {"", "s", "-1", "1.2.3", "5x", "1e3", "ms5", "1m30", "1hh", ".", "nan",
                          "inf", "1e-300", "99999999h"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(FormatSeconds, TwoDecimals) {
  EXPECT_EQ(format_seconds(milliseconds(60)), "0.06");
  EXPECT_EQ(format_seconds(milliseconds(12345)), "12.35");
}

}  // namespace
}  // namespace parley
