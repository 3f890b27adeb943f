#include "parley/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace parley {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

Result<Regex> Regex::compile(std::string_view pattern, std::string* why) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                                   &err, &offset, nullptr);
  if (code == nullptr) {
    if (why) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(err, message, sizeof(message));
      *why = std::string(reinterpret_cast<const char*>(message)) + " at offset " +
             std::to_string(offset);
    }
    return std::make_error_code(std::errc::invalid_argument);
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // Falls back to the interpreter if refused.
  auto c = std::make_shared<Code>();
  c->code = code;
  Regex r;
  r.code_ = std::move(c);
  return r;
}

namespace {

// Match data sized for one pair of offsets, kept per thread so that a search does not allocate.
pcre2_match_data* match_data() {
  thread_local std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> data(
      pcre2_match_data_create(1, nullptr), pcre2_match_data_free);
  return data.get();
}

}  // namespace

std::optional<std::pair<std::size_t, std::size_t>> Regex::search(std::string_view subject) const {
  pcre2_match_data* md = match_data();
  int rc = pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                       PCRE2_NOTEMPTY, md, nullptr);
  if (rc < 0) return std::nullopt;
  PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
  return std::make_pair(static_cast<std::size_t>(ov[0]), static_cast<std::size_t>(ov[1]));
}

bool Regex::found_in(std::string_view subject) const {
  return pcre2_match(code_->code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0,
                     0, match_data(), nullptr) >= 0;
}

}  // namespace parley
