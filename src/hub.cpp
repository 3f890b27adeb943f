#include "parley/hub.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <future>
#include <list>
#include <memory>
#include <thread>

#include <fmt/format.h>

#include "parley/errors.hpp"

namespace parley {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using Socket = asio::generic::stream_protocol::socket;
using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;
using namespace asio::experimental::awaitable_operators;

constexpr std::size_t kChunk = 64 << 10;

struct Client {
  explicit Client(Socket s, SocketAddress p) : socket(std::move(s)), peer(std::move(p)) {}
  Socket socket;
  SocketAddress peer;
};

class Hub {
 public:
  Hub(asio::io_context& io, int in_fd, int out_fd, const HubOptions& options)
      : io_(io),
        in_fd_(in_fd),
        out_fd_(out_fd),
        options_(options),
        wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

  void log(std::string_view line) const {
    if (options_.log) options_.log(line);
  }

  awaitable<void> accept_loop(Acceptor& acceptor) {
    for (;;) {
      SocketAddress peer;
      asio::generic::stream_protocol::endpoint ep;
      auto [ec, socket] =
          co_await acceptor.async_accept(ep, asio::experimental::as_tuple(use_awaitable));
      if (ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // Out of descriptors and similar: wait a little instead of spinning on the error.
        log(fmt::format("accept failed: {}", ec.message()));
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(use_awaitable);
        continue;
      }
      peer = SocketAddress(ep.data(), static_cast<socklen_t>(ep.size()));
      if (clients_.size() >= options_.max_clients) {
        log(fmt::format("Connection from {} refused: already {} clients (-m).", peer.to_string(),
                        options_.max_clients));
        continue;  // The socket closes as it goes out of scope.
      }
      log(fmt::format("Connection from {}.", peer.to_string()));
      ++result_.clients;
      auto client = std::make_shared<Client>(std::move(socket), peer);
      clients_.push_back(client);
      asio::co_spawn(io_, client_loop(client), [this, c = client](std::exception_ptr e) {
        if (e) log("internal error in a client session");
        clients_.remove(c);
      });
    }
  }

  // Reads one client until it closes, writing what arrives to the output.
  awaitable<void> client_loop(std::shared_ptr<Client> client) {
    std::vector<char> buffer(kChunk);
    asio::steady_timer idle(io_);
    for (;;) {
      std::error_code ec;
      std::size_t n = 0;
      if (options_.idle_timeout.count() > 0) {
        idle.expires_after(options_.idle_timeout);
        auto which = co_await (client->socket.async_read_some(
                                   asio::buffer(buffer), asio::redirect_error(use_awaitable, ec)) ||
                               idle.async_wait(use_awaitable));
        if (which.index() == 1) {
          log(fmt::format("Idle timeout expired for {}.", client->peer.to_string()));
          break;
        }
        n = std::get<0>(which);
      } else {
        n = co_await client->socket.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(use_awaitable, ec));
      }
      if (ec) {
        if (ec != asio::error::eof && ec != asio::error::operation_aborted)
          log(fmt::format("Connection from {} failed: {}.", client->peer.to_string(),
                          ec.message()));
        break;
      }
      result_.received += n;
      if (options_.receive && !write_output(buffer.data(), n)) break;
    }
    log(fmt::format("Connection from {} closed.", client->peer.to_string()));
  }

  // Blocking write: a slow reader of the output slows every client, which bounds memory.
  bool write_output(const char* data, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(out_fd_, data, n);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        if (errno != EPIPE) result_.error = last_error();
        stop();
        return false;
      }
      data += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  // Sends one input chunk to every client; calls done() when all writes finished.
  void broadcast(std::shared_ptr<std::vector<char>> chunk, std::function<void()> done) {
    auto remaining = std::make_shared<std::size_t>(clients_.size() + 1);
    auto finish_one = [remaining, done] {
      if (--*remaining == 0) done();
    };
    for (const auto& client : clients_) {
      asio::async_write(client->socket, asio::buffer(*chunk),
                        [this, chunk, client, finish_one](std::error_code ec, std::size_t n) {
                          if (!ec) result_.sent += n;
                          finish_one();
                        });
    }
    finish_one();
  }

  // Input thread: reads chunks and hands each to the event loop, waiting until it was broadcast.
  void read_input() {
    std::vector<char> raw(kChunk / 2);
    bool prev_cr = false;
    for (;;) {
      pollfd fds[2] = {{in_fd_, POLLIN, 0}, {wake_.get(), POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0 && errno == EINTR) continue;
      if (fds[1].revents != 0) return;
      ssize_t r = ::read(in_fd_, raw.data(), raw.size());
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return;  // EOF or error: clients stay connected, nothing more to broadcast.
      auto chunk = std::make_shared<std::vector<char>>();
      if (options_.crlf) {
        chunk->resize(static_cast<std::size_t>(r) * 2);
        chunk->resize(lf_to_crlf(raw.data(), static_cast<std::size_t>(r), chunk->data(), &prev_cr));
      } else {
        chunk->assign(raw.data(), raw.data() + r);
      }
      std::promise<void> sent;
      auto future = sent.get_future();
      asio::post(io_, [this, chunk, &sent] { broadcast(chunk, [&sent] { sent.set_value(); }); });
      // Wait for the broadcast or for shutdown, whichever comes first.
      while (future.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
        if (stopped_.load()) return;
      }
    }
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof(one));
    io_.stop();
  }

  HubResult& result() { return result_; }

 private:
  asio::io_context& io_;
  int in_fd_, out_fd_;
  const HubOptions& options_;
  Fd wake_;
  std::atomic<bool> stopped_{false};
  std::list<std::shared_ptr<Client>> clients_;
  HubResult result_;
};

}  // namespace

HubResult run_hub(std::vector<Listener>& listeners, int in_fd, int out_fd,
                  const HubOptions& options) {
  asio::io_context io(1);
  Hub hub(io, in_fd, out_fd, options);
  std::vector<std::unique_ptr<Acceptor>> acceptors;
  for (auto& l : listeners) {
    auto a = std::make_unique<Acceptor>(io);
    a->assign(asio::generic::stream_protocol(l.local.family(), SOCK_STREAM), l.fd.release());
    asio::co_spawn(io, hub.accept_loop(*a), [&hub](std::exception_ptr e) {
      if (e) hub.log("internal error in the accept loop");
    });
    acceptors.push_back(std::move(a));
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int) {
    if (!ec) hub.stop();
  });
  std::jthread input;
  if (options.send) input = std::jthread([&] { hub.read_input(); });
  io.run();
  hub.stop();
  if (input.joinable()) input.join();
  return hub.result();
}

}  // namespace parley
