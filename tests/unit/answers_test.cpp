#include "parley/answers.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

using namespace std::chrono_literals;
using Clock = AnswerCollector::Clock;
using Kind = AnswerCollector::Event::Kind;

TEST(ParseUntil, Forms) {
  EXPECT_EQ(parse_until("newline")->kind, UntilSpec::Kind::newline);
  EXPECT_EQ(parse_until("idle=50ms")->idle, 50ms);
  EXPECT_EQ(parse_until("bytes=7")->bytes, 7u);
  EXPECT_EQ(parse_until("none")->kind, UntilSpec::Kind::none);
  EXPECT_FALSE(parse_until("bytes=0"));
  EXPECT_FALSE(parse_until("idle=x"));
  EXPECT_FALSE(parse_until("lines"));
}

TEST(AnswerCollector, AnswerSplitOverSegments) {
  AnswerCollector a(*parse_until("newline"));
  std::vector<AnswerCollector::Event> ev;
  auto t0 = Clock::now();
  a.expect(t0);
  a.feed("You told", t0 + 1ms, ev);
  EXPECT_TRUE(ev.empty());
  a.feed(" me: hi\r\n", t0 + 3ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::answer);
  EXPECT_EQ(ev[0].text, "You told me: hi");
  EXPECT_EQ(ev[0].rtt, 3ms);
}

TEST(AnswerCollector, TwoMessagesInOneSegment) {
  AnswerCollector a(*parse_until("newline"));
  std::vector<AnswerCollector::Event> ev;
  auto t0 = Clock::now();
  a.expect(t0);
  a.feed("first\nsecond\n", t0 + 1ms, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].kind, Kind::answer);
  EXPECT_EQ(ev[0].text, "first");
  EXPECT_EQ(ev[1].kind, Kind::unsolicited);
  EXPECT_EQ(ev[1].text, "second");
}

TEST(AnswerCollector, IdleAndBytes) {
  auto t0 = Clock::now();
  std::vector<AnswerCollector::Event> ev;
  AnswerCollector idle(*parse_until("idle=100ms"));
  idle.expect(t0);
  idle.feed("line 1\n", t0 + 1ms, ev);
  idle.feed("line 2\n", t0 + 50ms, ev);
  idle.tick(t0 + 100ms, ev);
  EXPECT_TRUE(ev.empty());
  idle.tick(t0 + 151ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, "line 1\nline 2");
  EXPECT_EQ(ev[0].rtt, 50ms);
  ev.clear();
  AnswerCollector bytes(*parse_until("bytes=4"));
  bytes.expect(t0);
  bytes.feed("ab", t0 + 1ms, ev);
  bytes.feed("cdef\n", t0 + 2ms, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].text, "abcd");
  EXPECT_EQ(ev[1].text, "ef");
}

// Found by the fuzz target (tests/fuzz/corpus/answers/idle-after-prompt): a prompt received just
// before the line was sent ended the idle answer early, with a negative round-trip time.
TEST(AnswerCollector, IdleCountsFromTheLineSent) {
  auto t0 = Clock::now();
  std::vector<AnswerCollector::Event> ev;
  AnswerCollector a(*parse_until("idle=100ms"));
  a.feed("login: ", t0, ev);
  a.expect(t0 + 50ms);
  a.tick(t0 + 120ms, ev);
  EXPECT_TRUE(ev.empty());  // Only 70 ms since the line went out.
  a.feed("ok\n", t0 + 130ms, ev);
  a.tick(t0 + 229ms, ev);
  EXPECT_TRUE(ev.empty());
  a.tick(t0 + 230ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::answer);
  EXPECT_EQ(ev[0].text, "login: ok");
  EXPECT_EQ(ev[0].rtt, 80ms);
  ev.clear();
  AnswerCollector silent(*parse_until("idle=100ms"));  // Nothing after the line: never negative.
  silent.feed("login: ", t0, ev);
  silent.expect(t0 + 50ms);
  silent.tick(t0 + 150ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].rtt, 0ms);
}

TEST(AnswerCollector, UnsolicitedPartialLineShownAfterQuiet) {
  AnswerCollector a(*parse_until("newline"));
  std::vector<AnswerCollector::Event> ev;
  auto t0 = Clock::now();
  a.feed("login: ", t0, ev);
  EXPECT_TRUE(ev.empty());
  a.tick(t0 + 150ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::unsolicited);
  EXPECT_EQ(ev[0].text, "login: ");
}

}  // namespace
}  // namespace parley
