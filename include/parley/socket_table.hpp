#pragma once
// The socket table: what sockets exist on this machine, as `parley conns` lists them. Data comes
// from a SocketSource: the kernel's NETLINK_SOCK_DIAG (inet_diag for TCP/UDP, unix_diag), the
// /proc/net text files as a fallback, or a recording of either, so tests can replay exact data.
//
// Sources stream: list() parses each socket into one SocketRecord and hands it to a sink, so a
// table of tens of thousands of sockets is never held as raw bytes or as records here; the caller
// keeps what its view needs. Every length and value from the kernel or a file is checked before
// it is used: a corrupt recording is an error that names the file, never a guess.
//
// Threads: a source, a SocketKiller and an OwnerMap are used from one thread at a time; records
// are plain values, valid (with the views they hold) only during the sink call.

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"

namespace parley {

enum class Proto : std::uint8_t { tcp, udp, unix_stream, unix_dgram, unix_seqpacket };
inline bool is_unix(Proto p) {
  return p != Proto::tcp && p != Proto::udp;
}
// Bit (1 << Proto) sets, for selecting protocols.
inline constexpr std::uint8_t proto_bit(Proto p) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(p));
}
inline constexpr std::uint8_t kUnixProtos =
    proto_bit(Proto::unix_stream) | proto_bit(Proto::unix_dgram) | proto_bit(Proto::unix_seqpacket);

// TCP states as the kernel numbers them (include/net/tcp_states.h). UDP and Unix sockets use
// kEstablished (connected), kClose (unconnected) and kListen.
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
inline constexpr int kMaxState = kNewSynRecv;
inline constexpr std::uint32_t kAllStates = (1u << (kMaxState + 1)) - 1;  // ss's SS_ALL
const char* state_name(int state);          // "ESTAB", "LISTEN", ... (ss's names)
const char* state_name_netstat(int state);  // "ESTABLISHED", "LISTEN", ... (netstat's names)
// A state name or one of ss's groups as users type them ("established", "estab", "listening",
// "time-wait", "connected", "synchronized", "bucket", "big", "all"): the set of state bits.
std::optional<std::uint32_t> parse_states(std::string_view name);

// What is pending on an inet socket (inet_diag's idiag_timer, /proc/net/tcp's "tr").
enum class Timer : std::uint8_t { off, on, keepalive, timewait, persist, unknown };
const char* timer_name(Timer t);  // "off", "on", "keepalive", ... (ss's names)

// struct tcp_info as `ss -i` shows it, widened to 64 bits, whatever the kernel's version of the
// struct (fields a shorter struct lacks are 0). Times are in microseconds unless the name says ms.
// clang-format off
#define PARLEY_TCP_INFO_FIELDS(X)                                                              \
  X(state) X(ca_state) X(retransmits) X(probes) X(backoff) X(options) X(snd_wscale)            \
  X(rcv_wscale) X(delivery_rate_app_limited) X(rto) X(ato) X(snd_mss) X(rcv_mss) X(unacked)    \
  X(sacked) X(lost) X(retrans) X(fackets) X(last_data_sent_ms) X(last_data_recv_ms)            \
  X(last_ack_recv_ms) X(pmtu) X(rcv_ssthresh) X(rtt) X(rttvar) X(snd_ssthresh) X(snd_cwnd)     \
  X(advmss) X(reordering) X(rcv_rtt) X(rcv_space) X(total_retrans) X(pacing_rate)              \
  X(max_pacing_rate) X(bytes_acked) X(bytes_received) X(segs_out) X(segs_in) X(notsent_bytes)  \
  X(min_rtt) X(data_segs_in) X(data_segs_out) X(delivery_rate) X(busy_time) X(rwnd_limited)    \
  X(sndbuf_limited) X(delivered) X(delivered_ce) X(bytes_sent) X(bytes_retrans) X(dsack_dups)  \
  X(reord_seen) X(rcv_ooopack) X(snd_wnd)
// clang-format on

