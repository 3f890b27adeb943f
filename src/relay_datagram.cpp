#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "parley/errors.hpp"
#include "parley/relay.hpp"
#include "udp.hpp"

namespace parley {
namespace {

using Clock = std::chrono::steady_clock;

// The largest UDP payload over IPv4; larger reads from the input are split into several datagrams.
constexpr std::size_t kMaxDatagram = 65507;

int timeout_until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::max<long long>(0, std::min<long long>(left, 3'600'000)));
}

}  // namespace

RelayResult relay_datagram(int in_fd, int out_fd, int sock_fd, const RelayOptions& options,
                           DatagramPeers* multi_peer) {
  RelayResult result;
  auto buf = std::make_unique<char[]>(kMaxDatagram * 2 + 1);
  // Each peer with the address it sent to: answers go out from that address, or a client that
  // sent to 127.0.0.2 (or to a second address of the host) would drop them.
  std::vector<Datagram> peers;
  if (multi_peer != nullptr) enable_destination_info(sock_fd);
  bool input_open = options.send;
  bool prev_cr = false;
  auto last_activity = Clock::now();
  auto eof_at = Clock::time_point::max();
  TrafficLog* log = options.log.get();

  auto done = [&] {
    if (log) {
      result.log_error = log->error();
      result.log_path = log->error_path();
    }
    return result;
  };
  auto fail = [&](RelayEnd end, std::error_code ec) {
    result.end = end;
    result.error = ec;
    return done();
  };

  for (;;) {
    auto deadline = Clock::time_point::max();
    if (options.idle_timeout.count() > 0) deadline = last_activity + options.idle_timeout;
    if (!input_open && options.send && options.linger_after_eof)
      deadline = std::min(deadline, last_activity + *options.linger_after_eof);
    if (!input_open && options.send && options.quit_after_eof) {
      deadline = std::min(deadline, eof_at + *options.quit_after_eof);
      if (Clock::now() >= eof_at + *options.quit_after_eof) return done();  // -q: time is up.
    }
    if (!input_open && options.send && !options.receive) return done();  // --send-only: done.

    pollfd fds[2] = {{sock_fd, POLLIN, 0}, {input_open ? in_fd : -1, POLLIN, 0}};
    int n = ::poll(fds, 2, timeout_until(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(RelayEnd::local_error, last_error());
    if (n == 0) {
      if (!input_open && options.quit_after_eof && Clock::now() >= eof_at + *options.quit_after_eof)
        return done();
      if (input_open || !options.linger_after_eof ||
          Clock::now() - last_activity < *options.linger_after_eof)
        return fail(RelayEnd::idle_timeout, make_error_code(Errc::timed_out));
      return done();  // Quiet long enough after the input ended.
    }

    if (fds[0].revents != 0) {
      Datagram d;
      ssize_t r = receive_datagram(sock_fd, buf.get(), kMaxDatagram, &d);
      if (r < 0 && errno != EINTR && errno != EAGAIN)
        return fail(RelayEnd::network_error, last_error());
      if (r >= 0) {
        bool accept = true;
        if (multi_peer != nullptr) {
          SocketAddress from(reinterpret_cast<const sockaddr*>(&d.peer), d.peer_len);
          Datagram* known = nullptr;
          for (auto& p : peers)
            if (p.peer_len == d.peer_len && std::memcmp(&p.peer, &d.peer, d.peer_len) == 0)
              known = &p;
          if (known != nullptr) {
            *known = d;  // The address it sends to may change.
          } else if (peers.size() < multi_peer->max_peers &&
                     (!multi_peer->admit || multi_peer->admit(from))) {
            peers.push_back(d);
            if (multi_peer->on_new_peer) multi_peer->on_new_peer(from);
          } else {
            accept = false;
          }
        }
        if (accept) {
          last_activity = Clock::now();
          result.received += static_cast<std::uint64_t>(r);
          if (log) log->record(TrafficDirection::received, buf.get(), static_cast<std::size_t>(r));
          if (options.receive && r > 0) {
            const char* p = buf.get();
            std::size_t left = static_cast<std::size_t>(r);
            while (left > 0) {
              ssize_t w = ::write(out_fd, p, left);
              if (w < 0 && errno == EINTR) continue;
              if (w < 0 && errno == EPIPE) return done();  // Reader of the output went away.
              if (w < 0) {
                result.output_failed = true;
                return fail(RelayEnd::local_error, last_error());
              }
              p += w;
              left -= static_cast<std::size_t>(w);
            }
          }
        }
      }
    }

    if (input_open && fds[1].revents != 0) {
      ssize_t r = ::read(in_fd, buf.get(), options.crlf ? kMaxDatagram / 2 : kMaxDatagram);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail(RelayEnd::local_error, last_error());
      if (r == 0) {
        input_open = false;
        last_activity = eof_at = Clock::now();
        continue;
      }
      const char* data = buf.get();
      std::size_t len = static_cast<std::size_t>(r);
      if (options.crlf) {
        len = lf_to_crlf(buf.get(), len, buf.get() + kMaxDatagram, &prev_cr);
        data = buf.get() + kMaxDatagram;
      }
      last_activity = Clock::now();
      if (multi_peer == nullptr) {
        if (::send(sock_fd, data, len, 0) < 0) return fail(RelayEnd::network_error, last_error());
        result.sent += len;
        if (log) log->record(TrafficDirection::sent, data, len);
      } else {
        for (const auto& p : peers) {
          if (send_datagram(sock_fd, {data, len}, p) >= 0) result.sent += len;
        }
        if (log && !peers.empty()) log->record(TrafficDirection::sent, data, len);
      }
    }
  }
}

}  // namespace parley
