#include "conns_view.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "conns_cells.hpp"
#include "output.hpp"

namespace parley::cmd {
namespace {

bool wildcard(const ConnRow& r) {
  static const std::array<std::uint8_t, 16> zero{};
  return r.local == zero;
}

bool v4_mapped(const std::array<std::uint8_t, 16>& a) {
  static const std::uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), prefix, 12) == 0;
}

// How well listener l matches connection c: 2 same address, 1 wildcard, 0 not at all.
int match(const ConnRow& l, const ConnRow& c) {
  if (l.family != c.family || l.local_port != c.local_port) return 0;
  if (l.local == c.local) return 2;
  if (!wildcard(l)) return 0;
  // [::] takes IPv4 clients (as ::ffff:a.b.c.d) unless it is IPV6_V6ONLY.
  if (c.family == AF_INET6 && v4_mapped(c.local) && l.v6only == 1) return 0;
  return 1;
}

// The processes owning an inode, sorted (empty: unknown).
std::vector<int> pids_of(const OwnerMap& owners, std::uint64_t inode) {
  std::vector<int> pids;
  if (inode == 0) return pids;
  owners.for_each(inode, [&](const SocketOwner& o) {
    if (pids.empty() || pids.back() != o.pid) pids.push_back(o.pid);
  });
  return pids;
}

bool share(const std::vector<int>& a, const std::vector<int>& b) {
  for (int p : a)
    if (std::binary_search(b.begin(), b.end(), p)) return true;
  return false;
}

}  // namespace

bool Writer::flush() {
  if (into_ != nullptr) return ok_;
  if (ok_ && !buf_.empty()) ok_ = out_text(buf_);
  buf_.clear();
  return ok_;
}

const char* proto_name(Proto p) {
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

Grouping group_rows(const ConnTable& t, const OwnerMap& owners) {
  // Sort keys compare fields in place: copying keys out made sorting 20,000 rows dominate.
  auto less = [&](std::uint32_t ia, std::uint32_t ib) {
    const ConnRow& a = t[ia];
    const ConnRow& b = t[ib];
    if (a.proto != b.proto) return a.proto < b.proto;
    if (a.local_port != b.local_port) return a.local_port < b.local_port;
    if (a.family != b.family) return a.family < b.family;
    if (int c = std::memcmp(a.local.data(), b.local.data(), 16)) return c < 0;
    if (is_unix(a.proto)) {
      auto na = t.name(a), nb = t.name(b);
      if (na != nb) return na < nb;
    }
    if (int c = std::memcmp(a.peer.data(), b.peer.data(), 16)) return c < 0;
    if (a.peer_port != b.peer_port) return a.peer_port < b.peer_port;
    return a.inode < b.inode;
  };
  std::vector<std::uint32_t> listeners, others;
  for (std::uint32_t i = 0; i < t.size(); ++i)
    (t[i].state == kListen ? listeners : others).push_back(i);
  std::sort(listeners.begin(), listeners.end(), less);
  std::sort(others.begin(), others.end(), less);

  std::unordered_multimap<std::uint16_t, std::size_t> by_port;  // Into listeners.
  for (std::size_t i = 0; i < listeners.size(); ++i)
    if (t[listeners[i]].proto == Proto::tcp) by_port.emplace(t[listeners[i]].local_port, i);
  std::vector<std::vector<int>> listener_pids(listeners.size());
  if (owners.scanned)
    for (std::size_t i = 0; i < listeners.size(); ++i)
      listener_pids[i] = pids_of(owners, t[listeners[i]].inode);

  Grouping g;
  std::vector<std::vector<std::uint32_t>> sure(listeners.size()), unsure(listeners.size());
  std::vector<std::uint32_t> rest;
  std::vector<std::size_t> cands;
  for (std::uint32_t c : others) {
    const ConnRow& row = t[c];
    cands.clear();
    if (row.proto == Proto::tcp) {
      int best = 0;
      auto [lo, hi] = by_port.equal_range(row.local_port);
      for (auto it = lo; it != hi; ++it) {
        int m = match(t[listeners[it->second]], row);
        if (m > best) cands.clear(), best = m;
        if (m == best && m > 0) cands.push_back(it->second);
      }
      std::sort(cands.begin(), cands.end());
    }
    if (!cands.empty() && owners.scanned) {
      std::vector<int> mine = pids_of(owners, row.inode);
      if (!mine.empty()) {
        std::erase_if(cands, [&](std::size_t l) { return !share(listener_pids[l], mine); });
        if (cands.empty()) {  // Owned by a process that has none of these listeners.
          rest.push_back(c);
          continue;
        }
      }
    }
    if (cands.empty()) {
      rest.push_back(c);
      continue;
    }
    // Candidates that agree in address and processes are one service: no doubt to report.
    bool alike = true;
    for (std::size_t l : cands) {
      const ConnRow& a = t[listeners[l]];
      const ConnRow& b = t[listeners[cands[0]]];
      alike &= a.local == b.local && owners.scanned && !listener_pids[l].empty() &&
               listener_pids[l] == listener_pids[cands[0]];
    }
    if (cands.size() == 1 || alike) {
      sure[cands[0]].push_back(c);
    } else {
      if (!owners.scanned) g.wants_owners = true;
      unsure[cands.back()].push_back(c);
      auto& list = g.candidates[c];
      for (std::size_t l : cands) list.push_back(listeners[l]);
    }
  }
  g.order.reserve(t.size());
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    g.order.push_back({listeners[i], Place::top});
    for (auto c : sure[i]) g.order.push_back({c, Place::child});
    for (auto c : unsure[i]) g.order.push_back({c, Place::child_unsure});
    std::vector<std::uint32_t>().swap(sure[i]);  // Memory back as the order grows.
    std::vector<std::uint32_t>().swap(unsure[i]);
  }
  for (auto r : rest) g.order.push_back({r, Place::top});
  return g;
}

