#pragma once
// Transport: one connected byte stream, read and written the same way whether it is a plain socket
// (PlainTransport, here) or a TLS session (tls::Session, tls.hpp), so that code moving bytes does
// not branch on TLS. Every call is non-blocking on a non-blocking descriptor and says what it
// needs next, so an epoll or poll loop can drive it:
//
//   ok          `bytes` moved (> 0; 0 only for a finished handshake or shutdown_write)
//   want_read   nothing more now: wait until fd() is readable, then make the SAME call again
//   want_write  nothing more now: wait until fd() is writable, then make the SAME call again
//   closed      read(): the peer ended its side (TLS close_notify, or TCP EOF); nothing follows
//   error       failed; `error` says why in one line (describe()), and the stream is unusable
//
// A TLS read may want the socket writable and a TLS write may want it readable (a TLS 1.3 key
// update), so a loop waits for what the status says, not for what the call was.
//
// Retrying a write: after want_read/want_write, call write() again with the same bytes first (at
// least as many as before; the buffer may have moved, and more may follow). A TLS record that was
// half sent is still inside the session and must be completed with those bytes.
//
// Buffered input: a TLS session reads ahead and may hold decrypted or undecrypted bytes that
// poll() cannot see. Read until read() says want_read (or closed), or check buffered() before
// waiting for readability again.
//
// Ownership and threads: a Transport never owns or closes its descriptor. One thread at a time
// per Transport (an SSL object must not be shared between threads; hand it over whole).

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <system_error>

namespace parley {

enum class IoStatus : std::uint8_t { ok, want_read, want_write, closed, error };

struct Io {
  std::size_t bytes = 0;
  IoStatus status = IoStatus::ok;
  std::error_code error;  // Set with IoStatus::error only.

  bool ok() const noexcept { return status == IoStatus::ok; }
  bool wants() const noexcept {
    return status == IoStatus::want_read || status == IoStatus::want_write;
  }
  static Io moved(std::size_t n) noexcept { return {n, IoStatus::ok, {}}; }
  static Io status_only(IoStatus s) noexcept { return {0, s, {}}; }
  static Io failed(std::error_code ec) noexcept { return {0, IoStatus::error, ec}; }
};

class Transport {
 public:
  virtual ~Transport() = default;

  // The socket (for poll/epoll, and for shutdown/close by its owner).
  virtual int fd() const noexcept = 0;
  // Completes the connection's own handshake. Plain sockets have none: ok at once. TLS: ok once
  // the handshake is done; a failure's error is one line in plain words (tls.hpp).
  virtual Io handshake() { return {}; }
  // Up to n bytes into buf. ok: bytes > 0.
  virtual Io read(char* buf, std::size_t n) = 0;
  // Up to n bytes from buf. ok: bytes > 0 were taken (maybe fewer than n: call again with the
  // rest).
  virtual Io write(const char* buf, std::size_t n) = 0;
  // Several pieces; the default writes them in order and stops at the first short write.
  virtual Io writev(const iovec* pieces, int count);
  // Ends the sending side and keeps the receiving one: shutdown(SHUT_WR), or for TLS a
  // close_notify alert (then SHUT_WR). ok once done; want_* as for write.
  virtual Io shutdown_write() = 0;
  // Whether the bytes can move by splice(2)/sendfile(2) on fd() directly: plain sockets only.
  virtual bool zero_copy() const noexcept = 0;
  // Bytes are buffered inside the transport that read() returns without fd() becoming readable.
  virtual bool buffered() const noexcept { return false; }
};

// A plain stream socket: recv/send (MSG_NOSIGNAL) and shutdown, nothing else. Cheap to make (no
// allocation needed: it can live on the stack or inside a connection).
class PlainTransport final : public Transport {
 public:
  explicit PlainTransport(int fd) noexcept : fd_(fd) {}

  int fd() const noexcept override { return fd_; }
  Io read(char* buf, std::size_t n) override {
    for (;;) {
      ssize_t r = ::recv(fd_, buf, n, 0);
      if (r > 0) return Io::moved(static_cast<std::size_t>(r));
      if (r == 0) return Io::status_only(IoStatus::closed);
      if (errno == EINTR) continue;
      return would_block() ? Io::status_only(IoStatus::want_read) : last_failure();
    }
  }
  Io write(const char* buf, std::size_t n) override {
    for (;;) {
      ssize_t w = ::send(fd_, buf, n, MSG_NOSIGNAL);
      if (w >= 0) return Io::moved(static_cast<std::size_t>(w));
      if (errno == EINTR) continue;
      return would_block() ? Io::status_only(IoStatus::want_write) : last_failure();
    }
  }
  Io writev(const iovec* pieces, int count) override;
  Io shutdown_write() override {
    if (::shutdown(fd_, SHUT_WR) == 0) return {};
    return last_failure();
  }
  bool zero_copy() const noexcept override { return true; }

 private:
  static bool would_block() noexcept { return errno == EAGAIN || errno == EWOULDBLOCK; }
  static Io last_failure() noexcept { return Io::failed({errno, std::system_category()}); }
  int fd_;
};

}  // namespace parley
