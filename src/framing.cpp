#include "parley/framing.hpp"

#include <charconv>
#include <cstring>

namespace parley {

Result<ReplyTemplate> ReplyTemplate::parse(std::string_view text) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  ReplyTemplate t;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.parts_.push_back({Kind::literal, std::move(literal)});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
      continue;
    }
    if (c == '}') return invalid;
    if (c != '{') {
      literal += c;
      continue;
    }
    auto close = text.find('}', i);
    if (close == std::string_view::npos) return invalid;
    std::string_view name = text.substr(i + 1, close - i - 1);
    Kind kind;
    if (name == "line")
      kind = Kind::line;
    else if (name == "peer")
      kind = Kind::peer;
    else if (name == "n")
      kind = Kind::n;
    else if (name == "len")
      kind = Kind::len;
    else
      return invalid;
    flush();
    t.parts_.push_back({kind, {}});
    i = close;
  }
  flush();
  return t;
}

void ReplyTemplate::render(std::string& out, std::string_view line, std::string_view peer,
                           std::uint64_t n) const {
  for (const auto& p : parts_) {
    switch (p.kind) {
      case Kind::literal:
        out += p.text;
        break;
      case Kind::line:
        out += line;
        break;
      case Kind::peer:
        out += peer;
        break;
      case Kind::n:
        out += std::to_string(n);
        break;
      case Kind::len:
        out += std::to_string(line.size());
        break;
    }
  }
}

bool ReplyTemplate::uses_peer() const {
  for (const auto& p : parts_)
    if (p.kind == Kind::peer) return true;
  return false;
}

Result<std::string> unescape(std::string_view text) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return invalid;
    switch (text[i]) {
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case '0':
        out += '\0';
        break;
      case '\\':
        out += '\\';
        break;
      case 'x': {
        int hi = i + 1 < text.size() ? hex(text[i + 1]) : -1;
        int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) return invalid;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        return invalid;
    }
  }
  return out;
}

Result<MessageTemplate> MessageTemplate::parse(std::string_view text) {
  const auto invalid = std::make_error_code(std::errc::invalid_argument);
  MessageTemplate t;
  std::string literal;  // Raw text; escapes are resolved per literal run.
  auto flush = [&]() -> bool {
    if (literal.empty()) return true;
    auto bytes = unescape(literal);
    literal.clear();
    if (!bytes) return false;
    if (!t.parts_.empty() && t.parts_.back().field == Field::none)
      t.parts_.back().text += *bytes;
    else
      t.parts_.push_back({Field::none, std::move(*bytes)});
    return true;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      literal += c;
      ++i;
      continue;
    }
    if (c == '}') return invalid;
    if (c != '{') {
      literal += c;
      continue;
    }
    auto close = text.find('}', i);
    if (close == std::string_view::npos || !flush()) return invalid;
    std::string_view name = text.substr(i + 1, close - i - 1);
    Part part{Field::none, {}};
    if (name == "n") {
      part.field = Field::n;
    } else if (name == "conn") {
      part.field = Field::conn;
    } else if (name.rfind("rand:", 0) == 0) {
      auto digits = name.substr(5);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), part.bound);
      if (ec != std::errc() || p != digits.data() + digits.size() || part.bound == 0 ||
          part.bound > (std::uint64_t{1} << 63))
        return invalid;
      part.field = Field::rand;
    } else {
      return invalid;
    }
    t.parts_.push_back(std::move(part));
    i = close;
  }
  if (!flush()) return invalid;
  return t;
}

MessageTemplate MessageTemplate::literal(std::string bytes) {
  MessageTemplate t;
  if (!bytes.empty()) t.parts_.push_back({Field::none, std::move(bytes)});
  return t;
}

void MessageTemplate::render(std::string& out, std::uint64_t n, std::uint64_t conn,
                             std::uint64_t& rng) const {
  char digits[24];
  auto number = [&](std::uint64_t v) {
    auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), v);
    out.append(digits, end);
  };
  for (const auto& p : parts_) {
    switch (p.field) {
      case Field::none:
        out += p.text;
        break;
      case Field::n:
        number(n);
        break;
      case Field::conn:
        number(conn);
        break;
      case Field::rand:
        // xorshift64*: cheap, and plenty for spreading keys.
        rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
        number((rng * 0x2545F4914F6CDD1DULL) % p.bound);
        break;
    }
  }
}

