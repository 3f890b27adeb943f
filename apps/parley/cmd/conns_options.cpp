// parley conns's command line: ss's options with ss's meanings, parley's own filters and views,
// and the rules that exclude each other, one per line.

#include <chrono>
#include <limits>
#include <memory>

#include "commands.hpp"
#include "conns_args.hpp"
#include "netcat.hpp"
#include "parley/duration.hpp"

namespace parley::cmd {
namespace {

constexpr const char* kFooter = R"(Also: parley conns [OPTIONS] [FILTER]
Default: TCP listeners and connections (not TIME-WAIT or SYN-RECV), numeric, each listener
followed by the connections it accepted ('? ' before the state: one of several SO_REUSEPORT
listeners took it, which one cannot be known; -p tells processes apart).
FILTER is ss's: [state NAME|exclude NAME]... then an expression of src/dst ADDR[/LEN][:PORT],
sport/dport OP [:]PORT (OP: = != < <= > >=), dev, fwmark, cgroup, autobound, joined by and,
or, not and '( )'; and/or group from the left, as in ss. Examples:
  parley conns -tanp
  parley conns state established '( dport = :ssh or sport = :ssh )'
  parley conns -x src '/run/*'
  parley conns -tn dst 10.0.0.0/8 and sport '>' :1024
IPv4 clients of a dual-stack [::] listener are IPv6 sockets: shown as [::ffff:a.b.c.d],
listed by -6 (not -4), matched by IPv4 address filters (as in ss).
Names and paths: control bytes and bytes that are not UTF-8 are shown as \xHH.
JSON: one object per line: proto, state, recv_q, send_q, family, local{address,port},
peer{address,port}; Unix: path, peer_inode; inode, uid, listener, accepted_by (the
listener's inode; null with accepted_by_one_of[...] when unsure), processes[{pid,name,fd}],
timer{name,expires_ms,retransmits} (-o), tcp_info{<tcp_info fields>,congestion} (-i),
skmem{rmem_alloc,rcvbuf,...} (-m). A name that is not UTF-8 has U+FFFD in place of the bad
bytes and its exact bytes in NAME_hex (path_hex, name_hex). -s --json:
{total, protocols{tcp{total,ipv4,ipv6,states{...}},...}}. --watch --json: one line per
refresh, {time, sockets[...]}, new and gone sockets with "change".)";

// Which sockets: protocols, families, states, ports, owners.
void add_selection(CLI::App* app, ConnsArgs& o) {
  app->add_flag("-t,--tcp", o.tcp, "TCP sockets (the default)");
  app->add_flag("-u,--udp", o.udp, "UDP sockets");
  app->add_flag("-x,--unix", o.unix_sockets, "Unix sockets");
  app->add_flag("-4,--ipv4", o.v4, "IPv4 only");
  app->add_flag("-6,--ipv6", o.v6, "IPv6 only");
  app->add_flag("-l,--listening", o.listening, "Only listening (and unconnected) sockets");
  app->add_flag("-a,--all", o.all, "Sockets in every state");
  app->add_option("--state", o.states,
                  "Only this state (repeatable): established, listen, time-wait, ... or "
                  "connected, synchronized, bucket, big")
      ->type_name("NAME");
  app->add_option("--port", o.ports, "Local or peer port (repeatable)")
      ->check(CLI::Range(0, 65535));
  app->add_option("--sport", o.sports, "Local port (repeatable)")->check(CLI::Range(0, 65535));
  app->add_option("--dport", o.dports, "Peer port (repeatable)")->check(CLI::Range(0, 65535));
  app->add_option("--pid", o.pids, "Owned by this process (repeatable)")
      ->check(CLI::Range(1, std::numeric_limits<int>::max()));
  app->add_option("--process", o.process_names, "Owned by a process of this name (repeatable)");
}

// How they are shown.
void add_view(CLI::App* app, ConnsArgs& o) {
  app->add_flag("-n,--numeric", o.numeric,
                "Numeric ports and rates (addresses are numeric unless -r)");
  app->add_flag("-r,--resolve", o.resolve,
                "Resolve addresses to host names (and ports to services)");
  app->add_flag("-p,--processes", o.process, "Show the owning processes (name, pid, fd)");
  app->add_flag("-i,--info", o.info,
                "TCP internals as ss -i: congestion, rto, rtt, mss, cwnd, ssthresh, bytes, "
                "lastsnd/lastrcv, pacing and delivery rates, retrans");
  app->add_flag("-o,--options", o.timers, "Timers: on, keepalive, timewait, persist");
  app->add_flag("-m,--memory", o.memory, "Socket memory (skmem)");
  app->add_flag("-e,--extended", o.ext, "Show uid and inode");
  app->add_flag("-s,--summary", o.summary,
                "Count sockets per protocol, family and state (all of them unless protocols "
                "or states are chosen)");
  app->add_flag("-H,--no-header", o.no_header, "No header line");
  app->add_flag("-O,--oneline", o.oneline, "One line per socket (-i, -m)");
  app->add_flag("--json", o.json, "One JSON object per socket and line");
  app->add_flag("--netstat", o.netstat, "netstat's classic layout (-e, -o, -p too)");
  app->add_option("--watch", o.watch,
                  "Refresh every TIME (1s, 500ms, 2m; default 1s) until Ctrl-C; write "
                  "--watch=TIME before a filter")
      ->expected(0, 1)
      ->default_str("1s")
      ->type_name("TIME")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            auto d = parse_duration(text);
            if (!d) return "'" + text + "' is not a time (use 500ms, 2s, 1m)";
            if (*d < std::chrono::milliseconds(100)) return "--watch: at least 100ms";
            return {};
          },
          ""));
}

