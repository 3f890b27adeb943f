// AccessList::allow / deny and check (access.hpp) with a stub resolver: a name never reaches DNS.
// Input: a rule list (as --allow takes it), NUL, then 16 bytes of a client address (IPv6, or
// IPv4 in the first 4 when the 17th byte is odd).

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "fuzz.hpp"
#include "parley/access.hpp"
#include "parley/errors.hpp"

using namespace parley;

namespace {

// Names ending in ".test" resolve to documentation addresses; everything else does not exist.
Result<std::vector<SocketAddress>> stub_resolve(const std::string& host) {
  if (host.size() < 5 || host.compare(host.size() - 5, 5, ".test") != 0)
    return Errc::name_not_resolved;
  return resolve(host.size() % 2 ? "192.0.2.1" : "2001:db8::1", 0,
                 {Family::any, true, SOCK_STREAM, false});
}

bool allowed(const AccessList& list, const sockaddr_storage& ss) {
  return list.check(reinterpret_cast<const sockaddr*>(&ss)).allowed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::bytes(data, size);
  std::size_t nul = input.find('\0');
  std::string_view rules = input.substr(0, nul);
  std::string client = nul == std::string_view::npos ? "" : std::string(input.substr(nul + 1));
  client.resize(17, '\0');

  sockaddr_storage ss{};
  if (client[16] & 1) {
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    v4->sin_family = AF_INET;
    std::memcpy(&v4->sin_addr, client.data(), 4);
  } else {
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    v6->sin6_family = AF_INET6;
    std::memcpy(&v6->sin6_addr, client.data(), 16);
  }

  AccessList allow(stub_resolve), deny(stub_resolve);
  std::error_code a = allow.allow(rules), d = deny.deny(rules);
  FUZZ_CHECK(a == d);  // The same text means the same rules whichever verb.
  if (a) {
    FUZZ_CHECK(a == std::errc::invalid_argument || a == make_error_code(Errc::name_not_resolved));
    return 0;
  }
  FUZZ_CHECK(!allow.empty() && !deny.empty());
  // A client is allowed by a list exactly when the same rules as a deny list refuse it.
  auto va = allow.check(reinterpret_cast<const sockaddr*>(&ss));
  auto vd = deny.check(reinterpret_cast<const sockaddr*>(&ss));
  FUZZ_CHECK(va.allowed != vd.allowed);
  FUZZ_CHECK(!va.rule.empty() && vd.rule.empty() == vd.allowed);  // The log names the rule.

  // A single address given literally matches itself (an IPv4 one also as a mapped client).
  std::string text(rules);
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    sockaddr_storage self{};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&self);
    v6->sin6_family = AF_INET6;
    v6->sin6_addr.s6_addr[10] = v6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&v6->sin6_addr.s6_addr[12], &a4, 4);
    FUZZ_CHECK(allowed(allow, self) && !allowed(deny, self));
  }
  return 0;
}
