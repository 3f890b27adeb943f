// /proc source: the text tables netstat reads. Used when netlink is unavailable (or forced), and
// with a different root to replay recorded files in tests.

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "parley/errors.hpp"
#include "parley/socket_table.hpp"

namespace parley {
namespace {

// "0100007F:3039" (IPv4) or 32 hex digits + ":PORT" (IPv6): the kernel prints each 32-bit word of
// the address as it lies in memory, read as a host-order integer.
SocketAddress parse_hex_address(const std::string& text, int family) {
  auto colon = text.find(':');
  std::string addr = text.substr(0, colon);
  auto port = static_cast<std::uint16_t>(std::strtoul(text.c_str() + colon + 1, nullptr, 16));
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = static_cast<std::uint32_t>(std::strtoul(addr.c_str(), nullptr, 16));
    sin.sin_port = htons(port);
    return SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  for (int i = 0; i < 4 && addr.size() >= 32; ++i) {
    auto word =
        static_cast<std::uint32_t>(std::strtoul(addr.substr(i * 8, 8).c_str(), nullptr, 16));
    std::memcpy(&sin6.sin6_addr.s6_addr[i * 4], &word, 4);
  }
  sin6.sin6_port = htons(port);
  return SocketAddress(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
}

void read_inet(const std::string& path, Proto proto, int family, std::uint32_t states,
               std::vector<SocketRecord>* out) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // Header.
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, st, queues, timer, retr, uid, timeout, inode;
    if (!(f >> slot >> local >> remote >> st >> queues >> timer >> retr >> uid >> timeout >> inode))
      continue;
    SocketRecord r;
    r.proto = proto;
    r.state = static_cast<int>(std::strtol(st.c_str(), nullptr, 16));
    if (!(states & (1u << r.state))) continue;
    auto colon = queues.find(':');
    r.send_q =
        static_cast<std::uint32_t>(std::strtoul(queues.substr(0, colon).c_str(), nullptr, 16));
    r.recv_q = static_cast<std::uint32_t>(std::strtoul(queues.c_str() + colon + 1, nullptr, 16));
    r.local = parse_hex_address(local, family);
    r.peer = parse_hex_address(remote, family);
    r.uid = static_cast<std::uint32_t>(std::strtoul(uid.c_str(), nullptr, 10));
    r.inode = std::strtoull(inode.c_str(), nullptr, 10);
    out->push_back(std::move(r));
  }
}

void read_unix(const std::string& path, std::uint32_t states, std::vector<SocketRecord>* out) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string num, refs, protocol, flags, type, st, inode, name;
    if (!(f >> num >> refs >> protocol >> flags >> type >> st >> inode)) continue;
    f >> name;
    SocketRecord r;
    int t = static_cast<int>(std::strtol(type.c_str(), nullptr, 16));
    r.proto = t == 2 ? Proto::unix_dgram : t == 5 ? Proto::unix_seqpacket : Proto::unix_stream;
    bool listening = std::strtoul(flags.c_str(), nullptr, 16) & 0x10000;  // __SO_ACCEPTCON
    int sst = static_cast<int>(std::strtol(st.c_str(), nullptr, 16));
    r.state = listening ? kListen : sst == 3 ? kEstablished : kClose;  // As unix_diag reports.
    if (!(states & (1u << r.state))) continue;
    r.inode = std::strtoull(inode.c_str(), nullptr, 10);
    if (!name.empty()) {
      if (auto a = SocketAddress::unix_path(name)) r.local = *a;
    }
    out->push_back(std::move(r));
  }
}

class ProcSource final : public SocketSource {
 public:
  explicit ProcSource(std::string root) : root_(std::move(root)) {}
  Result<std::vector<SocketRecord>> list(const DiagQuery& q) override {
    if (access((root_ + "/net/tcp").c_str(), R_OK) != 0) return last_error();
    std::vector<SocketRecord> out;
    if (q.tcp && q.v4) read_inet(root_ + "/net/tcp", Proto::tcp, AF_INET, q.states, &out);
    if (q.tcp && q.v6) read_inet(root_ + "/net/tcp6", Proto::tcp, AF_INET6, q.states, &out);
    if (q.udp && q.v4) read_inet(root_ + "/net/udp", Proto::udp, AF_INET, q.states, &out);
    if (q.udp && q.v6) read_inet(root_ + "/net/udp6", Proto::udp, AF_INET6, q.states, &out);
    if (q.unix_sockets) read_unix(root_ + "/net/unix", q.states, &out);
    return out;
  }

 private:
  std::string root_;
};

}  // namespace

std::unique_ptr<SocketSource> make_proc_source(std::string root) {
  return std::make_unique<ProcSource>(std::move(root));
}

std::vector<SocketOwner> OwnerMap::find(std::uint64_t inode) const {
  std::vector<SocketOwner> out;
  auto it = std::lower_bound(owners.begin(), owners.end(), inode,
                             [](const auto& p, std::uint64_t i) { return p.first < i; });
  for (; it != owners.end() && it->first == inode; ++it) out.push_back(it->second);
  return out;
}

// One pass over /proc/*/fd. readlinkat on a directory descriptor keeps it to one system call per
// descriptor, which is what dominates the cost (as for ss -p).
OwnerMap scan_owners(const std::string& proc_root) {
  OwnerMap map;
  DIR* proc = opendir(proc_root.c_str());
  if (proc == nullptr) return map;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    int pid = std::atoi(e->d_name);
    std::string base = proc_root + "/" + e->d_name;
    int fd_dir = open((base + "/fd").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_dir < 0) {
      if (errno == EACCES) ++map.unreadable_processes;
      continue;
    }
    std::string name;
    std::ifstream(base + "/comm") >> name;
    DIR* fds = fdopendir(fd_dir);
    if (fds == nullptr) {
      close(fd_dir);
      continue;
    }
    char link[64];
    while (dirent* f = readdir(fds)) {
      if (f->d_name[0] < '0' || f->d_name[0] > '9') continue;
      ssize_t n = readlinkat(fd_dir, f->d_name, link, sizeof(link) - 1);
      if (n < 9 || std::memcmp(link, "socket:[", 8) != 0) continue;
      link[n] = '\0';
      map.owners.push_back(
          {std::strtoull(link + 8, nullptr, 10), {pid, name, std::atoi(f->d_name)}});
    }
    closedir(fds);
  }
  closedir(proc);
  std::sort(map.owners.begin(), map.owners.end(), [](const auto& a, const auto& b) {
    return a.first < b.first || (a.first == b.first && a.second.pid < b.second.pid);
  });
  return map;
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

std::optional<int> parse_state(const std::string& text) {
  std::string s;
  for (char c : text)
    s += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static const std::pair<const char*, int> names[] = {
      {"established", kEstablished}, {"estab", kEstablished},   {"syn-sent", kSynSent},
      {"syn-recv", kSynRecv},        {"fin-wait-1", kFinWait1}, {"fin-wait-2", kFinWait2},
      {"time-wait", kTimeWait},      {"close", kClose},         {"unconn", kClose},
      {"close-wait", kCloseWait},    {"last-ack", kLastAck},    {"listen", kListen},
      {"listening", kListen},        {"closing", kClosing}};
  for (const auto& [name, value] : names)
    if (s == name) return value;
  return std::nullopt;
}

}  // namespace parley
