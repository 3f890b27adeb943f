#include "parley/connector.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/un.h>

#include <algorithm>

#include "parley/errors.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

struct Attempt {
  Fd fd;
  SocketAddress address;
};

const SocketAddress* source_for(const ConnectOptions& options, int family) {
  for (const auto& s : options.sources)
    if (s.family() == family) return &s;
  return nullptr;
}

// Starts one non-blocking connect. Returns the socket (connected or in progress) or the error.
Result<Fd> start_attempt(const SocketAddress& address, const ConnectOptions& options,
                         bool* completed) {
  auto fd = open_socket(address.family(), options.socktype);
  if (!fd) return fd.error();
  if (!options.sources.empty()) {
    const SocketAddress* source = source_for(options, address.family());
    if (source == nullptr) return std::make_error_code(std::errc::address_family_not_supported);
    int one = 1;
    setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd->get(), source->get(), source->size()) != 0) return last_error();
  } else if (address.family() == AF_UNIX && options.socktype == SOCK_DGRAM) {
    // A Unix datagram client needs an address of its own, or the server's replies have nowhere
    // to go. Binding with only the family asks Linux for an autobind: a unique name in the
    // abstract namespace, with no file to create or clean up.
    sockaddr_un unnamed{};
    unnamed.sun_family = AF_UNIX;
    if (::bind(fd->get(), reinterpret_cast<sockaddr*>(&unnamed), sizeof(sa_family_t)) != 0)
      return last_error();
  }
  if (::connect(fd->get(), address.get(), address.size()) == 0) {
    *completed = true;
    return std::move(*fd);
  }
  if (errno != EINPROGRESS) return last_error();
  *completed = false;
  return std::move(*fd);
}

Connection finish(Fd fd, const SocketAddress& peer) {
  Connection c{std::move(fd), peer, {}};
  *c.local.size_ptr() = SocketAddress::capacity();
  getsockname(c.fd.get(), c.local.get(), c.local.size_ptr());
  return c;
}

}  // namespace

Result<Fd> open_socket(int family, int socktype) {
  int fd = ::socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return last_error();
  return Fd(fd);
}

Result<Connection> connect_any(const std::vector<SocketAddress>& addresses,
                               const ConnectOptions& options) {
  const auto start = Clock::now();
  const auto deadline =
      options.timeout.count() > 0 ? start + options.timeout : Clock::time_point::max();
  std::error_code last = make_error_code(Errc::name_not_resolved);
  std::vector<Attempt> running;
  std::size_t next = 0;
  auto next_start = start;

  auto fail = [&](const SocketAddress& a, std::error_code ec) {
    last = ec;
    if (options.on_attempt_failed) options.on_attempt_failed(a, ec);
  };

  for (;;) {
    // Start the next attempt when its turn has come, or at once when nothing is running.
    while (next < addresses.size() && (running.empty() || Clock::now() >= next_start)) {
      const auto& address = addresses[next++];
      bool completed = false;
      auto fd = start_attempt(address, options, &completed);
      if (!fd) {
        fail(address, fd.error());
        continue;
      }
      if (completed) return finish(std::move(*fd), address);
      running.push_back({std::move(*fd), address});
      next_start = Clock::now() + options.stagger;
    }
    if (running.empty()) return last;

    auto now = Clock::now();
    if (now >= deadline) return Errc::timed_out;
    auto wake = deadline;
    if (next < addresses.size()) wake = std::min(wake, next_start);
    int timeout_ms = -1;
    if (wake != Clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 1'000'000));
    }
    std::vector<pollfd> fds;
    for (const auto& a : running) fds.push_back({a.fd.get(), POLLOUT, 0});
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) return last_error();
    for (std::size_t i = fds.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(running[i].fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err == 0) return finish(std::move(running[i].fd), running[i].address);
      fail(running[i].address, {err, std::system_category()});
      running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
    }
  }
}

}  // namespace parley
