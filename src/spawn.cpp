// Starting the program of -e/-c (see parley/exec.hpp).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "parley/errors.hpp"
#include "parley/exec.hpp"

extern char** environ;

namespace parley {
namespace {

// Whether path names a file this process may execute; errno-style error otherwise.
std::error_code executable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return last_error();
  if (!S_ISREG(st.st_mode)) return std::make_error_code(std::errc::permission_denied);
  if (::access(path.c_str(), X_OK) != 0) return last_error();
  return {};
}

void make_blocking(int fd) {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
}

bool ours(const char* entry) {
  static const char* names[] = {
      "PARLEY_REMOTE_ADDR=", "PARLEY_REMOTE_PORT=", "PARLEY_LOCAL_ADDR=", "PARLEY_LOCAL_PORT=",
      "PARLEY_PROTO=",       "NCAT_REMOTE_ADDR=",   "NCAT_REMOTE_PORT=",  "NCAT_LOCAL_ADDR=",
      "NCAT_LOCAL_PORT=",    "NCAT_PROTO="};
  for (const char* n : names)
    if (std::strncmp(entry, n, std::strlen(n)) == 0) return true;
  return false;
}

std::string port_of(const SocketAddress& a) {
  return a.family() == AF_INET || a.family() == AF_INET6 ? std::to_string(a.port()) : "";
}

std::string host_of(const SocketAddress& a) {
  if (a.family() == AF_UNIX) return a.host_string();
  return a.size() == 0 ? "" : a.host_string();
}

}  // namespace

Result<ExecCommand> exec_command(std::string_view text) {
  ExecCommand c;
  c.text = std::string(text);
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
    std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\n') ++i;
    if (i > start) c.argv.emplace_back(text.substr(start, i - start));
  }
  if (c.argv.empty()) return std::make_error_code(std::errc::invalid_argument);
  const std::string& prog = c.argv.front();
  if (prog.find('/') != std::string::npos) {
    if (auto ec = executable(prog)) return ec;
    c.path = prog;
    return c;
  }
  const char* path_env = std::getenv("PATH");
  std::string_view dirs = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::error_code found_but_not_runnable;
  while (true) {
    std::size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + prog;
    auto ec = executable(candidate);
    if (!ec) {
      c.path = candidate;
      return c;
    }
    if (ec != std::errc::no_such_file_or_directory && !found_but_not_runnable)
      found_but_not_runnable = ec;
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  if (found_but_not_runnable) return found_but_not_runnable;
  return std::make_error_code(std::errc::no_such_file_or_directory);
}

ExecCommand shell_command(std::string_view command) {
  ExecCommand c;
  c.text = std::string(command);
  c.path = "/bin/sh";
  c.argv = {"sh", "-c", std::string(command)};
  return c;
}

Result<pid_t> spawn_child(const ExecCommand& command, int in_fd, int out_fd,
                          const SocketAddress& local, const SocketAddress& remote,
                          std::string_view proto) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e)
    if (!ours(*e)) env_store.emplace_back(*e);
  for (const char* prefix : {"PARLEY_", "NCAT_"}) {
    env_store.push_back(fmt::format("{}REMOTE_ADDR={}", prefix, host_of(remote)));
    env_store.push_back(fmt::format("{}REMOTE_PORT={}", prefix, port_of(remote)));
    env_store.push_back(fmt::format("{}LOCAL_ADDR={}", prefix, host_of(local)));
    env_store.push_back(fmt::format("{}LOCAL_PORT={}", prefix, port_of(local)));
    env_store.push_back(fmt::format("{}PROTO={}", prefix, proto));
  }
  std::vector<char*> envp, argv;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command.argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // The descriptors are shared with the server's copy: the child expects ordinary blocking I/O.
  make_blocking(in_fd);
  make_blocking(out_fd);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // parley ignores SIGPIPE and blocks its signals in server threads; the child gets defaults,
  // so that writing to a reset connection ends it as it would end any program. (Handled signals
  // are reset by execve anyway; only ignored ones would be inherited, and resetting all 64 costs
  // a system call each in every child.)
  sigset_t none, ignored;
  sigemptyset(&none);
  sigemptyset(&ignored);
  sigaddset(&ignored, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &ignored);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, command.path.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return std::error_code(rc, std::system_category());
  return pid;
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    return name != nullptr ? fmt::format("killed by SIG{}", name)
                           : fmt::format("killed by signal {}", WTERMSIG(status));
  }
  return fmt::format("wait status {}", status);
}

}  // namespace parley
