#pragma once
// The socket table: what sockets exist on this machine, as `parley conns` lists them. Data comes
// from a SocketSource: the kernel's NETLINK_SOCK_DIAG (inet_diag for TCP/UDP, unix_diag), the
// /proc/net text files as a fallback, or a recording of either, so tests can replay exact data.
// Sources are used from one thread at a time; records are plain values.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"

namespace parley {

enum class Proto { tcp, udp, unix_stream, unix_dgram, unix_seqpacket };

// TCP states as the kernel numbers them (include/net/tcp_states.h).
enum TcpState : int {
  kEstablished = 1,
  kSynSent,
  kSynRecv,
  kFinWait1,
  kFinWait2,
  kTimeWait,
  kClose,
  kCloseWait,
  kLastAck,
  kListen,
  kClosing,
  kNewSynRecv
};
inline constexpr std::uint32_t kAllStates = 0xfff;
const char* state_name(int state);          // "ESTAB", "LISTEN", ... (ss's names)
const char* state_name_netstat(int state);  // "ESTABLISHED", "LISTEN", ... (netstat's names)
// Parses a state name as users type it ("established", "estab", "listen", "time-wait").
std::optional<int> parse_state(const std::string& name);

struct TcpInfo {
  double rtt_ms = 0, rttvar_ms = 0;
  std::uint32_t cwnd = 0, retransmits = 0, total_retrans = 0;
  std::uint64_t bytes_sent = 0, bytes_received = 0, delivery_rate = 0;  // delivery: bytes/s
};

struct SocketRecord {
  Proto proto = Proto::tcp;
  int state = 0;
  std::uint32_t recv_q = 0, send_q = 0;
  SocketAddress local, peer;  // For Unix sockets: local holds the path (may be unnamed).
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  std::uint64_t unix_peer_inode = 0;  // Unix: the other end's inode, 0 if none or unknown.
  std::optional<TcpInfo> info;        // With DiagQuery::tcp_info, from netlink only.
  bool is_unix() const { return proto != Proto::tcp && proto != Proto::udp; }
};

struct DiagQuery {
  bool tcp = true, udp = false, unix_sockets = false;
  bool v4 = true, v6 = true;
  std::uint32_t states = kAllStates;  // Bit (1 << state); applied by the kernel where it can.
  bool tcp_info = false;
};

class SocketSource {
 public:
  virtual ~SocketSource() = default;
  virtual Result<std::vector<SocketRecord>> list(const DiagQuery& query) = 0;
};

// The raw netlink conversation, as a seam: given the request, return every response byte. The
// live one talks to the kernel; a replay reads a recording.
using NetlinkExchange = std::function<Result<std::string>(const std::string& request)>;
NetlinkExchange live_netlink();
// Records every exchange into dir (one file per request) while passing it through.
NetlinkExchange recording_netlink(NetlinkExchange inner, std::string dir);
NetlinkExchange replay_netlink(std::string dir);

std::unique_ptr<SocketSource> make_netlink_source(NetlinkExchange exchange);
// Reads root + "/net/tcp", "/net/tcp6", "/net/udp", "/net/udp6", "/net/unix".
std::unique_ptr<SocketSource> make_proc_source(std::string root = "/proc");

// Who owns each socket inode: one scan of /proc/*/fd (root injectable for tests).
struct SocketOwner {
  int pid;
  std::string name;
  int fd;
};
struct OwnerMap {
  std::vector<std::pair<std::uint64_t, SocketOwner>> owners;  // Sorted by inode.
  std::size_t unreadable_processes = 0;  // Processes whose fds we could not read (other users).
  std::vector<SocketOwner> find(std::uint64_t inode) const;
};
OwnerMap scan_owners(const std::string& proc_root = "/proc");

}  // namespace parley
