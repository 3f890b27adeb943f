#include "conns_args.hpp"

#include <sys/socket.h>

#include <algorithm>

#include <fmt/format.h>

namespace parley::cmd {
namespace {

bool has(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The protocols to list: -t -u -x; by default TCP, or what the filter's FAMILY: prefixes name.
std::uint8_t protos_of(const ConnsArgs& o, const SocketFilter& f) {
  std::uint8_t protos = 0;
  if (o.tcp) protos |= proto_bit(Proto::tcp);
  if (o.udp) protos |= proto_bit(Proto::udp);
  if (o.unix_sockets) protos |= kUnixProtos;
  const bool inet_named = has(f.families, AF_INET) || has(f.families, AF_INET6);
  if (protos == 0) {
    protos = proto_bit(Proto::tcp);
    if (o.summary && f.families.empty() && o.states.empty() && !f.states && !o.listening)
      protos |= proto_bit(Proto::udp) | kUnixProtos;  // ss -s counts every kind.
    if (has(f.families, AF_UNIX)) protos = (inet_named ? protos : 0) | kUnixProtos;
  }
  // As in ss, naming a family in the filter lists that family only.
  if (!f.families.empty()) {
    if (!has(f.families, AF_UNIX)) protos &= static_cast<std::uint8_t>(~kUnixProtos);
    if (!inet_named) protos &= kUnixProtos;
  }
  return protos;
}

std::uint32_t states_of(const ConnsArgs& o, const SocketFilter& f, std::uint8_t protos,
                        std::string* why) {
  std::uint32_t states = 0;
  bool given = false;
  for (const auto& s : o.states) {
    auto bits = parse_states(s);
    if (!bits) {
      *why = fmt::format(
          "unknown state '{}'; use one of: established, syn-sent, syn-recv, fin-wait-1, "
          "fin-wait-2, time-wait, close, close-wait, last-ack, listen, closing (or ss's groups: "
          "connected, synchronized, bucket, big, all)",
          s);
      return 0;
    }
    states |= *bits;
    given = true;
  }
  if (f.states) {
    states |= *f.states;
    given = true;
  }
  if (given) return states;
  if (o.all || o.summary) return kAllStates;
  auto bit = [](int s) { return 1u << s; };
  if (o.listening) return bit(kListen) | bit(kClose);  // ss -l: UDP and Unix "listen" unconnected.
  // ss's default (connected, but not TIME-WAIT or SYN-RECV) plus the listeners it serves: for
  // UDP and Unix sockets those are the unconnected ones.
  std::uint32_t conn =
      kAllStates & ~(bit(kListen) | bit(kClose) | bit(kTimeWait) | bit(kSynRecv) | bit(0));
  states = conn | bit(kListen);
  if (protos & (proto_bit(Proto::udp) | kUnixProtos)) states |= bit(kClose);
  return states;
}

}  // namespace

Result<ConnsPlan> plan_of(const ConnsArgs& o, std::string* why) {
  ConnsPlan p;
  FilterContext ctx;
  ctx.default_family = o.v4 ? AF_INET : o.v6 ? AF_INET6 : 0;
  if (o.unix_sockets && !o.tcp && !o.udp) ctx.default_family = AF_UNIX;
  ctx.tcp = o.tcp || !o.udp;
  ctx.udp = o.udp;
  std::tie(ctx.ephemeral_low, ctx.ephemeral_high) = ephemeral_ports();
  std::string filter_why;
  auto filter = parse_socket_filter(o.filter, ctx, &filter_why);
  if (!filter) {
    *why = "filter: " + filter_why;
    return filter.error();
  }
  p.filter = std::move(*filter);
  DiagQuery& q = p.query;
  q.protos = protos_of(o, p.filter);
  q.v4 = o.v4 || !o.v6;
  q.v6 = o.v6 || !o.v4;
  if (!p.filter.families.empty()) {
    if (!has(p.filter.families, AF_INET)) q.v4 = false;
    if (!has(p.filter.families, AF_INET6)) q.v6 = false;
  }
  // Dumps the expression rules out are not asked for (`dst [::1]` needs no IPv4 dump).
  if (!p.filter.may_match(AF_INET)) q.v4 = false;
  if (!p.filter.may_match(AF_INET6)) q.v6 = false;
  if (!p.filter.may_match(AF_UNIX)) q.protos &= static_cast<std::uint8_t>(~kUnixProtos);
  q.states = states_of(o, p.filter, q.protos, why);
  if (q.states == 0) {
    if (why->empty()) *why = "no socket states to show with such a filter";
    return std::make_error_code(std::errc::invalid_argument);
  }
  q.tcp_info = o.info;
  q.memory = o.memory;
  q.unix_uid = o.ext;
  q.bytecode = p.filter.compile();
  p.need_owners = o.process || !o.pids.empty() || !o.process_names.empty();

  ViewOptions& v = p.view;
  int kinds = ((q.protos & proto_bit(Proto::tcp)) != 0) +
              ((q.protos & proto_bit(Proto::udp)) != 0) +
              __builtin_popcount(q.protos & kUnixProtos);
  v.show_proto = kinds > 1;
  v.show_state = __builtin_popcount(q.states & ~1u) != 1;  // As ss: no column for one state.
  v.show_process = o.process;
  v.show_ext = o.ext;
  v.show_timer = o.timers;
  v.show_info = o.info;
  v.show_memory = o.memory;
  v.header = !o.no_header;
  v.oneline = o.oneline;
  v.resolve = o.resolve;
  v.numeric = o.numeric;
  return p;
}

bool wanted(const ConnsArgs& o, const SocketRecord& r, const OwnerMap& owners) {
  int sport = r.local_port, dport = r.peer_port;
  if (!o.ports.empty() && !has(o.ports, sport) && !has(o.ports, dport)) return false;
  if (!o.sports.empty() && !has(o.sports, sport)) return false;
  if (!o.dports.empty() && !has(o.dports, dport)) return false;
  if (o.pids.empty() && o.process_names.empty()) return true;
  bool pid_ok = o.pids.empty(), name_ok = o.process_names.empty();
  owners.for_each(r.inode, [&](const SocketOwner& w) {
    pid_ok |= has(o.pids, w.pid);
    name_ok |=
        std::find(o.process_names.begin(), o.process_names.end(), w.name) != o.process_names.end();
  });
  return r.inode != 0 && pid_ok && name_ok;
}

}  // namespace parley::cmd
