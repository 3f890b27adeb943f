#include "conns_cells.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace parley::cmd {

const char* column_title(Column c) {
  switch (c) {
    case Column::mark:
      return "";
    case Column::proto:
      return "Proto";
    case Column::state:
      return "State";
    case Column::recv_q:
      return "Recv-Q";
    case Column::send_q:
      return "Send-Q";
    case Column::local:
      return "Local";
    case Column::peer:
      return "Peer";
    case Column::uid:
      return "Uid";
    case Column::inode:
      return "Inode";
    case Column::timer:
      return "Timer";
    case Column::process:
      return "Process";
    case Column::details:
      return "";
  }
  return "";
}

void Cells::format(Column c, const Placed& p, std::size_t index, std::string* out) {
  const ConnRow& r = t_[p.row];
  switch (c) {
    case Column::mark:
      if (v_.marks && index < v_.marks->size()) out->push_back((*v_.marks)[index]);
      return;
    case Column::proto:
      out->append(proto_name(r.proto));
      return;
    case Column::state:
      out->append(p.place == Place::child ? "  " : p.place == Place::child_unsure ? "? " : "");
      out->append(state_name(r.state));
      return;
    case Column::recv_q:
      append_number(out, r.recv_q);
      return;
    case Column::send_q:
      append_number(out, r.send_q);
      return;
    case Column::local:
    case Column::peer:
      endpoint(r, c == Column::local, false, out);
      return;
    case Column::uid:
      append_number(out, r.uid);
      return;
    case Column::inode:
      append_number(out, r.inode);
      return;
    case Column::timer: {
      if (r.extra == ConnRow::kNoExtra) return;
      ConnExtras e = t_.extras(r);
      append_timer(out, e.timer, e.expires_ms, e.retrans);
      return;
    }
    case Column::process:
      process(r.inode, out);
      return;
    case Column::details: {
      if (r.extra == ConnRow::kNoExtra) return;
      ConnExtras e = t_.extras(r);
      if (v_.show_memory && e.has_memory) append_skmem(out, e.memory);
      if (v_.show_info && e.has_info) {
        if (!out->empty()) out->push_back(' ');
        append_tcp_info(out, e.info, e.congestion, r.state, v_.show_timer, v_.numeric);
      }
      return;
    }
  }
}

void Cells::endpoint(const ConnRow& r, bool local, bool netstat, std::string* out) {
  if (is_unix(r.proto)) {
    if (local) {
      auto name = t_.name(r);
      if (name.empty()) out->push_back('*');
      append_escaped(out, name);
    } else if (r.unix_peer != 0) {
      out->append("inode ");
      append_number(out, r.unix_peer);
    } else {
      out->push_back('*');
    }
    return;
  }
  const auto& addr = local ? r.local : r.peer;
  std::uint16_t port_no = local ? r.local_port : r.peer_port;
  static const std::array<std::uint8_t, 16> zero{};
  if (!local && addr == zero && port_no == 0) {
    out->append(netstat ? (r.family == AF_INET6 ? ":::*" : "0.0.0.0:*") : "*");
    return;
  }
  host(r, addr, netstat, out);
  out->push_back(':');
  port(r.proto, port_no, out);
}

void Cells::host(const ConnRow& r, const std::array<std::uint8_t, 16>& addr, bool netstat,
                 std::string* out) {
  static const std::array<std::uint8_t, 16> zero{};
  if (v_.resolve && addr != zero) {
    std::string key(reinterpret_cast<const char*>(addr.data()), 16);
    key.push_back(static_cast<char>(r.family));
    auto it = names_.find(key);
    if (it == names_.end()) {
      sockaddr_storage ss{};
      socklen_t len = 0;
      if (r.family == AF_INET) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, addr.data(), 4);
        len = sizeof(*sin);
      } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        std::memcpy(&sin6->sin6_addr, addr.data(), 16);
        len = sizeof(*sin6);
      }
      char name[NI_MAXHOST];
      std::string text;
      if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, name, sizeof(name), nullptr, 0,
                      NI_NAMEREQD) == 0)
        append_escaped(&text, name);  // A name from DNS is data too.
      it = names_.emplace(std::move(key), std::move(text)).first;
    }
    if (!it->second.empty()) {
      out->append(it->second);
      return;
    }
  }
  if (r.family == AF_INET6 && !netstat) out->push_back('[');
  append_address(out, r.family, addr.data());
  if (r.family == AF_INET6 && !netstat) out->push_back(']');
}

void Cells::port(Proto p, std::uint16_t port_no, std::string* out) {
  if (port_no == 0) {
    out->push_back('*');
    return;
  }
  if (v_.resolve && !v_.numeric) {
    std::uint32_t key = port_no | (p == Proto::udp ? 0x10000u : 0u);
    auto it = services_.find(key);
    if (it == services_.end()) {
      const servent* s = getservbyport(htons(port_no), p == Proto::udp ? "udp" : "tcp");
      it = services_.emplace(key, s ? std::string(s->s_name) : std::string()).first;
    }
    if (!it->second.empty()) {
      out->append(it->second);
      return;
    }
  }
  append_number(out, port_no);
}

void Cells::process(std::uint64_t inode, std::string* out) const {
  if (inode == 0) return;
  bool first = true;
  owners_.for_each(inode, [&](const SocketOwner& o) {
    if (!first) out->append(", ");
    first = false;
    append_escaped(out, o.name);
    out->append(" pid=");
    append_number(out, static_cast<std::uint64_t>(o.pid));
    out->append(" fd=");
    append_number(out, static_cast<std::uint64_t>(o.fd));
  });
}

}  // namespace parley::cmd
