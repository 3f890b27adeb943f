// Parsing sock_diag answers. Nothing is read before its length is checked: a message must fit
// in what is left, its payload must hold the fixed struct, each attribute must fit in the
// message and hold what its type needs. Anything else is a corrupt answer (std::errc::
// bad_message) whose description names the byte offset, so a bad recording is reported, never
// shown as a table.

#include "netlink_parse.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <climits>
#include <cstring>

#include <fmt/format.h>

namespace parley::detail {
namespace {

template <typename T>
T load(const unsigned char* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

bool valid_state(int s) {
  return s >= kEstablished && s <= kMaxState;
}

// Kernel tcp_info (any length the kernel sends) into TcpInfo.
void convert_tcp_info(const unsigned char* p, std::size_t len, TcpInfo* out) {
  tcp_info ti{};
  std::memcpy(&ti, p, std::min(len, sizeof(ti)));
  TcpInfo& o = *out;
  o = TcpInfo{};
  o.state = ti.tcpi_state;
  o.ca_state = ti.tcpi_ca_state;
  o.retransmits = ti.tcpi_retransmits;
  o.probes = ti.tcpi_probes;
  o.backoff = ti.tcpi_backoff;
  o.options = ti.tcpi_options;
  o.snd_wscale = ti.tcpi_snd_wscale;
  o.rcv_wscale = ti.tcpi_rcv_wscale;
  o.delivery_rate_app_limited = ti.tcpi_delivery_rate_app_limited;
  o.rto = ti.tcpi_rto;
  o.ato = ti.tcpi_ato;
  o.snd_mss = ti.tcpi_snd_mss;
  o.rcv_mss = ti.tcpi_rcv_mss;
  o.unacked = ti.tcpi_unacked;
  o.sacked = ti.tcpi_sacked;
  o.lost = ti.tcpi_lost;
  o.retrans = ti.tcpi_retrans;
  o.fackets = ti.tcpi_fackets;
  o.last_data_sent_ms = ti.tcpi_last_data_sent;
  o.last_data_recv_ms = ti.tcpi_last_data_recv;
  o.last_ack_recv_ms = ti.tcpi_last_ack_recv;
  o.pmtu = ti.tcpi_pmtu;
  o.rcv_ssthresh = ti.tcpi_rcv_ssthresh;
  o.rtt = ti.tcpi_rtt;
  o.rttvar = ti.tcpi_rttvar;
  o.snd_ssthresh = ti.tcpi_snd_ssthresh;
  o.snd_cwnd = ti.tcpi_snd_cwnd;
  o.advmss = ti.tcpi_advmss;
  o.reordering = ti.tcpi_reordering;
  o.rcv_rtt = ti.tcpi_rcv_rtt;
  o.rcv_space = ti.tcpi_rcv_space;
  o.total_retrans = ti.tcpi_total_retrans;
  o.pacing_rate = ti.tcpi_pacing_rate;
  o.max_pacing_rate = ti.tcpi_max_pacing_rate;
  o.bytes_acked = ti.tcpi_bytes_acked;
  o.bytes_received = ti.tcpi_bytes_received;
  o.segs_out = ti.tcpi_segs_out;
  o.segs_in = ti.tcpi_segs_in;
  o.notsent_bytes = ti.tcpi_notsent_bytes;
  o.min_rtt = ti.tcpi_min_rtt;
  o.data_segs_in = ti.tcpi_data_segs_in;
  o.data_segs_out = ti.tcpi_data_segs_out;
  o.delivery_rate = ti.tcpi_delivery_rate;
  o.busy_time = ti.tcpi_busy_time;
  o.rwnd_limited = ti.tcpi_rwnd_limited;
  o.sndbuf_limited = ti.tcpi_sndbuf_limited;
  o.delivered = ti.tcpi_delivered;
  o.delivered_ce = ti.tcpi_delivered_ce;
  o.bytes_sent = ti.tcpi_bytes_sent;
  o.bytes_retrans = ti.tcpi_bytes_retrans;
  o.dsack_dups = ti.tcpi_dsack_dups;
  o.reord_seen = ti.tcpi_reord_seen;
  o.rcv_ooopack = ti.tcpi_rcv_ooopack;
  o.snd_wnd = ti.tcpi_snd_wnd;
}

void read_memory(const unsigned char* p, std::size_t len, SkMem* m) {
  m->count = static_cast<std::uint8_t>(std::min<std::size_t>(len / 4, m->v.size()));
  for (std::size_t i = 0; i < m->count; ++i) m->v[i] = load<std::uint32_t>(p + 4 * i);
}

// Walks the attributes in [p, p + len): f(type, payload, payload_len) for each; false on a
// malformed one (*bad_at: its offset from p).
template <typename F>
bool each_attribute(const unsigned char* p, std::size_t len, std::size_t* bad_at, F&& f) {
  std::size_t at = 0;
  while (len - at >= sizeof(rtattr)) {
    auto a = load<rtattr>(p + at);
    if (a.rta_len < sizeof(rtattr) || a.rta_len > len - at) {
      *bad_at = at;
      return false;
    }
    if (!f(a.rta_type, p + at + sizeof(rtattr), a.rta_len - sizeof(rtattr))) {
      *bad_at = at;
      return false;
    }
    at += std::min<std::size_t>(RTA_ALIGN(a.rta_len), len - at);
  }
  return true;  // Fewer than 4 bytes left: padding.
}

}  // namespace

std::error_code DumpParser::corrupt(std::string message) {
  what_ = std::move(message);
  return std::make_error_code(std::errc::bad_message);
}

Result<Feed> DumpParser::feed(std::string_view bytes) {
  const auto* base = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t at = 0;
  while (at < bytes.size()) {
    const std::size_t left = bytes.size() - at;
    if (done_)
      return corrupt(fmt::format("{} bytes after the end of the dump at byte {}", left, offset_));
    if (left < sizeof(nlmsghdr))
      return corrupt(fmt::format("truncated message header at byte {} ({} bytes)", offset_, left));
    auto h = load<nlmsghdr>(base + at);
    if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > left)
      return corrupt(fmt::format("message at byte {} claims {} bytes, {} are there", offset_,
                                 h.nlmsg_len, left));
    const unsigned char* payload = base + at + sizeof(nlmsghdr);
    const std::size_t plen = h.nlmsg_len - sizeof(nlmsghdr);
    if (h.nlmsg_type == NLMSG_DONE) {
      // Since Linux 4.x the payload is the dump's status (0, or a negative errno).
      int status = plen >= sizeof(int) ? load<int>(payload) : 0;
      if (status > 0 || status == INT_MIN)
        return corrupt(fmt::format("NLMSG_DONE at byte {} with status {}", offset_, status));
      if (status < 0) return std::error_code(-status, std::system_category());
      done_ = true;
    } else if (h.nlmsg_type == NLMSG_ERROR) {
      if (plen < sizeof(int))
        return corrupt(fmt::format("NLMSG_ERROR at byte {} without an error code", offset_));
      int error = load<int>(payload);
      if (error >= 0 || error == INT_MIN)  // No errno to report; INT_MIN would not negate.
        return corrupt(fmt::format("NLMSG_ERROR at byte {} with code {}", offset_, error));
      return std::error_code(-error, std::system_category());
    } else if (h.nlmsg_type == SOCK_DIAG_BY_FAMILY) {
      if (!done_) {
        std::error_code ec = unix_ ? parse_unix(payload, plen) : parse_inet(payload, plen);
        if (ec) return ec;
        if (stopped_) return Feed::done;  // The sink has what it wants.
      }
    } else if (h.nlmsg_type != NLMSG_NOOP) {
      return corrupt(fmt::format("unexpected message type {} at byte {}", h.nlmsg_type, offset_));
    }
    std::size_t step = std::min<std::size_t>(NLMSG_ALIGN(h.nlmsg_len), left);
    at += step;
    offset_ += step;
  }
  return done_ ? Feed::done : Feed::more;
}

// One attribute of an inet_diag message into record_; false (and *need) if it is too short.
bool DumpParser::inet_attribute(unsigned type, const unsigned char* v, std::size_t n,
                                const char** need) {
  SocketRecord& r = record_;
  switch (type) {
    case INET_DIAG_INFO:
      if (query_.tcp_info && proto_ == Proto::tcp) {
        convert_tcp_info(v, n, &info_);  // Any length: older kernels send a shorter struct.
        r.info = &info_;
      }
      return true;
    case INET_DIAG_CONG:
      r.congestion = std::string_view(reinterpret_cast<const char*>(v), n);
      r.congestion = r.congestion.substr(0, r.congestion.find('\0'));
      return true;
    case INET_DIAG_SKMEMINFO:
      if (query_.memory) {
        read_memory(v, n, &memory_);
        r.memory = &memory_;
      }
      return true;
    case INET_DIAG_SKV6ONLY:
      if (n < 1) return *need = "1 byte", false;
      r.v6only = v[0] != 0;
      return true;
    case INET_DIAG_MARK:
      if (n < 4) return *need = "4 bytes", false;
      r.mark = load<std::uint32_t>(v);
      return true;
    case INET_DIAG_CGROUP_ID:
      if (n < 8) return *need = "8 bytes", false;
      r.cgroup_id = load<std::uint64_t>(v);
      return true;
    default:
      return true;
  }
}

bool DumpParser::unix_attribute(unsigned type, const unsigned char* v, std::size_t n,
                                const char** need) {
  SocketRecord& r = record_;
  switch (type) {
    case UNIX_DIAG_NAME:
      if (n > 108) return *need = "at most 108 bytes", false;  // sizeof(sun_path)
      name_.assign(reinterpret_cast<const char*>(v), n);
      if (!name_.empty() && name_[0] == '\0') {
        for (char& c : name_) c = c == '\0' ? '@' : c;  // Abstract: as ss shows it.
      } else {
        name_.erase(std::min(name_.find('\0'), name_.size()));
      }
      return true;
    case UNIX_DIAG_PEER:
      if (n < 4) return *need = "4 bytes", false;
      r.unix_peer = load<std::uint32_t>(v);
      return true;
    case UNIX_DIAG_RQLEN:
      if (n < sizeof(unix_diag_rqlen)) return *need = "8 bytes", false;
      r.recv_q = load<unix_diag_rqlen>(v).udiag_rqueue;
      r.send_q = load<unix_diag_rqlen>(v).udiag_wqueue;
      return true;
    case UNIX_DIAG_MEMINFO:
      if (query_.memory) {
        read_memory(v, n, &memory_);
        r.memory = &memory_;
      }
      return true;
    case UNIX_DIAG_UID:
      if (n < 4) return *need = "4 bytes", false;
      r.uid = load<std::uint32_t>(v);
      return true;
    default:
      return true;
  }
}

std::error_code DumpParser::parse_inet(const unsigned char* p, std::size_t len) {
  if (len < sizeof(inet_diag_msg))
    return corrupt(fmt::format("inet_diag message at byte {} has {} of {} bytes", offset_, len,
                               sizeof(inet_diag_msg)));
  auto m = load<inet_diag_msg>(p);
  if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
    return corrupt(fmt::format("inet_diag message at byte {}: family {}", offset_, m.idiag_family));
  if (!valid_state(m.idiag_state))
    return corrupt(fmt::format("inet_diag message at byte {}: state {}", offset_, m.idiag_state));
  SocketRecord& r = record_;
  r = SocketRecord{};
  r.proto = proto_;
  r.family = m.idiag_family;
  r.state = m.idiag_state == kNewSynRecv ? int{kSynRecv} : int{m.idiag_state};
  r.recv_q = m.idiag_rqueue;
  r.send_q = m.idiag_wqueue;
  std::memcpy(r.local.data(), m.id.idiag_src, m.idiag_family == AF_INET ? 4 : 16);
  std::memcpy(r.peer.data(), m.id.idiag_dst, m.idiag_family == AF_INET ? 4 : 16);
  r.local_port = ntohs(m.id.idiag_sport);
  r.peer_port = ntohs(m.id.idiag_dport);
  r.iface = m.id.idiag_if;
  r.inode = m.idiag_inode;
  r.uid = m.idiag_uid;
  r.timer = m.idiag_timer <= 4 ? static_cast<Timer>(m.idiag_timer) : Timer::unknown;
  r.retrans = m.idiag_retrans;
  r.expires_ms = m.idiag_expires;
  static_assert(sizeof(m.id) == sizeof(r.diag_id));
  std::memcpy(r.diag_id.data(), &m.id, sizeof(m.id));
  std::size_t bad_at = 0;
  const char* need = nullptr;
  bool ok = each_attribute(p + sizeof(m), len - sizeof(m), &bad_at,
                           [&](unsigned type, const unsigned char* v, std::size_t n) {
                             return inet_attribute(type, v, n, &need);
                           });
  if (!ok)
    return corrupt(fmt::format("inet_diag message at byte {}: bad attribute at byte {}{}", offset_,
                               offset_ + sizeof(nlmsghdr) + sizeof(m) + bad_at,
                               need ? fmt::format(" (needs {})", need) : ""));
  // The kernel selected by state and family already; a recording may hold more. A request
  // socket (NEW_SYN_RECV) is shown as SYN-RECV, as ss does.
  std::uint32_t bits = 1u << m.idiag_state;
  if (m.idiag_state == kNewSynRecv) bits |= 1u << kSynRecv;  // As the kernel selects them.
  if (!(query_.states & bits) || (r.family == AF_INET ? !query_.v4 : !query_.v6)) return {};
  ++delivered_;
  stopped_ = !sink_(r);
  return {};
}

std::error_code DumpParser::parse_unix(const unsigned char* p, std::size_t len) {
  if (len < sizeof(unix_diag_msg))
    return corrupt(fmt::format("unix_diag message at byte {} has {} of {} bytes", offset_, len,
                               sizeof(unix_diag_msg)));
  auto m = load<unix_diag_msg>(p);
  if (m.udiag_family != AF_UNIX)
    return corrupt(fmt::format("unix_diag message at byte {}: family {}", offset_, m.udiag_family));
  if (m.udiag_type != SOCK_STREAM && m.udiag_type != SOCK_DGRAM && m.udiag_type != SOCK_SEQPACKET)
    return corrupt(fmt::format("unix_diag message at byte {}: type {}", offset_, m.udiag_type));
  if (!valid_state(m.udiag_state))
    return corrupt(fmt::format("unix_diag message at byte {}: state {}", offset_, m.udiag_state));
  SocketRecord& r = record_;
  r = SocketRecord{};
  r.proto = m.udiag_type == SOCK_DGRAM       ? Proto::unix_dgram
            : m.udiag_type == SOCK_SEQPACKET ? Proto::unix_seqpacket
                                             : Proto::unix_stream;
  r.family = AF_UNIX;
  r.state = m.udiag_state;
  r.inode = m.udiag_ino;
  name_.clear();
  std::size_t bad_at = 0;
  const char* need = nullptr;
  bool ok = each_attribute(p + sizeof(m), len - sizeof(m), &bad_at,
                           [&](unsigned type, const unsigned char* v, std::size_t n) {
                             return unix_attribute(type, v, n, &need);
                           });
  if (!ok)
    return corrupt(fmt::format("unix_diag message at byte {}: bad attribute at byte {}{}", offset_,
                               offset_ + sizeof(nlmsghdr) + sizeof(m) + bad_at,
                               need ? fmt::format(" (needs {})", need) : ""));
  r.unix_name = name_;
  if (!(query_.protos & proto_bit(r.proto)) || !(query_.states & (1u << r.state))) return {};
  ++delivered_;
  stopped_ = !sink_(r);
  return {};
}

}  // namespace parley::detail
