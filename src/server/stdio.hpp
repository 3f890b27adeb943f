#pragma once
// The server's own stdin and stdout inside an event loop. They are shared with the shell, so
// their O_NONBLOCK flag must not be changed; instead a pipe, FIFO or terminal is opened again
// through /proc/self/fd (a new open file description, non-blocking on its own), a socket is
// used with MSG_DONTWAIT, and a regular file -- which epoll cannot watch and which never blocks
// for long -- is read or written directly.

#include <string_view>

#include "parley/fd.hpp"
#include "parley/result.hpp"

namespace parley::server {

class Stdio {
 public:
  enum class Kind { pollable, socket, file };
  // Opens fd (0 or 1) for use in the loop. `writing`: for output.
  static Stdio open(int fd, bool writing);

  int fd() const { return fd_.get(); }
  Kind kind() const { return kind_; }
  bool pollable() const { return kind_ != Kind::file; }
  // Non-blocking read/write where possible; -1 with errno as read(2)/write(2).
  ssize_t read(char* buf, std::size_t n);
  ssize_t write(const char* buf, std::size_t n);

 private:
  Fd fd_;
  Kind kind_ = Kind::file;
};

}  // namespace parley::server
