#pragma once
// The pure parts of `parley talk` (no I/O; unit-tested): the transcript lines shown for what was
// sent and received, where a line editor's cursor sits within a prompt line that wraps, and the
// history file name of a target. Any thread.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "parley/answers.hpp"

namespace parley::cmd {

// A line longer than this is handled in pieces of this size, in both directions, so that memory
// stays bounded and nothing is cut: the pieces are shown one after another, each further piece
// marked '+'. 100 kB lines are shown whole.
inline constexpr std::size_t kTalkPiece = std::size_t{1} << 20;

// The transcript: "> line sent", "< answer  0.21 ms", "* sent by the server unasked", and "+ ..."
// for a piece that continues the previous one. Everything received or typed is escaped (valid
// UTF-8 is shown as it is). Keeps which line is still open, so one per conversation.
class Transcript {
 public:
  // One shown line per line of the event's text; the round-trip time follows the first line of
  // an answer's last piece.
  std::vector<std::string> received(const AnswerCollector::Event& e);
  // A line sent (whole, or a piece with more to follow).
  std::string sent(std::string_view line, bool more);

 private:
  // The last piece shown of each direction had more to follow: the next one continues it, marked
  // +, or >+ / <+ (*+) when the other direction was shown in between (an echo comes back while a
  // long line is still going out).
  bool sent_continuing_ = false, received_continuing_ = false;
  bool last_was_sent_ = false;
};

// "0.21 ms"
std::string rtt_text(std::chrono::nanoseconds d);

// The row of the cursor (0: the prompt's first row) when `prompt` and then `text` are drawn on a
// terminal `columns` wide with the cursor before text[cursor], by libedit's rules: a full row
// moves on to the next, a wide character that does not fit starts the next row, a control
// character shows as ^X, a tab runs to the next multiple of 8, a non-printable one as \U+XXXX.
int cursor_row(std::wstring_view prompt, std::wstring_view text, std::size_t cursor, int columns);

// A file name for a target's history ("127.0.0.1:12345", "udp-[::1]:53", "unix-%2Frun%2Fa.sock"):
// '/', '%', control bytes and a leading '.' are %-escaped; a name over 200 bytes is shortened
// and ends in a hash of the whole, so different targets never share a file.
std::string history_file_name(std::string_view target);

}  // namespace parley::cmd
