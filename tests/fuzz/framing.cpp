// ReplyTemplate::parse/render, LineBuffer::feed (plain, stop-early, split-long) and escape_bytes
// (framing.hpp). Input: [max_line] [flags] [chunk] template NUL stream.
//   max_line: 1..64; flags: bit 0 split long lines, bits 1-3 stop after every k-th line
//   (0: never); chunk: the stream is fed in pieces of 1..256 bytes.

#include <algorithm>

#include "fuzz.hpp"
#include "parley/framing.hpp"

using namespace parley;

namespace {

struct Sink {
  std::size_t max_line = 0;
  bool split_long = false;
  unsigned stop_every = 0;
  std::size_t lines = 0;
  std::string rebuilt;  // Every delivered line with its end-of-line: must be the input again.
  const ReplyTemplate* reply = nullptr;
  std::string out;

  static bool on(void* self, std::string_view line, std::string_view eol) {
    auto* s = static_cast<Sink*>(self);
    FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    FUZZ_CHECK(eol == "\n" || eol == "\r\n" || (eol.empty() && s->split_long));
    // A line (its ending aside) is never longer than the bound; a split piece is the bound.
    FUZZ_CHECK(line.size() <= s->max_line);
    if (eol.empty()) FUZZ_CHECK(line.size() == s->max_line);
    s->rebuilt.append(line).append(eol);
    if (s->reply != nullptr) {
      s->out.clear();
      s->reply->render(s->out, line, "192.0.2.1:5", s->lines + 1);
    }
    ++s->lines;
    return s->stop_every == 0 || s->lines % s->stop_every != 0;
  }
};

void check_template(std::string_view text) {
  auto t = ReplyTemplate::parse(text);
  if (!t) return;
  // Without fields a template is its text with the braces unescaped.
  if (text.find("{l") == std::string_view::npos && text.find("{p") == std::string_view::npos &&
      text.find("{n") == std::string_view::npos) {
    std::string out;
    t->render(out, "LINE", "PEER", 1);
    FUZZ_CHECK(out.size() <= text.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  Sink sink;
  sink.max_line = 1 + data[0] % 64;
  sink.split_long = (data[1] & 1) != 0;
  sink.stop_every = (data[1] >> 1) & 7;
  const std::size_t chunk = 1 + data[2];
  std::string_view rest = fuzz::bytes(data + 3, size - 3);
  std::size_t nul = rest.find('\0');
  std::string_view text = rest.substr(0, nul);
  std::string_view stream =
      nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);

  check_template(text);
  auto reply = ReplyTemplate::parse(text);
  if (reply) sink.reply = &*reply;

  LineBuffer buffer(sink.max_line, sink.split_long);
  std::size_t fed = 0;  // Bytes of the stream the buffer took.
  bool ok = true;
  while (ok && fed < stream.size()) {
    std::string_view piece = stream.substr(fed, chunk);
    std::size_t used = 0;
    const std::size_t lines = sink.lines;
    ok = buffer.feed(piece, Sink::on, &sink, &used);
    if (!ok) break;  // A line over the bound: the caller closes the connection.
    FUZZ_CHECK(used <= piece.size());
    // Every call makes progress: it takes bytes, or delivers the line it held (split-long).
    FUZZ_CHECK(used > 0 || sink.lines > lines);
    fed += used;
  }
  if (ok) {
    // Delivered lines are the stream's start; what is held is one incomplete line, within bound.
    FUZZ_CHECK(stream.substr(0, sink.rebuilt.size()) == sink.rebuilt);
    std::size_t held = fed - sink.rebuilt.size();
    // Within bound; a CR past it may be the first half of a CRLF, which does not count.
    FUZZ_CHECK(held <= sink.max_line ||
               (held == sink.max_line + 1 && stream[sink.rebuilt.size() + held - 1] == '\r'));
    FUZZ_CHECK(buffer.has_partial() == (held > 0));
    FUZZ_CHECK(stream.substr(sink.rebuilt.size(), held).find('\n') == std::string_view::npos);
  }
  if (sink.split_long) FUZZ_CHECK(ok);  // Splitting never fails a feed.

  const std::size_t limit = data[0];
  std::string shown = escape_bytes(stream, limit);
  FUZZ_CHECK(shown.size() <= limit + 7);
  for (unsigned char c : shown) FUZZ_CHECK(c >= 0x20 && c != 0x7f);
  // Nor C1 controls (U+0080..U+009F) in UTF-8: a terminal takes U+009B for CSI.
  for (std::size_t i = 0; i + 1 < shown.size(); ++i)
    FUZZ_CHECK(!(shown[i] == '\xc2' && static_cast<unsigned char>(shown[i + 1]) < 0xa0));
  return 0;
}
