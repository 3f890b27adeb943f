#include "conns_view.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <tuple>
#include <unordered_map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace parley::cmd {
namespace {

bool is_wildcard(const SocketAddress& a) {
  if (a.family() == AF_INET)
    return reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr.s_addr == htonl(INADDR_ANY);
  if (a.family() == AF_INET6)
    return IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr);
  return false;
}

// The address bytes (4 or 16, zero-padded; Unix: none), for cheap comparisons.
std::array<std::uint8_t, 16> raw(const SocketAddress& a) {
  std::array<std::uint8_t, 16> out{};
  if (a.family() == AF_INET)
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in*>(a.get())->sin_addr, 4);
  else if (a.family() == AF_INET6)
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr, 16);
  return out;
}

// Sort key computed once per record: comparing strings made sorting 20,000 sockets dominate.
struct Key {
  int proto;
  std::uint16_t port;
  int family;
  std::array<std::uint8_t, 16> addr;
  std::string path;  // Unix sockets only.
  std::uint16_t peer_port;
  std::array<std::uint8_t, 16> peer;
  std::uint64_t inode;
  auto tie() const { return std::tie(proto, port, family, addr, path, peer, peer_port, inode); }
  bool operator<(const Key& o) const { return tie() < o.tie(); }
};

Key key_of(const SocketRecord& r) {
  return {static_cast<int>(r.proto),
          r.local.port(),
          r.local.family(),
          raw(r.local),
          r.is_unix() ? r.local.host_string() : std::string(),
          r.peer.port(),
          raw(r.peer),
          r.inode};
}

// How well a listener matches a connection's local address: 2 exact, 1 wildcard, 0 not at all.
int match(const SocketRecord& listener, const SocketRecord& conn) {
  if (listener.proto != conn.proto || listener.local.port() != conn.local.port()) return 0;
  if (listener.local.family() == conn.local.family() && raw(listener.local) == raw(conn.local))
    return 2;
  if (!is_wildcard(listener.local)) return 0;
  // [::] also takes IPv4 clients unless IPV6_V6ONLY; 0.0.0.0 only IPv4.
  if (listener.local.family() == conn.local.family() || listener.local.family() == AF_INET6)
    return 1;
  return 0;
}

std::string host_of(const SocketAddress& a, bool resolve) {
  if (resolve) {
    static std::map<std::string, std::string> cache;  // One lookup per address per call.
    std::string key = a.host_string();
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    char host[NI_MAXHOST];
    std::string name = key;
    if (!is_wildcard(a) &&
        getnameinfo(a.get(), a.size(), host, sizeof(host), nullptr, 0, NI_NAMEREQD) == 0)
      name = host;
    return cache[key] = name;
  }
  return a.host_string();
}

std::string local_text(const SocketRecord& r, bool resolve) {
  if (r.is_unix()) return r.local.size() > 0 ? r.local.to_string() : "*";
  std::string host = host_of(r.local, resolve);
  if (r.local.family() == AF_INET6 && host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("{}:{}", host, r.local.port());
}

std::string peer_text(const SocketRecord& r, bool resolve) {
  if (r.is_unix()) return r.unix_peer_inode ? fmt::format("inode {}", r.unix_peer_inode) : "*";
  if (is_wildcard(r.peer) && r.peer.port() == 0) return "*";
  std::string host = host_of(r.peer, resolve);
  if (r.peer.family() == AF_INET6 && host.find(':') != std::string::npos) host = "[" + host + "]";
  return fmt::format("{}:{}", host, r.peer.port());
}

std::string owners_text(const std::vector<SocketOwner>& owners) {
  std::string out;
  for (const auto& o : owners)
    out += fmt::format("{}{} pid={} fd={}", out.empty() ? "" : ", ", o.name, o.pid, o.fd);
  return out;
}

std::string info_text(const TcpInfo& i) {
  return fmt::format(
      "rtt {:.3f}/{:.3f} ms, cwnd {}, retrans {}/{}, sent {} B, received {} B, "
      "delivery {:.1f} Mbit/s",
      i.rtt_ms, i.rttvar_ms, i.cwnd, i.retransmits, i.total_retrans, i.bytes_sent, i.bytes_received,
      i.delivery_rate * 8 / 1e6);
}

}  // namespace

