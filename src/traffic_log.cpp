#include "parley/traffic_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>

#include "parley/errors.hpp"

namespace parley {
namespace {

constexpr std::size_t kPipeRead = 256 << 10;

Result<Fd> open_file(const std::string& path, bool append) {
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (append ? 0 : O_TRUNC);
  int fd = ::open(path.c_str(), flags, 0666);
  if (fd < 0) return last_error();
  if (append) ::lseek(fd, 0, SEEK_END);  // A pipe or terminal cannot seek: nothing to do there.
  return Fd(fd);
}

// Writes all of data; returns 0 or the errno.
int write_all(int fd, const char* data, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return 0;
}

// Reads and drops n bytes from a pipe.
void discard(int pipe_fd, std::size_t n) {
  char sink[4096];
  while (n > 0) {
    ssize_t r = ::read(pipe_fd, sink, std::min(n, sizeof(sink)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    n -= static_cast<std::size_t>(r);
  }
}

}  // namespace

std::string hex_dump_chunk(TrafficDirection d, const char* data, std::size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char marker = d == TrafficDirection::sent ? '>' : '<';
  std::string out;
  out.reserve((n / 16 + 1) * 80);
  for (std::size_t line = 0; line < n || (n == 0 && line == 0); line += 16) {
    if (n == 0) break;
    char offset[16];
    int len = std::snprintf(offset, sizeof(offset), "%04zx", line);
    out += marker;
    out += ' ';
    out.append(offset, static_cast<std::size_t>(len));
    out += "   ";
    for (std::size_t k = 0; k < 16; ++k) {
      if (line + k < n) {
        const auto b = static_cast<unsigned char>(data[line + k]);
        out += kHex[b >> 4];
        out += kHex[b & 15];
        out += ' ';
      } else {
        out += "   ";
      }
      if (k == 7) out += ' ';
    }
    out += ' ';
    for (std::size_t k = 0; k < 16; ++k) {
      if (line + k >= n) {
        out += ' ';
        continue;
      }
      const auto b = static_cast<unsigned char>(data[line + k]);
      out += std::isgraph(b) ? static_cast<char>(b) : '.';
    }
    out += '\n';
  }
  return out;
}

Result<std::shared_ptr<TrafficLog>> TrafficLog::open(const TrafficLogOptions& options,
                                                     std::string* failed_path) {
  std::shared_ptr<TrafficLog> log(new TrafficLog());
  for (auto [path, fd, name] : {std::tuple{&options.raw_path, &log->raw_, &log->raw_path_},
                                std::tuple{&options.hex_path, &log->hex_, &log->hex_path_}}) {
    if (path->empty()) continue;
    auto f = open_file(*path, options.append);
    if (!f) {
      if (failed_path) *failed_path = *path;
      return f.error();
    }
    *fd = std::move(*f);
    *name = *path;
  }
  return log;
}

void TrafficLog::fail(std::error_code ec, const std::string& path) {
  if (!error_) {
    error_ = ec;
    error_path_ = path;
  }
}

void TrafficLog::write_raw(const char* data, std::size_t n) {
  if (!raw_ || error_) return;
  if (int e = write_all(raw_.get(), data, n)) fail({e, std::system_category()}, raw_path_);
}

void TrafficLog::record(TrafficDirection d, const char* data, std::size_t n) {
  if (n == 0) return;
  std::lock_guard lock(mutex_);
  write_raw(data, n);
  if (hex_ && !error_) {
    std::string dump = hex_dump_chunk(d, data, n);
    if (int e = write_all(hex_.get(), dump.data(), dump.size()))
      fail({e, std::system_category()}, hex_path_);
  }
}

void TrafficLog::copy_from_pipe(TrafficDirection d, int pipe_fd, std::size_t n) {
  if (!buf_) buf_ = std::make_unique<char[]>(kPipeRead);
  while (n > 0) {
    ssize_t r = ::read(pipe_fd, buf_.get(), std::min(n, kPipeRead));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    n -= static_cast<std::size_t>(r);
    write_raw(buf_.get(), static_cast<std::size_t>(r));
    if (hex_ && !error_) {
      std::string dump = hex_dump_chunk(d, buf_.get(), static_cast<std::size_t>(r));
      if (int e = write_all(hex_.get(), dump.data(), dump.size()))
        fail({e, std::system_category()}, hex_path_);
    }
  }
}

void TrafficLog::record_pipe(TrafficDirection d, int pipe_fd, std::size_t n) {
  std::lock_guard lock(mutex_);
  if (error_ || (!raw_ && !hex_)) return discard(pipe_fd, n);
  // A hex dump needs the bytes in memory; so does a raw log that refuses splice.
  if (hex_ || !raw_splice_) return copy_from_pipe(d, pipe_fd, n);
  while (n > 0) {
    ssize_t w = ::splice(pipe_fd, nullptr, raw_.get(), nullptr, n, SPLICE_F_MOVE);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      raw_splice_ = false;  // A terminal or an O_APPEND file: copy from now on.
      return copy_from_pipe(d, pipe_fd, n);
    }
    if (w <= 0) {
      fail(w < 0 ? last_error() : std::make_error_code(std::errc::io_error), raw_path_);
      return discard(pipe_fd, n);
    }
    n -= static_cast<std::size_t>(w);
  }
}

std::error_code TrafficLog::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

std::string TrafficLog::error_path() const {
  std::lock_guard lock(mutex_);
  return error_path_;
}

}  // namespace parley
