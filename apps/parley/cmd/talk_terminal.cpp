#include "talk_terminal.hpp"

#include <editline/readline.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "netcat.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"

namespace parley::cmd {
namespace {

constexpr const char* kPrompt = "> ";

// libedit calls back through a plain function pointer; this is the state it reaches.
struct Terminal {
  TalkSession* session = nullptr;
  const TerminalOptions* options = nullptr;
  std::string history_path;
  bool quit = false;
  // A line was just entered. libedit keeps a finished line in its buffer (and its idea of the
  // screen) until the next key, so a redraw would show it again as if typed; reinstalling the
  // handler starts a fresh, empty line.
  bool line_done = false;
};
Terminal g_term;

// Prints lines above the prompt: erase the prompt line, print, then let libedit redraw the prompt
// with whatever the user had typed so far.
void print_above(const std::vector<std::string>& lines) {
  std::string out = "\r\x1b[K";
  for (const auto& l : lines) out += l + "\n";
  [[maybe_unused]] auto n = ::write(STDOUT_FILENO, out.data(), out.size());
  rl_forced_update_display();
}

void show(const std::vector<TalkSession::Event>& events) {
  std::vector<std::string> lines;
  for (const auto& e : events) {
    g_term.session->record(e);
    auto t = transcript(e);
    lines.insert(lines.end(), t.begin(), t.end());
  }
  if (!lines.empty()) print_above(lines);
}

std::string history_path() {
  std::string dir;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    dir = state;
  else if (const char* home = std::getenv("HOME"); home && *home)
    dir = std::string(home) + "/.local/state";
  else
    return {};
  dir += "/parley";
  // mkdir -p: each level may exist already.
  for (std::size_t at = 1; (at = dir.find('/', at)) != std::string::npos; ++at)
    ::mkdir(dir.substr(0, at).c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  return dir + "/history";
}

void command(const std::string& line) {
  TalkSession& s = *g_term.session;
  if (line == "/quit") {
    g_term.quit = true;
  } else if (line == "/stats") {
    print_above({"parley: " + s.stats()});
  } else if (line == "/reconnect") {
    if (auto ec = s.connect())
      print_above({fmt::format("parley: connect to {}: {}", g_term.options->target, describe(ec))});
    else
      print_above({fmt::format("parley: connected to {}", s.peer())});
  } else {
    print_above(
        {"commands: /help this list, /quit leave (or Ctrl-D), /reconnect connect again,",
         "          /stats lines sent, answers and round-trip times. Ctrl-C clears the line."});
  }
}

void on_line(char* raw) {
  if (raw == nullptr) {  // Ctrl-D on an empty line.
    g_term.quit = true;
    return;
  }
  std::string line(raw);
  std::free(raw);
  g_term.line_done = true;  // See Terminal::line_done.
  if (!line.empty()) {
    add_history(line.c_str());
    if (!g_term.history_path.empty()) write_history(g_term.history_path.c_str());
  }
  if (!line.empty() && line[0] == '/') return command(line);
  TalkSession& s = *g_term.session;
  if (!s.connected()) return print_above({"parley: not connected; type /reconnect"});
  if (auto ec = s.send_line(line)) print_above({fmt::format("parley: send: {}", describe(ec))});
}

// How long poll may sleep before an awaited answer is overdue (-1: nothing awaited).
int answer_wait_ms(const TalkSession& s, const TerminalOptions& options) {
  if (!s.waiting()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(s.sent_at() + options.answer_timeout -
                                                           TalkSession::Clock::now());
  return static_cast<int>(std::max<long long>(0, left.count()));
}

// Ctrl-C: clear the half-typed line, as a shell does, instead of leaving.
void on_interrupt(int sigfd) {
  signalfd_siginfo info;
  [[maybe_unused]] auto n = ::read(sigfd, &info, sizeof(info));
  rl_replace_line("", 0);
  print_above({"^C"});
}

}  // namespace

int run_terminal(TalkSession& session, const TerminalOptions& options) {
  g_term =
      Terminal{&session, &options, options.history ? history_path() : std::string(), false, false};
  // SIGINT arrives through a signalfd in the poll loop: Ctrl-C clears the line, it does not kill.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  Fd sigfd(signalfd(-1, &mask, SFD_CLOEXEC));
  rl_catch_signals = 0;
  using_history();
  stifle_history(1000);
  if (!g_term.history_path.empty()) read_history(g_term.history_path.c_str());
  out("parley: connected to {}. Type lines to send; /help for commands, Ctrl-D to leave.\n",
      session.peer());
  rl_callback_handler_install(kPrompt, on_line);
  std::vector<TalkSession::Event> events;
  while (!g_term.quit) {
    pollfd fds[3] = {{STDIN_FILENO, POLLIN, 0},
                     {sigfd.get(), POLLIN, 0},
                     {session.connected() ? session.fd() : -1, POLLIN, 0}};
    int timeout = session.connected() ? session.timeout_ms(answer_wait_ms(session, options)) : -1;
    if (::poll(fds, 3, timeout) < 0 && errno != EINTR) break;
    if (fds[1].revents) on_interrupt(sigfd.get());
    if (fds[0].revents) {
      rl_callback_read_char();
      if (g_term.line_done && !g_term.quit) {
        g_term.line_done = false;
        rl_callback_handler_remove();
        rl_callback_handler_install(kPrompt, on_line);
      }
    }
    events.clear();
    std::string why;
    if (fds[2].revents && !session.read(events, &why)) {
      show(events);
      print_above({fmt::format("parley: connection {}; /reconnect to connect again", why)});
      continue;
    }
    if (session.connected()) session.tick(events);
    show(events);
    if (session.waiting() &&
        TalkSession::Clock::now() >= session.sent_at() + options.answer_timeout) {
      session.give_up_waiting();
      print_above({fmt::format("parley: no answer within {} ms", options.answer_timeout.count())});
    }
  }
  rl_callback_handler_remove();
  out("\nparley: {}\n", session.stats());
  return kExitOk;
}

}  // namespace parley::cmd
