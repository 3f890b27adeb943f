// parley conns: list listening sockets and connections, like ss and netstat but grouped: each
// listener with the connections it accepted under it. Speaks ss's options and filter language.
// This file runs a listing (once, or again and again with --watch); conns_options.cpp has the
// command line.

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <thread>
#include <unordered_set>

#include "conns_args.hpp"
#include "conns_store.hpp"
#include "conns_view.hpp"
#include "netcat.hpp"
#include "parley/duration.hpp"
#include "parley/errors.hpp"
#include "parley/socket_table.hpp"

namespace parley::cmd {
namespace {

std::unique_ptr<SocketSource> source_of(const ConnsArgs& o) {
  if (!o.replay.empty()) {
    struct stat st {};
    if (stat((o.replay + "/net/tcp").c_str(), &st) == 0) return make_proc_source(o.replay, false);
    return make_netlink_source(replay_netlink(o.replay));
  }
  if (o.source == "proc") return make_proc_source();
  auto exchange = live_netlink();
  if (!o.record.empty()) exchange = recording_netlink(exchange, o.record);
  return make_netlink_source(exchange);
}

// One listing: the sockets that pass every filter, kept (or counted, or killed).
struct Snapshot {
  ConnTable table;
  OwnerMap owners;
  Summary summary;
  bool fell_back = false;  // Netlink failed; /proc was read.
  std::error_code kill_error;
};

class Lister {
 public:
  Lister(const ConnsArgs& o, const ConnsPlan& plan) : o_(o), plan_(plan), source_(source_of(o)) {}

  // Errors are said here; returns false then.
  bool take(Snapshot* s) {
    detail_.clear();
    if (plan_.need_owners) s->owners = scan_owners();
    std::unique_ptr<SocketKiller> killer;
    if (o_.kill) killer = std::make_unique<SocketKiller>();
    RecordSink sink = [&](const SocketRecord& r) {
      if (!plan_.filter.matches(r) || !wanted(o_, r, s->owners)) return true;
      if (killer) {
        auto ec = killer->kill(r);
        if (ec == std::errc::no_such_file_or_directory) return true;  // Gone meanwhile.
        if (ec) {
          s->kill_error = ec;
          return false;
        }
      }
      if (o_.summary)
        s->summary.add(r);
      else
        s->table.add(r, {o_.timers, o_.info, o_.memory});
      return true;
    };
    auto ec = source_->list(plan_.query, sink);
    if (ec && o_.source == "auto" && o_.replay.empty() && o_.record.empty() && !o_.kill) {
      // No netlink here (a container, an old kernel): read /proc instead.
      s->fell_back = true;
      s->table.clear();
      s->summary = Summary{};
      auto proc = make_proc_source();
      ec = proc->list(plan_.query, sink);
      if (ec) detail_ = proc->error_detail();
    } else if (ec) {
      detail_ = source_->error_detail();
    }
    if (ec) {
      say("conns: cannot read the socket table: {}{}", detail_.empty() ? "" : detail_ + ": ",
          describe(ec));
      return false;
    }
    return true;
  }

  Grouping group(Snapshot* s) const {
    Grouping g = group_rows(s->table, s->owners);
    // Several listeners could have taken a connection: their processes may tell them apart.
    if (g.wants_owners && !s->owners.scanned && o_.replay.empty()) {
      s->owners = scan_owners();
      g = group_rows(s->table, s->owners);
    }
    return g;
  }

 private:
  const ConnsArgs& o_;
  const ConnsPlan& plan_;
  std::unique_ptr<SocketSource> source_;
  std::string detail_;
};

void render(const ConnsArgs& o, const Snapshot& s, const Grouping& g, const ViewOptions& v,
            Writer& w, const std::string& time = {}) {
  if (o.summary) return render_summary(s.summary, o.json, w);
  if (o.json) return render_json(s.table, g, s.owners, v, w, time);
  if (o.netstat) return render_netstat(s.table, g, s.owners, v, w);
  render_table(s.table, g, s.owners, v, w);
}

int finish_kill(const std::error_code& ec) {
  if (!ec) return kExitOk;
  if (ec == std::errc::operation_not_permitted || ec == std::errc::permission_denied)
    say("conns: -K: killing sockets needs CAP_NET_ADMIN (run as root)");
  else if (ec == std::errc::operation_not_supported)
    say("conns: -K: this kernel cannot kill sockets (it lacks CONFIG_INET_DIAG_DESTROY)");
  else
    say("conns: -K: {}", describe(ec));
  return kExitUsage;
}

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms.count());
}

volatile std::sig_atomic_t g_stop = 0;

