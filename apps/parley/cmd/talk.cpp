// parley talk: the interactive line client (the seed's §2), done so that answers are never cut
// or merged, unsolicited messages show up at once, and scripts get a clean transcript.

#include <poll.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "netcat.hpp"
#include "parley/errors.hpp"
#include "parley/framing.hpp"
#include "talk_session.hpp"
#include "talk_terminal.hpp"

namespace parley::cmd {
namespace {

struct TalkArgs {
  std::vector<std::string> target;
  bool ipv4 = false, ipv6 = false, numeric = false, no_history = false;
  std::chrono::milliseconds wait{10'000}, timeout{5'000};
  std::string until = "newline", eol = "lf", script;
};

void print_events(const std::vector<TalkSession::Event>& events, TalkSession& s) {
  for (const auto& e : events) {
    s.record(e);
    for (const auto& line : transcript(e)) out("{}\n", line);
  }
}

// Not a terminal: send each line, wait for its answer, print a transcript. Exit 0 when every line
// got its answer, 1 on a network error or a timeout.
int run_script(TalkSession& s, std::istream& in, const TalkArgs& o) {
  std::string line;
  std::vector<TalkSession::Event> events;
  std::string why;
  auto drain = [&](int wait_ms) {  // Reads until the answer is complete or wait_ms passes.
    auto end = TalkSession::Clock::now() + std::chrono::milliseconds(wait_ms);
    do {
      int left = static_cast<int>(
          std::chrono::ceil<std::chrono::milliseconds>(end - TalkSession::Clock::now()).count());
      pollfd p{s.fd(), POLLIN, 0};
      ::poll(&p, 1, s.timeout_ms(std::max(0, left)));
      events.clear();
      bool alive = p.revents == 0 || s.read(events, &why);
      s.tick(events);
      print_events(events, s);
      if (!alive) return false;
    } while ((s.waiting() || s.timeout_ms(-1) >= 0) && TalkSession::Clock::now() < end);
    return true;
  };
  if (!drain(100)) {  // A greeting banner comes first.
    say("connection {}", why);
    return kExitNetwork;
  }
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out("> {}\n", escape_bytes(line, 4096));
    if (auto ec = s.send_line(line)) {
      say("send: {}", describe(ec));
      return kExitNetwork;
    }
    // --until none does not wait; whatever comes back is shown as it arrives.
    const bool fire_and_forget = !s.waiting();
    if (!drain(fire_and_forget ? 0 : static_cast<int>(o.timeout.count()))) {
      say("connection {}", why);
      return s.all_answered() ? kExitOk : kExitNetwork;
    }
    if (s.waiting()) {
      say("no answer to \"{}\" within {} ms", escape_bytes(line, 80), o.timeout.count());
      return kExitNetwork;
    }
  }
  if (o.until == "none" && !drain(200)) say("connection {}", why);  // Late output, if any.
  return kExitOk;
}

int run_talk(const TalkArgs& o) {
  auto until = parse_until(o.until);
  if (!until) {
    say("talk: --until takes newline, idle=TIME, bytes=N or none");
    return kExitUsage;
  }
  auto hp = target_or_say("talk", o.target);
  if (!hp) return kExitUsage;
  TalkTarget target{*hp,
                    o.ipv4   ? Family::v4
                    : o.ipv6 ? Family::v6
                             : Family::any,
                    o.numeric, o.wait};
  TalkSession session(target, *until, o.eol == "crlf" ? "\r\n" : "\n");
  std::string shown = format_target(*hp);
  if (auto ec = session.connect()) {
    say("connect to {}: {}", shown, describe(ec));
    return exit_code_for(ec);
  }
  if (!o.script.empty()) {
    std::ifstream in(o.script);
    if (!in) {
      say("talk: cannot read {}: {}", o.script, std::strerror(errno));
      return kExitUsage;
    }
    return run_script(session, in, o);
  }
  if (isatty(STDIN_FILENO) != 1 || isatty(STDOUT_FILENO) != 1)
    return run_script(session, std::cin, o);
  TerminalOptions t{!o.no_history, o.timeout, shown};
  return run_terminal(session, t);
}

}  // namespace

Subcommand talk_command(CLI::App& root) {
  auto o = std::make_shared<TalkArgs>();
  auto* app = root.add_subcommand("talk", "Interactive line client: type a line, see the answer");
  app->footer(
      "Each line you type is sent; the answer is shown with its round-trip time. What the server\n"
      "sends on its own appears at once above the prompt. Commands: /help /quit /reconnect "
      "/stats.\n"
      "What counts as the answer (--until): newline (one line, the default), idle=200ms (all that\n"
      "arrives until the server is quiet), bytes=N, none (do not wait).\n"
      "Without a terminal (a pipe, a file, --script) parley prints a transcript:\n"
      "  > line sent     < answer  0.21 ms     * sent by the server unasked\n"
      "and exits 0 if every line got its answer, 1 on a network error or a timeout.\n"
      "History: $XDG_STATE_HOME/parley/history (~/.local/state/parley/history).\n"
      "Examples:\n"
      "  parley talk localhost 12345                  prompt, editing, history, round-trip times\n"
      "  parley talk --until idle=200ms example.org 80   an answer: all until the server is quiet\n"
      "  printf 'Hallo\\nwie gehts\\n' | parley talk localhost 12345   a transcript\n"
      "  parley talk --script smtp.txt --eol crlf mail.example 25   a script, CRLF line ends");
  app->add_option("target", o->target, "HOST PORT or HOST:PORT")->required()->expected(1, 2);
  app->add_option("--until", o->until, "What ends an answer: newline, idle=TIME, bytes=N, none")
      ->type_name("WHAT");
  app->add_option("--eol", o->eol, "Line ending to send: lf or crlf")
      ->check(CLI::IsMember({"lf", "crlf"}));
  add_duration_option(*app, "--timeout", o->timeout, "How long to wait for an answer (default 5s)");
  add_duration_option(*app, "-w,--wait", o->wait, "Connect timeout (default 10s)");
  app->add_option("--script", o->script, "Send the lines of FILE instead of reading the terminal")
      ->type_name("FILE");
  app->add_flag("--no-history", o->no_history, "Do not read or write the history file");
  auto* v4 = app->add_flag("-4", o->ipv4, "IPv4 only");
  app->add_flag("-6", o->ipv6, "IPv6 only")->excludes(v4);
  app->add_flag("-n,--nodns", o->numeric, "Numeric addresses only");
  return {app, [o] { return run_talk(*o); }};
}

}  // namespace parley::cmd
