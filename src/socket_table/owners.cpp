// Process owners of sockets (one pass over /proc/*/fd), and the names of states, timers and
// tcp_info fields.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "parley/fd.hpp"
#include "parley/socket_table.hpp"

namespace parley {
namespace {

SocketAddress inet_address(int family, const std::uint8_t* addr, std::uint16_t port) {
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, addr, 4);
    sin.sin_port = htons(port);
    return SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, addr, 16);
  sin6.sin6_port = htons(port);
  return SocketAddress(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
}

// The process name as /proc/PID/comm has it (up to 15 bytes, any bytes but NUL; spaces kept).
std::string read_comm(int proc_fd, const char* pid) {
  char path[300];
  std::snprintf(path, sizeof(path), "%s/comm", pid);
  Fd fd(::openat(proc_fd, path, O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  char buf[64];
  ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n <= 0) return {};
  std::string name(buf, static_cast<std::size_t>(n));
  if (!name.empty() && name.back() == '\n') name.pop_back();
  return name;
}

}  // namespace

std::size_t OwnerMap::lower(std::uint64_t inode) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), inode,
                             [](const Entry& e, std::uint64_t i) { return e.inode < i; });
  return static_cast<std::size_t>(it - entries_.begin());
}

// One pass over /proc/*/fd. readlinkat on a directory descriptor keeps it to one system call per
// descriptor, which is what dominates the cost (as for ss -p); a process's name is read only if
// it has a socket.
OwnerMap scan_owners(const std::string& proc_root) {
  OwnerMap map;
  map.scanned = true;
  Fd proc_fd(::open(proc_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!proc_fd) return map;
  DIR* proc = ::fdopendir(::dup(proc_fd.get()));
  if (proc == nullptr) return map;
  while (dirent* e = ::readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[300];
    std::snprintf(path, sizeof(path), "%s/fd", e->d_name);
    int fd_dir = ::openat(proc_fd.get(), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_dir < 0) {
      if (errno == EACCES) ++map.unreadable_processes;
      continue;
    }
    DIR* fds = ::fdopendir(fd_dir);
    if (fds == nullptr) {
      ::close(fd_dir);
      continue;
    }
    int pid = std::atoi(e->d_name);
    bool named = false;
    char link[64];
    while (dirent* f = ::readdir(fds)) {
      if (f->d_name[0] < '0' || f->d_name[0] > '9') continue;
      ssize_t n = ::readlinkat(fd_dir, f->d_name, link, sizeof(link) - 1);
      if (n < 9 || std::memcmp(link, "socket:[", 8) != 0) continue;
      link[n] = '\0';
      if (!named) {
        map.processes_.push_back({pid, read_comm(proc_fd.get(), e->d_name)});
        named = true;
      }
      map.entries_.push_back({std::strtoull(link + 8, nullptr, 10),
                              static_cast<std::uint32_t>(map.processes_.size() - 1),
                              std::atoi(f->d_name)});
    }
    ::closedir(fds);
  }
  ::closedir(proc);
  std::sort(map.entries_.begin(), map.entries_.end(), [&](const auto& a, const auto& b) {
    return a.inode < b.inode || (a.inode == b.inode && (a.process < b.process ||
                                                        (a.process == b.process && a.fd < b.fd)));
  });
  return map;
}

SocketAddress SocketRecord::local_address() const {
  if (family == AF_UNIX) {
    auto a = SocketAddress::unix_path(unix_name);
    return a ? *a : SocketAddress();
  }
  return inet_address(family, local.data(), local_port);
}

SocketAddress SocketRecord::peer_address() const {
  if (family == AF_UNIX) return SocketAddress();
  return inet_address(family, peer.data(), peer_port);
}

const char* state_name(int state) {
  static const char* names[] = {"UNKNOWN",    "ESTAB",     "SYN-SENT", "SYN-RECV",   "FIN-WAIT-1",
                                "FIN-WAIT-2", "TIME-WAIT", "UNCONN",   "CLOSE-WAIT", "LAST-ACK",
                                "LISTEN",     "CLOSING",   "SYN-RECV"};
  return state >= 0 && state <= 12 ? names[state] : "UNKNOWN";
}

const char* state_name_netstat(int state) {
  static const char* names[] = {"UNKNOWN",   "ESTABLISHED", "SYN_SENT", "SYN_RECV",   "FIN_WAIT1",
                                "FIN_WAIT2", "TIME_WAIT",   "CLOSE",    "CLOSE_WAIT", "LAST_ACK",
                                "LISTEN",    "CLOSING",     "SYN_RECV"};
  return state >= 0 && state <= 12 ? names[state] : "UNKNOWN";
}

std::optional<std::uint32_t> parse_states(std::string_view text) {
  std::string s;
  for (char c : text)
    s += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto bit = [](int st) { return 1u << st; };
  const std::uint32_t connected = kAllStates & ~(bit(kClose) | bit(kListen));
  static const std::pair<const char*, int> names[] = {{"established", kEstablished},
                                                      {"estab", kEstablished},
                                                      {"syn-sent", kSynSent},
                                                      {"syn-recv", kSynRecv},
                                                      {"syn-rcv", kSynRecv},
                                                      {"fin-wait-1", kFinWait1},
                                                      {"fin-wait-2", kFinWait2},
                                                      {"time-wait", kTimeWait},
                                                      {"close", kClose},
                                                      {"closed", kClose},
                                                      {"unconnected", kClose},
                                                      {"unconn", kClose},
                                                      {"close-wait", kCloseWait},
                                                      {"last-ack", kLastAck},
                                                      {"listen", kListen},
                                                      {"listening", kListen},
                                                      {"closing", kClosing}};
  for (const auto& [name, value] : names)
    if (s == name) return bit(value);
  // ss's groups (ss.c, scan_state).
  if (s == "all") return kAllStates;
  if (s == "connected") return connected;
  if (s == "synchronized") return connected & ~bit(kSynSent);
  if (s == "bucket") return bit(kSynRecv) | bit(kTimeWait);
  if (s == "big") return kAllStates & ~(bit(kSynRecv) | bit(kTimeWait));
  return std::nullopt;
}

const char* timer_name(Timer t) {
  static const char* names[] = {"off", "on", "keepalive", "timewait", "persist", "unknown"};
  return names[static_cast<int>(t)];
}

const char* const kTcpInfoFieldNames[] = {
#define PARLEY_NAME(name) #name,
    PARLEY_TCP_INFO_FIELDS(PARLEY_NAME)
#undef PARLEY_NAME
};
const std::size_t kTcpInfoFieldCount = sizeof(kTcpInfoFieldNames) / sizeof(kTcpInfoFieldNames[0]);

std::uint64_t TcpInfo::*const kTcpInfoFields[] = {
#define PARLEY_MEMBER(name) &TcpInfo::name,
    PARLEY_TCP_INFO_FIELDS(PARLEY_MEMBER)
#undef PARLEY_MEMBER
};

}  // namespace parley
