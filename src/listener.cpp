#include "parley/listener.hpp"

#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "parley/connector.hpp"
#include "parley/errors.hpp"

namespace parley {
namespace {

Result<Listener> bind_one(const SocketAddress& address, const ListenOptions& options) {
  auto fd = open_socket(address.family(), options.socktype);
  if (!fd) return fd.error();
  int one = 1;
  setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (options.reuse_port) setsockopt(fd->get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (address.family() == AF_INET6) {
    int v6only = options.dual_stack ? 0 : 1;
    setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (::bind(fd->get(), address.get(), address.size()) != 0) return last_error();
  if (options.socktype == SOCK_STREAM && ::listen(fd->get(), options.backlog) != 0)
    return last_error();
  Listener l{std::move(*fd), {}};
  *l.local.size_ptr() = SocketAddress::capacity();
  getsockname(l.fd.get(), l.local.get(), l.local.size_ptr());
  return l;
}

// Binds every address on one port. With port 0 the first bind picks the port and the rest follow
// it; if another program holds that port on the other family, start over with a new one.
Result<std::vector<Listener>> bind_all(std::vector<SocketAddress> addresses, std::uint16_t port,
                                       const ListenOptions& options) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    std::vector<Listener> out;
    std::error_code first_error;
    bool retry = false;
    for (auto address : addresses) {
      address.set_port(out.empty() ? port : out.front().local.port());
      auto l = bind_one(address, options);
      if (l) {
        out.push_back(std::move(*l));
        continue;
      }
      // A missing IPv6 stack only loses the IPv6 listener.
      if (l.error().value() == EAFNOSUPPORT || l.error().value() == EADDRNOTAVAIL) {
        if (!first_error) first_error = l.error();
        continue;
      }
      if (port == 0 && !out.empty() && l.error().value() == EADDRINUSE) {
        retry = true;
        break;
      }
      return l.error();
    }
    if (retry) continue;
    if (out.empty()) return first_error ? first_error : make_error_code(Errc::no_address_of_family);
    return out;
  }
  return std::make_error_code(std::errc::address_in_use);
}

}  // namespace

Result<std::vector<Listener>> open_listeners(const std::string& host, std::uint16_t port,
                                             const ListenOptions& options) {
  std::vector<SocketAddress> addresses;
  if (host.empty() && options.dual_stack && options.family == Family::any) {
    auto one = bind_all({SocketAddress::any(AF_INET6, port)}, port, options);
    if (one || one.error().value() != EAFNOSUPPORT) return one;
    addresses.push_back(SocketAddress::any(AF_INET, port));
  } else if (host.empty()) {
    if (options.family != Family::v4) addresses.push_back(SocketAddress::any(AF_INET6, port));
    if (options.family != Family::v6) addresses.push_back(SocketAddress::any(AF_INET, port));
  } else {
    ResolveOptions ro{options.family, options.numeric_only, options.socktype, true};
    auto resolved = resolve(host, port, ro);
    if (!resolved) return resolved.error();
    addresses = std::move(*resolved);
  }
  return bind_all(std::move(addresses), port, options);
}

Result<Listener> open_unix_listener(const std::string& path, int socktype) {
  auto address = SocketAddress::unix_path(path);
  if (!address) return address.error();
  struct stat st {};
  if (path.front() != '@' && lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return std::make_error_code(std::errc::file_exists);
    // A socket file: replace it only if nothing is bound there any more. Only a stale file
    // refuses; a live socket accepts, is busy, or (EPROTOTYPE) is of the other type.
    auto probe = open_socket(AF_UNIX, socktype);
    if (!probe) return probe.error();
    if (::connect(probe->get(), address->get(), address->size()) != 0) {
      // Somebody else's socket we may not even talk to: that is what to say, not "in use".
      if (errno == EACCES || errno == EPERM) return last_error();
      if (errno != ECONNREFUSED) return std::make_error_code(std::errc::address_in_use);
    } else {
      return std::make_error_code(std::errc::address_in_use);
    }
    if (::unlink(path.c_str()) != 0) return last_error();  // A stale file we may not remove.
  }
  ListenOptions options;
  options.socktype = socktype;
  auto fd = open_socket(AF_UNIX, socktype);
  if (!fd) return fd.error();
  if (::bind(fd->get(), address->get(), address->size()) != 0) return last_error();
  if (socktype == SOCK_STREAM && ::listen(fd->get(), options.backlog) != 0) return last_error();
  return Listener{std::move(*fd), *address};
}

}  // namespace parley
