// The TLS layer over real socket pairs: handshakes, pins, the failure messages users see,
// close_notify half-close, the plain transport, and the relay over a TLS session.

#include "parley/tls.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <regex>
#include <string>
#include <thread>

#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "parley/relay.hpp"

namespace parley::tls {
namespace {

using namespace std::chrono_literals;

struct Pair {
  Fd a, b;
  explicit Pair(bool nonblocking = true) {
    int sv[2];
    EXPECT_EQ(
        socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0, sv),
        0);
    a.reset(sv[0]);
    b.reset(sv[1]);
  }
};

std::shared_ptr<Context> server_ctx(ServerConfig config = {}) {
  auto c = Context::server(config);
  EXPECT_TRUE(c.ok()) << (c ? "" : c.error().message());
  return c ? *c : nullptr;
}

std::shared_ptr<Context> client_ctx(ClientConfig config) {
  auto c = Context::client(config);
  EXPECT_TRUE(c.ok()) << (c ? "" : c.error().message());
  return c ? *c : nullptr;
}

// Drives both handshakes in this thread until both finish or one fails; then lets the other see
// the alert. Returns {client status, server status}.
std::pair<Io, Io> handshake_both(Session& client, Session& server) {
  Io c, s;
  for (int i = 0; i < 200; ++i) {
    c = client.handshake();
    s = server.handshake();
    if ((c.ok() && s.ok()) || c.status == IoStatus::error || s.status == IoStatus::error) break;
  }
  for (int i = 0; i < 5; ++i) {
    if (!c.ok() && c.status != IoStatus::error) c = client.handshake();
    if (!s.ok() && s.status != IoStatus::error) s = server.handshake();
  }
  return {c, s};
}

TEST(TlsPin, ParsesTheFormsPeoplePaste) {
  const std::string hex(64, 'a');
  EXPECT_TRUE(parse_pin("sha256:" + hex).ok());
  EXPECT_TRUE(parse_pin("SHA256:" + std::string(64, 'F')).ok());
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("Ab");
  auto p = parse_pin("sha256:" + colons);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)[0], 0xab);
  EXPECT_EQ(p->size(), 32u);
  for (const std::string& bad :
       std::vector<std::string>{"", "sha256:", "sha1:" + hex, "sha256:" + hex + "a",
                                "sha256:" + hex.substr(2), "sha256:" + hex.substr(1) + "g"}) {
    auto r = parse_pin(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_TRUE(r.error() == Errc::config);
    EXPECT_FALSE(is_network_error(r.error()));
  }
}

TEST(TlsContext, GeneratedCertificateHasAPinnableFingerprint) {
  auto server = server_ctx();
  ASSERT_TRUE(server);
  EXPECT_TRUE(server->generated());
  EXPECT_TRUE(std::regex_match(server->fingerprint(), std::regex("sha256:[0-9a-f]{64}")))
      << server->fingerprint();
  EXPECT_TRUE(parse_pin(server->fingerprint()).ok());
  EXPECT_NE(server_ctx()->fingerprint(), server->fingerprint());  // A new key every time.
}

TEST(TlsContext, FileErrorsAreOneLineAndUsageErrors) {
  ServerConfig sc;
  sc.cert = "/nonexistent/cert.pem";
  auto r = Context::server(sc);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(describe(r.error()),
            "TLS: cannot read certificate /nonexistent/cert.pem: No such file or directory");
  EXPECT_FALSE(is_network_error(r.error()));
  ClientConfig cc;
  cc.ca = "/nonexistent/ca";
  auto c = Context::client(cc);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(describe(c.error()), "TLS: cannot read CA /nonexistent/ca: No such file or directory");
}

