#include "unlink_on_exit.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace parley::cmd {
namespace {

// The socket file for the signal handler, which must not allocate: its path (sun_path's size
// bounds it) and the device and inode it had when we created it.
char g_socket_path[sizeof(sockaddr_un::sun_path)];
dev_t g_socket_dev;
ino_t g_socket_ino;

// Unlinks the path only if it is still the socket we made: a regular file put there later, or a
// second server's socket after ours was replaced, is not ours to delete. Async-signal-safe.
void unlink_if_ours() {
  struct stat st {};
  if (::lstat(g_socket_path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == g_socket_dev &&
      st.st_ino == g_socket_ino)
    ::unlink(g_socket_path);
}

extern "C" void unlink_then_die(int sig) {
  unlink_if_ours();
  ::signal(sig, SIG_DFL);
  ::raise(sig);  // Delivered once the handler returns: the exit status still says which signal.
}

}  // namespace

ExitSignalsHeld::ExitSignalsHeld() {
  sigset_t held;
  sigemptyset(&held);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&held, sig);
  pthread_sigmask(SIG_BLOCK, &held, &old_);
}

ExitSignalsHeld::~ExitSignalsHeld() {
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

UnlinkOnExit::UnlinkOnExit(const std::string& path) {
  struct stat st {};
  if (path.empty() || path.front() == '@' || path.size() >= sizeof(g_socket_path) ||
      ::lstat(path.c_str(), &st) != 0)
    return;
  std::memcpy(g_socket_path, path.c_str(), path.size() + 1);
  g_socket_dev = st.st_dev;
  g_socket_ino = st.st_ino;
  armed_ = true;
  struct sigaction sa {};
  sa.sa_handler = unlink_then_die;
  sigemptyset(&sa.sa_mask);
  // A signal the parent set to be ignored (nohup, a shell's background job) stays ignored.
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    struct sigaction old {};
    if (sigaction(sig, nullptr, &old) == 0 && old.sa_handler != SIG_IGN)
      sigaction(sig, &sa, nullptr);
  }
}

UnlinkOnExit::~UnlinkOnExit() {
  if (armed_) unlink_if_ours();
}

}  // namespace parley::cmd
