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

// Row order: protocol, local port, family, address (path), peer, inode. Fields are compared in
// place: copying keys out made sorting 20,000 rows dominate.
struct RowOrder {
  const ConnTable& t;
  bool operator()(std::uint32_t ia, std::uint32_t ib) const {
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
  }
};

// Finds, for each connection, the listeners that could have accepted it.
class Grouper {
 public:
  Grouper(const ConnTable& t, const OwnerMap& owners, std::vector<std::uint32_t> listeners)
      : t_(t), owners_(owners), listeners_(std::move(listeners)), pids_(listeners_.size()) {
    for (std::size_t i = 0; i < listeners_.size(); ++i) {
      if (t_[listeners_[i]].proto == Proto::tcp) by_port_.emplace(t_[listeners_[i]].local_port, i);
      if (owners_.scanned) pids_[i] = pids_of(owners_, t_[listeners_[i]].inode);
    }
  }

  // Indexes into listeners of those that could have accepted connection c, best match first;
  // empty when none did (or c's processes hold none of them).
  const std::vector<std::size_t>& candidates(std::uint32_t c) {
    const ConnRow& row = t_[c];
    cands_.clear();
    if (row.proto != Proto::tcp) return cands_;
    int best = 0;
    auto [lo, hi] = by_port_.equal_range(row.local_port);
    for (auto it = lo; it != hi; ++it) {
      int m = match(t_[listeners_[it->second]], row);
      if (m > best) cands_.clear(), best = m;
      if (m == best && m > 0) cands_.push_back(it->second);
    }
    std::sort(cands_.begin(), cands_.end());
    if (!cands_.empty() && owners_.scanned) {
      std::vector<int> mine = pids_of(owners_, row.inode);
      if (!mine.empty())
        std::erase_if(cands_, [&](std::size_t l) { return !share(pids_[l], mine); });
    }
    return cands_;
  }

  // Candidates that agree in address and (known) processes are one service: no doubt to report.
  bool alike(const std::vector<std::size_t>& cands) const {
    for (std::size_t l : cands) {
      if (t_[listeners_[l]].local != t_[listeners_[cands[0]]].local || !owners_.scanned ||
          pids_[l].empty() || pids_[l] != pids_[cands[0]])
        return false;
    }
    return true;
  }

  const std::vector<std::uint32_t>& listeners() const { return listeners_; }

 private:
  const ConnTable& t_;
  const OwnerMap& owners_;
  std::vector<std::uint32_t> listeners_;  // Sorted rows.
  std::vector<std::vector<int>> pids_;    // Of each listener, if owners were scanned.
  std::unordered_multimap<std::uint16_t, std::size_t> by_port_;  // TCP listeners by port.
  std::vector<std::size_t> cands_;
};

Grouping group_rows(const ConnTable& t, const OwnerMap& owners) {
  std::vector<std::uint32_t> listeners, others;
  for (std::uint32_t i = 0; i < t.size(); ++i)
    (t[i].state == kListen ? listeners : others).push_back(i);
  std::sort(listeners.begin(), listeners.end(), RowOrder{t});
  std::sort(others.begin(), others.end(), RowOrder{t});
  Grouper grouper(t, owners, std::move(listeners));
  const std::size_t n = grouper.listeners().size();

  Grouping g;
  std::vector<std::vector<std::uint32_t>> sure(n), unsure(n);
  std::vector<std::uint32_t> rest;
  for (std::uint32_t c : others) {
    const auto& cands = grouper.candidates(c);
    if (cands.empty()) {
      rest.push_back(c);
    } else if (cands.size() == 1 || grouper.alike(cands)) {
      sure[cands[0]].push_back(c);
    } else {
      if (!owners.scanned) g.wants_owners = true;
      unsure[cands.back()].push_back(c);
      auto& list = g.candidates[c];
      for (std::size_t l : cands) list.push_back(grouper.listeners()[l]);
    }
  }
  g.order.reserve(t.size());
  for (std::size_t i = 0; i < n; ++i) {
    g.order.push_back({grouper.listeners()[i], Place::top});
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