struct TcpInfo {
#define PARLEY_FIELD(name) std::uint64_t name = 0;
  PARLEY_TCP_INFO_FIELDS(PARLEY_FIELD)
#undef PARLEY_FIELD
};
// The fields in declaration order (info.*kTcpInfoFields[i]) and their names, for encoders and
// JSON.
extern std::uint64_t TcpInfo::*const kTcpInfoFields[];
extern const char* const kTcpInfoFieldNames[];
extern const std::size_t kTcpInfoFieldCount;

// Socket memory (sock_diag's SK_MEMINFO_*), as `ss -m` shows it: r rb t tb f w o bl d.
struct SkMem {
  std::array<std::uint32_t, 9> v{};
  std::uint8_t count = 0;  // How many the kernel sent (7 on old kernels).
};

struct SocketRecord {
  Proto proto = Proto::tcp;
  int state = 0;
  int family = 0;                        // AF_INET, AF_INET6 or AF_UNIX.
  std::array<std::uint8_t, 16> local{};  // Address bytes: IPv4 in the first 4, IPv6 all 16.
  std::array<std::uint8_t, 16> peer{};   // Kept as the kernel reports them (v4-mapped stays).
  std::uint16_t local_port = 0, peer_port = 0;  // Host order.
  std::uint32_t recv_q = 0, send_q = 0;
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  std::uint32_t iface = 0;  // Bound device index (inet), 0 if none.
  std::uint32_t mark = 0;   // SO_MARK; the kernel reports it only to CAP_NET_ADMIN.
  std::uint64_t cgroup_id = 0;
  Timer timer = Timer::off;
  std::uint8_t retrans = 0;       // Retransmits (or keepalive probes) of the pending timer.
  std::uint32_t expires_ms = 0;   // When the pending timer fires.
  std::int8_t v6only = -1;        // IPV6_V6ONLY of a listening/unbound IPv6 socket; -1 unknown.
  std::string_view unix_name;     // Unix: the path, "@name" for the abstract namespace, or empty.
  std::uint32_t unix_peer = 0;    // Unix: the other end's inode, 0 if none or unknown.
  const TcpInfo* info = nullptr;  // With DiagQuery::tcp_info (netlink, TCP only).
  std::string_view congestion;    // Congestion control algorithm, with tcp_info.
  const SkMem* memory = nullptr;  // With DiagQuery::memory (netlink only).
  std::array<std::uint8_t, 48> diag_id{};  // The kernel's inet_diag_sockid, to destroy it (-K).

  // As socket addresses (inet: address and port; Unix: the path, for local only).
  SocketAddress local_address() const;
  SocketAddress peer_address() const;
};

struct DiagQuery {
  std::uint8_t protos = proto_bit(Proto::tcp);  // proto_bit() set.
  bool v4 = true, v6 = true;
  std::uint32_t states = kAllStates;  // Bit (1 << state); applied by the kernel where it can.
  bool tcp_info = false;              // INET_DIAG_INFO + INET_DIAG_CONG.
  bool memory = false;                // INET_DIAG_SKMEMINFO / UNIX_DIAG_MEMINFO.
  bool unix_uid = false;              // UNIX_DIAG_UID (for -e).
  std::string bytecode;               // INET_DIAG_REQ_BYTECODE for inet dumps (empty: none).
};

// Receives each socket; returns false to stop the listing early.
using RecordSink = std::function<bool(const SocketRecord&)>;

class SocketSource {
 public:
  virtual ~SocketSource() = default;
  // Streams every socket the query selects into sink. On an error, error_detail() says where
  // (the file and offset of a corrupt recording) and what.
  virtual std::error_code list(const DiagQuery& query, const RecordSink& sink) = 0;
  const std::string& error_detail() const { return detail_; }

 protected:
  std::string detail_;
};

