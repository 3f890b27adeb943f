#pragma once
// `parley talk` without a terminal (a pipe, a file, --script): each input line is sent, its
// answer awaited, and a transcript printed ("> sent", "< answer  0.21 ms", "* unsolicited").

#include <string>

#include "talk_session.hpp"

namespace parley::cmd {

// Reads lines from input_fd (never blocking: the socket is read all along, so what the server
// sends meanwhile is shown as it comes). Exit status: 0 when every line was sent and answered,
// 1 on a network error, a missing answer, a server that stops reading or closes before the input
// is all sent. `target` names the server in messages. With json, the transcript is one JSON
// object per line of output instead (see talk --help: sent, answer, rtt_ms, unsolicited, more).
int run_pipe(TalkSession& session, int input_fd, const std::string& target, bool json = false);

}  // namespace parley::cmd
