#pragma once
// (conns) The options of `parley conns`, and the kernel query, filter and view they make.
// conns_options.cpp defines them on the command line, conns_args.cpp works out the plan.

#include <string>
#include <vector>

#include "conns_view.hpp"
#include "parley/socket_filter.hpp"
#include "parley/socket_table.hpp"

namespace parley::cmd {

struct ConnsArgs {
  bool tcp = false, udp = false, unix_sockets = false, v4 = false, v6 = false;
  bool listening = false, all = false, numeric = false, resolve = false;
  bool process = false, info = false, summary = false, ext = false;
  bool timers = false, memory = false, kill = false, no_header = false, oneline = false;
  bool json = false, netstat = false;
  std::vector<std::string> states;
  std::vector<int> ports, sports, dports, pids;
  std::vector<std::string> process_names;
  std::string source = "auto";  // auto | netlink | proc
  std::string replay, record, netns;
  std::string watch;                // --watch's time ("" when not given)
  std::vector<std::string> filter;  // ss's FILTER: state keywords and an expression
};

// What a listing asks for and how it shows it, worked out from the options once.
struct ConnsPlan {
  DiagQuery query;
  SocketFilter filter;
  ViewOptions view;
  bool need_owners = false;  // Scan /proc/*/fd before listing (-p, --pid, --process).
};

// Errors: a one-line message for the user (without the "conns: " prefix).
Result<ConnsPlan> plan_of(const ConnsArgs& o, std::string* why);

// The socket passes the options that are not ss filters (--port, --pid, --process, ...).
bool wanted(const ConnsArgs& o, const SocketRecord& r, const OwnerMap& owners);

// Lists (conns.cpp); returns the exit status, having said what went wrong.
int run_conns(const ConnsArgs& o);

}  // namespace parley::cmd
