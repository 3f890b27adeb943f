#include "stdio.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

namespace parley::server {

Stdio Stdio::open(int fd, bool writing) {
  Stdio s;
  struct stat st {};
  if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) {
    s.fd_.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    s.kind_ = Kind::file;
    return s;
  }
  if (S_ISSOCK(st.st_mode)) {
    s.fd_.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    s.kind_ = Kind::socket;
    return s;
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  int flags = (writing ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
  int again = ::open(path.c_str(), flags);
  if (again >= 0) {
    s.fd_.reset(again);
    s.kind_ = Kind::pollable;
  } else {  // No /proc: the shared descriptor, blocking; it still tells epoll when it is ready.
    s.fd_.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
    s.kind_ = Kind::pollable;
  }
  return s;
}

ssize_t Stdio::read(char* buf, std::size_t n) {
  if (kind_ == Kind::socket) return ::recv(fd_.get(), buf, n, MSG_DONTWAIT);
  return ::read(fd_.get(), buf, n);
}

ssize_t Stdio::write(const char* buf, std::size_t n) {
  if (kind_ == Kind::socket) return ::send(fd_.get(), buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
  return ::write(fd_.get(), buf, n);
}

}  // namespace parley::server
