#pragma once
// HTTP/1.1 response framing (RFC 9112) for `parley bench http`: where a response's head ends, its
// status, and how its body is delimited (Content-Length, chunked, or until the server closes).
// Pure functions and a small state machine over bytes: no I/O, no allocation, no copies, so the
// load generator's hot path can call them on every read, and a fuzzer can call them on anything.
// Thread-safe (no shared state); one ChunkedBody per response being read.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/result.hpp"

namespace parley {

struct HttpHead {
  int status = 0;
  int minor_version = 1;        // HTTP/1.<minor>
  std::size_t head_length = 0;  // Bytes up to and including the empty line that ends the head.
  enum class Body : std::uint8_t { none, length, chunked, until_close } body = Body::none;
  std::uint64_t content_length = 0;
  bool close = false;  // The server closes after this response (Connection: close, HTTP/1.0).
};

enum class HeadParse : std::uint8_t { complete, incomplete, malformed };

// Parses the response head at the start of data. incomplete: no empty line yet (the caller keeps
// the bytes and calls again with more); malformed: not an HTTP/1.x response head, a bad status,
// or conflicting or unparsable Content-Length values. head_request: the response answers a HEAD
// request, so it has no body whatever its headers say (as do 1xx, 204 and 304 responses).
// Lines may end in CRLF or a bare LF (RFC 9112 section 2.2).
HeadParse parse_response_head(std::string_view data, bool head_request, HttpHead& head);

// A chunked body (RFC 9112 section 7.1), consumed piece by piece without keeping any of it:
// chunk sizes, extensions, data, the last chunk and the trailer section.
class ChunkedBody {
 public:
  // Consumes the body's bytes from the start of data; returns how many belong to the body (less
  // than data.size() only once done(), or when the input is malformed: then failed()).
  std::size_t feed(std::string_view data);
  bool done() const { return state_ == State::done; }
  bool failed() const { return state_ == State::failed; }

 private:
  bool size_char(char c);
  enum class State : std::uint8_t {
    size,       // Hex digits of a chunk size.
    extension,  // ";name=value" up to the line end.
    size_lf,    // The LF after a size line's CR.
    data,       // remaining_ bytes of chunk data.
    data_cr,    // CRLF after the data.
    data_lf,
    trailer,  // Start of a trailer line (or the empty line that ends the body).
    trailer_line,
    trailer_lf,  // The LF after an empty line's CR: the end.
    done,
    failed
  };
  State state_ = State::size;
  int digits_ = 0;
  std::uint64_t remaining_ = 0;
};

// The data of a complete chunked body (sizes, extensions and trailers dropped), for checking a
// body's content; what does not parse ends the result early.
std::string dechunk(std::string_view body);

// "http://host[:port][/path?query]" (or https://: tls, port 443 by default): host may be a name,
// an IPv4 or a [bracketed] IPv6 literal.
struct HttpUrl {
  std::string host;  // Without brackets.
  std::uint16_t port = 80;
  bool tls = false;          // https://
  std::string target = "/";  // The request target: path and query.
  std::string authority;     // For the Host header: as written ("[::1]:8080").
};
// Errors: invalid_argument (not an http:// or https:// URL, a bad port, spaces or control bytes).
Result<HttpUrl> parse_http_url(std::string_view url);

// An HTTP/1.1 request: "METHOD target HTTP/1.1", Host, the extra headers ("Name: value"), and
// Content-Length when there is a body (or the method usually carries one).
std::string http_request(std::string_view method, const HttpUrl& url,
                         const std::vector<std::string>& headers, std::string_view body);

}  // namespace parley
