// forward_service() and the forwarder's endpoint syntax (see parley/forward.hpp).

#include "parley/forward.hpp"

#include "parley/errors.hpp"
#include "server/forward_internal.hpp"

namespace parley {

Result<ForwardEndpoint> parse_forward_endpoint(std::string_view text, bool listening) {
  ForwardEndpoint e;
  if (text.substr(0, 5) == "unix:") {
    e.unix_path = std::string(text.substr(5));
    if (e.unix_path.empty() || e.unix_path == "@") return Errc::bad_endpoint;
    if (e.unix_path.size() >= 108) return Errc::path_too_long;
    return e;
  }
  // "PORT" alone: on the listening side every address; as a target, this machine.
  if (text.find(':') == std::string_view::npos) {
    auto port = parse_port(text);
    if (!port) return port.error();
    e.port = *port;
    if (!listening) e.host = "localhost";
    return e;
  }
  auto hp = parse_endpoint(text, false);
  if (!hp) return hp.error();
  e.host = hp->host;
  e.port = hp->port;
  return e;
}

namespace {

class ForwardService : public Service {
 public:
  explicit ForwardService(const ForwardOptions& options) : options_(options) {}
  // Streams: its sides are custom_io (splice, or TLS sessions), which io_uring workers poll.
  bool io_uring_ready() const override { return !options_.udp; }
  std::unique_ptr<server::Handler> make_handler() override {
    if (options_.udp) return server::make_forward_datagram_handler(options_);
    return server::make_forward_stream_handler(options_);
  }

 private:
  ForwardOptions options_;
};

}  // namespace

std::shared_ptr<Service> forward_service(const ForwardOptions& options) {
  return std::make_shared<ForwardService>(options);
}

}  // namespace parley
