#pragma once
// (conns) The text of each table cell, formatted on demand into a caller's string: addresses
// (numeric, or resolved once per address with -r), process lists, timers and detail lines.

#include <array>
#include <string>
#include <unordered_map>

#include "conns_store.hpp"
#include "conns_text.hpp"
#include "conns_view.hpp"

namespace parley::cmd {

enum class Column {
  mark,
  proto,
  state,
  recv_q,
  send_q,
  local,
  peer,
  uid,
  inode,
  timer,
  process,
  details
};
const char* column_title(Column c);

class Cells {
 public:
  Cells(const ConnTable& t, const OwnerMap& owners, const ViewOptions& v)
      : t_(t), owners_(owners), v_(v) {}
  // index: the position in the listing (for --watch marks).
  void format(Column c, const Placed& p, std::size_t index, std::string* out);
  // "127.0.0.1:80", "[::1]:80" (netstat: "::1:80"), "*" for an unconnected peer.
  void endpoint(const ConnRow& r, bool local, bool netstat, std::string* out);
  void process(std::uint64_t inode, std::string* out) const;

 private:
  void host(const ConnRow& r, const std::array<std::uint8_t, 16>& addr, bool netstat,
            std::string* out);
  void port(Proto p, std::uint16_t port, std::string* out);
  const ConnTable& t_;
  const OwnerMap& owners_;
  const ViewOptions& v_;
  std::unordered_map<std::string, std::string> names_;  // -r: address bytes -> host name
  std::unordered_map<std::uint32_t, std::string> services_;
};

}  // namespace parley::cmd
