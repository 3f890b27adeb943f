#pragma once
// Presentation for `parley conns`: grouping listeners with their connections, and the table,
// netstat, JSON and summary renderings. Pure functions of the records; no I/O but the output
// string, so tests and --watch can reuse them.

#include <string>
#include <vector>

#include "parley/socket_table.hpp"

namespace parley::cmd {

struct Row {
  const SocketRecord* socket;
  bool grouped = false;  // Shown indented under the listener above it.
  std::vector<SocketOwner> owners;
};

struct ViewOptions {
  bool show_proto = false;    // More than one protocol listed: add a Proto column.
  bool show_process = false;  // -p
  bool show_ext = false;      // -e: uid and inode
  bool show_info = false;     // -i: a TCP info line under each TCP socket
  bool resolve = false;       // -r
  bool color = false;         // Marks for --watch (new/gone) use terminal attributes.
};

// Orders records: each TCP listener followed by the connections it accepted, then the rest.
std::vector<Row> group_rows(const std::vector<SocketRecord>& records);

std::string proto_name(Proto p);
std::string render_table(const std::vector<Row>& rows, const ViewOptions& v,
                         const std::vector<char>* marks = nullptr);
std::string render_netstat(const std::vector<Row>& rows, const ViewOptions& v);
std::string render_json(const std::vector<Row>& rows);
std::string render_summary(const std::vector<SocketRecord>& records);

}  // namespace parley::cmd
