#include "pump.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "parley/errors.hpp"
#include "parley/relay.hpp"

namespace parley::detail {
namespace {

// One chunk per system call: large enough that the per-call cost vanishes next to the copy, small
// enough to keep the other direction and the idle timer responsive.
constexpr std::size_t kChunk = 1 << 20;
constexpr std::size_t kCopyBuffer = 256 << 10;

mode_t file_type(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return 0;
  return st.st_mode & S_IFMT;
}

Method choose(int src, int dst, const PumpOptions& o) {
  if (o.crlf || o.line_delay.count() > 0 || o.telnet) return Method::copy;
  mode_t s = file_type(src), d = file_type(dst);
  if (o.log != nullptr) {
    // The log's copy is taken with tee(2) from a pipe: the source itself when it is one,
    // otherwise the private pipe.
    if (s == S_IFIFO) return Method::splice;
    if (s == S_IFCHR || s == S_IFREG || s == S_IFSOCK) return Method::splice_via_pipe;
    return Method::copy;
  }
  if (s == S_IFREG && d == S_IFSOCK) return Method::sendfile;
  if (s == S_IFIFO || d == S_IFIFO) return Method::splice;
  if (s == S_IFCHR || s == S_IFREG || s == S_IFSOCK) return Method::splice_via_pipe;
  return Method::copy;
}

bool unsupported(int err) {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

// A pipe of (up to) kChunk bytes; returns its capacity, 0 on failure.
std::size_t make_pipe(Fd* r, Fd* w) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return 0;
  r->reset(p[0]);
  w->reset(p[1]);
  // A 1 MiB pipe lets one splice carry a whole chunk; if the limit refuses, 64 KiB still works.
  fcntl(w->get(), F_SETPIPE_SZ, static_cast<int>(kChunk));
  int size = fcntl(w->get(), F_GETPIPE_SZ);
  return size > 0 ? static_cast<std::size_t>(size) : 65536;
}

}  // namespace

Pump::Pump(int src, int dst, const PumpOptions& options)
    : src_(src), dst_(dst), options_(options), method_(choose(src, dst, options)), chunk_(kChunk) {
  if (method_ == Method::splice_via_pipe) {
    std::size_t cap = make_pipe(&pipe_r_, &pipe_w_);
    if (cap == 0) method_ = Method::copy;
    chunk_ = std::min(chunk_, cap);
  }
  if (options_.log != nullptr && method_ != Method::copy) {
    // tee(2) copies at most what fits in the log pipe; a chunk must never be larger.
    std::size_t cap = make_pipe(&log_r_, &log_w_);
    if (cap == 0) method_ = Method::copy;
    chunk_ = std::min(chunk_, cap);
  }
}

void Pump::log(const char* data, std::size_t n) {
  if (options_.log != nullptr && n > 0) options_.log->record(options_.direction, data, n);
}

Step Pump::write_out(const char* data, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    ssize_t w = ::write(dst_, data + done, n - done);
    if (w < 0) {
      if (errno == EINTR) continue;
      return {done, last_error(), true};
    }
    done += static_cast<std::size_t>(w);
  }
  return {done, {}, false};
}

Step Pump::write_all(const char* data, std::size_t n) {
  Step s = write_out(data, n);
  log(data, s.moved);
  return s;
}

// -d: waits until the next line is due. False when the relay is stopping.
bool Pump::pause_before_line() {
  auto now = std::chrono::steady_clock::now();
  while (now < next_line_) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(next_line_ - now).count();
    pollfd p{options_.wake_fd, POLLIN, 0};
    int n = ::poll(&p, options_.wake_fd >= 0 ? 1 : 0, static_cast<int>(ms));
    if (n > 0) return false;
    now = std::chrono::steady_clock::now();
  }
  return true;
}

Step Pump::write_lines(const char* data, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const void* nl = std::memchr(data + done, '\n', n - done);
    std::size_t len = nl ? static_cast<const char*>(nl) - (data + done) + 1 : n - done;
    if (!pause_before_line()) return {done, {}, false};
    Step s = write_all(data + done, len);
    done += s.moved;
    if (s.error) return {done, s.error, true};
    // A line is "sent" once it ends; a partial line's rest does not wait again.
    if (nl) next_line_ = std::chrono::steady_clock::now() + options_.line_delay;
  }
  return {done, {}, false};
}

