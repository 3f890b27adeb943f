#include "parley/transport.hpp"

namespace parley {

Io Transport::writev(const iovec* pieces, int count) {
  std::size_t total = 0;
  for (int i = 0; i < count; ++i) {
    if (pieces[i].iov_len == 0) continue;
    Io io = write(static_cast<const char*>(pieces[i].iov_base), pieces[i].iov_len);
    if (!io.ok()) return total > 0 ? Io::moved(total) : io;
    total += io.bytes;
    if (io.bytes < pieces[i].iov_len) break;
  }
  return Io::moved(total);
}

Io PlainTransport::writev(const iovec* pieces, int count) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(pieces);
  msg.msg_iovlen = static_cast<std::size_t>(count);
  for (;;) {
    ssize_t w = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (w >= 0) return Io::moved(static_cast<std::size_t>(w));
    if (errno == EINTR) continue;
    return would_block() ? Io::status_only(IoStatus::want_write) : last_failure();
  }
}

}  // namespace parley
