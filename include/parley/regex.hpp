#pragma once
// A compiled regular expression (PCRE2, Perl syntax, JIT-compiled when the CPU allows), for
// answer framing (`--until regex=RE`) and expected answers (`--expect regex=RE`). Immutable once
// compiled: one instance may be used from any number of threads at once.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "parley/result.hpp"

namespace parley {

class Regex {
 public:
  // Errors: invalid_argument; *why (if given) then says what is wrong and where.
  static Result<Regex> compile(std::string_view pattern, std::string* why = nullptr);
  // The first non-empty match in subject, as [begin, end) offsets; nullopt when there is none (or
  // when the match gives up on a pathological pattern, past PCRE2's match limits).
  std::optional<std::pair<std::size_t, std::size_t>> search(std::string_view subject) const;
  // Whether the pattern matches anywhere in subject (an empty match counts).
  bool found_in(std::string_view subject) const;

 private:
  struct Code;
  std::shared_ptr<const Code> code_;
};

}  // namespace parley
