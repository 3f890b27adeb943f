#pragma once
// The chat room's rules (listen --chat, parley chat): names, announcements, /nick and /who, and
// escaping, apart from how bytes move (the hub handler delivers them). Worker thread only.
//
// What clients see:
//   <announce> 127.0.0.1:50312 is connected as <user3>.
//   <user3> hello                       (every line, to everybody, the sender included)
//   <server> hi from the operator       (the operator's input)
//   <announce> <user3> is now known as <ada>.
//   <announce> <ada> is disconnected.
// A line that starts with "//" is sent as text starting with "/" (as in IRC clients).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parley/framing.hpp"
#include "runtime.hpp"

namespace parley::server {

struct HubConn : Conn {
  HubConn(int fd, std::size_t max_line) : Conn(fd), lines(max_line, true) {}
  std::string name;  // "user3", or what /nick chose.
  LineBuffer lines;  // The partial line (longer ones are cut into pieces).
};

class ChatRoom {
 public:
  virtual ~ChatRoom() = default;
  // Sends text to one client (only) or to everybody (nullptr).
  virtual void deliver(std::string_view text, Conn* only) = 0;
  // Shows text to the operator.
  virtual void to_output(std::string_view text) = 0;
  virtual const std::vector<Conn*>& members() const = 0;
  virtual void count_message() {}

  void chat_joined(HubConn& c);
  void chat_left(HubConn& c);
  void chat_input(HubConn& c, std::string_view data);
  // LineBuffer callback for the operator's input (context: the ChatRoom).
  static bool chat_operator_line_cb(void* room, std::string_view line, std::string_view eol);
  // Whether the operator's own lines are shown on the output (not when a terminal echoes them).
  bool show_operator_lines = true;

 private:
  static bool member_line_cb(void* context, std::string_view line, std::string_view eol);
  void member_line(HubConn& c, std::string_view line);
  void command(HubConn& c, std::string_view line);
  void announce(std::string_view text, Conn* only);
  bool name_taken(std::string_view name, const Conn* except) const;

  std::uint64_t next_user_ = 0;
};

}  // namespace parley::server
