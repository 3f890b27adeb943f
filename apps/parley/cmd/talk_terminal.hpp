#pragma once
// The terminal side of `parley talk`: libedit line editing and history, a poll loop over the
// keyboard, the socket and signals, and output printed above the prompt without disturbing
// the line being typed. Single-threaded; libedit's state is global, so one at a time.

#include <chrono>
#include <string>

#include "talk_session.hpp"

namespace parley::cmd {

struct TerminalOptions {
  bool history = true;
  std::chrono::milliseconds answer_timeout{5000};
  std::string target;  // As the user gave it, for messages.
};

int run_terminal(TalkSession& session, const TerminalOptions& options);

}  // namespace parley::cmd
