#include "parley/coalesce.hpp"

#include <gtest/gtest.h>

namespace parley::load {
namespace {

constexpr std::size_t kMany = AnswerCoalescer::kMinWaiting;
constexpr std::uint64_t kUs = 1000;

AnswerCoalescer after(std::uint64_t fastest_us, std::uint64_t typical_us, int n = 200) {
  AnswerCoalescer c;
  c.observe(fastest_us * kUs);
  for (int i = 0; i < n; ++i) c.observe(typical_us * kUs);
  return c;
}

TEST(AnswerCoalescer, NoNapBeforeAnyAnswer) {
  EXPECT_EQ(AnswerCoalescer{}.nap_ns(1000), 0);
}

TEST(AnswerCoalescer, AQueueingServerGetsANapOfAQuarterOfItsQueueingAtMost50us) {
  // HAProxy on one core at 50 connections: fastest ~30 us, typical ~250 us.
  EXPECT_EQ(after(30, 250).nap_ns(50), AnswerCoalescer::kMaxNapNs);
  EXPECT_NEAR(after(20, 100).nap_ns(kMany), 20'000, 10);  // (100 - 20) / 4; the mean is in ns
}

TEST(AnswerCoalescer, FewConnectionsGetNoNap) {
  // With few connections the latency is wakeups, not a queue: a nap would only add to it.
  EXPECT_EQ(after(30, 250).nap_ns(kMany - 1), 0);
  EXPECT_EQ(after(30, 250).nap_ns(0), 0);
}

TEST(AnswerCoalescer, ALatencyThatIsNotAQueueGetsNoNap) {
  EXPECT_EQ(after(5000, 5000).nap_ns(1000), 0);  // A server with a fixed 5 ms delay.
  EXPECT_EQ(after(100, 300).nap_ns(1000), 0);    // 3x the fastest: the network's spread.
  EXPECT_EQ(after(10, 45).nap_ns(1000), 0);      // A queue, but a nap of 8.75 us is not worth it.
}

TEST(AnswerCoalescer, TheNapEndsSoonAfterTheQueueDoes) {
  AnswerCoalescer c = after(30, 250);
  ASSERT_GT(c.nap_ns(50), 0);
  int answers = 0;
  while (c.nap_ns(50) > 0 && answers < 1000) {
    c.observe(35 * kUs);
    ++answers;
  }
  EXPECT_LT(answers, 40);  // Weight 1/16: 4x the fastest is left behind within a few dozen.
}

TEST(AnswerCoalescer, HugeLatenciesDoNotOverflow) {
  AnswerCoalescer c;
  c.observe(1);
  c.observe(UINT64_MAX);
  c.observe(UINT64_MAX);
  EXPECT_EQ(c.nap_ns(1000), AnswerCoalescer::kMaxNapNs);
  AnswerCoalescer d;
  d.observe(UINT64_MAX);
  EXPECT_EQ(d.nap_ns(1000), 0);
}

}  // namespace
}  // namespace parley::load
