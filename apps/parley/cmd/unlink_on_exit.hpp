#pragma once
// A listener's Unix socket file goes away with the command that made it: on return, and on
// Ctrl-C, SIGTERM or SIGHUP (whose default action would leave the file behind) -- but only while
// it is still the socket we made: a regular file put there later, or a second server's socket
// after ours was replaced, is not ours to delete. One per process (the signal handler's state is
// static); the server modes block these signals and return normally, and the destructor works.

#include <signal.h>

#include <string>

namespace parley::cmd {

// Ctrl-C, SIGTERM and SIGHUP wait while it lives (blocked, then delivered): held from before a
// socket file is made until its UnlinkOnExit is armed, so that no signal in between can end the
// process with the file left behind.
class ExitSignalsHeld {
 public:
  ExitSignalsHeld();
  ~ExitSignalsHeld();
  ExitSignalsHeld(const ExitSignalsHeld&) = delete;
  ExitSignalsHeld& operator=(const ExitSignalsHeld&) = delete;

 private:
  sigset_t old_;
};

class UnlinkOnExit {
 public:
  // Arms for the socket now at path (nothing for "@name", the abstract namespace, or no file).
  explicit UnlinkOnExit(const std::string& path);
  ~UnlinkOnExit();
  UnlinkOnExit(const UnlinkOnExit&) = delete;
  UnlinkOnExit& operator=(const UnlinkOnExit&) = delete;

 private:
  bool armed_ = false;
};

}  // namespace parley::cmd
