// systemd socket activation, read by hand: the protocol is three environment variables and a
// run of descriptors from 3 (sd_listen_fds(3), "stable interface"), and libsystemd would be a
// library for 40 lines. See serve.hpp for the contract.

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "output.hpp"
#include "serve.hpp"

namespace parley::cmd {
namespace {

constexpr int kFirstFd = 3;      // SD_LISTEN_FDS_START
constexpr long kMostFds = 4096;  // More would be a corrupt variable, not a configuration.

bool parse_long(const char* text, long* out) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

std::vector<std::string> split_names(const char* text) {
  std::vector<std::string> names;
  if (text == nullptr) return names;
  std::string s = text;
  std::size_t start = 0;
  for (;;) {
    std::size_t colon = s.find(':', start);
    names.push_back(s.substr(start, colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return names;
}

int socket_type(int fd) {
  int type = 0;
  socklen_t len = sizeof(type);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return -1;
  return type;
}

bool listening(int fd) {
  int on = 0;
  socklen_t len = sizeof(on);
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on != 0;
}

}  // namespace

bool activated_sockets(const char* command, ActivatedSockets* out) {
  long pid = 0, count = 0;
  bool ours = parse_long(std::getenv("LISTEN_PID"), &pid) && pid == getpid() &&
              parse_long(std::getenv("LISTEN_FDS"), &count) && count > 0;
  auto names = split_names(std::getenv("LISTEN_FDNAMES"));
  for (const char* v : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) unsetenv(v);
  if (!ours) return true;
  if (count > kMostFds) {
    say("{}: LISTEN_FDS={} is not a number of sockets systemd passes", command, count);
    return false;
  }
  ActivatedSockets got;
  for (int fd = kFirstFd; fd < kFirstFd + count; ++fd) {
    // Taken first, so that every passed descriptor is closed on an early return.
    got.listeners.push_back({Fd(fd), {}});
    got.names.push_back(static_cast<std::size_t>(fd - kFirstFd) < names.size()
                            ? names[fd - kFirstFd]
                            : std::string());
  }
  for (auto& l : got.listeners) {
    const int fd = l.fd.get();
    struct stat st {};
    int type = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) ? socket_type(fd) : -1;
    if (type != SOCK_STREAM && type != SOCK_DGRAM) {
      say("{}: descriptor {} from systemd (LISTEN_FDS) is not a stream or datagram socket", command,
          fd);
      return false;
    }
    if (type == SOCK_STREAM && !listening(fd)) {
      say("{}: descriptor {} from systemd is a connection, not a listening socket: use "
          "Accept=no in the .socket unit",
          command, fd);
      return false;
    }
    if (got.socktype != 0 && type != got.socktype) {
      say("{}: systemd passed both stream and datagram sockets; give {} one kind", command,
          command);
      return false;
    }
    got.socktype = type;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    *l.local.size_ptr() = SocketAddress::capacity();
    if (getsockname(fd, l.local.get(), l.local.size_ptr()) != 0) {
      say("{}: descriptor {} from systemd: {}", command, fd, std::strerror(errno));
      return false;
    }
  }
  *out = std::move(got);
  return true;
}

}  // namespace parley::cmd
