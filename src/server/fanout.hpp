#pragma once
// Broadcast by rounds: what one round of events has for the clients (every message of a broker
// or chat room) is collected and sent when the round is over, each client getting everything
// meant for it in one sendmsg() -- instead of one send() per message per client, which with 50
// clients made 49 system calls of each incoming line. Worker thread only.

#include <sys/uio.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime.hpp"

namespace parley::server {

class Fanout {
 public:
  // data for every client but `except`, or (only != nullptr) for that client alone.
  void add(std::string_view data, const Conn* except, const Conn* only = nullptr);
  bool empty() const { return parts_.empty(); }
  std::size_t size() const { return bytes_.size(); }
  // Sends the round to every open client of w; appends to *over those whose queue now holds
  // more than `limit` bytes (the caller drops them).
  void flush(Worker& w, std::size_t limit, std::vector<Conn*>* over);

 private:
  struct Part {
    std::size_t offset, size;
    const Conn* except;
    const Conn* only;
  };
  std::string bytes_;
  std::vector<Part> parts_;
  std::string sending_;  // The round being sent (add() may start the next meanwhile).
  std::vector<Part> sending_parts_;
  std::vector<Conn*> clients_;  // Snapshot: sending may close a client.
  std::vector<iovec> iov_;
};

}  // namespace parley::server
