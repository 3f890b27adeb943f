// parse_port_list (ports.hpp) with a fixed service table (never /etc/services). Input: the list.

#include <bitset>
#include <map>

#include "fuzz.hpp"
#include "parley/errors.hpp"
#include "parley/ports.hpp"

using namespace parley;

namespace {

std::optional<std::uint16_t> table(std::string_view name) {
  static const std::map<std::string_view, std::uint16_t> kTable = {
      {"http", 80}, {"https", 443}, {"ssh", 22}, {"kerberos-adm", 749}, {"zero", 0}};
  auto it = kTable.find(name);
  if (it == kTable.end()) return std::nullopt;
  return it->second;
}

void check(std::string_view text, const ServiceLookup& services) {
  std::string why;
  auto ports = parse_port_list(text, services, &why);
  if (!ports) {
    FUZZ_CHECK(ports.error() == make_error_code(Errc::bad_port_list));
    FUZZ_CHECK(!why.empty() && why.size() < 200);  // Says which item, bounded whatever the input.
    return;
  }
  // Each port once, never 0, in at most 64 Ki entries however long the text.
  FUZZ_CHECK(!ports->empty() && ports->size() <= 65535);
  std::bitset<65536> seen;
  for (std::uint16_t p : *ports) {
    FUZZ_CHECK(p != 0 && !seen[p]);
    seen[p] = true;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::bytes(data, size);
  check(text, table);
  check(text, nullptr);
  return 0;
}
