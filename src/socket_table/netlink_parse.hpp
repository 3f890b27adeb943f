#pragma once
// (internal) Parsing of sock_diag dump answers: checks every length and value of every message
// and attribute before reading it, and turns each socket into a SocketRecord for the sink.

#include <string>
#include <string_view>

#include "parley/socket_table.hpp"

namespace parley::detail {

class DumpParser {
 public:
  // unix_dump: a unix_diag answer, else inet_diag (TCP or UDP as proto says).
  DumpParser(bool unix_dump, Proto proto, const DiagQuery& query, const RecordSink& sink)
      : unix_(unix_dump), proto_(proto), query_(query), sink_(sink) {}

  // One datagram (or a whole recording): whole messages only. Feed::done once NLMSG_DONE is
  // seen (or the sink asked to stop). Errors: the kernel's NLMSG_ERROR code, or
  // std::errc::bad_message for anything malformed, with what() saying what and where.
  Result<Feed> feed(std::string_view bytes);
  const std::string& what() const { return what_; }
  std::size_t delivered() const { return delivered_; }

 private:
  std::error_code corrupt(std::string message);
  std::error_code parse_inet(const unsigned char* p, std::size_t len);
  std::error_code parse_unix(const unsigned char* p, std::size_t len);
  bool inet_attribute(unsigned type, const unsigned char* v, std::size_t n, const char** need);
  bool unix_attribute(unsigned type, const unsigned char* v, std::size_t n, const char** need);

  bool unix_;
  Proto proto_;
  const DiagQuery& query_;
  const RecordSink& sink_;
  std::size_t offset_ = 0;  // Of the current message, from the start of the dump.
  std::size_t delivered_ = 0;
  bool done_ = false;
  bool stopped_ = false;
  std::string what_;
  SocketRecord record_;
  TcpInfo info_;
  SkMem memory_;
  std::string name_;
};

}  // namespace parley::detail
