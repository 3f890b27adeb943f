// The other renderings of `parley conns`: netstat's layout, JSON lines and the -s summary.

#include <netinet/in.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "conns_cells.hpp"
#include "conns_view.hpp"
#include "json_text.hpp"

namespace parley::cmd {
namespace {

using nlohmann::json;

std::string address_text(int family, const std::array<std::uint8_t, 16>& a) {
  std::string s;
  append_address(&s, family, a.data());
  return s;
}

// netstat -o: "keepalive (7.20/0/0)".
std::string netstat_timer(const ConnExtras& e) {
  static const char* names[] = {"off", "on", "keepalive", "timewait", "probe", "unkn"};
  return fmt::format("{} ({:.2f}/{}/0)", names[static_cast<int>(e.timer)],
                     e.timer == Timer::off ? 0.0 : e.expires_ms / 1000.0, e.retrans);
}

}  // namespace

void render_netstat(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                    const ViewOptions& v, Writer& w) {
  Cells cells(t, owners, v);
  if (v.header) {
    std::string h = fmt::format("{:<6}{:>7}{:>7} {:<23} {:<23} {:<12}", "Proto", "Recv-Q", "Send-Q",
                                "Local Address", "Foreign Address", "State");
    if (v.show_ext) h += fmt::format("{:<11}{:<11}", "User", "Inode");
    if (v.show_process) h += fmt::format("{:<20}", "PID/Program name");
    if (v.show_timer) h += "Timer";
    while (!h.empty() && h.back() == ' ') h.pop_back();
    w.buf().append(h).push_back('\n');
  }
  std::string local, peer, program;
  for (const auto& p : g.order) {
    if (!w.ok()) break;
    const ConnRow& r = t[p.row];
    std::string proto = proto_name(r.proto);
    if (!is_unix(r.proto) && r.family == AF_INET6) proto += "6";
    local.clear();
    peer.clear();
    cells.endpoint(r, true, true, &local);
    cells.endpoint(r, false, true, &peer);
    // netstat reads /proc/net/tcp, where a listener's tx_queue is 0 (ss shows the backlog).
    std::uint32_t send_q = r.state == kListen ? 0 : r.send_q;
    const char* state = r.proto == Proto::udp ? (r.state == kEstablished ? "ESTABLISHED" : "")
                                              : state_name_netstat(r.state);
    std::string line = fmt::format("{:<6}{:>7}{:>7} {:<23} {:<23} {:<12}", proto, r.recv_q, send_q,
                                   local, peer, state);
    if (v.show_ext) line += fmt::format("{:<11}{:<11}", r.uid, r.inode);
    if (v.show_process) {
      program.clear();
      bool first = true;
      owners.for_each(r.inode, [&](const SocketOwner& o) {
        if (!first) return;
        first = false;
        program = std::to_string(o.pid) + "/";
        append_escaped(&program, o.name);
      });
      line += fmt::format("{:<20}", program.empty() ? "-" : program);
    }
    if (v.show_timer) line += netstat_timer(t.extras(r));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    w.buf().append(line).push_back('\n');
    w.maybe_flush();
  }
  w.flush();
}

namespace {

// What the view shows beyond the basics: timer (-o), TCP info (-i), socket memory (-m).
void put_details(json& j, const ConnRow& r, const ConnExtras& e, const ViewOptions& v) {
  if (v.show_timer && !is_unix(r.proto))
    j["timer"] = {
        {"name", timer_name(e.timer)}, {"expires_ms", e.expires_ms}, {"retransmits", e.retrans}};
  if (v.show_info && e.has_info) {
    json info;
    for (std::size_t f = 0; f < kTcpInfoFieldCount; ++f)
      info[kTcpInfoFieldNames[f]] = e.info.*kTcpInfoFields[f];
    put_text(info, "congestion", e.congestion);
    j["tcp_info"] = std::move(info);
  }
  if (v.show_memory && e.has_memory) {
    static const char* names[] = {"rmem_alloc",  "rcvbuf", "wmem_alloc", "sndbuf", "fwd_alloc",
                                  "wmem_queued", "optmem", "backlog",    "drops"};
    json mem;
    for (std::size_t f = 0; f < e.memory.count && f < 9; ++f) mem[names[f]] = e.memory.v[f];
    j["skmem"] = std::move(mem);
  }
}

// One socket's object; listener: the row it is shown under, if it is a child.
json socket_json(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                 const ViewOptions& v, const Placed& p, std::uint32_t listener) {
  const ConnRow& r = t[p.row];
  ConnExtras e = t.extras(r);
  json j;
  j["proto"] = proto_name(r.proto);
  j["state"] = state_name(r.state);
  j["recv_q"] = r.recv_q;
  j["send_q"] = r.send_q;
  if (is_unix(r.proto)) {
    put_text(j, "path", e.name);
    j["peer_inode"] = r.unix_peer;
  } else {
    j["family"] = r.family == AF_INET6 ? "ipv6" : "ipv4";
    j["local"] = {{"address", address_text(r.family, r.local)}, {"port", r.local_port}};
    j["peer"] = {{"address", address_text(r.family, r.peer)}, {"port", r.peer_port}};
  }
  j["inode"] = r.inode;
  j["uid"] = r.uid;
  j["listener"] = r.state == kListen;
  if (p.place == Place::child) {
    j["accepted_by"] = t[listener].inode;
  } else if (p.place == Place::child_unsure) {
    j["accepted_by"] = nullptr;
    auto& one_of = j["accepted_by_one_of"] = json::array();
    if (auto it = g.candidates.find(p.row); it != g.candidates.end())
      for (auto l : it->second) one_of.push_back(t[l].inode);
  }
  json procs = json::array();
  owners.for_each(r.inode, [&](const SocketOwner& o) {
    json proc = {{"pid", o.pid}, {"fd", o.fd}};
    put_text(proc, "name", o.name);
    procs.push_back(std::move(proc));
  });
  j["processes"] = std::move(procs);
  put_details(j, r, e, v);
  return j;
}

}  // namespace

void render_json(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                 const ViewOptions& v, Writer& w, const std::string& time) {
  json sockets = json::array();
  std::uint32_t listener = 0;  // The row children are shown under.
  for (std::size_t i = 0; i < g.order.size() && w.ok(); ++i) {
    const Placed& p = g.order[i];
    if (p.place == Place::top) listener = p.row;
    json j = socket_json(t, g, owners, v, p, listener);
    if (v.marks && i < v.marks->size() && (*v.marks)[i] != ' ')
      j["change"] = (*v.marks)[i] == '+' ? "new" : "gone";
    if (time.empty()) {
      w.buf().append(j.dump(-1, ' ', false, json::error_handler_t::replace)).push_back('\n');
      w.maybe_flush();
    } else {
      sockets.push_back(std::move(j));
    }
  }
  if (!time.empty()) {
    json snapshot = {{"time", time}, {"sockets", std::move(sockets)}};
    w.buf().append(snapshot.dump(-1, ' ', false, json::error_handler_t::replace)).push_back('\n');
  }
  w.flush();
}

void Summary::add(const SocketRecord& r) {
  Counts& c = protos[static_cast<std::size_t>(r.proto)];
  ++total;
  ++c.total;
  if (r.family == AF_INET) ++c.v4;
  if (r.family == AF_INET6) ++c.v6;
  if (r.state >= 0 && r.state <= kMaxState) ++c.states[static_cast<std::size_t>(r.state)];
}

void render_summary(const Summary& s, bool as_json, Writer& w) {
  static const Proto order[] = {Proto::tcp, Proto::udp, Proto::unix_stream, Proto::unix_dgram,
                                Proto::unix_seqpacket};
  if (as_json) {
    json protos = json::object();
    for (Proto p : order) {
      const auto& c = s.protos[static_cast<std::size_t>(p)];
      if (c.total == 0) continue;
      json states = json::object();
      for (int st = 0; st <= kMaxState; ++st)
        if (c.states[static_cast<std::size_t>(st)])
          states[state_name(st)] = c.states[static_cast<std::size_t>(st)];
      json one = {{"total", c.total}, {"states", std::move(states)}};
      if (!is_unix(p)) one["ipv4"] = c.v4, one["ipv6"] = c.v6;
      protos[proto_name(p)] = std::move(one);
    }
    w.buf()
        .append(json{{"total", s.total}, {"protocols", std::move(protos)}}.dump())
        .push_back('\n');
    w.flush();
    return;
  }
  std::string& out = w.buf();
  out += fmt::format("Total: {} sockets\n", s.total);
  out += fmt::format("{:<6}{:>8}{:>8}{:>8}  {}\n", "Proto", "Total", "IPv4", "IPv6", "States");
  for (Proto p : order) {
    const auto& c = s.protos[static_cast<std::size_t>(p)];
    if (c.total == 0) continue;
    std::string states;
    for (int st = 0; st <= kMaxState; ++st) {
      if (!c.states[static_cast<std::size_t>(st)]) continue;
      states += fmt::format("{}{} {}", states.empty() ? "" : ", ", state_name(st),
                            c.states[static_cast<std::size_t>(st)]);
    }
    out +=
        is_unix(p)
            ? fmt::format("{:<6}{:>8}{:>8}{:>8}  {}\n", proto_name(p), c.total, "-", "-", states)
            : fmt::format("{:<6}{:>8}{:>8}{:>8}  {}\n", proto_name(p), c.total, c.v4, c.v6, states);
  }
  w.flush();
}

}  // namespace parley::cmd
