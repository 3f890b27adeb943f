// parley talk's pure parts: the transcript, the prompt's cursor row (libedit's layout), history
// file names, and the collector's pieces (spill) and overdue answers (cancel) that bound memory.

#include <clocale>

#include <gtest/gtest.h>

#include "cmd/talk_format.hpp"
#include "parley/answers.hpp"

namespace parley::cmd {
namespace {

using namespace std::chrono_literals;
using Event = AnswerCollector::Event;
using Kind = AnswerCollector::Event::Kind;

TEST(Transcript, AnswersUnsolicitedAndSent) {
  Transcript t;
  EXPECT_EQ(t.sent("Grüße 😀", false), "> Grüße 😀");
  EXPECT_EQ(t.received({Kind::answer, "got it\r", 250us}),
            std::vector<std::string>{"< got it  0.25 ms"});
  EXPECT_EQ(t.received({Kind::unsolicited, "bell\x07 esc\x1b[2J", {}}),
            std::vector<std::string>{"* bell\\x07 esc\\x1b[2J"});
  // An idle answer of several lines: the round trip on its first.
  EXPECT_EQ(t.received({Kind::answer, "one\r\ntwo\n", 1ms}),
            (std::vector<std::string>{"< one  1.00 ms", "< two"}));
}

TEST(Transcript, LongLinesInPieces) {
  Transcript t;
  EXPECT_EQ(t.sent("aaa", true), "> aaa");
  EXPECT_EQ(t.sent("bbb", false), "+ bbb");
  EXPECT_EQ(t.sent("next", false), "> next");
  Event first{Kind::answer, "xx\r", 1ms};
  first.more = true;
  // A CR at the end of a piece may be the data's own: kept (escaped).
  EXPECT_EQ(t.received(first), std::vector<std::string>{"< xx\\r"});
  EXPECT_EQ(t.received({Kind::answer, "yy", 2ms}), std::vector<std::string>{"+ yy  2.00 ms"});
  EXPECT_EQ(t.received({Kind::unsolicited, "zz", {}}), std::vector<std::string>{"* zz"});
}

class CursorRow : public ::testing::Test {
 protected:
  void SetUp() override { std::setlocale(LC_CTYPE, "C.UTF-8"); }
};

TEST_F(CursorRow, WrapsAsLibeditDraws) {
  // 10 columns, prompt "> " (2): 8 characters fill the first row; the cursor after them is on
  // the next row, as libedit moves it there.
  EXPECT_EQ(cursor_row(L"> ", L"abcdefg", 7, 10), 0);
  EXPECT_EQ(cursor_row(L"> ", L"abcdefgh", 8, 10), 1);
  EXPECT_EQ(cursor_row(L"> ", L"abcdefghijklmnopqrstu", 21, 10), 2);
  EXPECT_EQ(cursor_row(L"> ", L"abcdefghijklmnopqrstu", 0, 10), 0);
  EXPECT_EQ(cursor_row(L"> ", L"abcdefghijklmnopqrstu", 9, 10), 1);
}

TEST_F(CursorRow, WideAndControlCharacters) {
  // An emoji is two columns; one that does not fit in the last column starts the next row.
  EXPECT_EQ(cursor_row(L"> ", L"abcdefg\U0001F600", 8, 10), 1);
  EXPECT_EQ(cursor_row(L"> ", L"abcdefg\U0001F600", 7, 10), 1);  // The cursor sits on it.
  EXPECT_EQ(cursor_row(L"> ", L"abcdef\U0001F600", 7, 10), 1);   // Exactly full.
  EXPECT_EQ(cursor_row(L"> ", L"\x01\x01\x01\x01", 4, 10), 1);   // ^A^A^A^A: 8 columns.
  EXPECT_EQ(cursor_row(L"> ", L"ab\tc", 4, 10), 0);              // The tab runs to column 8.
  EXPECT_EQ(cursor_row(L"> ", L"abcdef\tc", 8, 10), 1);
}

TEST(HistoryFileName, SafeAndDistinct) {
  EXPECT_EQ(history_file_name("127.0.0.1:12345"), "127.0.0.1:12345");
  EXPECT_EQ(history_file_name("[::1]:22"), "[::1]:22");
  EXPECT_EQ(history_file_name("unix-/run/a%b.sock"), "unix-%2Frun%2Fa%25b.sock");
  EXPECT_EQ(history_file_name("..:1"), "%2E.:1");
  EXPECT_EQ(history_file_name("a\nb"), "a%0Ab");
  std::string a(300, 'x'), b = a;
  b.back() = 'y';
  EXPECT_LE(history_file_name(a).size(), 200u);
  EXPECT_NE(history_file_name(a), history_file_name(b));
}

TEST(AnswerCollector, SpillHandsOutPiecesOfALongAnswer) {
  AnswerCollector a(*parse_until("newline"));
  std::vector<Event> ev;
  auto t0 = AnswerCollector::Clock::now();
  a.expect(t0);
  a.feed("aaaa", t0 + 1ms, ev);
  EXPECT_EQ(a.pending_size(), 4u);
  a.spill(t0 + 2ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::answer);
  EXPECT_TRUE(ev[0].more);
  EXPECT_EQ(ev[0].text, "aaaa");
  EXPECT_EQ(a.pending_size(), 0u);
  EXPECT_TRUE(a.waiting());
  a.feed("bb\nnext", t0 + 3ms, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].kind, Kind::answer);
  EXPECT_FALSE(ev[1].more);
  EXPECT_EQ(ev[1].text, "bb");
  EXPECT_EQ(ev[1].rtt, 3ms);
  a.spill(t0 + 4ms, ev);  // A partial unsolicited line.
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[2].kind, Kind::unsolicited);
  EXPECT_TRUE(ev[2].more);
  EXPECT_EQ(ev[2].text, "next");
}

// Pieces of a set size: the rest stays pending, and the answer still ends where it ends.
TEST(AnswerCollector, SpillAtMostKeepsTheRest) {
  AnswerCollector a(*parse_until("newline"));
  std::vector<Event> ev;
  auto t0 = AnswerCollector::Clock::now();
  a.expect(t0);
  a.feed("aaaabb", t0 + 1ms, ev);
  a.spill(t0 + 2ms, ev, 4);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, "aaaa");
  EXPECT_TRUE(ev[0].more);
  EXPECT_EQ(a.pending_size(), 2u);
  a.feed("c\n", t0 + 3ms, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[1].text, "bbc");
  EXPECT_FALSE(ev[1].more);
}

TEST(AnswerCollector, SpillLeavesAByteCountAlone) {
  AnswerCollector a(*parse_until("bytes=10"));
  std::vector<Event> ev;
  auto t0 = AnswerCollector::Clock::now();
  a.expect(t0);
  a.feed("12345", t0, ev);
  a.spill(t0, ev);
  EXPECT_TRUE(ev.empty());
  a.feed("67890", t0 + 1ms, ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].text, "1234567890");
}

TEST(AnswerCollector, CancelShowsWhatArrived) {
  AnswerCollector a(*parse_until("newline"));
  std::vector<Event> ev;
  auto t0 = AnswerCollector::Clock::now();
  a.expect(t0);
  a.feed("Password: ", t0 + 1ms, ev);
  a.cancel(ev);
  EXPECT_FALSE(a.waiting());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, Kind::unsolicited);
  EXPECT_EQ(ev[0].text, "Password: ");
  a.cancel(ev);  // Nothing more.
  EXPECT_EQ(ev.size(), 1u);
}

}  // namespace
}  // namespace parley::cmd
