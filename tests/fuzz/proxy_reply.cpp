// The proxy reply parsers (proxy.hpp: HTTP CONNECT, SOCKS4, SOCKS5 method, password and connect
// replies) and ProxyHandshake fed with them. Input: [selector] [chunk] the proxy's bytes.
//   selector % 6: which parser (0 http, 1 http with credentials sent, 2 socks4, 3 socks5 method,
//   4 socks5 password, 5 socks5 connect); selector / 6 % 4: the handshake's type; selector / 24
//   % 2: whether a password was offered (SOCKS5).

#include "fuzz.hpp"
#include "parley/proxy.hpp"

using namespace parley;

namespace {

void check_reply(const ReplyParse& r, std::string_view data) {
  if (!r.complete) {
    // More is needed: no verdict yet, and a promise of more bytes than there are.
    FUZZ_CHECK(!r.error && r.consumed == 0 && r.needed > data.size());
    FUZZ_CHECK(r.needed <= kMaxHttpReply + 1);
    return;
  }
  FUZZ_CHECK(r.consumed <= data.size());
  if (!r.error) FUZZ_CHECK(r.consumed > 0);
  if (r.error) FUZZ_CHECK(r.error.category() == proxy_category() && !r.error.message().empty());
}

ReplyParse parse(unsigned which, bool password, std::string_view data) {
  switch (which) {
    case 0:
      return parse_http_connect_reply(data, false);
    case 1:
      return parse_http_connect_reply(data, true);
    case 2:
      return parse_socks4_reply(data);
    case 3:
      return parse_socks5_method_reply(data, password);
    case 4:
      return parse_socks5_password_reply(data);
    default:
      return parse_socks5_connect_reply(data);
  }
}

// A handshake fed the bytes as they arrive, `chunk` at a time, consuming what it says it used.
void drive(ProxyType type, std::string_view data, std::size_t chunk) {
  std::optional<ProxyCredentials> auth;
  if (chunk % 2) auth = ProxyCredentials{"user", "secret"};
  // SOCKS4 carries IPv4 addresses only; the others are given a name for the proxy to resolve.
  HostPort target{type == ProxyType::socks4 ? "192.0.2.1" : "example.test", 80};
  auto h = ProxyHandshake::begin(type, target, auth);
  FUZZ_CHECK(h.ok());
  std::string received;
  std::size_t at = 0;
  for (int round = 0; !h->done() && round < 10'000; ++round) {
    h->sent(h->to_send().size());
    if (at >= data.size()) break;
    received.append(data.substr(at, chunk));
    at += chunk;
    auto used = h->feed(received);
    if (!used) {
      FUZZ_CHECK(used.error().category() == proxy_category());
      return;
    }
    FUZZ_CHECK(*used <= received.size());
    received.erase(0, *used);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const unsigned which = data[0] % 6;
  const auto type = static_cast<ProxyType>(data[0] / 6 % 4);
  const bool password = data[0] / 24 % 2 != 0;
  const std::size_t chunk = 1 + data[1];
  const std::string_view reply = fuzz::bytes(data + 2, size - 2);

  ReplyParse r = parse(which, password, reply);
  check_reply(r, reply);
  // A verdict does not change when more bytes follow (they belong to the tunnel).
  if (r.complete) {
    ReplyParse again = parse(which, password, std::string(reply.substr(0, r.consumed)) + "tunnel");
    if (r.consumed > 0) FUZZ_CHECK(again.complete && again.error == r.error);
  }
  drive(type, reply, chunk);
  return 0;
}
