#include "doc/footer.hpp"

#include <cctype>

namespace parley::doc {
namespace {

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(' ');
  if (a == std::string::npos) return {};
  return s.substr(a, s.find_last_not_of(' ') - a + 1);
}

std::size_t indent_of(const std::string& s) {
  std::size_t n = s.find_first_not_of(' ');
  return n == std::string::npos ? s.size() : n;
}

// Splits "a  b   c" at runs of two or more spaces.
std::vector<std::string> columns(const std::string& line) {
  std::vector<std::string> out;
  std::string s = trim(line);
  std::size_t start = 0;
  while (start < s.size()) {
    std::size_t gap = s.find("  ", start);
    out.push_back(trim(s.substr(start, gap - start)));
    if (gap == std::string::npos) break;
    start = s.find_first_not_of(' ', gap);
  }
  return out;
}

bool ends_sentence(const std::string& line) {
  return !line.empty() && (line.back() == '.' || line.back() == ':');
}

// "0 ok, 1 network error (refused, reset), 2 other" -> {0, ok}, {1, network error (...)}, ...
std::vector<ExitCode> split_codes(const std::string& sentence) {
  std::vector<ExitCode> out;
  std::size_t start = 0;
  while (start < sentence.size()) {
    std::size_t next = start;
    for (;;) {  // The next ", " that is followed by a number starts the next code.
      next = sentence.find(", ", next);
      if (next == std::string::npos) break;
      if (next + 2 < sentence.size() &&
          std::isdigit(static_cast<unsigned char>(sentence[next + 2])))
        break;
      next += 2;
    }
    std::string part = trim(sentence.substr(start, next - start));
    std::size_t digits = 0;
    while (digits < part.size() && std::isdigit(static_cast<unsigned char>(part[digits]))) ++digits;
    if (digits > 0)
      out.push_back({part.substr(0, digits), trim(part.substr(digits))});
    else if (!out.empty())
      out.back().meaning += ", " + part;
    if (next == std::string::npos) break;
    start = next + 2;
  }
  return out;
}

// Removes "Exit status: ...." (up to the full stop that ends the sentence) from text.
std::vector<ExitCode> take_exit_status(std::string& text) {
  const std::string marker = "Exit status:";
  std::size_t pos = text.find(marker);
  if (pos == std::string::npos) return {};
  std::size_t end = pos;
  for (;;) {
    end = text.find('.', end + 1);
    if (end == std::string::npos || end + 1 == text.size() || text[end + 1] == ' ' ||
        text[end + 1] == '\n')
      break;
  }
  if (end == std::string::npos) end = text.size() - 1;
  std::string sentence = text.substr(pos + marker.size(), end - pos - marker.size());
  for (auto& c : sentence)
    if (c == '\n') c = ' ';
  text.erase(pos, end + 1 - pos);
  while (pos > 0 && text[pos - 1] == ' ') text.erase(--pos, 1);  // "... list. " before it.
  return split_codes(trim(sentence));
}

class Parser {
 public:
  Footer footer;

  void line(const std::string& raw) {
    if (in_examples_) {
      if (indent_of(raw) > 0 && !trim(raw).empty()) return example(raw);
      in_examples_ = false;
    }
    const std::string text = trim(raw);
    if (text.empty()) return flush();
    const std::string marker = "Examples:";
    if (text.size() >= marker.size() &&
        text.compare(text.size() - marker.size(), marker.size(), marker) == 0) {
      std::string before = trim(text.substr(0, text.size() - marker.size()));
      if (!before.empty()) prose_.push_back(before);
      flush();
      in_examples_ = true;
      return;
    }
    if (indent_of(raw) == 0) {
      flush_indented();
      prose_.push_back(text);
      if (ends_sentence(text)) flush_prose();
      return;
    }
    // An indented line without columns right after unfinished prose continues that prose.
    if (indented_.empty() && !prose_.empty() && columns(raw).size() == 1) {
      prose_.push_back(text);
      if (ends_sentence(text)) flush_prose();
      return;
    }
    flush_prose();
    indented_.push_back(raw);
  }

  void flush() {
    flush_prose();
    flush_indented();
  }

 private:
  void example(const std::string& raw) {
    auto parts = columns(raw);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (i == 0 || parts[i].rfind("parley ", 0) == 0 || footer.examples.empty()) {
        footer.examples.push_back({parts[i], {}});
      } else {
        auto& comment = footer.examples.back().comment;
        comment += (comment.empty() ? "" : " ") + parts[i];
      }
    }
  }

  void flush_prose() {
    if (prose_.empty()) return;
    Block b;
    for (const auto& l : prose_) b.text += (b.text.empty() ? "" : " ") + l;
    footer.blocks.push_back(std::move(b));
    prose_.clear();
  }

  // Two or more "term  description" rows (a deeper indented line without columns continues the
  // row above) make a table; anything else is kept line for line.
  void flush_indented() {
    if (indented_.empty()) return;
    std::size_t base = indent_of(indented_.front());
    Block table;
    table.kind = Block::Kind::table;
    bool is_table = true;
    for (const auto& l : indented_) {
      auto parts = columns(l);
      if (parts.size() == 1 && indent_of(l) > base && !table.rows.empty()) {
        table.rows.back().second += " " + parts[0];
      } else if (parts.size() == 2) {
        table.rows.emplace_back(parts[0], parts[1]);
      } else {
        is_table = false;
      }
    }
    if (is_table && table.rows.size() >= 2) {
      footer.blocks.push_back(std::move(table));
    } else {
      Block verbatim;
      verbatim.kind = Block::Kind::verbatim;
      for (const auto& l : indented_) verbatim.lines.push_back(l.substr(std::min(base, l.size())));
      footer.blocks.push_back(std::move(verbatim));
    }
    indented_.clear();
  }

  std::vector<std::string> prose_, indented_;
  bool in_examples_ = false;
};

}  // namespace

Footer parse_footer(const std::string& footer) {
  std::string text = footer;
  auto codes = take_exit_status(text);
  Parser p;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    p.line(text.substr(start, nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  p.flush();
  p.footer.exit_codes = std::move(codes);
  return p.footer;
}

std::vector<ExitCode> default_exit_codes() {
  return {{"0", "success"},
          {"1", "a network error (refused, reset, timed out, unreachable) or lost output"},
          {"2", "a usage error, or a local error such as an address that cannot be bound"}};
}

}  // namespace parley::doc
