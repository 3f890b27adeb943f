#include "talk_editor.hpp"

#include <fcntl.h>
#include <langinfo.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <clocale>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>

#include <fmt/format.h>

#include "output.hpp"
#include "parley/framing.hpp"
#include "talk_format.hpp"

namespace parley::cmd {
namespace {

wchar_t* prompt(EditLine*) {
  static wchar_t text[] = L"> ";
  return text;
}

std::string to_utf8(const wchar_t* text, std::size_t n) {
  std::string out;
  char buf[MB_LEN_MAX];
  std::mbstate_t state{};
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t len = std::wcrtomb(buf, text[i], &state);
    if (len == static_cast<std::size_t>(-1)) {
      state = {};
      continue;
    }
    out.append(buf, len);
  }
  return out;
}

std::wstring to_wide(std::string_view text) {
  std::wstring out;
  std::mbstate_t state{};
  while (!text.empty()) {
    wchar_t c;
    std::size_t len = std::mbrtowc(&c, text.data(), text.size(), &state);
    if (len == static_cast<std::size_t>(-1) || len == static_cast<std::size_t>(-2)) {
      state = {};
      len = 1;  // Not UTF-8: skipped, as libedit skips such keys.
    } else {
      out += c;
      len = std::max<std::size_t>(len, 1);
    }
    text.remove_prefix(len);
  }
  return out;
}

void write_screen(std::string_view text) {
  std::fflush(stdout);  // libedit's own output goes through stdio.
  out_text(text);
}

}  // namespace

void use_utf8_ctype() {
  std::setlocale(LC_CTYPE, "");
  const char* codeset = nl_langinfo(CODESET);
  if (std::strcmp(codeset, "UTF-8") != 0 && std::strcmp(codeset, "ANSI_X3.4-1968") == 0)
    std::setlocale(LC_CTYPE, "C.UTF-8");
}

Editor::Editor(int in_fd, std::string history_file)
    : in_fd_(in_fd), history_file_(std::move(history_file)) {
  el_ = el_init("parley", stdin, stdout, stderr);
  if (el_ == nullptr) return;
  history_ = history_winit();
  HistEventW ev;
  history_w(history_, &ev, H_SETSIZE, 1000);
  history_w(history_, &ev, H_SETUNIQUE, 1);
  if (!history_file_.empty()) history_w(history_, &ev, H_LOAD, history_file_.c_str());
  el_set(el_, EL_CLIENTDATA, this);
  el_wset(el_, EL_PROMPT, prompt);
  el_wset(el_, EL_EDITOR, L"emacs");
  el_wset(el_, EL_HIST, history_w, history_);
  el_wset(el_, EL_SIGNAL, 0);  // The caller's loop gets the signals (signalfd).
  el_wset(el_, EL_GETCFN, read_char);
  // What readline users expect, as libedit's own readline emulation binds it.
  el_wset(el_, EL_BIND, L"^R", L"em-inc-search-prev", nullptr);
  el_wset(el_, EL_BIND, L"^I", L"ed-insert", nullptr);
  for (const wchar_t* key : {L"\\e[1~", L"\\e[7~", L"\\e[H", L"\\eOH"})
    el_wset(el_, EL_BIND, key, L"ed-move-to-beg", nullptr);
  for (const wchar_t* key : {L"\\e[4~", L"\\e[8~", L"\\e[F", L"\\eOF"})
    el_wset(el_, EL_BIND, key, L"ed-move-to-end", nullptr);
  el_wset(el_, EL_BIND, L"\\e[3~", L"ed-delete-next-char", nullptr);
  el_wset(el_, EL_BIND, L"\\e[1;5C", L"em-next-word", nullptr);
  el_wset(el_, EL_BIND, L"\\e[1;5D", L"ed-prev-word", nullptr);
  el_source(el_, nullptr);  // ~/.editrc, as every libedit program reads it.
}

Editor::~Editor() {
  stop();
  if (el_ != nullptr) el_end(el_);
  if (history_ != nullptr) history_wend(history_);
}

void Editor::start() {
  if (el_ == nullptr || shown_) return;
  el_set(el_, EL_UNBUFFERED, 1);  // Raw mode, a fresh line, the prompt.
  shown_ = true;
  stopped_ = false;
}

void Editor::stop() {
  stopped_ = true;
  if (el_ == nullptr || !shown_) return;
  hide();
  el_set(el_, EL_UNBUFFERED, 0);  // Back to the terminal's own mode.
  shown_ = false;
}

void Editor::restart() {
  el_set(el_, EL_UNBUFFERED, 0);
  el_set(el_, EL_UNBUFFERED, 1);
  shown_ = true;
}

int Editor::read_char(EditLine* el, wchar_t* c) {
  void* self = nullptr;
  el_get(el, EL_CLIENTDATA, &self);
  return static_cast<Editor*>(self)->next_char(c);
}

