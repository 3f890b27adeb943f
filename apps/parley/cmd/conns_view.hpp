#pragma once
// Presentation for `parley conns`: grouping listeners with the connections they accepted, and the
// table, netstat, JSON and summary renderings. Renderers write through a Writer in 64 KiB pieces
// (a listing is never held whole), and stop producing once the reader is gone.
//
// Single-threaded.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "conns_store.hpp"
#include "parley/socket_table.hpp"

namespace parley::cmd {

// Output in pieces: to stdout (out_text) or, for --watch's redraw, into a string.
class Writer {
 public:
  explicit Writer(std::string* into = nullptr) : into_(into) {}
  ~Writer() { flush(); }
  std::string& buf() { return into_ ? *into_ : buf_; }
  // False once the output is unusable (reader gone, disk full): stop producing.
  bool ok() const { return ok_; }
  bool maybe_flush() { return buf().size() < (64u << 10) || flush(); }
  bool flush();

 private:
  std::string* into_;
  std::string buf_;
  bool ok_ = true;
};

// Where a row goes: at the top level, indented under the listener above it, or under it with a
// '?' because several listeners could have accepted it (SO_REUSEPORT) and which one cannot be
// known.
enum class Place : std::uint8_t { top, child, child_unsure };
struct Placed {
  std::uint32_t row;
  Place place = Place::top;  // A child's listener is the last top-level LISTEN row above it.
};
struct Grouping {
  std::vector<Placed> order;
  // For child_unsure rows: every listener that could have accepted it (rows).
  std::map<std::uint32_t, std::vector<std::uint32_t>> candidates;
  // Some connection could belong to several identical listeners; their owners would tell.
  bool wants_owners = false;
};

// Orders rows: each TCP listener followed by the connections it accepted, then the rest. A
// connection belongs to the listener on its port whose address matches best (exact before
// wildcard, the same family; a [::] listener with IPV6_V6ONLY takes no IPv4); with owners
// (scanned) the listener must share a process with it, or it is listed on its own (an outgoing
// connection from a listener's port, or one handed to another process). Listeners that still
// tie (same address, port and processes) are one service: its first listener takes them.
Grouping group_rows(const ConnTable& table, const OwnerMap& owners);

struct ViewOptions {
  bool show_proto = false;    // More than one kind of socket listed: a Proto column.
  bool show_state = true;     // ss drops the State column when one state is selected.
  bool show_process = false;  // -p
  bool show_ext = false;      // -e: uid and inode
  bool show_timer = false;    // -o
  bool show_info = false;     // -i: TCP internals
  bool show_memory = false;   // -m
  bool header = true;         // -H turns it off.
  bool oneline = false;       // -O: details at the end of the row, not on a line of their own.
  bool resolve = false;       // -r: host names (and service names unless numeric)
  bool numeric = false;       // -n given: ports and rates as numbers even with -r
  const std::vector<char>* marks = nullptr;  // --watch: '+', '-' or ' ' per placed row.
  std::size_t max_rows = SIZE_MAX;           // --watch on a terminal: what fits the screen.
};

void render_table(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                  const ViewOptions& v, Writer& w);
void render_netstat(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                    const ViewOptions& v, Writer& w);
// One JSON object per socket and line (fields in conns --help). With a time (--watch): one line
// per snapshot, {"time": ..., "sockets": [...]}, each socket with "change": "new" or "gone"
// when v.marks says so.
void render_json(const ConnTable& t, const Grouping& g, const OwnerMap& owners,
                 const ViewOptions& v, Writer& w, const std::string& time = {});

// -s: sockets counted by protocol, family and state.
struct Summary {
  struct Counts {
    std::uint64_t total = 0, v4 = 0, v6 = 0;
    std::array<std::uint64_t, kMaxState + 1> states{};
  };
  std::array<Counts, 5> protos;  // By Proto.
  std::uint64_t total = 0;
  void add(const SocketRecord& r);
};
void render_summary(const Summary& s, bool json, Writer& w);

const char* proto_name(Proto p);

}  // namespace parley::cmd
