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

}  // namespace parley::fuzz
