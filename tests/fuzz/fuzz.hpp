#pragma once
// What the fuzz targets share. FUZZ_CHECK turns a broken promise of a parser's header (a port
// list with a duplicate, a line longer than its bound) into a crash that libFuzzer records with
// its input, like a sanitizer report; the targets are built with ASan and UBSan as well.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace parley::fuzz {

inline std::string_view bytes(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Splits at every `sep` (NUL by default, so the pieces may hold newlines): "a\0b" -> {"a", "b"}.
inline std::vector<std::string> split(std::string_view text, char sep = '\0') {
  std::vector<std::string> out;
  for (;;) {
    std::size_t at = text.find(sep);
    out.emplace_back(text.substr(0, at));
    if (at == std::string_view::npos) return out;
    text.remove_prefix(at + 1);
  }
}

// Reads size bytes at p, so that ASan reports a pointer a parser handed out into too short a
// buffer; the sum goes to a volatile so that the reads are not optimised away.
inline volatile unsigned touched;
inline void touch(const void* p, std::size_t size) {
  const auto* b = static_cast<const volatile std::uint8_t*>(p);
  unsigned sum = 0;
  for (std::size_t i = 0; i < size; ++i) sum += b[i];
  touched = sum;
}

}  // namespace parley::fuzz