bool LineBuffer::feed(std::string_view data, OnLine on_line, void* context, std::size_t* used) {
  const std::size_t total = data.size();
  if (used != nullptr) *used = total;
  auto stop = [&] {
    if (used != nullptr) *used = total - data.size();
    return true;
  };
  while (!data.empty()) {
    const char* nl = static_cast<const char*>(std::memchr(data.data(), '\n', data.size()));
    std::size_t length = nl == nullptr ? data.size() : static_cast<std::size_t>(nl - data.data());
    // What counts against max_line: the line so far without a CR that ends it, the first half
    // of a CRLF (if more of the line follows, that CR is counted then), so that a line of
    // max_line bytes is taken with either ending.
    std::size_t counted = partial_.size() + length;
    const char last = length > 0 ? data[length - 1] : partial_.empty() ? '\0' : partial_.back();
    if (last == '\r') --counted;
    if (split_long_ && counted > max_line_) {
      if (partial_.size() >= max_line_) {  // A full piece and a CR that turned out not to end it.
        std::string rest = partial_.substr(max_line_);
        partial_.resize(max_line_);
        bool more = on_line(context, partial_, "");
        partial_ = std::move(rest);
        if (!more) return stop();
        continue;
      }
      std::size_t take = max_line_ - partial_.size();
      partial_.append(data.substr(0, take));
      data.remove_prefix(take);
      bool more = on_line(context, partial_, "");
      partial_.clear();
      if (!more) return stop();
      continue;
    }
    if (counted > max_line_) return false;
    if (nl == nullptr) {
      partial_.append(data);
      return true;
    }
    std::string_view line = data.substr(0, length);
    if (!partial_.empty()) {
      partial_.append(line);
      line = partial_;
    }
    std::string_view eol = "\n";
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
      eol = "\r\n";
    }
    bool more = on_line(context, line, eol);
    if (!partial_.empty()) {
      partial_.clear();
      partial_.shrink_to_fit();  // An idle connection holds no buffer.
    }
    data.remove_prefix(length + 1);
    if (!more) return stop();
  }
  return true;
}

namespace {

// Length of the well-formed UTF-8 sequence (2..4 bytes) starting at data[i], or 0. Overlong forms,
// surrogates, code points past U+10FFFF and the C1 controls U+0080..U+009F (a terminal takes
// U+009B for CSI, as it does ESC [) are not shown as they are.
std::size_t utf8_length(std::string_view data, std::size_t i) {
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(data[i + k]); };
  const unsigned char b = at(0);
  std::size_t n = b >= 0xC2 && b <= 0xDF   ? 2
                  : b >= 0xE0 && b <= 0xEF ? 3
                  : b >= 0xF0 && b <= 0xF4 ? 4
                                           : 0;
  if (n == 0 || i + n > data.size()) return 0;
  // The second byte's range depends on the first (Unicode 15, table 3-7).
  unsigned char lo = 0x80, hi = 0xBF;
  if (b == 0xC2) lo = 0xA0;  // Not U+0080..U+009F.
  if (b == 0xE0) lo = 0xA0;
  if (b == 0xED) hi = 0x9F;
  if (b == 0xF0) lo = 0x90;
  if (b == 0xF4) hi = 0x8F;
  if (at(1) < lo || at(1) > hi) return 0;
  for (std::size_t k = 2; k < n; ++k)
    if ((at(k) & 0xC0) != 0x80) return 0;
  return n;
}

}  // namespace

std::string escape_bytes(std::string_view data, std::size_t limit) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (out.size() >= limit) {
      out += "...";
      break;
    }
    auto c = static_cast<unsigned char>(data[i]);
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\\')
      out += "\\\\";
    else if (c >= 0x20 && c < 0x7f)
      out += static_cast<char>(c);
    else if (std::size_t n = c >= 0x80 ? utf8_length(data, i) : 0) {
      out.append(data.substr(i, n));
      i += n - 1;
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace parley
