#include "parley/connector.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>

#include "parley/errors.hpp"
#include "parley/listener.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;

SocketAddress loopback4(std::uint16_t port) {
  return resolve("127.0.0.1", port, {Family::v4, true, SOCK_STREAM, false})->front();
}
SocketAddress loopback6(std::uint16_t port) {
  return resolve("::1", port, {Family::v6, true, SOCK_STREAM, false})->front();
}

// A listener whose accept queue is full: further SYNs are dropped, so connects hang like
// connects to a host that does not answer.
struct Blackhole {
  Listener listener;
  std::vector<Fd> fillers;
  Blackhole() {
    ListenOptions lo;
    lo.backlog = 0;
    auto opened = open_listeners("127.0.0.1", 0, lo);
    listener = std::move(opened->front());
    for (int i = 0; i < 2; ++i) {
      auto fd = open_socket(AF_INET, SOCK_STREAM);
      ::connect(fd->get(), listener.local.get(), listener.local.size());
      fillers.push_back(std::move(*fd));
    }
    std::this_thread::sleep_for(50ms);
  }
};

TEST(ConnectAny, FallsBackFromRefusedIpv6ToIpv4) {
  auto listeners = open_listeners("127.0.0.1", 0, {});
  ASSERT_TRUE(listeners);
  auto port = listeners->front().local.port();
  std::vector<std::string> failures;
  ConnectOptions options;
  options.on_attempt_failed = [&](const SocketAddress& a, std::error_code) {
    failures.push_back(a.to_string());
  };
  auto c = connect_any({loopback6(port), loopback4(port)}, options);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->peer.to_string(), "127.0.0.1:" + std::to_string(port));
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0], "[::1]:" + std::to_string(port));
}

TEST(ConnectAny, AllRefusedReportsRefused) {
  auto listeners = open_listeners("127.0.0.1", 0, {});
  auto port = listeners->front().local.port();
  listeners->clear();  // Nobody listens there any more.
  auto c = connect_any({loopback4(port)}, {});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), std::error_code(ECONNREFUSED, std::system_category()));
}

TEST(ConnectAny, TimesOut) {
  Blackhole hole;
  ConnectOptions options;
  options.timeout = 300ms;
  auto start = std::chrono::steady_clock::now();
  auto c = connect_any({hole.listener.local}, options);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error(), make_error_code(Errc::timed_out));
  EXPECT_GE(took, 290ms);
  EXPECT_LT(took, 3s);
}

TEST(ConnectAny, StaggersPastAnAddressThatDoesNotAnswer) {
  Blackhole hole;
  auto good = open_listeners("127.0.0.1", 0, {});
  ConnectOptions options;
  options.stagger = 100ms;
  options.timeout = 5s;
  auto start = std::chrono::steady_clock::now();
  auto c = connect_any({hole.listener.local, good->front().local}, options);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->peer.port(), good->front().local.port());
  EXPECT_GE(took, 90ms);  // Waited one stagger for the first attempt...
  EXPECT_LT(took, 2s);    // ...but not for its SYN timeout.
}

TEST(Listeners, PortZeroGivesBothFamiliesOnePort) {
  auto listeners = open_listeners("", 0, {});
  ASSERT_TRUE(listeners);
  ASSERT_GE(listeners->size(), 1u);
  for (const auto& l : *listeners) EXPECT_EQ(l.local.port(), listeners->front().local.port());
  EXPECT_NE(listeners->front().local.port(), 0);
}

}  // namespace
}  // namespace parley
