#include "pump.hpp"

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include <cerrno>

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

Method choose(int src, int dst, bool crlf) {
  if (crlf) return Method::copy;
  mode_t s = file_type(src), d = file_type(dst);
  if (s == S_IFREG && d == S_IFSOCK) return Method::sendfile;
  if (s == S_IFIFO || d == S_IFIFO) return Method::splice;
  if (s == S_IFCHR || s == S_IFREG || s == S_IFSOCK) return Method::splice_via_pipe;
  return Method::copy;
}

bool unsupported(int err) {
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP;
}

}  // namespace

Pump::Pump(int src, int dst, bool crlf)
    : src_(src), dst_(dst), crlf_(crlf), method_(choose(src, dst, crlf)) {
  if (method_ == Method::splice_via_pipe) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) == 0) {
      pipe_r_.reset(p[0]);
      pipe_w_.reset(p[1]);
      // A 1 MiB pipe lets one splice carry a whole chunk; if the limit refuses, 64 KiB still works.
      fcntl(pipe_w_.get(), F_SETPIPE_SZ, static_cast<int>(kChunk));
    } else {
      method_ = Method::copy;
    }
  }
}

Step Pump::write_all(const char* data, std::size_t n) {
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

Step Pump::copy_step() {
  if (!buf_) buf_ = std::make_unique<char[]>(kCopyBuffer);
  ssize_t r;
  do {
    r = ::read(src_, buf_.get(), crlf_ ? kCopyBuffer / 2 : kCopyBuffer);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return {0, last_error(), false};
  if (r == 0) return {};
  if (!crlf_) return write_all(buf_.get(), static_cast<std::size_t>(r));
  if (!crlf_buf_) crlf_buf_ = std::make_unique<char[]>(kCopyBuffer);
  std::size_t n = lf_to_crlf(buf_.get(), static_cast<std::size_t>(r), crlf_buf_.get(), &prev_cr_);
  return write_all(crlf_buf_.get(), n);
}

Step Pump::splice_via_pipe_step() {
  ssize_t in;
  do {
    in = ::splice(src_, nullptr, pipe_w_.get(), nullptr, kChunk, SPLICE_F_MOVE | SPLICE_F_MORE);
  } while (in < 0 && errno == EINTR);
  if (in < 0) {
    if (unsupported(errno)) {
      method_ = Method::copy;
      return copy_step();
    }
    return {0, last_error(), false};
  }
  if (in == 0) return {};
  std::size_t left = static_cast<std::size_t>(in), done = 0;
  while (left > 0) {
    ssize_t out =
        ::splice(pipe_r_.get(), nullptr, dst_, nullptr, left, SPLICE_F_MOVE | SPLICE_F_MORE);
    if (out < 0 && errno == EINTR) continue;
    if (out < 0 && unsupported(errno)) {
      // The destination cannot take spliced pages (a terminal, an O_APPEND file): empty the
      // private pipe by hand and copy from now on.
      method_ = Method::copy;
      if (!buf_) buf_ = std::make_unique<char[]>(kCopyBuffer);
      while (left > 0) {
        ssize_t r = ::read(pipe_r_.get(), buf_.get(), std::min(left, kCopyBuffer));
        if (r <= 0) return {done, last_error(), false};
        Step s = write_all(buf_.get(), static_cast<std::size_t>(r));
        done += s.moved;
        if (s.error) return {done, s.error, true};
        left -= static_cast<std::size_t>(r);
      }
      return {done, {}, false};
    }
    if (out <= 0)
      return {done, out < 0 ? last_error() : make_error_code(std::errc::broken_pipe), true};
    left -= static_cast<std::size_t>(out);
    done += static_cast<std::size_t>(out);
  }
  return {done, {}, false};
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