TEST(TlsSession, PinnedHandshakeAndInfo) {
  auto server = server_ctx();
  ClientConfig cc;
  cc.pin = server->fingerprint();
  auto client = client_ctx(cc);
  Pair p;
  auto cs = client->session(p.a.get(), "localhost");
  auto ss = server->session(p.b.get());
  ASSERT_TRUE(cs.ok() && ss.ok());
  auto [c, s] = handshake_both(**cs, **ss);
  ASSERT_TRUE(c.ok()) << c.error.message();
  ASSERT_TRUE(s.ok()) << s.error.message();
  Info i = (*cs)->info();
  EXPECT_EQ(i.version, "TLSv1.3");
  EXPECT_EQ(i.cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(i.peer_subject, "CN=parley");
  EXPECT_EQ(i.peer_issuer, "CN=parley");
  EXPECT_EQ(i.peer_fingerprint, server->fingerprint());
  EXPECT_EQ(i.verified, "pinned (sha256 fingerprint matches)");
  EXPECT_EQ(i.ktls, ktls_available() ? "available, not used" : "not available here");
  EXPECT_EQ((*ss)->info().servername, "localhost");  // SNI.
  EXPECT_EQ((*ss)->info().peer_subject, "");         // No client certificate.
}

TEST(TlsSession, PinMismatchNamesTheFingerprintSeen) {
  auto server = server_ctx();
  ClientConfig cc;
  cc.pin = "sha256:" + std::string(64, '0');
  auto client = client_ctx(cc);
  Pair p;
  auto cs = client->session(p.a.get(), "localhost");
  auto ss = server->session(p.b.get());
  auto [c, s] = handshake_both(**cs, **ss);
  ASSERT_EQ(c.status, IoStatus::error);
  EXPECT_TRUE(c.error == Errc::pin_mismatch);
  EXPECT_EQ(describe(c.error), "TLS: pin mismatch: the certificate's fingerprint is " +
                                   server->fingerprint() + " (CN=parley)");
  EXPECT_TRUE(is_network_error(c.error));
  ASSERT_EQ(s.status, IoStatus::error);
  EXPECT_EQ(describe(s.error),
            "TLS: the client does not accept this server's certificate (bad certificate)");
}

TEST(TlsSession, SelfSignedIsAnUnknownIssuerWithItsFingerprint) {
  auto server = server_ctx();
  auto client = client_ctx({});  // The system trust store.
  Pair p;
  auto cs = client->session(p.a.get(), "localhost");
  auto ss = server->session(p.b.get());
  auto [c, s] = handshake_both(**cs, **ss);
  ASSERT_EQ(c.status, IoStatus::error);
  EXPECT_TRUE(c.error == Errc::unknown_issuer);
  EXPECT_EQ(describe(c.error),
            "TLS: unknown issuer: the certificate (CN=parley) is self-signed; "
            "its fingerprint is " +
                server->fingerprint());
}

TEST(TlsSession, VerifyingNeedsAName) {
  auto client = client_ctx({});
  Pair p;
  auto cs = client->session(p.a.get(), "");
  ASSERT_FALSE(cs.ok());
  EXPECT_TRUE(cs.error() == Errc::config);
}

TEST(TlsSession, AlpnAgreesOrFailsInWords) {
  ServerConfig sc;
  sc.alpn = {"http/1.1"};
  auto server = server_ctx(sc);
  ClientConfig cc;
  cc.insecure = true;
  cc.alpn = {"h2", "http/1.1"};
  {
    Pair p;
    auto cs = client_ctx(cc)->session(p.a.get(), "localhost");
    auto ss = server->session(p.b.get());
    auto [c, s] = handshake_both(**cs, **ss);
    ASSERT_TRUE(c.ok() && s.ok());
    EXPECT_EQ((*cs)->info().alpn, "http/1.1");
    EXPECT_EQ((*cs)->info().verified, "NOT verified (insecure)");
  }
  cc.alpn = {"h2"};
  Pair p;
  auto cs = client_ctx(cc)->session(p.a.get(), "localhost");
  auto ss = server->session(p.b.get());
  auto [c, s] = handshake_both(**cs, **ss);
  ASSERT_EQ(c.status, IoStatus::error);
  EXPECT_TRUE(c.error == Errc::no_alpn) << c.error.message();
  EXPECT_EQ(describe(c.error), "TLS: no application protocol (ALPN) in common with the server");
}

// A client pinning a generated server certificate, both sessions past their handshake, over a
// socket pair (client on p.a, server on p.b). Check `ok` before using the sessions.
struct Connected {
  Pair p;
  std::unique_ptr<Session> client, server;
  bool ok = false;
};

Connected connected() {
  Connected k;
  auto server = server_ctx();
  ClientConfig cc;
  cc.pin = server->fingerprint();
  auto cs = client_ctx(cc)->session(k.p.a.get(), "localhost");
  auto ss = server->session(k.p.b.get());
  if (!cs || !ss) return k;
  auto [c, s] = handshake_both(**cs, **ss);
  k.client = std::move(*cs);
  k.server = std::move(*ss);
  k.ok = c.ok() && s.ok();
  return k;
}

// Many records in one write() go out corked, and the cork is off again whenever write() returns
// (all sent, or the socket full): a tail left corked would wait up to 200 ms for a later call.
TEST(TlsSession, CorkedWritesLeaveTheSocketUncorked) {
  Fd lst(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(lst.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(lst.get(), 1), 0);
  ASSERT_EQ(getsockname(lst.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  Fd a(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  connect(a.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));  // EINPROGRESS
  Fd b(accept4(lst.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  ASSERT_TRUE(a && b);
  auto server = server_ctx();
  ClientConfig cc;
  cc.pin = server->fingerprint();
  auto cs = client_ctx(cc)->session(a.get(), "localhost");
  auto ss = server->session(b.get());
  ASSERT_TRUE(cs && ss);
  ASSERT_TRUE(handshake_both(**cs, **ss).first.ok());
  auto corked = [&] {
    int v = -1;
    socklen_t n = sizeof(v);
    EXPECT_EQ(getsockopt(a.get(), IPPROTO_TCP, TCP_CORK, &v, &n), 0);
    return v;
  };
  std::string data(8 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 4096);
  // Unread, the connection fills: every write until want_write must leave the socket uncorked.
  std::size_t sent = 0;
  Io w;
  while (
      (w = (*cs)->write(data.data() + sent, std::min<std::size_t>(256 << 10, data.size() - sent)))
          .ok()) {
    sent += w.bytes;
    ASSERT_EQ(corked(), 0);
    ASSERT_LT(sent, data.size())
        << "8 MiB fit in the socket buffers: the full case was not reached";
  }
  ASSERT_EQ(w.status, IoStatus::want_write);
  EXPECT_EQ(corked(), 0);
  // Then everything arrives, byte for byte.
  std::string got;
  char buf[64 << 10];
  while (got.size() < data.size()) {
    Io r = (*ss)->read(buf, sizeof(buf));
    if (r.ok()) {
      got.append(buf, r.bytes);
      continue;
    }
    ASSERT_TRUE(r.wants()) << r.error.message();
    if (sent < data.size()) {
      Io more =
          (*cs)->write(data.data() + sent, std::min<std::size_t>(256 << 10, data.size() - sent));
      if (more.ok()) sent += more.bytes;
      EXPECT_EQ(corked(), 0);
    }
    pollfd p{b.get(), POLLIN, 0};
    poll(&p, 1, 100);
  }
  EXPECT_TRUE(got == data);
}

// Each side sends close_notify and still reads what the other sends afterwards.
TEST(TlsSession, CloseNotifyIsAHalfClose) {
  Connected k = connected();
  ASSERT_TRUE(k.ok);
  ASSERT_EQ(k.client->write("hello", 5).bytes, 5u);
  ASSERT_TRUE(k.client->shutdown_write().ok());
  char buf[64];
  Io r = k.server->read(buf, sizeof(buf));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::string(buf, r.bytes), "hello");
  EXPECT_EQ(k.server->read(buf, sizeof(buf)).status, IoStatus::closed);
  EXPECT_TRUE(k.server->clean_close());
  ASSERT_EQ(k.server->write("reply", 5).bytes, 5u);
  ASSERT_TRUE(k.server->shutdown_write().ok());
  r = k.client->read(buf, sizeof(buf));
  ASSERT_TRUE(r.ok()) << r.error.message();
  EXPECT_EQ(std::string(buf, r.bytes), "reply");
  EXPECT_EQ(k.client->read(buf, sizeof(buf)).status, IoStatus::closed);
}

// A client that ends the stream without close_notify (Python's ssl module does) after the
// handshake: the server reads the end as a FIN, and a write afterwards does not claim the
// handshake was under way (it said "the client closed the connection during the handshake").
TEST(TlsSession, EndWithoutCloseNotifyAfterTheHandshake) {
  Connected k = connected();
  ASSERT_TRUE(k.ok);
  ASSERT_EQ(k.client->write("hello", 5).bytes, 5u);
  ::shutdown(k.p.a.get(), SHUT_WR);  // FIN, no close_notify.
  char buf[64];
  Io r = k.server->read(buf, sizeof(buf));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(k.server->read(buf, sizeof(buf)).status, IoStatus::closed);  // As a FIN would be.
  EXPECT_FALSE(k.server->clean_close());
  k.p.a.reset();               // And then gone altogether: the server's writes fail, in words.
  ::signal(SIGPIPE, SIG_IGN);  // As parley's commands do.
  Io w = k.server->write("reply", 5);
  if (w.ok()) w = k.server->write("reply", 5);
  ASSERT_EQ(w.status, IoStatus::error);
  EXPECT_EQ(describe(w.error), "TLS: the client closed the connection");
}

// The peer is not a TLS server: it says something else, echoes our hello, closes, or is silent.
TEST(TlsSession, NotTlsAtAll) {
  ClientConfig cc;
  cc.insecure = true;
  auto client = client_ctx(cc);
  {
    Pair p;
    ASSERT_GT(::write(p.b.get(), "SSH-2.0-OpenSSH_9.2\r\n", 21), 0);
    auto cs = client->session(p.a.get(), "localhost");
    Io c = (*cs)->handshake();
    ASSERT_EQ(c.status, IoStatus::error);
    EXPECT_EQ(describe(c.error), "TLS: the server does not speak TLS (it sent \"SSH-2\")");
  }
  {
    Pair p;
    auto cs = client->session(p.a.get(), "localhost");
    ASSERT_EQ((*cs)->handshake().status, IoStatus::want_read);
    char hello[4096];
    ssize_t n = ::read(p.b.get(), hello, sizeof(hello));
    ASSERT_GT(n, 0);
    ASSERT_EQ(::write(p.b.get(), hello, static_cast<std::size_t>(n)), n);  // An echo server.
    Io c = (*cs)->handshake();
    ASSERT_EQ(c.status, IoStatus::error);
    EXPECT_EQ(describe(c.error),
              "TLS: the server sent our own TLS hello back: it does not speak TLS (an echo "
              "service?)");
  }
  {
    Pair p;
    auto cs = client->session(p.a.get(), "localhost");
    ASSERT_EQ((*cs)->handshake().status, IoStatus::want_read);
    char hello[4096];
    ASSERT_GT(::read(p.b.get(), hello, sizeof(hello)), 0);
    p.b.reset();
    Io c = (*cs)->handshake();
    ASSERT_EQ(c.status, IoStatus::error);
    EXPECT_EQ(describe(c.error), "TLS: the server closed the connection without a TLS answer");
  }
  {
    Pair p;
    auto cs = client->session(p.a.get(), "localhost");
    ASSERT_EQ((*cs)->handshake().status, IoStatus::want_read);
    p.b.reset();  // Closed with our hello unread: a reset.
    Io c = (*cs)->handshake();
    ASSERT_EQ(c.status, IoStatus::error);
    EXPECT_EQ(describe(c.error),
              "TLS: the server reset the connection during the handshake (is it a TLS service?)");
    EXPECT_TRUE(is_network_error(c.error));
  }
  {
    Pair p;
    auto cs = client->session(p.a.get(), "localhost");
    auto ec = (*cs)->complete_handshake(100ms);
    EXPECT_TRUE(ec == Errc::handshake_timeout);
    EXPECT_EQ(describe(ec),
              "TLS: the server did not answer the TLS handshake within 100ms (is it a TLS "
              "server?)");
  }
  auto server = server_ctx();
  Pair p;
  ASSERT_GT(::write(p.a.get(), "GET / HTTP/1.0\r\n\r\n", 18), 0);
  auto ss = server->session(p.b.get());
  Io s = (*ss)->handshake();
  ASSERT_EQ(s.status, IoStatus::error);
  EXPECT_EQ(describe(s.error), "TLS: the client does not speak TLS (it sent \"GET /\")");
}

TEST(PlainTransport, StatusesOfASocket) {
  Pair p;
  PlainTransport a(p.a.get()), b(p.b.get());
  char buf[16];
  EXPECT_EQ(a.read(buf, sizeof(buf)).status, IoStatus::want_read);
  EXPECT_EQ(b.write("abc", 3).bytes, 3u);
  iovec v[2] = {{const_cast<char*>("de"), 2}, {const_cast<char*>("f"), 1}};
  EXPECT_EQ(b.writev(v, 2).bytes, 3u);
  ASSERT_TRUE(b.shutdown_write().ok());
  Io r = a.read(buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, r.bytes), "abcdef");
  EXPECT_EQ(a.read(buf, sizeof(buf)).status, IoStatus::closed);
  EXPECT_TRUE(a.zero_copy());
  p.a.reset();
  Io w = b.write("x", 1);
  EXPECT_EQ(w.status, IoStatus::error);
  EXPECT_EQ(w.error.value(), EPIPE);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

// The relay over TLS: at input EOF close_notify goes out, and the reply that follows still arrives.
TEST(RelayOverTls, HalfCloseThenWholeReply) {
  auto server = server_ctx();
  ClientConfig cc;
  cc.pin = server->fingerprint();
  auto client = client_ctx(cc);
  Pair p(false);
  std::thread peer([&] {
    auto ss = server->session(p.b.get());
    ASSERT_FALSE((*ss)->complete_handshake(5s));
    std::string request;
    char buf[4096];
    for (;;) {
      Io r = (*ss)->read(buf, sizeof(buf));
      if (!r.ok()) break;
      request.append(buf, r.bytes);
    }
    std::string reply = "reply to " + request;
    (*ss)->write(reply.data(), reply.size());
    std::this_thread::sleep_for(50ms);
    (*ss)->write(" and more", 9);
    (*ss)->shutdown_write();
  });
  auto cs = client->session(p.a.get(), "localhost");
  ASSERT_FALSE((*cs)->complete_handshake(5s));
  int in[2], out[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  Fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]);
  ASSERT_EQ(::write(in_w.get(), "req", 3), 3);
  in_w.reset();
  RelayResult r = relay_stream(in_r.get(), out_w.get(), **cs, {});
  peer.join();
  out_w.reset();
  EXPECT_EQ(read_all(out_r.get()), "reply to req and more");
  EXPECT_EQ(r.end, RelayEnd::finished);
  EXPECT_EQ(r.sent, 3u);
  EXPECT_EQ(r.received, 21u);
}

}  // namespace
}  // namespace parley::tls
