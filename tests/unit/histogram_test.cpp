#include "parley/histogram.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(Histogram, BucketsCoverValuesWithinTwoPercent) {
  for (std::uint64_t v :
       {0ull, 1ull, 63ull, 64ull, 65ull, 1000ull, 123456ull, 987654321ull, 1ull << 40}) {
    int i = Histogram::index_of(v);
    EXPECT_GE(Histogram::upper_edge(i), v) << v;
    EXPECT_LE(static_cast<double>(Histogram::upper_edge(i)), v * 1.02 + 1) << v;
    if (i > 0) {
      EXPECT_LT(Histogram::upper_edge(i - 1), v) << v;
    }
  }
}

TEST(Histogram, PercentilesOfAKnownDistribution) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 10000; ++v) h.record(v * 1000);  // 1 us .. 10 ms
  EXPECT_EQ(h.count(), 10000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 10000000u);
  EXPECT_NEAR(static_cast<double>(h.percentile(50)), 5e6, 5e6 * 0.02);
  EXPECT_NEAR(static_cast<double>(h.percentile(99)), 9.9e6, 9.9e6 * 0.02);
  EXPECT_EQ(h.percentile(100), 10000000u);
  EXPECT_NEAR(h.mean(), 5000500.0, 1.0);
}

TEST(Histogram, MergeAddsCounts) {
  Histogram a, b;
  a.record(10);
  b.record(1000000);
  b.record(20);
  a.merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.min(), 10u);
  EXPECT_EQ(a.max(), 1000000u);
  EXPECT_EQ(a.percentile(50), 20u);
}

}  // namespace
}  // namespace parley
