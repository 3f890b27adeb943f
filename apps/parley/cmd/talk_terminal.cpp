#include "talk_terminal.hpp"

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
#include "parley/framing.hpp"
#include "talk_editor.hpp"
#include "talk_format.hpp"

namespace parley::cmd {
namespace {

// $XDG_STATE_HOME/parley/talk/<target> (or ~/.local/state/...); the directory is created.
std::string history_path(const std::string& key) {
  std::string dir;
  if (const char* state = std::getenv("XDG_STATE_HOME"); state && *state)
    dir = state;
  else if (const char* home = std::getenv("HOME"); home && *home)
    dir = std::string(home) + "/.local/state";
  else
    return {};
  dir += "/parley/talk";
  for (std::size_t at = 1; (at = dir.find('/', at)) != std::string::npos; ++at)
    ::mkdir(dir.substr(0, at).c_str(), 0700);  // mkdir -p: each level may exist already.
  ::mkdir(dir.c_str(), 0700);
  return dir + "/" + history_file_name(key);
}

class TerminalTalk {
 public:
  TerminalTalk(TalkSession& s, const TerminalOptions& o, Editor& ed) : s_(s), o_(o), ed_(ed) {}

  void run(int sigfd) {
    out("parley: connected to {}. Type lines to send; /help for commands, Ctrl-D to leave.\n",
        s_.peer());
    ed_.start();
    while (!quit_ && !ed_.terminal_closed()) {
      // While much is unsent (a paste the server does not take), the keyboard waits.
      pollfd fds[3] = {{s_.unsent() < kTalkPiece ? STDIN_FILENO : -1, POLLIN, 0},
                       {sigfd, POLLIN, 0},
                       {s_.fd(), s_.poll_events(), 0}};
      if (::poll(fds, 3, s_.timeout_ms(-1)) < 0 && errno != EINTR) break;
      if (fds[1].revents) on_signal(sigfd);
      if (fds[0].revents) on_keys();
      if (fds[2].revents && !s_.handle(fds[2].revents, events_, &why_)) lost();
      if (!s_.tick(events_, &overdue_, &why_)) lost();
      show();
    }
    ed_.stop();
    out("parley: {}\n", s_.stats());
  }

 private:
  void on_keys() {
    char buf[4096];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
      quit_ = true;  // The terminal went away.
      return;
    }
    if (n < 0) return;
    ed_.feed(
        {buf, static_cast<std::size_t>(n)}, [this](const std::string& line) { on_line(line); },
        [this] { quit_ = true; });
    if (quit_) ed_.stop();
  }

  void on_signal(int sigfd) {
    signalfd_siginfo info;
    while (::read(sigfd, &info, sizeof(info)) == sizeof(info)) {
      if (info.ssi_signo == SIGINT) ed_.interrupt();
      if (info.ssi_signo == SIGWINCH) ed_.resized();
      if (info.ssi_signo == SIGCONT) ed_.resumed();
    }
  }

  void on_line(const std::string& line) {
    std::string_view data = line;
    if (data.substr(0, 2) == "//") {
      data.remove_prefix(1);  // "//text" sends "/text", as IRC clients do.
    } else if (!data.empty() && data.front() == '/') {
      return command(line);
    }
    ed_.remember(line);
    if (!s_.connected()) return ed_.print_above({"parley: not connected; type /reconnect"});
    if (auto ec = s_.send_line(data)) {
      ed_.print_above(
          {ec == std::errc::message_size
               ? fmt::format("parley: a line of {} bytes does not fit in a datagram", data.size())
               : fmt::format("parley: send: {}", describe(ec))});
    }
  }

  void command(const std::string& line) {
    std::string_view verb = line;
    while (!verb.empty() && (verb.back() == ' ' || verb.back() == '\t')) verb.remove_suffix(1);
    if (verb == "/quit") {
      quit_ = true;
      ed_.stop();
    } else if (verb == "/stats") {
      ed_.print_above({"parley: " + s_.stats()});
    } else if (verb == "/reconnect") {
      if (auto ec = s_.connect())
        ed_.print_above({fmt::format("parley: connect to {}: {}", o_.target, describe(ec))});
      else
        ed_.print_above({fmt::format("parley: connected to {}", s_.peer())});
    } else if (verb == "/help") {
      ed_.print_above(
          {"commands: /help this list, /quit leave (or Ctrl-D), /reconnect connect again,",
           "          /stats lines sent, answers and round-trip times; //text sends /text.",
           "keys: Ctrl-C clears the line, Up/Down and Ctrl-R search the history."});
    } else {
      std::string shown = escape_bytes(verb.substr(0, verb.find(' ')), 40);
      ed_.print_above(
          {fmt::format("parley: unknown command {}; /{} sends {} to the server (see "
                       "/help)",
                       shown, shown, shown)});
    }
  }

  void lost() {
    std::string text = why_ == "closed by the server"
                           ? "parley: connection closed by the server"
                           : fmt::format("parley: connection to {}: {}", o_.target, why_);
    show();
    ed_.print_above({text + "; /reconnect to connect again"});
  }

  void show() {
    std::vector<std::string> lines;
    for (const auto& e : events_) {
      auto t = transcript_.received(e);
      lines.insert(lines.end(), t.begin(), t.end());
    }
    for (const auto& line : overdue_) {
      lines.push_back(fmt::format("parley: no answer to \"{}\" within {} ms",
                                  escape_bytes(line, 80), s_.config().timeout.count()));
    }
    events_.clear();
    overdue_.clear();
    if (!lines.empty()) ed_.print_above(lines);
  }

  TalkSession& s_;
  const TerminalOptions& o_;
  Editor& ed_;
  Transcript transcript_;
  std::vector<TalkSession::Event> events_;
  std::vector<std::string> overdue_;
  std::string why_;
  bool quit_ = false;
};

}  // namespace

int run_terminal(TalkSession& session, const TerminalOptions& options) {
  use_utf8_ctype();
  // Ctrl-C clears the line instead of ending parley; a resize redraws; after Ctrl-Z and fg the
  // terminal is set up again. All through a signalfd in the poll loop.
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGINT, SIGWINCH, SIGCONT}) sigaddset(&mask, sig);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  Fd sigfd(signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK));
  Editor editor(STDIN_FILENO, options.history ? history_path(options.history_key) : "");
  if (!editor.ok() || !sigfd.valid()) {
    say("talk: cannot set up the terminal: {}", std::strerror(errno));
    return kExitUsage;
  }
  TerminalTalk(session, options, editor).run(sigfd.get());
  return kExitOk;
}

}  // namespace parley::cmd
