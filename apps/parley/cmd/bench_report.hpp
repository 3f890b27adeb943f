#pragma once
// What `parley bench` prints: the live progress line, the summary with its latency histogram, and
// the --json object. Pure formatting; the caller writes the strings.

#include <string>

#include "parley/loadgen.hpp"

namespace parley::cmd {

struct BenchHeader {
  std::string mode, target;
  LoadConfig config;
  bool interrupted = false;
};

std::string progress_line(const LoadProgress& now, const LoadProgress& before, double elapsed_s,
                          double duration_s, double interval_s);
std::string summary(const BenchHeader& h, const LoadResult& r);
// --interval lines: a header, then one line per interval.
std::string interval_header();
std::string interval_line(const IntervalStats& s);
std::string json_result(const BenchHeader& h, const LoadResult& r);
// "12.3 us", "4.56 ms", "1.20 s".
std::string format_latency(std::uint64_t ns);

}  // namespace parley::cmd
