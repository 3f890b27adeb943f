#pragma once
// -t: a minimal Telnet peer (RFC 854/855) that refuses every option. Received negotiation is
// answered (DO x -> WONT x, WILL x -> DONT x; DONT and WONT need no answer, since nothing is
// ever enabled), stripped from the data together with subnegotiations and other commands, and
// IAC IAC becomes one 0xFF data byte. State carries across chunks, so a command split between
// two reads is handled. Pure (no I/O), bounded state; one object per connection, one thread.

#include <string>
#include <string_view>

namespace parley {

class TelnetFilter {
 public:
  // Appends the data bytes of `in` to *data and the answers to send back to *replies.
  void feed(std::string_view in, std::string* data, std::string* replies);

 private:
  enum class State { data, iac, option, sub, sub_iac };
  State state_ = State::data;
  unsigned char command_ = 0;
};

}  // namespace parley
