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

TEST(ParseDuration, Rejects) {
  for (const char* bad : {"", "s", "-1", "1.2.3", "5x", "1e3", "ms5"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(FormatSeconds, TwoDecimals) {
  EXPECT_EQ(format_seconds(milliseconds(60)), "0.06");
  EXPECT_EQ(format_seconds(milliseconds(12345)), "12.35");
}

}  // namespace
}  // namespace parley
