// The --metrics endpoint (see parley/metrics.hpp): a poll loop on its own thread, one short
// request per connection.

#include "parley/metrics.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "metrics_page.hpp"
#include "parley/errors.hpp"
#include "parley/listener.hpp"

namespace parley {
namespace {

constexpr std::size_t kMaxRequest = 8 << 10;
constexpr int kRequestTimeoutMs = 2000;

std::string response(std::string_view status, std::string_view type, std::string_view body,
                     bool head) {
  std::string out = fmt::format(
      "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n\r\n",
      status, type, body.size());
  if (!head) out.append(body);
  return out;
}

}  // namespace

std::string prometheus_text(const ServerStats& s) {
  return fmt::format(
      "# HELP parley_connections_active Clients connected now.\n"
      "# TYPE parley_connections_active gauge\n"
      "parley_connections_active {}\n"
      "# HELP parley_connections_total Clients accepted since the start.\n"
      "# TYPE parley_connections_total counter\n"
      "parley_connections_total {}\n"
      "# HELP parley_bytes_received_total Bytes received from clients.\n"
      "# TYPE parley_bytes_received_total counter\n"
      "parley_bytes_received_total {}\n"
      "# HELP parley_bytes_sent_total Bytes sent to clients.\n"
      "# TYPE parley_bytes_sent_total counter\n"
      "parley_bytes_sent_total {}\n"
      "# HELP parley_refused_total Clients refused, by reason.\n"
      "# TYPE parley_refused_total counter\n"
      "parley_refused_total{{reason=\"full\"}} {}\n"
      "parley_refused_total{{reason=\"denied\"}} {}\n"
      "parley_refused_total{{reason=\"handshake\"}} {}\n"
      "# HELP parley_messages_total Messages handled (chunks, lines, datagrams, programs).\n"
      "# TYPE parley_messages_total counter\n"
      "parley_messages_total {}\n",
      s.active, s.total, s.bytes_in, s.bytes_out, s.refused, s.denied, s.failed_handshakes,
      s.messages);
}

struct MetricsServer::Impl {
  const Server* server = nullptr;
  std::string service;
  Listener listener;
  Fd stop;
  std::thread thread;

  std::string clients_json() const;
  std::string answer(std::string_view request) const;
  void serve_one(int fd) const;
  void run() const;
};

std::string MetricsServer::Impl::clients_json() const {
  ServerStats s = server->stats();
  nlohmann::json j;
  j["service"] = service;
  j["active"] = s.active;
  j["total"] = s.total;
  j["bytes_in"] = s.bytes_in;
  j["bytes_out"] = s.bytes_out;
  j["refused"] = s.refused;
  j["denied"] = s.denied;
  j["failed_handshakes"] = s.failed_handshakes;
  j["messages"] = s.messages;
  j["clients"] = nlohmann::json::array();
  for (const auto& c : server->clients()) {
    j["clients"].push_back({{"peer", c.peer},
                            {"seconds", c.seconds},
                            {"bytes_in", c.bytes_in},
                            {"bytes_out", c.bytes_out}});
  }
  // Addresses are ASCII; replace anything else rather than throw on it.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string MetricsServer::Impl::answer(std::string_view request) const {
  std::size_t eol = request.find("\r\n");
  std::string_view line = request.substr(0, eol);
  std::string_view method = line.substr(0, line.find(' '));
  std::string_view rest = line.substr(std::min(line.size(), method.size() + 1));
  std::string_view path = rest.substr(0, rest.find(' '));
  path = path.substr(0, path.find('?'));
  bool head = method == "HEAD";
  if (method != "GET" && !head)
    return response("405 Method Not Allowed", "text/plain", "only GET\n", false);
  if (path == "/metrics")
    return response("200 OK", "text/plain; version=0.0.4", prometheus_text(server->stats()), head);
  if (path == "/clients.json") return response("200 OK", "application/json", clients_json(), head);
  if (path == "/")
    return response("200 OK", "text/html; charset=utf-8", metrics_page(service), head);
  return response("404 Not Found", "text/plain", "try /, /metrics or /clients.json\n", head);
}

// Reads one request (bounded in size and time) and answers it.
void MetricsServer::Impl::serve_one(int fd) const {
  std::string request;
  char buf[2048];
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRequestTimeoutMs);
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < kMaxRequest) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return;
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return;
    request.append(buf, static_cast<std::size_t>(n));
  }
  std::string out = request.size() >= kMaxRequest
                        ? response("431 Request Header Fields Too Large", "text/plain", "", false)
                        : answer(request);
  std::string_view rest = out;
  while (!rest.empty()) {
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, kRequestTimeoutMs) <= 0) return;
    ssize_t w = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno != EAGAIN) return;
    if (w > 0) rest.remove_prefix(static_cast<std::size_t>(w));
  }
}

void MetricsServer::Impl::run() const {
  for (;;) {
    pollfd fds[2] = {{listener.fd.get(), POLLIN, 0}, {stop.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if (fds[0].revents == 0) continue;
    int fd = ::accept4(listener.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    serve_one(fd);
    ::close(fd);
  }
}

Result<std::unique_ptr<MetricsServer>> MetricsServer::open(std::string_view address,
                                                           const Server& server,
                                                           std::string service) {
  auto hp = parse_endpoint(address, true);
  if (!hp) return hp.error();
  ListenOptions lo;
  lo.numeric_only = hp->host != "localhost";
  lo.dual_stack = true;  // A bare port: one socket for IPv6 and IPv4.
  auto listeners = open_listeners(hp->host, hp->port, lo);
  if (!listeners) return listeners.error();
  auto impl = std::make_unique<Impl>();
  impl->server = &server;
  impl->service = std::move(service);
  impl->listener = std::move(listeners->front());
  impl->stop.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  stop();
}

const SocketAddress& MetricsServer::local_address() const {
  return impl_->listener.local;
}

void MetricsServer::start() {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void MetricsServer::stop() {
  if (!impl_->thread.joinable()) return;
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(impl_->stop.get(), &one, sizeof(one));
  impl_->thread.join();
}

}  // namespace parley