std::string proto_name(Proto p) {
  switch (p) {
    case Proto::tcp:
      return "tcp";
    case Proto::udp:
      return "udp";
    case Proto::unix_stream:
      return "u_str";
    case Proto::unix_dgram:
      return "u_dgr";
    case Proto::unix_seqpacket:
      return "u_seq";
  }
  return "?";
}

std::vector<Row> group_rows(const std::vector<SocketRecord>& records) {
  std::vector<std::pair<Key, const SocketRecord*>> listeners, others;
  for (const auto& r : records)
    (r.state == kListen ? listeners : others).emplace_back(key_of(r), &r);
  auto by_key = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::sort(listeners.begin(), listeners.end(), by_key);
  std::sort(others.begin(), others.end(), by_key);
  std::unordered_multimap<std::uint16_t, std::size_t> by_port;  // TCP listeners by port.
  for (std::size_t i = 0; i < listeners.size(); ++i)
    if (listeners[i].second->proto == Proto::tcp)
      by_port.emplace(listeners[i].second->local.port(), i);
  std::vector<std::vector<const SocketRecord*>> children(listeners.size());
  std::vector<const SocketRecord*> rest;
  for (const auto& [k, c] : others) {
    int best = 0;
    std::size_t at = 0;
    if (c->proto == Proto::tcp) {
      auto [lo, hi] = by_port.equal_range(c->local.port());
      for (auto it = lo; it != hi; ++it) {
        int m = match(*listeners[it->second].second, *c);
        if (m > best || (m == best && m > 0 && it->second < at)) best = m, at = it->second;
      }
    }
    if (best > 0)
      children[at].push_back(c);
    else
      rest.push_back(c);
  }
  std::vector<Row> rows;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    rows.push_back({listeners[i].second, false, {}});
    for (const auto* c : children[i]) rows.push_back({c, true, {}});
  }
  for (const auto* r : rest) rows.push_back({r, false, {}});
  return rows;
}

std::string render_table(const std::vector<Row>& rows, const ViewOptions& v,
                         const std::vector<char>* marks) {
  std::vector<std::string> header;
  if (marks) header.push_back("");
  if (v.show_proto) header.push_back("Proto");
  for (const char* h : {"State", "Recv-Q", "Send-Q", "Local", "Peer"}) header.push_back(h);
  if (v.show_ext) {
    header.push_back("Uid");
    header.push_back("Inode");
  }
  if (v.show_process) header.push_back("Process");
  const std::size_t cols = header.size();
  // One flat vector of cells: with 20,000 sockets, per-row vectors and per-cell formatting
  // cost more than reading the table from the kernel.
  std::vector<std::string> cells(header);
  cells.reserve(cols * (rows.size() + 1));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const SocketRecord& r = *rows[i].socket;
    if (marks) cells.emplace_back(1, (*marks)[i]);
    if (v.show_proto) cells.push_back(proto_name(r.proto));
    cells.push_back(std::string(rows[i].grouped ? "  " : "") + state_name(r.state));
    cells.push_back(std::to_string(r.recv_q));
    cells.push_back(std::to_string(r.send_q));
    cells.push_back(local_text(r, v.resolve));
    cells.push_back(peer_text(r, v.resolve));
    if (v.show_ext) {
      cells.push_back(std::to_string(r.uid));
      cells.push_back(std::to_string(r.inode));
    }
    if (v.show_process) cells.push_back(owners_text(rows[i].owners));
  }
  std::vector<std::size_t> width(cols, 0);
  std::vector<bool> right(cols, false);
  std::size_t total = 0;
  for (std::size_t c = 0; c < cols; ++c) right[c] = header[c] == "Recv-Q" || header[c] == "Send-Q";
  for (std::size_t i = 0; i < cells.size(); ++i)
    width[i % cols] = std::max(width[i % cols], cells[i].size());
  for (auto w : width) total += w + 2;
  std::string out;
  out.reserve(total * (rows.size() + 1));
  for (std::size_t row = 0; row * cols < cells.size(); ++row) {
    std::size_t start = out.size();
    for (std::size_t c = 0; c < cols; ++c) {
      const std::string& cell = cells[row * cols + c];
      std::size_t pad = width[c] - cell.size();
      if (right[c]) out.append(pad, ' ');
      out += cell;
      if (c + 1 < cols) out.append((right[c] ? 0 : pad) + 2, ' ');
    }
    while (out.size() > start && out.back() == ' ') out.pop_back();
    out += '\n';
    if (row > 0 && v.show_info && rows[row - 1].socket->info)
      out += "      " + info_text(*rows[row - 1].socket->info) + "\n";
  }
  return out;
}

