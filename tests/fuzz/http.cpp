// HTTP/1.1 response framing and URLs (http.hpp): parse_response_head, ChunkedBody, dechunk,
// parse_http_url and http_request. Input: [flags] [chunk] bytes; flag bit 0: a HEAD request.
// The bytes are a response (head and body) and, up to the first newline, a URL as well.

#include "parley/http.hpp"
#include "fuzz.hpp"

using namespace parley;

namespace {

void check_head(std::string_view data, bool head_request) {
  HttpHead head;
  const HeadParse r = parse_response_head(data, head_request, head);
  if (r != HeadParse::complete) return;
  FUZZ_CHECK(head.head_length >= 1 && head.head_length <= data.size());
  FUZZ_CHECK(data[head.head_length - 1] == '\n');
  FUZZ_CHECK(head.status >= 100 && head.status <= 999);
  if (head_request) FUZZ_CHECK(head.body == HttpHead::Body::none);
  // The head is all that decides: the same bytes without what follows parse the same.
  HttpHead again;
  FUZZ_CHECK(parse_response_head(data.substr(0, head.head_length), head_request, again) ==
             HeadParse::complete);
  FUZZ_CHECK(again.head_length == head.head_length && again.status == head.status &&
             again.body == head.body && again.content_length == head.content_length &&
             again.close == head.close);
  // One byte less is never a complete head.
  FUZZ_CHECK(parse_response_head(data.substr(0, head.head_length - 1), head_request, again) !=
             HeadParse::complete);
}

// Fed whole or in pieces of `chunk` bytes, a chunked body takes the same bytes to the same end.
void check_chunked(std::string_view body, std::size_t chunk) {
  ChunkedBody whole;
  const std::size_t used = whole.feed(body);
  FUZZ_CHECK(used <= body.size());
  if (!whole.done() && !whole.failed()) FUZZ_CHECK(used == body.size());
  ChunkedBody pieces;
  std::size_t fed = 0;
  while (fed < body.size() && !pieces.done() && !pieces.failed()) {
    std::string_view piece = body.substr(fed, chunk);
    std::size_t n = pieces.feed(piece);
    FUZZ_CHECK(n <= piece.size());
    fed += n;
    if (n < piece.size()) break;
  }
  FUZZ_CHECK(pieces.done() == whole.done() && pieces.failed() == whole.failed());
  if (whole.done()) {
    FUZZ_CHECK(fed == used);
    FUZZ_CHECK(dechunk(body.substr(0, used)).size() <= used);
  }
}

void check_url(std::string_view text) {
  auto url = parse_http_url(text);
  if (!url) return;
  FUZZ_CHECK(!url->host.empty() && url->port != 0);
  FUZZ_CHECK(!url->target.empty() && url->target.front() == '/');
  std::string request = http_request("GET", *url, {}, "");
  // Nothing from the URL can end the request line or a header early.
  std::size_t line_end = request.find("\r\n");
  FUZZ_CHECK(line_end != std::string::npos);
  FUZZ_CHECK(request.substr(0, line_end).find_first_of("\r\n") == std::string::npos);
  FUZZ_CHECK(request.size() >= 4 && request.compare(request.size() - 4, 4, "\r\n\r\n") == 0);
  FUZZ_CHECK(request.find("\r\n\r\n") == request.size() - 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool head_request = (data[0] & 1) != 0;
  const std::size_t chunk = 1 + data[1] % 64;
  std::string_view text = fuzz::bytes(data + 2, size - 2);
  check_head(text, head_request);
  HttpHead head;
  if (parse_response_head(text, head_request, head) == HeadParse::complete &&
      head.body == HttpHead::Body::chunked)
    check_chunked(text.substr(head.head_length), chunk);
  check_chunked(text, chunk);
  check_url(text.substr(0, text.find('\n')));
  return 0;
}
