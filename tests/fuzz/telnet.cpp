// TelnetFilter (telnet.hpp). Input: [chunk] bytes from the network. The bytes are filtered once
// whole and once in pieces of 1..256 bytes: a command split between reads must give the same.

#include "parley/telnet.hpp"
#include "fuzz.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t chunk = 1 + data[0];
  const std::string_view in = fuzz::bytes(data + 1, size - 1);

  TelnetFilter whole, pieces;
  std::string data1, replies1, data2, replies2;
  whole.feed(in, &data1, &replies1);
  for (std::size_t at = 0; at < in.size(); at += chunk)
    pieces.feed(in.substr(at, chunk), &data2, &replies2);
  FUZZ_CHECK(data1 == data2 && replies1 == replies2);

  // Never more data than came in; every answer is IAC WONT/DONT option, to a DO/WILL received.
  FUZZ_CHECK(data1.size() <= in.size());
  FUZZ_CHECK(replies1.size() % 3 == 0 && replies1.size() <= in.size());
  for (std::size_t i = 0; i < replies1.size(); i += 3) {
    const auto verb = static_cast<unsigned char>(replies1[i + 1]);
    FUZZ_CHECK(static_cast<unsigned char>(replies1[i]) == 255 && (verb == 252 || verb == 254));
  }
  // Without IAC (255) nothing is a command: the data passes unchanged.
  if (in.find('\xff') == std::string_view::npos) FUZZ_CHECK(data1 == in && replies1.empty());
  return 0;
}
