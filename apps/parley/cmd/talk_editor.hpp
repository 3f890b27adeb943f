#pragma once
// The line editor of `parley talk`: libedit's wide-character interface, driven by the caller's
// poll loop. Keys are fed in as the terminal delivers them (libedit never reads the terminal
// itself, except for the rest of a command in progress such as a Ctrl-R search), so the loop keeps
// serving the socket; what the server sends is printed above the prompt, and the half-typed line
// is drawn again below it, however many rows it wraps over.
//
// Text is UTF-8 on both sides (the caller sets a UTF-8 LC_CTYPE: see use_utf8_ctype()).
// Single-threaded; one Editor per terminal at a time.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <histedit.h>

namespace parley::cmd {

// Sets LC_CTYPE from the environment, or to C.UTF-8 when that is the plain C locale, so that
// typed UTF-8 is read as characters. Only LC_CTYPE: numbers keep their C format.
void use_utf8_ctype();

class Editor {
 public:
  using OnLine = std::function<void(const std::string& line)>;

  // history_file: where the history is read from and saved to (empty: none). in_fd: the terminal.
  Editor(int in_fd, std::string history_file);
  ~Editor();
  Editor(const Editor&) = delete;
  Editor& operator=(const Editor&) = delete;
  bool ok() const { return el_ != nullptr; }

  void start();  // Shows the prompt.
  void stop();   // Removes the prompt; the terminal is back in its normal mode.
  // Bytes read from the terminal. on_line runs for each line entered, while no prompt is shown
  // (what it prints goes straight to the screen; it may call stop()); on_eof for Ctrl-D on an
  // empty line. Lines pasted at once each get their own call.
  void feed(std::string_view bytes, const OnLine& on_line, const std::function<void()>& on_eof);
  // Prints lines above the prompt; the line being typed stays as it was.
  void print_above(const std::vector<std::string>& lines);
  // Ctrl-C: the line typed so far is dropped (left on the screen with ^C) and a fresh prompt shown.
  void interrupt();
  void resized();  // SIGWINCH
  void resumed();  // SIGCONT: the terminal may have been reset by the shell meanwhile.
  // Adds a line to the history and saves the history file.
  void remember(const std::string& line);
  bool terminal_closed() const { return closed_; }

 private:
  static int read_char(EditLine* el, wchar_t* c);
  int next_char(wchar_t* c);
  std::string line_text() const;  // The line being typed, UTF-8.
  void hide();                    // Erases the prompt and the line being typed from the screen.
  void restart();                 // A fresh, empty line with its prompt.
  int columns() const;

  int in_fd_;
  std::string history_file_;
  EditLine* el_ = nullptr;
  HistoryW* history_ = nullptr;
  std::string input_;  // Keys not yet given to libedit.
  std::size_t input_pos_ = 0;
  int reads_ = 0;         // read_char calls during this el_wgets.
  bool starved_ = false;  // The first read_char of this el_wgets found nothing.
  bool shown_ = false;    // The prompt is on the screen.
  bool stopped_ = false;  // stop() was called: feed() shows no further prompt.
  bool closed_ = false;   // The terminal went away.
};

}  // namespace parley::cmd