void render_table(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                  const ViewOptions& v, Writer& w) {
  Cells cells(t, owners, v);
  std::vector<Column> cols;
  if (v.marks) cols.push_back(Column::mark);
  if (v.show_proto) cols.push_back(Column::proto);
  if (v.show_state) cols.push_back(Column::state);
  for (Column c : {Column::recv_q, Column::send_q, Column::local, Column::peer}) cols.push_back(c);
  if (v.show_ext) cols.push_back(Column::uid), cols.push_back(Column::inode);
  if (v.show_timer) cols.push_back(Column::timer);
  if (v.show_process) cols.push_back(Column::process);
  const bool details = v.show_info || v.show_memory;
  if (details && v.oneline) cols.push_back(Column::details);

  const std::size_t n = std::min(g.order.size(), v.max_rows);
  // Pass 1: column widths (cells are formatted twice rather than all held at once).
  std::vector<std::size_t> width(cols.size(), 0);
  std::string cell;
  for (std::size_t c = 0; c < cols.size(); ++c)
    if (v.header) width[c] = display_width(column_title(cols[c]));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c + 1 < cols.size() || (c < cols.size() && cols[c] != Column::details);
         ++c) {
      cell.clear();
      cells.format(cols[c], g.order[i], i, &cell);
      width[c] = std::max(width[c], display_width(cell));
    }
  }
  // Pass 2: the lines.
  auto line = [&](auto&& text_of) {
    std::string& out = w.buf();
    std::size_t start = out.size();
    for (std::size_t c = 0; c < cols.size(); ++c) {
      cell.clear();
      text_of(c, &cell);
      std::size_t pad = width[c] > display_width(cell) ? width[c] - display_width(cell) : 0;
      bool right = cols[c] == Column::recv_q || cols[c] == Column::send_q;
      if (right) out.append(pad, ' ');
      out += cell;
      if (c + 1 < cols.size()) out.append((right ? 0 : pad) + 2, ' ');
    }
    while (out.size() > start && out.back() == ' ') out.pop_back();
    out.push_back('\n');
  };
  if (v.header) line([&](std::size_t c, std::string* out) { out->append(column_title(cols[c])); });
  for (std::size_t i = 0; i < n && w.ok(); ++i) {
    line([&](std::size_t c, std::string* out) { cells.format(cols[c], g.order[i], i, out); });
    if (details && !v.oneline) {
      cell.clear();
      cells.format(Column::details, g.order[i], i, &cell);
      if (!cell.empty()) w.buf().append("\t").append(cell).push_back('\n');
    }
    w.maybe_flush();
  }
  if (n < g.order.size())
    w.buf().append("... and " + std::to_string(g.order.size() - n) + " more\n");
  w.flush();
}

}  // namespace parley::cmd
