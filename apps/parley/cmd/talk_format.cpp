#include "talk_format.hpp"

#include <wchar.h>
#include <cwctype>

#include <algorithm>
#include <cstdint>

#include <fmt/format.h>

#include "parley/framing.hpp"

namespace parley::cmd {

std::string rtt_text(std::chrono::nanoseconds d) {
  return fmt::format("{:.2f} ms", std::chrono::duration<double, std::milli>(d).count());
}

std::vector<std::string> Transcript::received(const AnswerCollector::Event& e) {
  const bool answer = e.kind == AnswerCollector::Event::Kind::answer;
  std::vector<std::string> lines;
  std::string_view text = e.text;
  bool first = true;
  for (;;) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    // A CR before a line end is the line end's; at the end of a piece it may be the data's.
    if (!line.empty() && line.back() == '\r' && (nl != std::string_view::npos || !e.more))
      line.remove_suffix(1);
    const char* mark = answer ? "<" : "*";
    if (first && received_continuing_) mark = !last_was_sent_ ? "+" : answer ? "<+" : "*+";
    std::string shown = fmt::format("{} {}", mark, escape_bytes(line, SIZE_MAX));
    if (first && answer && !e.more) shown += "  " + rtt_text(e.rtt);
    lines.push_back(std::move(shown));
    first = false;
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
    if (text.empty()) break;
  }
  received_continuing_ = e.more;
  last_was_sent_ = false;
  return lines;
}

std::string Transcript::sent(std::string_view line, bool more) {
  const char* mark = !sent_continuing_ ? ">" : last_was_sent_ ? "+" : ">+";
  std::string shown = fmt::format("{} {}", mark, escape_bytes(line, SIZE_MAX));
  sent_continuing_ = more;
  last_was_sent_ = true;
  return shown;
}

namespace {

// libedit's refresh (re_putc): a character `width` columns wide at the cursor position.
struct Layout {
  int columns, h = 0, v = 0;
  void put(int width) {
    width = std::clamp(width, 0, columns);
    while (h + width > columns) put(1);  // Does not fit: the rest of the row is blank.
    h += width;
    if (h >= columns) {
      h = 0;
      ++v;
    }
  }
  void add(wchar_t c) {  // re_addc
    if (c == L'\t') {
      do put(1);
      while (h % 8 != 0);
    } else if (c == L'\n') {
      h = 0;
      ++v;
    } else if (c < 0x100 && std::iswcntrl(static_cast<wint_t>(c))) {
      put(1), put(1);  // ^X
    } else if (std::iswprint(static_cast<wint_t>(c))) {
      put(::wcwidth(c));
    } else {
      for (int i = c > 0xffff ? 8 : 7; i > 0; --i) put(1);  // \U+XXXX
    }
  }
};

}  // namespace

int cursor_row(std::wstring_view prompt, std::wstring_view text, std::size_t cursor, int columns) {
  Layout l{std::max(columns, 1)};
  for (wchar_t c : prompt) l.put(std::iswprint(static_cast<wint_t>(c)) ? ::wcwidth(c) : 1);
  cursor = std::min(cursor, text.size());
  for (std::size_t i = 0; i < cursor; ++i) l.add(text[i]);
  // A wide character at the cursor that does not fit on this row is drawn on the next.
  if (cursor < text.size() && std::iswprint(static_cast<wint_t>(text[cursor])) &&
      l.h + ::wcwidth(text[cursor]) > l.columns)
    return l.v + 1;
  return l.v;
}

std::string history_file_name(std::string_view target) {
  static const char* hex = "0123456789ABCDEF";
  std::string name;
  for (std::size_t i = 0; i < target.size(); ++i) {
    auto c = static_cast<unsigned char>(target[i]);
    if (c == '/' || c == '%' || c < 0x20 || c == 0x7f || (i == 0 && c == '.')) {
      name += '%';
      name += hex[c >> 4];
      name += hex[c & 15];
    } else {
      name += static_cast<char>(c);
    }
  }
  if (name.size() <= 200) return name;
  std::uint64_t h = 14695981039346656037ull;  // FNV-1a
  for (unsigned char c : target) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{}-{:016x}", name.substr(0, 180), h);
}

}  // namespace parley::cmd