// Sleeps until then, waking every 100 ms to notice a signal.
void wait_until(std::chrono::steady_clock::time_point until) {
  using namespace std::chrono;
  while (!g_stop && steady_clock::now() < until)
    std::this_thread::sleep_for(std::min<milliseconds>(
        milliseconds(100), duration_cast<milliseconds>(until - steady_clock::now()) + 1ms));
}

// Rows a terminal can show under the header, leaving room for the "... more" line and the line
// the cursor ends on (so the header never scrolls away).
std::size_t rows_that_fit(const ViewOptions& v) {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row <= 3) return SIZE_MAX;
  std::size_t lines = ws.ws_row - 3u;
  return (v.show_info || v.show_memory) && !v.oneline ? lines / 2 : lines;
}

// --watch's memory of the last listing: what was there, to mark what is new and what is gone.
struct WatchState {
  Snapshot previous;
  std::size_t previous_fresh = 0;  // Rows of previous that were listed (not carried as gone).
  std::unordered_set<std::uint64_t> before;
  bool first = true;

  // Adds the rows that went away to snap (shown once, marked '-'); returns the marks by row
  // of g's order after grouping.
  std::vector<char> update(Snapshot& snap, Lister& lister, Grouping* g) {
    std::unordered_set<std::uint64_t> now;
    for (std::size_t i = 0; i < snap.table.size(); ++i)
      now.insert(identity(snap.table[i], snap.table.name(snap.table[i])));
    const std::size_t fresh = snap.table.size();
    for (std::size_t i = 0; i < previous_fresh; ++i)
      if (!now.count(identity(previous.table[i], previous.table.name(previous.table[i]))))
        snap.table.add_copy(previous.table, i);
    *g = lister.group(&snap);
    std::vector<char> marks;
    marks.reserve(g->order.size());
    for (const auto& p : g->order) {
      const ConnRow& r = snap.table[p.row];
      bool added = !first && !before.count(identity(r, snap.table.name(r)));
      marks.push_back(p.row >= fresh ? '-' : added ? '+' : ' ');
    }
    before = std::move(now);
    previous_fresh = fresh;
    first = false;
    return marks;
  }
};

// --watch: redraw in place; '+' marks a socket that appeared since the last refresh, '-' one
// that is gone (shown for that one refresh, then dropped).
int watch(const ConnsArgs& o, const ConnsPlan& plan, Lister& lister,
          std::chrono::milliseconds every) {
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  const bool tty = isatty(STDOUT_FILENO) == 1;
  WatchState state;
  while (!g_stop) {
    auto start = std::chrono::steady_clock::now();
    Snapshot snap;
    if (!lister.take(&snap)) return kExitUsage;
    Grouping g;
    std::vector<char> marks = state.update(snap, lister, &g);
    ViewOptions v = plan.view;
    v.marks = &marks;
    std::string text;
    if (tty && !o.json) {
      v.max_rows = rows_that_fit(v);
      text = "\x1b[H\x1b[2J";  // Home and clear: redraw in place.
    }
    {
      Writer w(&text);
      render(o, snap, g, v, w, o.json ? now_iso() : std::string());
    }
    if (!o.json && !tty) text += "\n";  // Snapshots of a text listing, one blank line apart.
    if (!out_text(text)) break;         // The reader went away (or the disk is full).
    state.previous = std::move(snap);
    wait_until(start + every);
  }
  return kExitOk;
}

int run(const ConnsArgs& o) {
  if (!o.netns.empty()) {
    if (auto ec = enter_netns(o.netns)) {
      say("conns: network namespace '{}': {}{}", o.netns, describe(ec),
          ec == std::errc::no_such_file_or_directory ? " (see ip netns list)" : "");
      return kExitUsage;
    }
  }
  std::string why;
  auto plan = plan_of(o, &why);
  if (!plan) {
    say("conns: {}", why);
    return kExitUsage;
  }
  Lister lister(o, *plan);
  if (!o.watch.empty()) return watch(o, *plan, lister, *parse_duration(o.watch));
  Snapshot s;
  if (!lister.take(&s)) return kExitUsage;
  Grouping g = o.summary ? Grouping{} : lister.group(&s);
  {
    Writer w;
    render(o, s, g, plan->view, w);
  }
  if (s.fell_back)
    say("netlink sock_diag unavailable; read /proc/net instead (no TCP info, no Unix peers)");
  if (o.process && s.owners.unreadable_processes > 0 && geteuid() != 0)
    say("process names hidden for {} processes of other users; run as root to see them",
        s.owners.unreadable_processes);
  return finish_kill(s.kill_error);
}

}  // namespace

int run_conns(const ConnsArgs& o) {
  if (o.kill && o.unix_sockets) {
    say("conns: -K closes TCP and UDP sockets only, not Unix sockets (-x)");
    return kExitUsage;
  }
  return run(o);
}

}  // namespace parley::cmd