// The raw netlink conversation, as a seam. A dump sends one request and passes each answer
// datagram to the sink, which says whether the dump is complete (its NLMSG_DONE was seen). The
// live exchange talks to the kernel, a recording one also saves the answers, a replay reads
// them. On errors, *detail may say more (a file name).
enum class Feed { more, done };
using DatagramSink = std::function<Result<Feed>(std::string_view datagram)>;
using NetlinkExchange = std::function<std::error_code(
    std::string_view request, const DatagramSink& sink, std::string* detail)>;
NetlinkExchange live_netlink();
// Saves each dump's answers into dir, one file per (family, protocol) as recording_file() names
// it. Files are created under fresh random names (O_EXCL: never through a link planted there)
// and renamed into place once complete, so a symlink at the final name is replaced, not followed.
NetlinkExchange recording_netlink(NetlinkExchange inner, std::string dir);
NetlinkExchange replay_netlink(std::string dir);
// "inet-tcp.nl", "inet6-udp.nl", "unix.nl": the file a recording keeps one dump's answer in.
std::string recording_file(int family, Proto proto);

std::unique_ptr<SocketSource> make_netlink_source(NetlinkExchange exchange);
// Reads root + "/net/tcp", "/net/tcp6", "/net/udp", "/net/udp6", "/net/unix". With
// missing_ok, a file that does not exist is an empty table (a kernel without IPv6).
std::unique_ptr<SocketSource> make_proc_source(std::string root = "/proc", bool missing_ok = true);

// SOCK_DESTROY (ss -K): closes a TCP or UDP socket as if it had been reset. Needs
// CAP_NET_ADMIN and a kernel with CONFIG_INET_DIAG_DESTROY (EOPNOTSUPP without it).
class SocketKiller {
 public:
  SocketKiller();
  ~SocketKiller();
  SocketKiller(const SocketKiller&) = delete;
  SocketKiller& operator=(const SocketKiller&) = delete;
  // 0 when destroyed; ENOENT when it was gone already; EPERM, EOPNOTSUPP, ...
  std::error_code kill(const SocketRecord& r);

 private:
  int fd_ = -1;
  int open_error_ = 0;  // Why the netlink socket could not be made.
  std::uint32_t seq_ = 0;
};

// Moves the calling thread into the network namespace `ip netns` knows as name
// (/run/netns/NAME). Errors: ENOENT (no such namespace), EINVAL (not a plain name), EPERM.
std::error_code enter_netns(std::string_view name);

// Who owns each socket inode: one scan of /proc/*/fd (root injectable for tests).
struct SocketOwner {
  int pid;
  std::string name;  // The process's comm, as the kernel has it (any bytes; at most 15).
  int fd;
};
class OwnerMap {
 public:
  // Calls f(SocketOwner) for each owner of inode, in pid order.
  template <typename F>
  void for_each(std::uint64_t inode, F&& f) const {
    for (std::size_t i = lower(inode); i < entries_.size() && entries_[i].inode == inode; ++i)
      f(SocketOwner{processes_[entries_[i].process].pid, processes_[entries_[i].process].name,
                    entries_[i].fd});
  }
  std::vector<SocketOwner> find(std::uint64_t inode) const {
    std::vector<SocketOwner> out;
    for_each(inode, [&](const SocketOwner& o) { out.push_back(o); });
    return out;
  }
  bool owned(std::uint64_t inode) const {
    std::size_t i = lower(inode);
    return i < entries_.size() && entries_[i].inode == inode;
  }
  std::size_t unreadable_processes = 0;  // Processes whose fds we could not read (other users).
  bool scanned = false;

 private:
  friend OwnerMap scan_owners(const std::string& proc_root);
  struct Process {
    int pid;
    std::string name;
  };
  struct Entry {
    std::uint64_t inode;
    std::uint32_t process;
    int fd;
  };
  std::size_t lower(std::uint64_t inode) const;
  std::vector<Process> processes_;
  std::vector<Entry> entries_;  // Sorted by inode, then pid.
};
OwnerMap scan_owners(const std::string& proc_root = "/proc");

}  // namespace parley
