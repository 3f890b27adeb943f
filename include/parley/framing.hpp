#pragma once
// Framing for line protocols: splitting a byte stream into lines (LF or CRLF) with a bound on line
// length, and reply templates such as "You told me: {line}". Used by `parley echo --lines`.
// Not thread-safe; one instance per connection (LineBuffer) or shared read-only (ReplyTemplate).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/result.hpp"

namespace parley {

// A parsed reply template. Fields: {line} the line without its end-of-line, {peer} the client's
// address, {n} the message number on this connection (from 1), {len} the line's length in bytes.
// "{{" and "}}" are literal braces.
class ReplyTemplate {
 public:
  // Errors: std::errc::invalid_argument for an unknown field or an unmatched brace.
  static Result<ReplyTemplate> parse(std::string_view text);
  // Appends the reply for one line, without an end-of-line, to out.
  void render(std::string& out, std::string_view line, std::string_view peer,
              std::uint64_t n) const;
  // Whether {peer} appears, so callers format the address only when it is needed.
  bool uses_peer() const;

 private:
  enum class Kind { literal, line, peer, n, len };
  struct Part {
    Kind kind;
    std::string text;
  };
  std::vector<Part> parts_;
};

// Turns the escapes of text given on the command line into bytes: \r \n \t \\ \0 and \xNN
// (two hex digits). Errors: invalid_argument for another escape, a bad \x or a trailing \.
Result<std::string> unescape(std::string_view text);

// A request template (`bench --message`): bytes, with the escapes above, and fields {n} (request
// number on its connection, from 1), {conn} (connection number, from 1) and {rand:N} (a random
// number from 0 to N-1, N at most 2^63); "{{" and "}}" are literal braces. Shared read-only.
class MessageTemplate {
 public:
  // Errors: invalid_argument for an unknown field, a bad escape or an unmatched brace.
  static Result<MessageTemplate> parse(std::string_view text);
  // A template of bytes as they are (no escapes, no fields): --message-file.
  static MessageTemplate literal(std::string bytes);
  // No fields: every request is the same (and render() need not be called).
  bool constant() const {
    return parts_.size() <= 1 && (parts_.empty() || parts_[0].field == Field::none);
  }
  std::string constant_text() const { return parts_.empty() ? std::string() : parts_[0].text; }
  // Whether every request ends in this byte (a line protocol's LF).
  bool ends_with(char c) const {
    return !parts_.empty() && parts_.back().field == Field::none && !parts_.back().text.empty() &&
           parts_.back().text.back() == c;
  }
  // Appends one request to out; rng is the caller's random state (any non-zero seed).
  void render(std::string& out, std::uint64_t n, std::uint64_t conn, std::uint64_t& rng) const;

 private:
  enum class Field { none, n, conn, rand };
  struct Part {
    Field field;
    std::string text;         // Literal bytes (Field::none).
    std::uint64_t bound = 0;  // {rand:N}
  };
  std::vector<Part> parts_;
};

// Collects bytes until whole lines are available. Holds memory only while a line is incomplete,
// and never more than max_line bytes.
class LineBuffer {
 public:
  // Returns false to stop feeding after this line (the caller's output is full).
  using OnLine = bool (*)(void* context, std::string_view line, std::string_view eol);
  // max_line bounds a line without its ending (so a CRLF line may be one byte longer on the
  // wire). split_long: a line longer than max_line is delivered in pieces of max_line bytes (with
  // an empty eol) instead of failing the feed.
  explicit LineBuffer(std::size_t max_line, bool split_long = false)
      : max_line_(max_line), split_long_(max_line > 0 && split_long) {}

  // Calls on_line for every complete line in what was buffered plus data, in order. Returns false
  // (after delivering the lines before it) when a line grows past max_line without ending. When
  // on_line asks to stop, feed returns true at once; *used (if given) tells how many bytes of
  // data were consumed, and the caller feeds the rest later.
  bool feed(std::string_view data, OnLine on_line, void* context, std::size_t* used = nullptr);
  bool has_partial() const { return !partial_.empty(); }
  std::size_t max_line() const { return max_line_; }

 private:
  std::size_t max_line_;
  bool split_long_;
  std::string partial_;
};

// Makes bytes safe to show on a terminal or in a log line: printable ASCII and valid UTF-8 as
// they are, \n \r \t \\ as escapes, every other byte as \xNN (so a NUL or an escape sequence
// from the network can never reach the terminal raw). Output stops after `limit` bytes with "...".
std::string escape_bytes(std::string_view data, std::size_t limit = 200);

}  // namespace parley
