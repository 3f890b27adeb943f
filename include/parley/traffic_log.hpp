#pragma once
// Traffic logs (-o FILE, -x FILE): what went each way through a connection, as the raw bytes in
// the order they passed (-o) and/or as a hex dump (-x) in ncat's shape with a direction marker:
//
//   > 0000   47 45 54 20 2f 20 48 54  54 50 2f 31 2e 30 0d 0a  GET./.HTTP/1.0..
//   < 0000   48 54 54 50 2f 31 2e 30  20 32 30 30 20 4f 4b 0d  HTTP/1.0.200.OK.
//
// ">" is data sent to the peer, "<" data received from it; each chunk (one read, one datagram)
// starts at offset 0000, as in ncat.
//
// One TrafficLog serves every relay of a command (stream, datagram, or many clients at once).
// Thread-safety: record() and record_pipe() may be called from any threads concurrently; each
// call writes its whole chunk under one mutex, so chunks never interleave. The log owns no thread
// and knows nothing about the relay. A failed write (a full disk) does not disturb the
// conversation: the log stops writing, remembers the first error, and error() reports it.

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>

#include "parley/fd.hpp"
#include "parley/result.hpp"

namespace parley {

enum class TrafficDirection { sent, received };

struct TrafficLogOptions {
  std::string raw_path;  // -o: empty for none.
  std::string hex_path;  // -x: empty for none.
  // --append-output: add to existing files instead of truncating them. (Positioned at the end
  // once at open rather than O_APPEND, which splice(2) refuses.)
  bool append = false;
};

class TrafficLog {
 public:
  // Opens (creates, 0666 & ~umask) the files. On failure *failed_path names the file.
  static Result<std::shared_ptr<TrafficLog>> open(const TrafficLogOptions& options,
                                                  std::string* failed_path);

  // Logs n bytes that passed in direction d.
  void record(TrafficDirection d, const char* data, std::size_t n);
  // Zero-copy form: logs the first n bytes waiting in the pipe pipe_fd (a copy made with tee(2))
  // and consumes exactly those n bytes from it, whatever happens (so the pipe is empty again).
  // The raw log gets them by splice(2); a hex dump has to read them.
  void record_pipe(TrafficDirection d, int pipe_fd, std::size_t n);

  // The first write error, if any, and the file it concerns.
  std::error_code error() const;
  std::string error_path() const;

 private:
  TrafficLog() = default;
  // Both with mutex_ held.
  void write_raw(const char* data, std::size_t n);
  void copy_from_pipe(TrafficDirection d, int pipe_fd, std::size_t n);
  void fail(std::error_code ec, const std::string& path);

  mutable std::mutex mutex_;
  Fd raw_, hex_;
  std::string raw_path_, hex_path_;
  bool raw_splice_ = true;  // False once the raw file refused splice (a terminal, O_APPEND).
  std::error_code error_;
  std::string error_path_;
  std::unique_ptr<char[]> buf_;  // For reading a hex dump's bytes out of a pipe.
};

// One chunk of the hex dump, ending in a newline. Pure; exposed for tests.
std::string hex_dump_chunk(TrafficDirection d, const char* data, std::size_t n);

}  // namespace parley
