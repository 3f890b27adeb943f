// The netlink sock_diag parser (socket_table.hpp) through its exchange seam, as `conns --replay`
// feeds it: every request is answered with the input, so the inet and the unix_diag parsers both
// read the same bytes. Nothing reaches the kernel.

#include "fuzz.hpp"
#include "parley/socket_table.hpp"

using namespace parley;

namespace {

// Every record can be shown, and reading it stays within what the parser handed out.
bool check(const SocketRecord& r) {
  FUZZ_CHECK(state_name(r.state) != nullptr);
  FUZZ_CHECK(r.local_address().to_string().size() < 4096);
  FUZZ_CHECK(r.peer_address().to_string().size() < 4096);
  FUZZ_CHECK(r.unix_name.size() < 4096 && r.congestion.size() < 4096);
  // What the record points at is read whole (ASan reports a pointer into a short message).
  if (r.info) fuzz::touch(r.info, sizeof *r.info);
  if (r.memory) fuzz::touch(r.memory, sizeof *r.memory);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string answer(fuzz::bytes(data, size));
  // Each dump is answered with the input as one datagram, then ends.
  auto source = make_netlink_source(
      [&](std::string_view, const DatagramSink& sink, std::string*) -> std::error_code {
        auto fed = sink(answer);
        return fed ? std::error_code{} : fed.error();
      });
  DiagQuery query;
  query.protos = proto_bit(Proto::tcp) | proto_bit(Proto::udp) | kUnixProtos;
  query.tcp_info = query.memory = query.unix_uid = true;
  (void)source->list(query, check);
  return 0;
}
