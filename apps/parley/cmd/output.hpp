#pragma once
// Where commands write, with one policy for every command (nothing here throws):
//   * Results go to stdout through out(). A reader that went away (EPIPE: `parley conns | head`)
//     ends the output quietly: out() returns false from then on and the command stops producing;
//     listers then exit 0, as ss does.
//   * Any other write error (ENOSPC on /dev/full, EIO) is remembered; finish_output() prints one
//     line naming it and turns the exit status into 1, so lost output is never reported as success.
//   * Messages go to stderr through say(): one write(2) per line, so lines from several threads do
//     not interleave. A message that cannot be written is dropped, never fatal.
//
// Threading: say() and log lines from any thread; out() from one thread at a time.

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace parley::cmd {

// Writes all of text to fd (EINTR retried, EAGAIN waited for). Returns 0 or the errno.
int write_all(int fd, std::string_view text);

// Writes to stdout. False once stdout is unusable (closed by its reader, or failed).
bool out_text(std::string_view text);

template <typename... Args>
bool out(fmt::format_string<Args...> format, Args&&... args) {
  return out_text(fmt::format(format, std::forward<Args>(args)...));
}

// True once the reader of stdout went away (EPIPE). Loops that produce output (--watch) stop.
bool stdout_closed();

// Call once at the end of a command that writes results: returns `code`, or prints
// "parley: cannot write output: <why>" and returns 1 when a write failed for another reason than
// a closed pipe.
int finish_output(int code);

// Writes "parley: <line>\n" to stderr; errors are ignored.
void say_text(std::string_view line);

// Prints "parley: <text>" on stderr.
template <typename... Args>
void say(fmt::format_string<Args...> format, Args&&... args) {
  say_text(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace parley::cmd
