#include "parley/framing.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace parley {
namespace {

struct Lines {
  std::vector<std::string> got;
  std::size_t stop_after = SIZE_MAX;
  static bool on(void* self, std::string_view line, std::string_view eol) {
    auto* l = static_cast<Lines*>(self);
    l->got.push_back(std::string(line) + "|" +
                     std::string(eol == "\n"   ? "LF"
                                 : eol.empty() ? "-"
                                               : "CRLF"));
    return l->got.size() < l->stop_after;
  }
};

TEST(LineBuffer, SplitsAcrossFeedsAndEndings) {
  LineBuffer b(100);
  Lines l;
  EXPECT_TRUE(b.feed("hel", Lines::on, &l));
  EXPECT_TRUE(b.has_partial());
  EXPECT_TRUE(b.feed("lo\r", Lines::on, &l));
  EXPECT_TRUE(b.feed("\nworld\nx", Lines::on, &l));
  EXPECT_EQ(l.got, (std::vector<std::string>{"hello|CRLF", "world|LF"}));
  EXPECT_TRUE(b.has_partial());
}

// The caller can stop after a line (its output is full) and feed the rest later.
TEST(LineBuffer, StopsWhenAsked) {
  LineBuffer b(100);
  Lines l;
  l.stop_after = 1;
  std::size_t used = 0;
  EXPECT_TRUE(b.feed("ab\ncd\nef", Lines::on, &l, &used));
  EXPECT_EQ(used, 3u);
  l.stop_after = SIZE_MAX;
  EXPECT_TRUE(b.feed(std::string_view("ab\ncd\nef").substr(used), Lines::on, &l, &used));
  EXPECT_EQ(used, 5u);
  EXPECT_EQ(l.got, (std::vector<std::string>{"ab|LF", "cd|LF"}));
  EXPECT_TRUE(b.has_partial());
}

TEST(LineBuffer, SplitsLongLinesWhenAsked) {
  LineBuffer b(4, true);
  Lines l;
  EXPECT_TRUE(b.feed("abcdefghij\nxy", Lines::on, &l));
  EXPECT_TRUE(b.feed("zw1\n", Lines::on, &l));
  EXPECT_EQ(l.got, (std::vector<std::string>{"abcd|-", "efgh|-", "ij|LF", "xyzw|-", "1|LF"}));
}

TEST(LineBuffer, RejectsLongLines) {
  LineBuffer b(4);
  Lines l;
  EXPECT_TRUE(b.feed("abcd\n", Lines::on, &l));
  EXPECT_FALSE(b.feed("abcde\n", Lines::on, &l));
  LineBuffer c(4);
  EXPECT_TRUE(c.feed("ab", Lines::on, &l));
  EXPECT_FALSE(c.feed("cde", Lines::on, &l));
}

// max_line counts the line, not its ending: a CRLF line of max_line bytes was refused where the
// same line with LF was taken. A CR inside the line still counts.
TEST(LineBuffer, LimitLeavesOutTheCrOfCrlf) {
  Lines l;
  LineBuffer a(4);
  EXPECT_TRUE(a.feed("abcd\r\n", Lines::on, &l));
  EXPECT_TRUE(a.feed("abcd\r", Lines::on, &l));  // Maybe a CRLF: wait for the next byte.
  EXPECT_TRUE(a.feed("\n", Lines::on, &l));
  EXPECT_EQ(l.got, (std::vector<std::string>{"abcd|CRLF", "abcd|CRLF"}));
  EXPECT_FALSE(a.feed("abcd\rx\n", Lines::on, &l));
  LineBuffer b(4);
  EXPECT_TRUE(b.feed("abcd\r", Lines::on, &l));
  EXPECT_FALSE(b.feed("x", Lines::on, &l));  // The CR was inside the line: 6 bytes.
  l.got.clear();
  LineBuffer c(4, true);  // Split mode: no empty piece after a full one.
  EXPECT_TRUE(c.feed("abcd\r\nefgh\r", Lines::on, &l));
  EXPECT_TRUE(c.feed("ij\n", Lines::on, &l));
  EXPECT_EQ(l.got, (std::vector<std::string>{"abcd|CRLF", "efgh|-", "\rij|LF"}));
}

TEST(ReplyTemplate, FieldsAndBraces) {
  auto t = ReplyTemplate::parse("You told me: {line} ({len}, #{n}, {peer}) {{x}}");
  ASSERT_TRUE(t);
  std::string out;
  t->render(out, "Hallo", "1.2.3.4:5", 7);
  EXPECT_EQ(out, "You told me: Hallo (5, #7, 1.2.3.4:5) {x}");
  EXPECT_TRUE(t->uses_peer());
  EXPECT_FALSE(ReplyTemplate::parse("got: {line}")->uses_peer());
  EXPECT_FALSE(ReplyTemplate::parse("{nope}"));
  EXPECT_FALSE(ReplyTemplate::parse("{line"));
  EXPECT_FALSE(ReplyTemplate::parse("x}"));
}

TEST(EscapeBytes, ControlBytesEscapedUtf8Kept) {
  EXPECT_EQ(escape_bytes(std::string("a\0b\x1b[2J\n", 8)), "a\\x00b\\x1b[2J\\n");
  EXPECT_EQ(escape_bytes("grüß dich"), "grüß dich");
  EXPECT_EQ(escape_bytes("\xff\xc3"), "\\xff\\xc3");
  EXPECT_EQ(escape_bytes("abcdef", 3), "abc...");
}

// Found by the fuzz target (tests/fuzz/corpus/framing/c1-csi): U+009B is CSI to a terminal, so the
// C1 controls are escaped like ESC, and so is what is not well-formed UTF-8.
TEST(EscapeBytes, C1ControlsAndMalformedUtf8Escaped) {
  EXPECT_EQ(escape_bytes("\xc2\x9b"
                         "2J"),
            "\\xc2\\x9b2J");
  EXPECT_EQ(escape_bytes("\xc2\x85"), "\\xc2\\x85");
  EXPECT_EQ(escape_bytes("\xc2\xa0\xc3\xa9"), "\xc2\xa0\xc3\xa9");      // NBSP, é: as they are.
  EXPECT_EQ(escape_bytes("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");           // Overlong '/'.
  EXPECT_EQ(escape_bytes("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // A surrogate.
  EXPECT_EQ(escape_bytes("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // Past U+10FFFF.
  EXPECT_EQ(escape_bytes("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80");      // An emoji.
}

TEST(Unescape, Escapes) {
  EXPECT_EQ(*unescape("a\\r\\n\\t\\\\\\x41\\x7e\\0"), std::string("a\r\n\t\\A~\0", 8));
  for (const char* bad : {"\\", "\\q", "\\x4", "\\xg0"}) EXPECT_FALSE(unescape(bad)) << bad;
}

TEST(MessageTemplate, Fields) {
  auto t = MessageTemplate::parse("GET {{x}} {conn}/{n}/{rand:10}\\r\\n");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->constant());
  EXPECT_TRUE(t->ends_with('\n'));
  std::uint64_t rng = 1;
  std::string out;
  t->render(out, 7, 3, rng);
  EXPECT_TRUE(out.rfind("GET {x} 3/7/", 0) == 0) << out;
  EXPECT_EQ(out.size(), std::string("GET {x} 3/7/N\r\n").size());
  auto c = MessageTemplate::parse("PING\\r\\n");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->constant());
  EXPECT_EQ(c->constant_text(), "PING\r\n");
  for (const char* bad : {"{x}", "{rand:0}", "{rand:x}", "{n", "}", "\\q"})
    EXPECT_FALSE(MessageTemplate::parse(bad)) << bad;
}

}  // namespace
}  // namespace parley
