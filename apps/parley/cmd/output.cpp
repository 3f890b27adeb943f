#include "output.hpp"

#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace parley::cmd {
namespace {

std::atomic<int> g_stdout_error{0};  // 0, EPIPE, or the first other errno.

}  // namespace

int write_all(int fd, std::string_view text) {
  while (!text.empty()) {
    ssize_t w = ::write(fd, text.data(), text.size());
    if (w >= 0) {
      text.remove_prefix(static_cast<std::size_t>(w));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {  // A descriptor somebody else made non-blocking: wait for room.
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, -1);
      continue;
    }
    return errno;
  }
  return 0;
}

bool out_text(std::string_view text) {
  if (g_stdout_error.load() != 0) return false;
  int e = write_all(STDOUT_FILENO, text);
  if (e == 0) return true;
  int expected = 0;
  g_stdout_error.compare_exchange_strong(expected, e);
  return false;
}

bool stdout_closed() {
  return g_stdout_error.load() == EPIPE;
}

int finish_output(int code) {
  int e = g_stdout_error.load();
  if (e == 0 || e == EPIPE) return code;
  say("cannot write output: {}", std::strerror(e));
  return 1;
}

void say_text(std::string_view line) {
  std::string text;
  text.reserve(line.size() + 9);
  text.append("parley: ").append(line).push_back('\n');
  [[maybe_unused]] int e = write_all(STDERR_FILENO, text);
}

}  // namespace parley::cmd
