// parse_until and AnswerCollector (answers.hpp). Input: an --until spec, a NUL, then a script of
// operations, each one byte: 0 expect, 1 feed the next n bytes (n: the byte after it),
// 2 let time pass (the next byte, in ms), 3 tick, 4 flush.

#include <algorithm>
#include <chrono>

#include "fuzz.hpp"
#include "parley/answers.hpp"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input = fuzz::bytes(data, size);
  std::size_t nul = input.find('\0');
  auto spec = parse_until(input.substr(0, nul));
  if (nul == std::string_view::npos) return 0;
  std::string_view script = input.substr(nul + 1);

  AnswerCollector collector(spec ? *spec : UntilSpec{});
  const bool none = spec && spec->kind == UntilSpec::Kind::none;
  const std::chrono::nanoseconds quiet = spec ? spec->idle : UntilSpec{}.idle;
  auto now = AnswerCollector::Clock::time_point{} + std::chrono::hours(1);
  std::vector<AnswerCollector::Event> events;
  std::size_t fed = 0, expected = 0;
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(script[i]); };
  for (std::size_t i = 0; i < script.size(); ++i) {
    switch (byte(i) % 5) {
      case 0:
        collector.expect(now);
        if (!none) ++expected;
        break;
      case 1: {
        std::size_t n = i + 1 < script.size() ? byte(++i) : 0;
        std::string_view chunk = script.substr(i + 1, n);
        i += chunk.size();
        collector.feed(chunk, now, events);
        fed += chunk.size();
        break;
      }
      case 2:
        if (i + 1 < script.size()) now += std::chrono::milliseconds(byte(++i));
        break;
      case 3:
        collector.tick(now, events);
        break;
      case 4:
        collector.flush(now, events);
        FUZZ_CHECK(!collector.deadline());  // Nothing is pending after a flush.
        break;
    }
    // Something pending is due within the quiet time (idle, or 100 ms for a partial line).
    if (auto due = collector.deadline())
      FUZZ_CHECK(*due <=
                 now + std::max<std::chrono::nanoseconds>(quiet, std::chrono::milliseconds(100)));
  }
  collector.flush(now, events);
  FUZZ_CHECK(!collector.deadline());

  // Every byte received is in some event (less the line endings taken off), never more; an
  // answer is only ever the answer to a line that was sent, and its time is not negative.
  std::size_t shown = 0, answers = 0;
  for (const auto& e : events) {
    shown += e.text.size();
    if (e.kind == AnswerCollector::Event::Kind::answer) {
      ++answers;
      FUZZ_CHECK(e.rtt.count() >= 0);
    }
  }
  FUZZ_CHECK(shown <= fed && fed - shown <= 2 * events.size());
  FUZZ_CHECK(answers <= expected);
  return 0;
}
