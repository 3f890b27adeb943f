#include "parley/http.hpp"

#include <charconv>
#include <cstring>

namespace parley {
namespace {

constexpr char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

// 0-15, or -1 if c is not a hex digit.
constexpr int hex_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

// Just past the next LF at or after i, or npos if data has none yet.
std::size_t past_line_end(std::string_view data, std::size_t i) {
  const auto nl = data.find('\n', i);
  return nl == std::string_view::npos ? nl : nl + 1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value lists token (case-insensitive), e.g. "close".
bool lists(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The last coding of a Transfer-Encoding value ("gzip, chunked" -> "chunked").
std::string_view last_coding(std::string_view value) {
  auto comma = value.rfind(',');
  return trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
}

bool parse_length(std::string_view s, std::uint64_t& out) {
  s = trim(s);
  if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow 64 bits.
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// "HTTP/1.1 200 OK" (the reason phrase may be empty or absent).
bool parse_status_line(std::string_view line, HttpHead& head) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  if (line[7] != '0' && line[7] != '1') return false;
  head.minor_version = line[7] - '0';
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    char c = line[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    status = status * 10 + (c - '0');
  }
  if (status < 100 || (line.size() > 12 && line[12] != ' ')) return false;
  head.status = status;
  return true;
}

}  // namespace

HeadParse parse_response_head(std::string_view data, bool head_request, HttpHead& head) {
  head = HttpHead{};
  bool have_length = false, chunked = false, keep_alive = false;
  std::size_t at = 0;
  for (int line_no = 0;; ++line_no) {
    const void* nl = std::memchr(data.data() + at, '\n', data.size() - at);
    if (nl == nullptr) return HeadParse::incomplete;
    auto end = static_cast<std::size_t>(static_cast<const char*>(nl) - data.data());
    std::string_view line = data.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    at = end + 1;
    if (line_no == 0) {
      if (!parse_status_line(line, head)) return HeadParse::malformed;
      continue;
    }
    if (line.empty()) break;  // The end of the head.
    auto colon = line.find(':');
    // A name is a token: no whitespace before the colon (RFC 9112 section 5.1).
    if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t' ||
        line[colon - 1] == ' ' || line[colon - 1] == '\t')
      return HeadParse::malformed;
    std::string_view name = line.substr(0, colon), value = trim(line.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::uint64_t n = 0;
      if (!parse_length(value, n) || (have_length && n != head.content_length))
        return HeadParse::malformed;
      head.content_length = n;
      have_length = true;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = iequals(last_coding(value), "chunked");
    } else if (iequals(name, "connection")) {
      head.close |= lists(value, "close");
      keep_alive |= lists(value, "keep-alive");
    }
  }
  head.head_length = at;
  if (head.minor_version == 0 && !keep_alive) head.close = true;
  const int s = head.status;
  if (head_request || (s >= 100 && s < 200) || s == 204 || s == 304)
    head.body = HttpHead::Body::none;
  else if (chunked)  // Transfer-Encoding overrides Content-Length (RFC 9112 section 6.3).
    head.body = HttpHead::Body::chunked;
  else if (have_length)
    head.body = head.content_length ? HttpHead::Body::length : HttpHead::Body::none;
  else
    head.body = HttpHead::Body::until_close;
  return HeadParse::complete;
}

// One character of a chunk-size line; false (and failed) if it cannot be there.
bool ChunkedBody::size_char(char c) {
  if (const int v = hex_digit(c); v >= 0) {
    if (++digits_ > 15) return state_ = State::failed, false;  // Keeps remaining_ < 2^60.
    remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(v);
  } else if (digits_ == 0) {
    return state_ = State::failed, false;
  } else if (c == ';' || c == ' ' || c == '\t') {
    state_ = State::extension;
  } else if (c == '\r') {
    state_ = State::size_lf;
  } else if (c == '\n') {
    state_ = remaining_ ? State::data : State::trailer;
  } else {
    return state_ = State::failed, false;
  }
  return true;
}

std::size_t ChunkedBody::feed(std::string_view data) {
  std::size_t i = 0;
  while (i < data.size()) {
    const char c = data[i];
    switch (state_) {
      case State::size:
        if (!size_char(c)) return i;
        ++i;
        break;
      case State::extension:
        i = past_line_end(data, i);
        if (i == std::string_view::npos) return data.size();
        state_ = remaining_ ? State::data : State::trailer;
        break;
      case State::size_lf:
        if (c != '\n') return state_ = State::failed, i;
        state_ = remaining_ ? State::data : State::trailer;
        ++i;
        break;
      case State::data: {
        std::uint64_t take = std::min<std::uint64_t>(remaining_, data.size() - i);
        remaining_ -= take;
        i += static_cast<std::size_t>(take);
        if (remaining_ == 0) state_ = State::data_cr;
        break;
      }
      case State::data_cr:
        if (c == '\n') {
          state_ = State::size, digits_ = 0;
        } else if (c == '\r') {
          state_ = State::data_lf;
        } else {
          return state_ = State::failed, i;
        }
        ++i;
        break;
      case State::data_lf:
        if (c != '\n') return state_ = State::failed, i;
        state_ = State::size, digits_ = 0;
        ++i;
        break;
      case State::trailer:
        state_ = c == '\r' ? State::trailer_lf : c == '\n' ? State::done : State::trailer_line;
        ++i;
        if (state_ == State::done) return i;
        break;
      case State::trailer_line:
        i = past_line_end(data, i);
        if (i == std::string_view::npos) return data.size();
        state_ = State::trailer;
        break;
      case State::trailer_lf:
        if (c != '\n') return state_ = State::failed, i;
        state_ = State::done;
        return i + 1;
      case State::done:
      case State::failed:
        return i;
    }
  }
  return i;
}

std::string dechunk(std::string_view body) {
  std::string out;
  while (!body.empty()) {
    const auto nl = body.find('\n');
    if (nl == std::string_view::npos) break;
    std::uint64_t size = 0;
    std::size_t digits = 0;
    for (char c : body.substr(0, nl)) {
      const int v = hex_digit(c);
      if (v < 0 || ++digits > 15) break;
      size = size * 16 + static_cast<std::uint64_t>(v);
    }
    body.remove_prefix(nl + 1);
    if (digits == 0 || size == 0 || size > body.size()) break;
    out.append(body.substr(0, static_cast<std::size_t>(size)));
    body.remove_prefix(static_cast<std::size_t>(size));
    if (!body.empty() && body.front() == '\r') body.remove_prefix(1);
    if (!body.empty() && body.front() == '\n') body.remove_prefix(1);
  }
  return out;
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return invalid;
  auto lowered = [&](std::size_t n) {
    std::string s(url.substr(0, n));
    for (auto& c : s) c = lower(c);
    return s;
  };
  HttpUrl u;
  if (lowered(8) == "https://") {
    u.tls = true, u.port = 443;
    url.remove_prefix(8);
  } else if (lowered(7) == "http://") {
    url.remove_prefix(7);
  } else {
    return invalid;
  }
  const auto slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    u.target = std::string(url.substr(slash));
    if (u.target[0] == '?') u.target.insert(0, "/");
  }
  if (auto hash = u.target.find('#'); hash != std::string::npos) u.target.resize(hash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return invalid;
  u.authority = std::string(authority);
  std::string_view host = authority, port;
  if (authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid;
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return invalid;
      port = rest.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return invalid;
  u.host = std::string(host);
  if (!port.empty()) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || p != port.data() + port.size() || v == 0 || v > 65535) return invalid;
    u.port = static_cast<std::uint16_t>(v);
  }
  return u;
}

std::string http_request(std::string_view method, const HttpUrl& url,
                         const std::vector<std::string>& headers, std::string_view body) {
  std::string r;
  r.append(method).append(" ").append(url.target).append(" HTTP/1.1\r\n");
  bool host = false;
  for (const auto& h : headers) host |= iequals(std::string_view(h).substr(0, 5), "host:");
  if (!host) r.append("Host: ").append(url.authority).append("\r\n");
  for (const auto& h : headers) r.append(h).append("\r\n");
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  r.append("\r\n").append(body);
  return r;
}

}  // namespace parley