// Where the table comes from, and what else happens to it.
void add_source(CLI::App* app, ConnsArgs& o) {
  app->add_flag("-K,--kill", o.kill,
                "Close the TCP and UDP sockets listed (SOCK_DESTROY; needs root and "
                "CONFIG_INET_DIAG_DESTROY)");
  app->add_option("-N,--net", o.netns,
                  "Look into the network namespace NSNAME (as ip netns names it)")
      ->type_name("NSNAME");
  app->add_option("--backend", o.source, "Where to read: auto (netlink, else /proc), netlink, proc")
      ->check(CLI::IsMember({"auto", "netlink", "proc"}))
      ->type_name("BACKEND");
  // The name before --backend (it read like connect's local address), hidden; the same value.
  app->add_option("--source", o.source, "Old name of --backend")
      ->check(CLI::IsMember({"auto", "netlink", "proc"}))
      ->group("")
      ->excludes("--backend");
  app->add_option("--record", o.record,
                  "Also save the raw netlink answers into DIR (for bug reports)")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
  app->add_option("--replay", o.replay,
                  "Read a recording (netlink answers, or a /proc copy) instead")
      ->type_name("DIR")
      ->check(CLI::ExistingDirectory);
}

void excludes(CLI::App* app, const char* a, const char* b) {
  app->get_option(a)->excludes(app->get_option(b));
}

}  // namespace

Subcommand conns_command(CLI::App& root) {
  auto o = std::make_shared<ConnsArgs>();
  auto* app =
      root.add_subcommand("conns", "List listening sockets and connections (like ss/netstat)");
  app->footer(kFooter);
  add_selection(app, *o);
  add_view(app, *o);
  add_source(app, *o);
  // The filter is taken from the arguments CLI11 does not know: as a positional, CLI11 2.1 would
  // read "[::1]" as a list and drop its brackets.
  app->allow_extras();
  excludes(app, "-4", "-6");
  excludes(app, "-l", "-a");
  excludes(app, "--state", "-l");
  excludes(app, "--state", "-a");
  excludes(app, "--json", "--netstat");
  excludes(app, "--json", "-H");
  excludes(app, "--json", "-O");
  excludes(app, "--netstat", "-s");
  excludes(app, "--netstat", "-i");
  excludes(app, "--netstat", "-m");
  excludes(app, "--netstat", "-O");
  for (const char* opt : {"-p", "-i", "-o", "-m", "-e", "-O", "-H", "-K"}) excludes(app, "-s", opt);
  excludes(app, "-K", "--replay");
  for (const char* opt : {"--backend", "--source"}) {
    excludes(app, "-K", opt);
    excludes(app, "--replay", opt);
    excludes(app, "--record", opt);
  }
  excludes(app, "-K", "--watch");
  excludes(app, "--replay", "--record");
  excludes(app, "--replay", "-N");
  for (const char* opt : {"-p", "--pid", "--process"}) excludes(app, "--replay", opt);
  return {app, [o, app] {
            o->filter = app->remaining();
            return run_conns(*o);
          }};
}

}  // namespace parley::cmd
