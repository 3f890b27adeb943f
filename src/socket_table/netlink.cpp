// NETLINK_SOCK_DIAG source: one dump request per (family, protocol), parsed into SocketRecords.
// The byte exchange is injectable (live kernel, recording, replay); parsing is the same for all.

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "parley/socket_table.hpp"

namespace parley {
namespace {

template <typename Req>
std::string make_request(const Req& req) {
  struct {
    nlmsghdr header;
    Req body;
  } msg{};
  msg.header.nlmsg_len = sizeof(msg);
  msg.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.header.nlmsg_seq = 1;
  msg.body = req;
  return std::string(reinterpret_cast<const char*>(&msg), sizeof(msg));
}

SocketAddress inet_address(int family, const __be32* addr, __be16 port) {
  if (family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, addr, 4);
    sin.sin_port = port;
    return SocketAddress(reinterpret_cast<sockaddr*>(&sin), sizeof(sin));
  }
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, addr, 16);
  sin6.sin6_port = port;
  return SocketAddress(reinterpret_cast<sockaddr*>(&sin6), sizeof(sin6));
}

TcpInfo tcp_info_of(const void* data, std::size_t len) {
  tcp_info ti{};
  std::memcpy(&ti, data, std::min(len, sizeof(ti)));  // Older kernels send a shorter struct.
  TcpInfo out;
  out.rtt_ms = ti.tcpi_rtt / 1000.0;
  out.rttvar_ms = ti.tcpi_rttvar / 1000.0;
  out.cwnd = ti.tcpi_snd_cwnd;
  out.retransmits = ti.tcpi_retransmits;
  out.total_retrans = ti.tcpi_total_retrans;
  out.bytes_sent = ti.tcpi_bytes_acked;
  out.bytes_received = ti.tcpi_bytes_received;
  out.delivery_rate = ti.tcpi_delivery_rate;
  return out;
}

void parse_inet(const nlmsghdr* h, Proto proto, std::vector<SocketRecord>* out) {
  const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
  SocketRecord r;
  r.proto = proto;
  r.state = msg->idiag_state;
  r.recv_q = msg->idiag_rqueue;
  r.send_q = msg->idiag_wqueue;
  r.local = inet_address(msg->idiag_family, msg->id.idiag_src, msg->id.idiag_sport);
  r.peer = inet_address(msg->idiag_family, msg->id.idiag_dst, msg->id.idiag_dport);
  r.inode = msg->idiag_inode;
  r.uid = msg->idiag_uid;
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
  for (const rtattr* a = reinterpret_cast<const rtattr*>(msg + 1); RTA_OK(a, len);
       a = RTA_NEXT(a, len)) {
    if (a->rta_type == INET_DIAG_INFO && proto == Proto::tcp)
      r.info = tcp_info_of(RTA_DATA(a), RTA_PAYLOAD(a));
  }
  out->push_back(std::move(r));
}

void parse_unix(const nlmsghdr* h, std::vector<SocketRecord>* out) {
  const auto* msg = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
  SocketRecord r;
  r.proto = msg->udiag_type == SOCK_DGRAM       ? Proto::unix_dgram
            : msg->udiag_type == SOCK_SEQPACKET ? Proto::unix_seqpacket
                                                : Proto::unix_stream;
  r.state = msg->udiag_state;
  r.inode = msg->udiag_ino;
  int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof(*msg)));
  for (const rtattr* a = reinterpret_cast<const rtattr*>(msg + 1); RTA_OK(a, len);
       a = RTA_NEXT(a, len)) {
    if (a->rta_type == UNIX_DIAG_NAME) {
      std::string name(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a));
      if (!name.empty() && name[0] == '\0') name[0] = '@';  // Abstract namespace, as ss shows it.
      if (auto path = SocketAddress::unix_path(name)) r.local = *path;
    } else if (a->rta_type == UNIX_DIAG_PEER) {
      std::uint32_t peer;
      std::memcpy(&peer, RTA_DATA(a), sizeof(peer));
      r.unix_peer_inode = peer;
    } else if (a->rta_type == UNIX_DIAG_RQLEN) {
      unix_diag_rqlen q;
      std::memcpy(&q, RTA_DATA(a), sizeof(q));
      r.recv_q = q.udiag_rqueue;
      r.send_q = q.udiag_wqueue;
    }
  }
  out->push_back(std::move(r));
}

