#pragma once
// A listener's Unix socket file goes away with the command that made it: on return, and on
// Ctrl-C, SIGTERM or SIGHUP (whose default action would leave the file behind) -- but only while
// it is still the socket we made: a regular file put there later, or a second server's socket
// after ours was replaced, is not ours to delete. One per process (the signal handler's state is
// static); the server modes block these signals and return normally, and the destructor works.

#include <string>

namespace parley::cmd {

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
