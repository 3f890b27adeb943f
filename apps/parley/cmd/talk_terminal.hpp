#pragma once
// The terminal side of `parley talk`: line editing and history (talk_editor), a poll loop over
// the keyboard, the socket and signals, and what the server sends printed above the prompt
// without disturbing the line being typed. Single-threaded.

#include <string>

#include "talk_session.hpp"

namespace parley::cmd {

struct TerminalOptions {
  bool history = true;
  std::string target;       // As the user gave it, for messages.
  std::string history_key;  // Names the target's history file ("host:port", "udp-...", "unix-...").
};

// Lines typed are sent at once, each awaiting its own answer in turn. Returns the exit status
// (0: the user left with Ctrl-D or /quit).
int run_terminal(TalkSession& session, const TerminalOptions& options);

}  // namespace parley::cmd
