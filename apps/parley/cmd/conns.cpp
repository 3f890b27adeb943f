// parley conns: list listening sockets and connections, like ss and netstat but grouped: each
// listener with the connections it accepted under it.

#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <memory>
#include <set>
#include <thread>

#include "commands.hpp"
#include "conns_view.hpp"
#include "netcat.hpp"
#include "parley/duration.hpp"
#include "parley/errors.hpp"
#include "parley/socket_table.hpp"

namespace parley::cmd {
namespace {

struct ConnsArgs {
  bool tcp = false, udp = false, unix_sockets = false, v4 = false, v6 = false;
  bool listening = false, all = false, numeric = false, resolve = false;
  bool process = false, info = false, summary = false, ext = false;
  bool json = false, netstat = false;
  std::vector<std::string> states;
  std::vector<int> ports, sports, dports, pids;
  std::vector<std::string> process_names;
  std::string source = "auto";  // auto | netlink | proc
  std::string replay, record;
  double watch = -1;
};

// Builds the kernel query: protocols, families, states.
Result<DiagQuery> query_of(const ConnsArgs& o) {
  DiagQuery q;
  q.tcp = o.tcp || (!o.udp && !o.unix_sockets);
  q.udp = o.udp;
  q.unix_sockets = o.unix_sockets;
  q.v4 = o.v4 || !o.v6;
  q.v6 = o.v6 || !o.v4;
  q.tcp_info = o.info;
  if (!o.states.empty()) {
    q.states = 0;
    for (const auto& s : o.states) {
      auto st = parse_state(s);
      if (!st) return std::make_error_code(std::errc::invalid_argument);
      q.states |= 1u << *st;
    }
  } else if (o.listening) {
    q.states = (1u << kListen) | (1u << kClose);  // UDP and Unix sockets "listen" unconnected.
  } else if (!o.all) {
    q.states = (1u << kListen) | (1u << kEstablished) | (1u << kClose);
  }
  if (!o.all && o.states.empty() && !o.udp && !o.unix_sockets) q.states &= ~(1u << kClose);
  return q;
}

std::unique_ptr<SocketSource> source_of(const ConnsArgs& o) {
  if (!o.replay.empty()) {
    struct stat st {};
    if (stat((o.replay + "/net/tcp").c_str(), &st) == 0) return make_proc_source(o.replay);
    return make_netlink_source(replay_netlink(o.replay));
  }
  if (o.source == "proc") return make_proc_source();
  auto exchange = live_netlink();
  if (!o.record.empty()) exchange = recording_netlink(exchange, o.record);
  return make_netlink_source(exchange);
}

bool wanted(const ConnsArgs& o, const SocketRecord& r, const std::vector<SocketOwner>& owners) {
  auto has = [](const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  int sport = r.local.port(), dport = r.peer.port();
  if (!o.ports.empty() && !has(o.ports, sport) && !has(o.ports, dport)) return false;
  if (!o.sports.empty() && !has(o.sports, sport)) return false;
  if (!o.dports.empty() && !has(o.dports, dport)) return false;
  if (!o.pids.empty() &&
      std::none_of(owners.begin(), owners.end(), [&](const auto& w) { return has(o.pids, w.pid); }))
    return false;
  if (!o.process_names.empty() && std::none_of(owners.begin(), owners.end(), [&](const auto& w) {
        return std::find(o.process_names.begin(), o.process_names.end(), w.name) !=
               o.process_names.end();
      }))
    return false;
  return true;
}

struct Snapshot {
  std::vector<SocketRecord> records;
  std::vector<Row> rows;
  std::size_t hidden = 0;  // Processes we could not inspect.
};

Result<Snapshot> take(const ConnsArgs& o, SocketSource& source, const DiagQuery& q,
                      bool* fell_back) {
  auto records = source.list(q);
  if (!records && o.source == "auto" && o.replay.empty()) {
    *fell_back = true;  // No netlink here (a container, an old kernel): read /proc instead.
    records = make_proc_source()->list(q);
  }
  if (!records) return records.error();
  bool need_owners = o.process || !o.pids.empty() || !o.process_names.empty();
  OwnerMap owners;
  if (need_owners) owners = scan_owners();
  Snapshot s;
  s.records = std::move(*records);
  std::erase_if(s.records, [&](const SocketRecord& r) {
    return !wanted(o, r, need_owners ? owners.find(r.inode) : std::vector<SocketOwner>{});
  });
  s.rows = group_rows(s.records);
  if (need_owners) {
    for (auto& row : s.rows) row.owners = owners.find(row.socket->inode);
  }
  s.hidden = owners.unreadable_processes;
  return s;
}

std::string render(const ConnsArgs& o, const Snapshot& s, const std::vector<char>* marks) {
  ViewOptions v;
  v.show_proto = (o.tcp + o.udp + o.unix_sockets) > 1;
  v.show_process = o.process;
  v.show_ext = o.ext;
  v.show_info = o.info;
  v.resolve = o.resolve;
  if (o.summary) return render_summary(s.records);
  if (o.json) return render_json(s.rows);
  if (o.netstat) return render_netstat(s.rows, v);
  return render_table(s.rows, v, marks);
}

std::string identity(const SocketRecord& r) {
  return fmt::format("{}|{}|{}|{}", static_cast<int>(r.proto), r.local.to_string(),
                     r.peer.to_string(), r.inode);
}

volatile std::sig_atomic_t g_stop = 0;

// --watch: redraw in place; '+' marks a socket that appeared since the last refresh, '-' one that
// is gone (shown for that one refresh, then dropped).
int watch(const ConnsArgs& o, SocketSource& source, const DiagQuery& q) {
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  const bool tty = isatty(STDOUT_FILENO) == 1;
  std::vector<SocketRecord> previous;
  bool first = true, fell_back = false;
  while (!g_stop) {
    auto snap = take(o, source, q, &fell_back);
    if (!snap) {
      say("conns: {}", describe(snap.error()));
      return kExitUsage;
    }
    std::set<std::string> now, before;
    for (const auto& r : snap->records) now.insert(identity(r));
    for (const auto& r : previous) before.insert(identity(r));
    Snapshot shown;
    shown.records = snap->records;
    for (const auto& r : previous)
      if (!now.count(identity(r))) shown.records.push_back(r);
    shown.rows = group_rows(shown.records);
    std::vector<char> marks;
    for (auto& row : shown.rows) {
      std::string id = identity(*row.socket);
      marks.push_back(!now.count(id) ? '-' : (!first && !before.count(id)) ? '+' : ' ');
      for (const auto& r : snap->rows)
        if (r.socket->inode == row.socket->inode && identity(*r.socket) == id)
          row.owners = r.owners;
    }
    std::string text = render(o, shown, o.json || o.summary || o.netstat ? nullptr : &marks);
    if (tty) text = "\x1b[H\x1b[2J" + text;  // Home and clear: redraw in place.
    if (!out("{}\n", text)) break;           // The reader went away (or the disk is full).
    previous = std::move(snap->records);
    first = false;
    for (int i = 0; i < static_cast<int>(o.watch * 10) && !g_stop; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return kExitOk;
}

int run_conns(const ConnsArgs& o) {
  // A listing of tens of thousands of sockets builds a few large vectors and frees them; keep
  // freed memory in the heap for reuse instead of returning it with munmap and faulting it in
  // again (this halved the page faults of `conns -tan` with 20,000 sockets).
  mallopt(M_MMAP_THRESHOLD, 512 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  auto q = query_of(o);
  if (!q) {
    say("conns: unknown state; use one of: established, syn-sent, syn-recv, fin-wait-1, "
        "fin-wait-2, time-wait, close, close-wait, last-ack, listen, closing");
    return kExitUsage;
  }
  auto source = source_of(o);
  if (o.watch >= 0) return watch(o, *source, *q);
  bool fell_back = false;
  auto snap = take(o, *source, *q, &fell_back);
  if (!snap) {
    say("conns: cannot read the socket table: {}", describe(snap.error()));
    return kExitUsage;
  }
  std::string text = render(o, *snap, nullptr);
  out_text(text);
  if (fell_back)
    say("netlink sock_diag unavailable; read /proc/net instead (no TCP info, no Unix peers)");
  if (o.process && snap->hidden > 0 && geteuid() != 0)
    say("process names hidden for {} processes of other users; run as root to see them",
        snap->hidden);
  return kExitOk;
}

}  // namespace

Subcommand conns_command(CLI::App& root) {
  auto o = std::make_shared<ConnsArgs>();
  auto* app =
      root.add_subcommand("conns", "List listening sockets and connections (like ss/netstat)");
  app->footer(
      "Default: TCP listeners and established connections, numeric, each listener followed by\n"
      "the connections it accepted. Examples:\n"
      "  parley conns                  parley conns -tanp       parley conns --port 12345\n"
      "  parley conns -u -x -l         parley conns --json      parley conns --watch 1\n"
      "JSON: one object per line with proto, state, recv_q, send_q, family, local{address,port},\n"
      "peer{address,port}, path and peer_inode (Unix), inode, uid, listener,\n"
      "processes[{pid,name,fd}],\n"
      "tcp_info{rtt_ms,rttvar_ms,cwnd,retransmits,total_retrans,bytes_sent,bytes_received,\n"
      "delivery_rate_bytes_per_s} (with -i).");
  app->add_flag("-t,--tcp", o->tcp, "TCP sockets (the default)");
  app->add_flag("-u,--udp", o->udp, "UDP sockets");
  app->add_flag("-x,--unix", o->unix_sockets, "Unix sockets");
  auto* v4 = app->add_flag("-4", o->v4, "IPv4 only");
  app->add_flag("-6", o->v6, "IPv6 only")->excludes(v4);
  auto* l = app->add_flag("-l,--listening", o->listening, "Only listening sockets");
  auto* a = app->add_flag("-a,--all", o->all, "Every state, not just listening and established");
  l->excludes(a);
  app->add_option("--state", o->states,
                  "Only this state (repeatable): established, listen, time-wait, ...")
      ->type_name("NAME")
      ->excludes(l)
      ->excludes(a);
  auto* n =
      app->add_flag("-n,--numeric", o->numeric, "Numeric addresses (the default; for ss habits)");
  app->add_flag("-r,--resolve", o->resolve, "Resolve addresses to names")->excludes(n);
  app->add_option("--port", o->ports, "Local or peer port (repeatable)")
      ->check(CLI::Range(0, 65535));
  app->add_option("--sport", o->sports, "Local port (repeatable)")->check(CLI::Range(0, 65535));
  app->add_option("--dport", o->dports, "Peer port (repeatable)")->check(CLI::Range(0, 65535));
  app->add_option("--pid", o->pids, "Owned by this process (repeatable)");
  app->add_option("--process", o->process_names, "Owned by a process of this name (repeatable)");
  app->add_flag("-p,--processes", o->process, "Show the owning process (pid, name, fd)");
  app->add_flag("-i,--info", o->info,
                "TCP internals: rtt, cwnd, retransmits, bytes, delivery rate");
  auto* s = app->add_flag("-s,--summary", o->summary, "Counts per protocol and state");
  app->add_flag("-e,--extended", o->ext, "Show uid and inode");
  auto* json = app->add_flag("--json", o->json, "One JSON object per socket and line");
  auto* ns = app->add_flag("--netstat", o->netstat, "netstat's classic layout");
  json->excludes(ns)->excludes(s);
  ns->excludes(s);
  app->add_option("--watch", o->watch, "Refresh every SECONDS (default 1) until Ctrl-C")
      ->expected(0, 1)
      ->default_str("1")
      ->check(CLI::Range(0.1, 3600.0));
  app->add_option("--source", o->source, "Where to read: auto (netlink, else /proc), netlink, proc")
      ->check(CLI::IsMember({"auto", "netlink", "proc"}));
  app->add_option("--record", o->record,
                  "Also save the raw netlink answers into DIR (for bug reports)")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  app->add_option("--replay", o->replay,
                  "Read a recording (netlink answers, or a /proc copy) instead")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  return {app, [o] { return run_conns(*o); }};
}

}  // namespace parley::cmd
