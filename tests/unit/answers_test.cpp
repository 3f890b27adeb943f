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

// The framer (shared by talk and bench): each kind ends an answer at the right byte, however the
// stream is split.
std::vector<std::size_t> answer_lengths(const char* until, const std::string& stream,
                                        std::size_t cut) {
  UntilSpec spec = *parse_until(until);
  AnswerFramer f(spec);
  std::vector<std::size_t> out;
  std::size_t len = 0;
  for (std::string_view piece :
       {std::string_view(stream).substr(0, cut), std::string_view(stream).substr(cut)}) {
    while (!piece.empty()) {
      auto step = f.feed(piece);
      EXPECT_NE(step.status, AnswerFramer::Status::malformed);
      if (step.status == AnswerFramer::Status::malformed) return out;
      len += step.used;
      piece.remove_prefix(step.used);
      if (step.status == AnswerFramer::Status::complete) {
        out.push_back(len);
        len = 0;
        f.reset();
      }
    }
  }
  return out;
}

TEST(AnswerFramer, KindsAtEverySplit) {
  const std::string lines = "a\r\nb\nc\r\n";
  const std::string http =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nhi\r\n0\r\n\r\n";
  for (std::size_t cut = 0; cut <= http.size(); ++cut) {
    if (cut <= lines.size()) {
      EXPECT_EQ(answer_lengths("newline", lines, cut), (std::vector<std::size_t>{3, 2, 3})) << cut;
      EXPECT_EQ(answer_lengths("crlf", lines, cut), (std::vector<std::size_t>{3, 5})) << cut;
      EXPECT_EQ(answer_lengths("bytes=4", lines, cut), (std::vector<std::size_t>{4, 4})) << cut;
      EXPECT_EQ(answer_lengths("regex=b\\n", lines, cut), (std::vector<std::size_t>{5})) << cut;
    }
    EXPECT_EQ(answer_lengths("http", http, cut), (std::vector<std::size_t>{40, 84})) << cut;
  }
}

TEST(AnswerFramer, Bounds) {
  UntilSpec spec = *parse_until("http");
  AnswerFramer f(spec);
  EXPECT_EQ(f.feed("HTTP/1.1 200 OK\r\nX: ").status, AnswerFramer::Status::more);
  EXPECT_EQ(f.feed(std::string(AnswerFramer::kMaxHead, 'x')).status,
            AnswerFramer::Status::malformed);
  f.reset();
  EXPECT_EQ(f.feed("SSH-2.0-OpenSSH\r\n\r\n").status, AnswerFramer::Status::malformed);
  // A body delimited by the close completes at EOF.
  f.reset();
  EXPECT_EQ(f.feed("HTTP/1.0 200 OK\r\n\r\nbody").status, AnswerFramer::Status::more);
  EXPECT_TRUE(f.complete_at_eof());
}

TEST(ParseUntil, NewForms) {
  EXPECT_EQ(parse_until("crlf")->kind, UntilSpec::Kind::crlf);
  EXPECT_EQ(parse_until("http")->kind, UntilSpec::Kind::http);
  EXPECT_EQ(parse_until("regex=^OK")->kind, UntilSpec::Kind::regex);
  std::string why;
  EXPECT_FALSE(parse_until("regex=(", &why));
  EXPECT_EQ(why, "missing closing parenthesis at offset 1");
}

// talk's collector frames with the same framer: a long answer without a line end is looked at
// once per read, not rescanned (each byte once).
TEST(AnswerCollector, CrlfAnswer) {
  AnswerCollector a(*parse_until("crlf"));
  std::vector<AnswerCollector::Event> ev;
  auto t0 = Clock::now();
  a.expect(t0);
  a.feed("250-first\n250 ", t0 + 1ms, ev);
  EXPECT_TRUE(ev.empty());
  a.feed("done\r\nextra\n", t0 + 2ms, ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].text, "250-first\n250 done");
  EXPECT_EQ(ev[1].kind, Kind::unsolicited);
}

}  // namespace
}  // namespace parley