Step Pump::copy_step() {
  if (!buf_) buf_ = std::make_unique<char[]>(kCopyBuffer);
  ssize_t r;
  do {
    r = ::read(src_, buf_.get(), options_.crlf ? kCopyBuffer / 2 : kCopyBuffer);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return {0, last_error(), false};
  if (r == 0) return {};
  const char* data = buf_.get();
  std::size_t n = static_cast<std::size_t>(r);
  if (options_.telnet) {
    filtered_.clear();
    replies_.clear();
    telnet_.feed({data, n}, &filtered_, &replies_);
    // Answers go back on the source (the socket); after our half-close they are moot.
    if (!replies_.empty()) ::send(src_, replies_.data(), replies_.size(), MSG_NOSIGNAL);
    if (filtered_.empty()) {
      Step nothing;
      nothing.idle = true;  // Only negotiation arrived: not an EOF.
      return nothing;
    }
    data = filtered_.data();
    n = filtered_.size();
  }
  if (options_.crlf) {
    if (!crlf_buf_) crlf_buf_ = std::make_unique<char[]>(kCopyBuffer);
    n = lf_to_crlf(data, n, crlf_buf_.get(), &prev_cr_);
    data = crlf_buf_.get();
  }
  if (options_.line_delay.count() > 0) return write_lines(data, n);
  return write_all(data, n);
}

// Moves the n bytes waiting in the pipe pipe_r to the destination. With a log, tee(2) first
// copies them into the log's pipe, and the log takes as many as reached the destination.
Step Pump::send_to_log_and_out(int pipe_r, std::size_t n) {
  std::size_t teed = 0;
  if (options_.log != nullptr) {
    ssize_t t;
    do {
      t = ::tee(pipe_r, log_w_.get(), n, 0);
    } while (t < 0 && errno == EINTR);
    teed = t > 0 ? static_cast<std::size_t>(t) : 0;
  }
  Step result;
  std::size_t left = n;
  while (left > 0) {
    ssize_t out = ::splice(pipe_r, nullptr, dst_, nullptr, left, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (out < 0 && errno == EINTR) continue;
    if (out < 0 && unsupported(errno) && pipe_r != src_) {
      // The destination cannot take spliced pages (a terminal, an O_APPEND file): empty the
      // private pipe by hand and copy from now on.
      method_ = Method::copy;
      if (!buf_) buf_ = std::make_unique<char[]>(kCopyBuffer);
      while (left > 0 && !result.error) {
        ssize_t r = ::read(pipe_r, buf_.get(), std::min(left, kCopyBuffer));
        if (r <= 0) {
          result.error = r < 0 ? last_error() : make_error_code(std::errc::io_error);
          break;
        }
        Step s = write_out(buf_.get(), static_cast<std::size_t>(r));
        result.moved += s.moved;
        result.error = s.error;
        result.write_failed = s.write_failed;
        left -= static_cast<std::size_t>(r);
      }
      break;
    }
    if (out <= 0) {
      result.error = out < 0 ? last_error() : make_error_code(std::errc::broken_pipe);
      result.write_failed = true;
      break;
    }
    left -= static_cast<std::size_t>(out);
    result.moved += static_cast<std::size_t>(out);
  }
  if (options_.log != nullptr) settle_log(teed, result.moved);
  return result;
}

// The log pipe holds `teed` bytes; the first `delivered` of them reached the destination and are
// logged, the rest (a failed write) are dropped.
void Pump::settle_log(std::size_t teed, std::size_t delivered) {
  const std::size_t logged = std::min(teed, delivered);
  options_.log->record_pipe(options_.direction, log_r_.get(), logged);
  char sink[4096];
  for (std::size_t rest = teed - logged; rest > 0;) {
    ssize_t r = ::read(log_r_.get(), sink, std::min(rest, sizeof(sink)));
    if (r <= 0) break;
    rest -= static_cast<std::size_t>(r);
  }
}

Step Pump::splice_via_pipe_step() {
  ssize_t in;
  do {
    in = ::splice(src_, nullptr, pipe_w_.get(), nullptr, chunk_, SPLICE_F_MOVE | SPLICE_F_MORE);
  } while (in < 0 && errno == EINTR);
  if (in < 0) {
    if (unsupported(errno)) {
      method_ = Method::copy;
      return copy_step();
    }
    return {0, last_error(), false};
  }
  if (in == 0) return {};
  return send_to_log_and_out(pipe_r_.get(), static_cast<std::size_t>(in));
}

// A pipe source with a log: tee from the source itself, then splice exactly what was copied.
Step Pump::tee_splice_step() {
  ssize_t t;
  do {
    t = ::tee(src_, log_w_.get(), chunk_, 0);
  } while (t < 0 && errno == EINTR);
  if (t < 0) {
    if (unsupported(errno)) {
      method_ = Method::copy;
      return copy_step();
    }
    return {0, last_error(), false};
  }
  if (t == 0) return {};  // poll() said readable and the pipe is empty: its writer is gone.
  const std::size_t n = static_cast<std::size_t>(t);
  Step result;
  for (std::size_t left = n; left > 0;) {
    ssize_t out = ::splice(src_, nullptr, dst_, nullptr, left, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (out < 0 && errno == EINTR) continue;
    if (out <= 0) {
      const int e = out < 0 ? errno : EPIPE;
      result.error = {e, std::system_category()};
      result.write_failed = e == EPIPE || e == ECONNRESET;
      break;
    }
    left -= static_cast<std::size_t>(out);
    result.moved += static_cast<std::size_t>(out);
  }
  settle_log(n, result.moved);
  return result;
}

Step Pump::step() {
  switch (method_) {
    case Method::sendfile: {
      ssize_t n = ::sendfile(dst_, src_, nullptr, kChunk);
      if (n >= 0) return {static_cast<std::size_t>(n), {}, false};
      if (errno == EINTR) return step();
      if (unsupported(errno)) {
        method_ = Method::copy;
        return copy_step();
      }
      // sendfile does not say which side failed; a socket error is by far the likely one.
      return {0, last_error(), true};
    }
    case Method::splice: {
      if (options_.log != nullptr) return tee_splice_step();
      ssize_t n = ::splice(src_, nullptr, dst_, nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_MORE);
      if (n >= 0) return {static_cast<std::size_t>(n), {}, false};
      if (errno == EINTR) return step();
      if (unsupported(errno)) {
        method_ = Method::copy;
        return copy_step();
      }
      // splice cannot say which side failed either; EPIPE and resets are write-side errors.
      int e = errno;
      bool write_side = e == EPIPE || e == ECONNRESET;
      if (file_type(src_) == S_IFSOCK && e == ECONNRESET) write_side = false;
      return {0, {e, std::system_category()}, write_side};
    }
    case Method::splice_via_pipe:
      return splice_via_pipe_step();
    case Method::copy:
      return copy_step();
  }
  return {};
}

}  // namespace parley::detail
