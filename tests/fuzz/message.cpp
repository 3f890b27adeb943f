// unescape and MessageTemplate (framing.hpp), bench's --message. Input: the template text.

#include "fuzz.hpp"
#include "parley/framing.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = fuzz::bytes(data, size);
  auto bytes = unescape(text);
  // Every escape takes at least two characters for one byte.
  if (bytes) FUZZ_CHECK(bytes->size() <= text.size());
  auto t = MessageTemplate::parse(text);
  if (!t) return 0;
  std::uint64_t rng = 0x9e3779b97f4a7c15ULL;
  std::string out;
  t->render(out, 1, 1, rng);
  FUZZ_CHECK(rng != 0);
  if (t->constant()) {
    FUZZ_CHECK(out == t->constant_text());
    std::string again;
    t->render(again, 99, 7, rng);
    FUZZ_CHECK(again == out);
  }
  if (t->ends_with('\n')) FUZZ_CHECK(!out.empty() && out.back() == '\n');
  return 0;
}