// Walks a dump answer. Errors: the kernel's NLMSG_ERROR code.
std::error_code parse_dump(const std::string& bytes, Proto proto, std::vector<SocketRecord>* out) {
  int len = static_cast<int>(bytes.size());
  out->reserve(out->size() + bytes.size() / NLMSG_LENGTH(sizeof(inet_diag_msg)));
  for (const auto* h = reinterpret_cast<const nlmsghdr*>(bytes.data()); NLMSG_OK(h, len);
       h = NLMSG_NEXT(h, len)) {
    if (h->nlmsg_type == NLMSG_DONE) return {};
    if (h->nlmsg_type == NLMSG_ERROR) {
      const auto* err = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
      return {-err->error, std::system_category()};
    }
    if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    if (proto == Proto::tcp || proto == Proto::udp)
      parse_inet(h, proto, out);
    else
      parse_unix(h, out);
  }
  return {};
}

class NetlinkSource final : public SocketSource {
 public:
  explicit NetlinkSource(NetlinkExchange exchange) : exchange_(std::move(exchange)) {}

  Result<std::vector<SocketRecord>> list(const DiagQuery& q) override {
    std::vector<SocketRecord> out;
    for (int family : {AF_INET, AF_INET6}) {
      if ((family == AF_INET && !q.v4) || (family == AF_INET6 && !q.v6)) continue;
      for (Proto proto : {Proto::tcp, Proto::udp}) {
        if ((proto == Proto::tcp && !q.tcp) || (proto == Proto::udp && !q.udp)) continue;
        inet_diag_req_v2 req{};
        req.sdiag_family = static_cast<__u8>(family);
        req.sdiag_protocol = proto == Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP;
        req.idiag_states = q.states;  // Filtered by the kernel.
        if (q.tcp_info && proto == Proto::tcp) req.idiag_ext = 1 << (INET_DIAG_INFO - 1);
        if (auto ec = run(make_request(req), proto, &out)) return ec;
      }
    }
    if (q.unix_sockets) {
      unix_diag_req req{};
      req.sdiag_family = AF_UNIX;
      req.udiag_states = q.states;
      req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
      if (auto ec = run(make_request(req), Proto::unix_stream, &out)) return ec;
    }
    return out;
  }

 private:
  std::error_code run(const std::string& request, Proto proto, std::vector<SocketRecord>* out) {
    auto answer = exchange_(request);
    if (!answer) return answer.error();
    return parse_dump(*answer, proto, out);
  }
  NetlinkExchange exchange_;
};

// File name for a recorded exchange: the request's bytes identify it.
std::string recording_name(const std::string& request) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a: stable across runs and machines.
  for (unsigned char c : request) h = (h ^ c) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof(name), "netlink-%016llx.bin", static_cast<unsigned long long>(h));
  return name;
}

}  // namespace

NetlinkExchange live_netlink() {
  return [](const std::string& request) -> Result<std::string> {
    Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return last_error();
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd.get(), request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof(kernel)) < 0)
      return last_error();
    std::string all;
    all.reserve(1 << 20);
    std::vector<char> buf(1 << 17);
    for (;;) {
      ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_error();
      }
      all.append(buf.data(), static_cast<std::size_t>(n));
      // The dump ends with NLMSG_DONE (or an error) as the last message of a datagram.
      int len = static_cast<int>(n);
      const nlmsghdr* last = nullptr;
      for (const auto* h = reinterpret_cast<const nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
           h = NLMSG_NEXT(h, len))
        last = h;
      if (n == 0 || last == nullptr || last->nlmsg_type == NLMSG_DONE ||
          last->nlmsg_type == NLMSG_ERROR)
        return all;
    }
  };
}

NetlinkExchange recording_netlink(NetlinkExchange inner, std::string dir) {
  return [inner = std::move(inner),
          dir = std::move(dir)](const std::string& request) -> Result<std::string> {
    auto answer = inner(request);
    if (answer) std::ofstream(dir + "/" + recording_name(request), std::ios::binary) << *answer;
    return answer;
  };
}

NetlinkExchange replay_netlink(std::string dir) {
  return [dir = std::move(dir)](const std::string& request) -> Result<std::string> {
    std::ifstream in(dir + "/" + recording_name(request), std::ios::binary);
    if (!in) return std::make_error_code(std::errc::no_such_file_or_directory);
    std::ostringstream all;
    all << in.rdbuf();
    return all.str();
  };
}

std::unique_ptr<SocketSource> make_netlink_source(NetlinkExchange exchange) {
  return std::make_unique<NetlinkSource>(std::move(exchange));
}

}  // namespace parley