// libedit asks for a key. The first request of an el_wgets call returns "nothing" when no key is
// there, so the caller's loop goes on; a later one belongs to a command in progress (the rest of
// an escape sequence, the keys of a Ctrl-R search), which needs its key before it can finish.
int Editor::next_char(wchar_t* c) {
  const bool first = reads_++ == 0;
  for (;;) {
    while (input_pos_ < input_.size()) {
      std::mbstate_t state{};
      std::size_t len =
          std::mbrtowc(c, input_.data() + input_pos_, input_.size() - input_pos_, &state);
      if (len == static_cast<std::size_t>(-2)) break;  // The rest of the character is to come.
      if (len == static_cast<std::size_t>(-1)) {       // Not a character: skipped.
        ++input_pos_;
        continue;
      }
      input_pos_ += std::max<std::size_t>(len, 1);
      return 1;
    }
    if (first || closed_) {
      starved_ = true;
      *c = 0;
      return 0;
    }
    pollfd p{in_fd_, POLLIN, 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) closed_ = true;
    char buf[256];
    ssize_t n = ::read(in_fd_, buf, sizeof(buf));
    if (n > 0)
      input_.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || (errno != EINTR && errno != EAGAIN))
      closed_ = true;
  }
}

void Editor::feed(std::string_view bytes, const OnLine& on_line,
                  const std::function<void()>& on_eof) {
  if (input_pos_ == input_.size()) input_.clear(), input_pos_ = 0;
  input_.append(bytes);
  while (shown_ && el_ != nullptr) {
    reads_ = 0;
    starved_ = false;
    int n = 0;
    const wchar_t* line = el_wgets(el_, &n);
    // No key for the first read: nothing more to do. (A key that libedit pushed back, such as the
    // Enter that ends a Ctrl-R search, is taken without a read and is run by the next call.)
    if (starved_ && reads_ == 1) break;
    if (line != nullptr && n == 1 && line[0] == L'\x04') {  // Ctrl-D on an empty line.
      on_eof();
      break;
    }
    if (line == nullptr || n <= 0 || line[n - 1] != L'\n') continue;
    std::string text = to_utf8(line, static_cast<std::size_t>(n - 1));
    el_set(el_, EL_UNBUFFERED, 0);  // libedit has moved below the line; no prompt until done.
    shown_ = false;
    on_line(text);
    if (stopped_ || closed_) break;
    restart();
  }
  if (input_pos_ >= input_.size()) input_.clear(), input_pos_ = 0;
}

std::string Editor::line_text() const {
  const LineInfoW* li = el_wline(el_);
  return to_utf8(li->buffer, static_cast<std::size_t>(li->lastchar - li->buffer));
}

int Editor::columns() const {
  int cols = 0;
  if (el_get(el_, EL_GETTC, "co", &cols) == 0 && cols > 0) return cols;
  winsize ws{};
  if (::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

void Editor::hide() {
  const LineInfoW* li = el_wline(el_);
  std::wstring_view text(li->buffer, static_cast<std::size_t>(li->lastchar - li->buffer));
  int row = cursor_row(L"> ", text, static_cast<std::size_t>(li->cursor - li->buffer), columns());
  write_screen(row > 0 ? fmt::format("\x1b[{}A\r\x1b[J", row) : "\r\x1b[J");
}

void Editor::print_above(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) text.append(l).push_back('\n');
  if (!shown_) return write_screen(text);
  hide();
  write_screen(text);
  el_set(el_, EL_REFRESH);  // The prompt and the line, from the cursor's new place.
}

void Editor::interrupt() {
  if (!shown_) return;
  std::string typed = line_text();
  hide();
  write_screen(fmt::format("> {}^C\n", escape_bytes(typed, SIZE_MAX)));
  restart();
}

void Editor::resized() {
  if (el_ == nullptr) return;
  el_resize(el_);
  if (!shown_) return;
  write_screen("\r\x1b[J");
  el_set(el_, EL_REFRESH);
}

void Editor::resumed() {
  if (!shown_) return;
  // Put the terminal back into libedit's mode, keeping the line being typed.
  std::wstring typed = to_wide(line_text());
  write_screen("\r\x1b[J");
  restart();
  if (!typed.empty()) el_winsertstr(el_, typed.c_str());
  el_set(el_, EL_REFRESH);
}

void Editor::remember(const std::string& line) {
  if (el_ == nullptr || line.empty()) return;
  HistEventW ev;
  history_w(history_, &ev, H_ENTER, to_wide(line).c_str());
  if (history_file_.empty()) return;
  // The history may hold what was typed into a login: only its owner reads it. Written to a new
  // file and renamed, so a crash never leaves half a history.
  std::string tmp = fmt::format("{}.{}.tmp", history_file_, ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  FILE* f = ::fdopen(fd, "w");
  if (f == nullptr) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return;
  }
  const bool saved = history_w(history_, &ev, H_SAVE_FP, f) >= 0;
  if (std::fclose(f) == 0 && saved)
    std::rename(tmp.c_str(), history_file_.c_str());
  else
    ::unlink(tmp.c_str());
}

}  // namespace parley::cmd