std::string render_netstat(const std::vector<Row>& rows, const ViewOptions& v) {
  std::string out = fmt::format("{:<6}{:>7}{:>7} {:<23} {:<23} {}\n", "Proto", "Recv-Q", "Send-Q",
                                "Local Address", "Foreign Address",
                                v.show_process ? "State       PID/Program name" : "State");
  for (const auto& row : rows) {
    const SocketRecord& r = *row.socket;
    std::string proto = proto_name(r.proto);
    if (!r.is_unix() && r.local.family() == AF_INET6) proto += "6";
    std::string peer = peer_text(r, v.resolve);
    if (peer == "*") peer = r.local.family() == AF_INET6 ? ":::*" : "0.0.0.0:*";
    std::string program;
    if (v.show_process)
      program =
          row.owners.empty() ? "-" : fmt::format("{}/{}", row.owners[0].pid, row.owners[0].name);
    std::string state = r.proto == Proto::udp ? "" : state_name_netstat(r.state);
    std::string line = fmt::format("{:<6}{:>7}{:>7} {:<23} {:<23} {:<12}{}", proto, r.recv_q,
                                   r.send_q, local_text(r, v.resolve), peer, state, program);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string render_json(const std::vector<Row>& rows) {
  std::string out;
  for (const auto& row : rows) {
    const SocketRecord& r = *row.socket;
    nlohmann::json j;
    j["proto"] = proto_name(r.proto);
    j["state"] = state_name(r.state);
    j["recv_q"] = r.recv_q;
    j["send_q"] = r.send_q;
    if (r.is_unix()) {
      j["path"] = r.local.size() > 0 ? r.local.to_string() : "";
      j["peer_inode"] = r.unix_peer_inode;
    } else {
      j["family"] = r.local.family() == AF_INET6 ? "ipv6" : "ipv4";
      j["local"] = {{"address", r.local.host_string()}, {"port", r.local.port()}};
      j["peer"] = {{"address", r.peer.host_string()}, {"port", r.peer.port()}};
    }
    j["inode"] = r.inode;
    j["uid"] = r.uid;
    j["listener"] = r.state == kListen;
    auto procs = nlohmann::json::array();
    for (const auto& o : row.owners)
      procs.push_back({{"pid", o.pid}, {"name", o.name}, {"fd", o.fd}});
    j["processes"] = procs;
    if (r.info) {
      j["tcp_info"] = {{"rtt_ms", r.info->rtt_ms},
                       {"rttvar_ms", r.info->rttvar_ms},
                       {"cwnd", r.info->cwnd},
                       {"retransmits", r.info->retransmits},
                       {"total_retrans", r.info->total_retrans},
                       {"bytes_sent", r.info->bytes_sent},
                       {"bytes_received", r.info->bytes_received},
                       {"delivery_rate_bytes_per_s", r.info->delivery_rate}};
    }
    out += j.dump() + "\n";
  }
  return out;
}

std::string render_summary(const std::vector<SocketRecord>& records) {
  std::map<std::string, std::map<std::string, std::size_t>> counts;
  std::map<std::string, std::size_t> totals;
  for (const auto& r : records) {
    std::string p = proto_name(r.proto);
    ++counts[p][state_name(r.state)];
    ++totals[p];
  }
  std::string out = fmt::format("Total: {} sockets\n", records.size());
  for (const auto& [proto, states] : counts) {
    std::string line = fmt::format("{:<6}{:>6} total:", proto, totals[proto]);
    for (const auto& [state, n] : states) line += fmt::format(" {} {},", state, n);
    line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace parley::cmd
