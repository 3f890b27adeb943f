// parse_port, parse_endpoint, parse_endpoint_args (endpoint.hpp) and parse_forward_endpoint
// (forward.hpp). Input: the text; for parse_endpoint_args, the arguments separated by NUL.

#include <charconv>

#include "fuzz.hpp"
#include "parley/endpoint.hpp"
#include "parley/forward.hpp"

using namespace parley;

namespace {

// What a parsed endpoint looks like written back: brackets where the host needs them.
std::string written(const HostPort& hp) {
  bool brackets = hp.host.find(':') != std::string::npos || (!hp.host.empty() && hp.host[0] == '[');
  return (brackets ? "[" + hp.host + "]" : hp.host) + ":" + std::to_string(hp.port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::bytes(data, size);

  if (auto port = parse_port(text)) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    FUZZ_CHECK(ec == std::errc() && end == text.data() + text.size() && value == *port);
  }

  for (bool port_only : {false, true}) {
    auto hp = parse_endpoint(text, port_only);
    if (!hp) continue;
    // What parses, written back the way messages print it, parses to the same endpoint.
    auto again = parse_endpoint(written(*hp), false);
    FUZZ_CHECK(again && again->host == hp->host && again->port == hp->port);
  }

  for (bool listening : {false, true}) {
    auto fe = parse_forward_endpoint(text, listening);
    if (fe && fe->is_unix()) FUZZ_CHECK(fe->unix_path.size() < 108);
  }

  const auto args = fuzz::split(text);
  for (bool port_only : {false, true}) {
    auto hp = parse_endpoint_args(args, port_only);
    if (hp && args.size() == 2) FUZZ_CHECK(*parse_port(args[1]) == hp->port);
  }
  return 0;
}
