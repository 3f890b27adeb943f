#pragma once
// Internal to the relay: a Pump moves bytes from one descriptor to another, one chunk per call,
// choosing the cheapest mechanism the pair allows. Not thread-safe; one thread per Pump.
//
// With a traffic log the data still moves by splice: it passes through the private pipe, tee(2)
// copies the page references into a second pipe, and the log splices them into its file. Only a
// hex dump, -C, -d and -t need the bytes in memory (the copy method).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

#include "parley/fd.hpp"
#include "parley/telnet.hpp"
#include "parley/traffic_log.hpp"

namespace parley::detail {

struct Step {
  std::size_t moved = 0;      // Bytes written to the destination; 0 with no error means EOF.
  std::error_code error;      // Failure, if any.
  bool write_failed = false;  // The error came from the destination, not the source.
  bool idle = false;          // Something was read but there was nothing to write (-t).
};

enum class Method { sendfile, splice, splice_via_pipe, copy };

struct PumpOptions {
  bool crlf = false;          // -C: convert LF to CRLF on the way.
  TrafficLog* log = nullptr;  // -o/-x: what moved goes here too.
  TrafficDirection direction = TrafficDirection::sent;
  std::chrono::milliseconds line_delay{0};  // -d: one line at a time, this far apart.
  int wake_fd = -1;                         // Readable: stop a -d pause early.
  bool telnet = false;                      // -t: strip negotiation, answer it on the source.
};

class Pump {
 public:
  Pump(int src, int dst, const PumpOptions& options);
  Step step();
  Method method() const noexcept { return method_; }

 private:
  Step copy_step();
  Step splice_via_pipe_step();
  Step tee_splice_step();
  Step write_out(const char* data, std::size_t n);  // Without logging.
  Step write_all(const char* data, std::size_t n);  // Logged.
  void settle_log(std::size_t teed, std::size_t delivered);
  Step write_lines(const char* data, std::size_t n);
  bool pause_before_line();
  Step send_to_log_and_out(int pipe_r, std::size_t n);
  void log(const char* data, std::size_t n);

  int src_;
  int dst_;
  PumpOptions options_;
  bool prev_cr_ = false;
  Method method_;
  Fd pipe_r_, pipe_w_;  // The private pipe (splice_via_pipe).
  Fd log_r_, log_w_;    // The pipe tee(2) fills for the log.
  std::size_t chunk_;
  std::unique_ptr<char[]> buf_;
  std::unique_ptr<char[]> crlf_buf_;
  std::chrono::steady_clock::time_point next_line_{};
  TelnetFilter telnet_;
  std::string filtered_, replies_;
};

}  // namespace parley::detail
