#include "parley/relay.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "parley/fd.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;

struct Pipe {
  Fd r, w;
  Pipe() {
    int p[2];
    EXPECT_EQ(pipe2(p, O_CLOEXEC), 0);
    r.reset(p[0]);
    w.reset(p[1]);
  }
};

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

void write_all(int fd, const std::string& s) {
  ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

// The relay half-closes at input EOF and still delivers the whole reply (ncat #1229).
TEST(RelayStream, HalfCloseThenWholeReply) {
  Pipe in, out;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd ours(sv[0]), peer(sv[1]);
  std::thread server([&] {
    std::string request = read_all(peer.get());  // Ends only if the relay half-closed.
    write_all(peer.get(), "reply to " + request);
    std::this_thread::sleep_for(50ms);
    write_all(peer.get(), " and more");
    peer.reset();
  });
  write_all(in.w.get(), "req");
  in.w.reset();
  RelayResult r = relay_stream(in.r.get(), out.w.get(), ours.get(), {});
  server.join();
  out.w.reset();
  EXPECT_EQ(read_all(out.r.get()), "reply to req and more");
  EXPECT_EQ(r.end, RelayEnd::finished);
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.received, 21u);
}

// When the peer closes first, a pipe input that still has data is sent anyway.
TEST(RelayStream, PeerClosesFirstUploadStillCompletes) {
  Pipe in, out;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd ours(sv[0]), peer(sv[1]);
  ::shutdown(peer.get(), SHUT_WR);  // Server says nothing and half-closes at once.
  std::string payload(300000, 'x');
  std::string got;
  std::thread server([&] { got = read_all(peer.get()); });
  std::thread feeder([&] {
    std::this_thread::sleep_for(50ms);
    write_all(in.w.get(), payload);
    in.w.reset();
  });
  RelayResult r = relay_stream(in.r.get(), out.w.get(), ours.get(), {});
  feeder.join();
  ours.reset();
  server.join();
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_EQ(r.sent, payload.size());
  EXPECT_EQ(r.end, RelayEnd::finished);
}

TEST(RelayStream, IdleTimeout) {
  Pipe in, out;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd ours(sv[0]), peer(sv[1]);
  RelayOptions o;
  o.idle_timeout = 200ms;
  auto start = std::chrono::steady_clock::now();
  RelayResult r = relay_stream(in.r.get(), out.w.get(), ours.get(), o);
  EXPECT_EQ(r.end, RelayEnd::idle_timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 190ms);
}

TEST(RelayStream, RecvOnlyNeverReadsInput) {
  Pipe in, out;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd ours(sv[0]), peer(sv[1]);
  write_all(in.w.get(), "must stay");
  write_all(peer.get(), "hello");
  peer.reset();
  RelayOptions o;
  o.send = false;
  RelayResult r = relay_stream(in.r.get(), out.w.get(), ours.get(), o);
  out.w.reset();
  EXPECT_EQ(read_all(out.r.get()), "hello");
  EXPECT_EQ(r.sent, 0u);
  in.w.reset();
  EXPECT_EQ(read_all(in.r.get()), "must stay");
}

TEST(RelayStream, CrlfConversion) {
  Pipe in, out;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd ours(sv[0]), peer(sv[1]);
  std::string got;
  std::thread server([&] {
    got = read_all(peer.get());
    peer.reset();
  });
  write_all(in.w.get(), "a\nb\r\nc\n");
  in.w.reset();
  RelayOptions o;
  o.crlf = true;
  relay_stream(in.r.get(), out.w.get(), ours.get(), o);
  server.join();
  EXPECT_EQ(got, "a\r\nb\r\nc\r\n");
}

TEST(LfToCrlf, AcrossChunks) {
  char out[16];
  bool prev = false;
  EXPECT_EQ(std::string(out, lf_to_crlf("x\r", 2, out, &prev)), "x\r");
  EXPECT_EQ(std::string(out, lf_to_crlf("\ny\n", 3, out, &prev)), "\ny\r\n");
}

TEST(RelayDatagram, LingersForAnswerAfterEof) {
  Pipe in, out;
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
  Fd ours(sv[0]), peer(sv[1]);
  std::thread server([&] {
    char buf[64];
    ssize_t n = ::recv(peer.get(), buf, sizeof(buf), 0);
    std::this_thread::sleep_for(100ms);
    ::send(peer.get(), buf, static_cast<std::size_t>(n), 0);
  });
  write_all(in.w.get(), "ping");
  in.w.reset();
  RelayOptions o;
  o.linger_after_eof = 500ms;
  RelayResult r = relay_datagram(in.r.get(), out.w.get(), ours.get(), o);
  server.join();
  out.w.reset();
  EXPECT_EQ(r.end, RelayEnd::finished);
  EXPECT_EQ(read_all(out.r.get()), "ping");
}

}  // namespace
}  // namespace parley
