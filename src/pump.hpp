#pragma once
// Internal to the relay: a Pump moves bytes from one descriptor to another, one chunk per call,
// choosing the cheapest mechanism the pair allows. Not thread-safe; one thread per Pump.

#include <cstddef>
#include <memory>
#include <system_error>

#include "parley/fd.hpp"

namespace parley::detail {

struct Step {
  std::size_t moved = 0;      // Bytes written to the destination; 0 with no error means EOF.
  std::error_code error;      // Failure, if any.
  bool write_failed = false;  // The error came from the destination, not the source.
};

enum class Method { sendfile, splice, splice_via_pipe, copy };

class Pump {
 public:
  // crlf: convert LF to CRLF on the way (forces the copy method).
  Pump(int src, int dst, bool crlf);
  Step step();
  Method method() const noexcept { return method_; }

 private:
  Step copy_step();
  Step splice_via_pipe_step();
  Step write_all(const char* data, std::size_t n);

  int src_;
  int dst_;
  bool crlf_;
  bool prev_cr_ = false;
  Method method_;
  Fd pipe_r_, pipe_w_;
  std::unique_ptr<char[]> buf_;
  std::unique_ptr<char[]> crlf_buf_;
};

}  // namespace parley::detail
