// Server: opens every worker's sockets, runs one worker per thread, stops and reports.

#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "parley/connector.hpp"
#include "parley/errors.hpp"
#include "parley/listener.hpp"
#include "ring.hpp"
#include "runtime.hpp"

namespace parley {

struct Server::Impl {
  std::shared_ptr<Service> service;  // Its handlers refer to its options.
  server::Shared shared;
  std::string io;  // Which backend, and why.
  std::vector<SocketAddress> addresses;
  std::vector<std::unique_ptr<server::Worker>> workers;
  std::vector<std::thread> threads;
};

namespace {

// A port held by another program must be reported as in use, yet SO_REUSEPORT would happily
// share it with any process of the same user. So first bind once without SO_REUSEPORT -- and for
// UDP without SO_REUSEADDR too, which for datagram sockets also means sharing the port.
std::error_code probe_free(const SocketAddress& address, int socktype) {
  auto fd = open_socket(address.family(), socktype);
  if (!fd) return fd.error();
  int one = 1;
  if (socktype == SOCK_STREAM) setsockopt(fd->get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (address.family() == AF_INET6)
    setsockopt(fd->get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (::bind(fd->get(), address.get(), address.size()) != 0) return last_error();
  return {};
}

// Opens one set of listeners per worker on the same addresses and ports.
Result<std::vector<std::vector<Fd>>> open_sockets(const ServerConfig& config, unsigned workers,
                                                  std::vector<SocketAddress>* bound) {
  ListenOptions lo;
  lo.socktype = config.udp ? SOCK_DGRAM : SOCK_STREAM;
  lo.reuse_port = true;
  lo.family = config.family;
  std::vector<std::string> hosts = config.bind.empty() ? std::vector<std::string>{""} : config.bind;
  std::vector<std::vector<Fd>> per_worker(workers);
  for (const auto& host : hosts) {
    lo.numeric_only = host != "localhost";
    std::uint16_t port = config.port;
    if (port != 0) {
      std::vector<SocketAddress> targets;
      if (!host.empty()) {
        auto resolved = resolve(host, port, {lo.family, lo.numeric_only, lo.socktype, true});
        if (!resolved) return resolved.error();
        targets = std::move(*resolved);
      }
      if (host.empty() && lo.family != Family::v4)
        targets.push_back(SocketAddress::any(AF_INET6, port));
      if (host.empty() && lo.family != Family::v6)
        targets.push_back(SocketAddress::any(AF_INET, port));
      for (const auto& t : targets) {
        auto ec = probe_free(t, lo.socktype);
        if (ec && ec.value() != EAFNOSUPPORT && ec.value() != EADDRNOTAVAIL) return ec;
      }
    }
    for (unsigned w = 0; w < workers; ++w) {
      auto listeners = open_listeners(host, port, lo);
      if (!listeners) return listeners.error();
      port = listeners->front().local.port();  // Port 0: the rest follow the first choice.
      for (auto& l : *listeners) {
        if (w == 0) bound->push_back(l.local);
        per_worker[w].push_back(std::move(l.fd));
      }
    }
  }
  return per_worker;
}

// What keeps this server off io_uring whatever the kernel can do, or "".
std::string needs_epoll(const ServerConfig& config, const Service& service) {
  if (!service.io_uring_ready()) return "this service runs on epoll";
  if (config.udp) return "UDP runs on epoll";
  if (config.proxy_protocol) return "--proxy-protocol runs on epoll";
  if (config.tls) return "--tls runs on epoll";
  return {};
}

// One ring per worker, or none (epoll) with *io saying why. False: io_uring was required and
// cannot be had.
bool choose_io(const ServerConfig& config, const Service& service, std::size_t workers,
               std::vector<std::unique_ptr<server::Ring>>* rings, std::string* io) {
  const bool required = config.io == IoBackend::uring;
  if (config.io == IoBackend::epoll) {
    *io = "epoll (--io epoll, the default)";
    return true;
  }
  if (auto why = needs_epoll(config, service); !why.empty()) {
    *io = fmt::format("epoll (--io auto: {})", why);
    return !required;
  }
  for (std::size_t w = 0; w < workers; ++w) {
    std::string why;
    auto ring = server::Ring::create(&why);
    if (!ring) {
      rings->clear();
      *io = fmt::format("epoll (--io auto: io_uring unavailable: {})", why);
      return !required;
    }
    rings->push_back(std::move(ring));
  }
  *io = required ? "io_uring (--io uring)"
                 : "io_uring (--io auto: the kernel gives each worker a ring with SINGLE_ISSUER, "
                   "DEFER_TASKRUN and COOP_TASKRUN, multishot accept, receives into provided "
                   "buffers)";
  return true;
}

}  // namespace

std::string io_uring_problem() {
  std::string why;
  return server::Ring::create(&why) ? std::string() : why;
}

Result<std::unique_ptr<Server>> Server::open(ServerConfig config,
                                             std::shared_ptr<Service> service) {
  auto impl = std::make_unique<Impl>();
  impl->service = service;
  unsigned workers = std::clamp(config.threads, 1u, service->max_workers());
  config.threads = workers;
  std::vector<std::vector<Fd>> sockets;
  if (!config.listeners.empty()) {
    // Pre-opened listeners (a Unix socket, -s/-p, inherited ones): every worker watches the same
    // sockets (EPOLLEXCLUSIVE wakes one of them per new client).
    sockets.resize(workers);
    for (auto& l : config.listeners) {
      impl->addresses.push_back(l.local);
      for (unsigned w = 1; w < workers; ++w)
        sockets[w].emplace_back(::fcntl(l.fd.get(), F_DUPFD_CLOEXEC, 3));
      sockets[0].push_back(std::move(l.fd));
    }
    config.listeners.clear();
  } else {
    for (const auto& host : config.bind) {
      auto ok = resolve(host, 0, {Family::any, host != "localhost", SOCK_STREAM, true});
      if (!ok) return ok.error();
    }
    auto opened = open_sockets(config, workers, &impl->addresses);
    if (!opened) return opened.error();
    sockets = std::move(*opened);
  }
  std::vector<std::unique_ptr<server::Ring>> rings;
  if (!choose_io(config, *service, sockets.size(), &rings, &impl->io))
    return make_error_code(std::errc::operation_not_supported);
  impl->shared.config = std::move(config);
  for (std::size_t w = 0; w < sockets.size(); ++w) {
    impl->workers.push_back(std::make_unique<server::Worker>(
        impl->shared, std::move(sockets[w]), service->make_handler(),
        rings.empty() ? nullptr : std::move(rings[w])));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (!impl_->threads.empty()) {
    stop(false);
    wait();
  }
}

const std::vector<SocketAddress>& Server::local_addresses() const {
  return impl_->addresses;
}

bool Server::uses_io_uring() const {
  return impl_->io.starts_with("io_uring");
}

const std::string& Server::io() const {
  return impl_->io;
}

unsigned Server::workers() const {
  return static_cast<unsigned>(impl_->workers.size());
}

void Server::start() {
  for (auto& w : impl_->workers) impl_->threads.emplace_back([worker = w.get()] { worker->run(); });
}

void Server::stop(bool graceful) {
  auto& shared = impl_->shared;
  if (graceful && shared.phase.load() == server::Phase::running) {
    shared.drain_deadline = server::Clock::now() + shared.config.drain_timeout;
    shared.phase.store(server::Phase::draining);
  } else {
    shared.phase.store(server::Phase::closing);
  }
  for (auto& w : impl_->workers) w->wake();
}

bool Server::finished() const {
  for (const auto& w : impl_->workers)
    if (!w->done()) return false;
  return true;
}

void Server::wait() {
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  impl_->threads.clear();
}

std::error_code Server::failure() const {
  int e = impl_->shared.failure.load();
  return e == 0 ? std::error_code() : std::error_code(e, std::system_category());
}

std::vector<ClientInfo> Server::clients(std::size_t limit) const {
  std::vector<ClientInfo> all;
  for (const auto& w : impl_->workers) {
    if (all.size() >= limit || w->done()) continue;
    w->clients(&all, limit - all.size(), std::chrono::milliseconds(200));
  }
  return all;
}

ServerStats Server::stats() const {
  ServerStats s;
  for (const auto& w : impl_->workers) {
    const auto& ws = w->stats();
    s.active += ws.active.get();
    s.total += ws.total.get();
    s.refused += ws.refused.get();
    s.denied += ws.denied.get();
    s.failed_handshakes += ws.failed_handshakes.get();
    s.bytes_in += ws.bytes_in.get();
    s.bytes_out += ws.bytes_out.get();
    s.messages += ws.messages.get();
  }
  return s;
}

std::vector<SocketAddress> interface_addresses(std::uint16_t port, bool v4, bool v6,
                                               std::vector<std::string>* names) {
  std::vector<SocketAddress> out, loopback;
  std::vector<std::string> out_names, loop_names;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || !(i->ifa_flags & IFF_UP)) continue;
    int family = i->ifa_addr->sa_family;
    if (!((family == AF_INET && v4) || (family == AF_INET6 && v6))) continue;
    SocketAddress a(i->ifa_addr, family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
    if (family == AF_INET6 &&
        IN6_IS_ADDR_LINKLOCAL(&reinterpret_cast<const sockaddr_in6*>(a.get())->sin6_addr))
      continue;  // Needs a %interface suffix to be usable; not what a classmate would type.
    a.set_port(port);
    bool is_loop = (i->ifa_flags & IFF_LOOPBACK) != 0;
    (is_loop ? loopback : out).push_back(a);
    (is_loop ? loop_names : out_names).push_back(i->ifa_name);
  }
  freeifaddrs(list);
  out.insert(out.end(), loopback.begin(), loopback.end());
  out_names.insert(out_names.end(), loop_names.begin(), loop_names.end());
  if (names != nullptr) *names = std::move(out_names);
  return out;
}

}  // namespace parley
