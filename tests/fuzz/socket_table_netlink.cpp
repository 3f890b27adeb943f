// The netlink sock_diag parser (socket_table.hpp) through its exchange seam, as `conns --replay`
// feeds it: every request is answered with the input, so the inet and the unix_diag parsers both
// read the same bytes. Nothing reaches the kernel.

#include "fuzz.hpp"
#include "parley/socket_table.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string answer(fuzz::bytes(data, size));
  auto source =
      make_netlink_source([&](const std::string&) -> Result<std::string> { return answer; });
  DiagQuery query;
  query.udp = query.unix_sockets = query.tcp_info = true;
  auto records = source->list(query);
  if (!records) return 0;
  for (const auto& r : *records) {
    // Every record can be shown.
    FUZZ_CHECK(state_name(r.state) != nullptr);
    FUZZ_CHECK(r.local.to_string().size() < 4096 && r.peer.to_string().size() < 4096);
  }
  return 0;
}
