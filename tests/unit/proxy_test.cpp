#include "parley/proxy.hpp"

#include <gtest/gtest.h>

#include "parley/errors.hpp"

namespace parley {
namespace {

using namespace std::string_literals;

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("\xff\xfe"s), "//4=");
}

TEST(ProxyType, Names) {
  EXPECT_EQ(parse_proxy_type("http"), ProxyType::http);
  EXPECT_EQ(parse_proxy_type("connect"), ProxyType::http);
  EXPECT_EQ(parse_proxy_type("4"), ProxyType::socks4);
  EXPECT_EQ(parse_proxy_type("socks4a"), ProxyType::socks4a);
  EXPECT_EQ(parse_proxy_type("5"), ProxyType::socks5);
  EXPECT_FALSE(parse_proxy_type("socks6"));
}

TEST(HttpConnect, Request) {
  EXPECT_EQ(*http_connect_request({"example.org", 443}, nullptr),
            "CONNECT example.org:443 HTTP/1.1\r\nHost: example.org:443\r\n\r\n");
  ProxyCredentials auth{"Aladdin", "open sesame"};
  EXPECT_EQ(*http_connect_request({"::1", 80}, &auth),
            "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n"
            "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n");
  EXPECT_EQ(http_connect_request({"a\r\nX: y", 80}, nullptr).error(),
            make_error_code(ProxyErrc::bad_target));
}

TEST(HttpConnect, ReplySuccessConsumesHeaderOnly) {
  auto r = parse_http_connect_reply("HTTP/1.0 200 OK\r\n\r\nSSH-2.0-x\r\n", false);
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, 19u);
  auto lf = parse_http_connect_reply("HTTP/1.1 200 Connection established\nVia: x\n\nrest", false);
  EXPECT_TRUE(lf.complete);
  EXPECT_EQ(lf.consumed, 44u);
}

TEST(HttpConnect, ReplyIncomplete) {
  for (std::string_view part : {"", "H", "HTTP/1.1 200 OK\r\n", "HTTP/1.1 200 OK\r\n\r"}) {
    auto r = parse_http_connect_reply(part, false);
    EXPECT_FALSE(r.complete) << part;
    EXPECT_FALSE(r.error) << part;
    EXPECT_EQ(r.needed, part.size() + 1);
  }
}

TEST(HttpConnect, ReplyRefusals) {
  auto r = parse_http_connect_reply("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", false);
  EXPECT_EQ(describe(r.error), "proxy requires authentication (HTTP 407)");
  r = parse_http_connect_reply("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", true);
  EXPECT_EQ(describe(r.error), "proxy rejected the user name or password (HTTP 407)");
  r = parse_http_connect_reply("HTTP/1.0 403 Access violation\r\n\r\n", false);
  EXPECT_EQ(describe(r.error), "proxy refused: forbidden (HTTP 403)");
  EXPECT_TRUE(is_network_error(r.error));
  r = parse_http_connect_reply("HTTP/1.0 504 Gateway Timeout\r\n\r\n", false);
  EXPECT_TRUE(is_proxy_target_filtered(r.error));
  r = parse_http_connect_reply("HTTP/1.0 599 Odd\r\n\r\n", false);
  EXPECT_EQ(describe(r.error), "proxy refused (HTTP 599)");
}

TEST(HttpConnect, ReplyMalformed) {
  const auto malformed = make_error_code(ProxyErrc::malformed_reply);
  EXPECT_EQ(parse_http_connect_reply("\x05\x00"s, false).error, malformed);
  EXPECT_EQ(parse_http_connect_reply("SSH-2.0-OpenSSH\r\n", false).error, malformed);
  EXPECT_EQ(parse_http_connect_reply("HTTP/1.1 2x0 OK\r\n\r\n", false).error, malformed);
  EXPECT_EQ(parse_http_connect_reply("HTTP/1.1\r\n\r\n", false).error, malformed);
  EXPECT_EQ(parse_http_connect_reply("HTTP/1.1 2000\r\n\r\n", false).error, malformed);
  std::string huge = "HTTP/1.1 200 OK\r\n" + std::string(kMaxHttpReply, 'x');
  EXPECT_EQ(parse_http_connect_reply(huge, false).error,
            make_error_code(ProxyErrc::reply_too_long));
}

TEST(Socks4, Requests) {
  EXPECT_EQ(*socks4_request({"127.0.0.1", 80}, "", false), "\x04\x01\x00\x50\x7f\x00\x00\x01\x00"s);
  EXPECT_EQ(*socks4_request({"10.1.2.3", 443}, "bob", false),
            "\x04\x01\x01\xbb\x0a\x01\x02\x03"s + "bob" + '\0');
  EXPECT_EQ(*socks4_request({"example.org", 80}, "", true),
            "\x04\x01\x00\x50\x00\x00\x00\x01\x00"s + "example.org" + '\0');
  EXPECT_EQ(socks4_request({"example.org", 80}, "", false).error(),
            make_error_code(ProxyErrc::needs_ipv4));
  EXPECT_EQ(socks4_request({"::1", 80}, "", true).error(), make_error_code(ProxyErrc::needs_ipv4));
  EXPECT_TRUE(is_proxy_usage_error(make_error_code(ProxyErrc::needs_ipv4)));
}

TEST(Socks4, Replies) {
  auto r = parse_socks4_reply("\x00\x5a\x00\x00\x00\x00\x00\x00tail"s);
  EXPECT_TRUE(r.complete);
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.consumed, 8u);
  EXPECT_EQ(parse_socks4_reply("\x00\x5a\x00"s).needed, 8u);
  r = parse_socks4_reply("\x00\x5b"s);
  EXPECT_EQ(describe(r.error), "proxy refused: request rejected or failed (SOCKS4 reply 91)");
  EXPECT_TRUE(is_proxy_target_refusal(r.error));
  EXPECT_EQ(parse_socks4_reply("\x05\x00"s).error, make_error_code(ProxyErrc::malformed_reply));
  EXPECT_EQ(parse_socks4_reply("\x00\x07"s).error, make_error_code(ProxyErrc::malformed_reply));
}

TEST(Socks5, Requests) {
  EXPECT_EQ(socks5_greeting(false), "\x05\x01\x00"s);
  EXPECT_EQ(socks5_greeting(true), "\x05\x02\x00\x02"s);
  EXPECT_EQ(*socks5_password_request({"u", "pw"}), "\x01\x01u\x02pw"s);
  EXPECT_EQ(socks5_password_request({std::string(256, 'u'), ""}).error(),
            make_error_code(ProxyErrc::credentials_too_long));
  EXPECT_EQ(*socks5_connect_request({"127.0.0.1", 80}),
            "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50"s);
  EXPECT_EQ(*socks5_connect_request({"::1", 22}),
            "\x05\x01\x00\x04"s + std::string(15, '\0') + "\x01\x00\x16"s);
  EXPECT_EQ(*socks5_connect_request({"example.org", 443}),
            "\x05\x01\x00\x03\x0b"s + "example.org" + "\x01\xbb"s);
  EXPECT_EQ(socks5_connect_request({std::string(256, 'a'), 1}).error(),
            make_error_code(ProxyErrc::name_too_long));
}

TEST(Socks5, MethodAndPasswordReplies) {
  EXPECT_EQ(parse_socks5_method_reply("\x05\x00"s, false).value, 0);
  EXPECT_EQ(parse_socks5_method_reply("\x05\x02"s, true).value, 2);
  EXPECT_EQ(parse_socks5_method_reply("\x05\x02"s, false).error,
            make_error_code(ProxyErrc::wrong_method));
  EXPECT_EQ(describe(parse_socks5_method_reply("\x05\xff"s, false).error),
            "proxy requires authentication (SOCKS5: no acceptable method)");
  EXPECT_EQ(parse_socks5_method_reply("\x05\xff"s, true).error,
            make_error_code(ProxyErrc::no_acceptable_method));
  EXPECT_EQ(parse_socks5_method_reply("HTTP/1.1 400"s, false).error,
            make_error_code(ProxyErrc::malformed_reply));
  EXPECT_FALSE(parse_socks5_method_reply("\x05"s, false).complete);
  EXPECT_FALSE(parse_socks5_password_reply("\x01\x00"s).error);
  EXPECT_EQ(describe(parse_socks5_password_reply("\x01\x01"s).error),
            "proxy rejected the user name or password (SOCKS5 auth status 1)");
}

TEST(Socks5, ConnectReplies) {
  auto v4 = "\x05\x00\x00\x01\x7f\x00\x00\x01\x04\x38"s;
  auto r = parse_socks5_connect_reply(v4 + "data");
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.consumed, 10u);
  for (std::size_t n = 0; n < v4.size(); ++n)
    EXPECT_FALSE(parse_socks5_connect_reply(v4.substr(0, n)).complete) << n;
  auto v6 = "\x05\x00\x00\x04"s + std::string(18, '\0');
  EXPECT_EQ(parse_socks5_connect_reply(v6).consumed, 22u);
  auto name =
      "\x05\x00\x00\x03\x03"
      "abc\x00\x50"s;
  EXPECT_EQ(parse_socks5_connect_reply(name).consumed, 10u);
  EXPECT_EQ(parse_socks5_connect_reply(name.substr(0, 9)).needed, 10u);
  r = parse_socks5_connect_reply("\x05\x02"s);
  EXPECT_EQ(describe(r.error), "proxy refused: connection not allowed by ruleset (SOCKS5 reply 2)");
  EXPECT_TRUE(is_network_error(r.error));
  EXPECT_TRUE(is_proxy_target_refusal(parse_socks5_connect_reply("\x05\x05"s).error));
  EXPECT_TRUE(is_proxy_target_filtered(parse_socks5_connect_reply("\x05\x04"s).error));
  EXPECT_EQ(parse_socks5_connect_reply("\x05\x00\x00\x09"s + std::string(10, '\0')).error,
            make_error_code(ProxyErrc::malformed_reply));
}

// Drives a handshake with scripted replies, as an event loop would.
TEST(Handshake, Socks5WithPassword) {
  auto h =
      ProxyHandshake::begin(ProxyType::socks5, {"example.org", 80}, ProxyCredentials{"u", "p"});
  ASSERT_TRUE(h);
  EXPECT_EQ(h->to_send(), "\x05\x02\x00\x02"s);
  h->sent(4);
  EXPECT_EQ(*h->feed("\x05"s), 0u);  // Incomplete: nothing taken, nothing new to send.
  EXPECT_TRUE(h->to_send().empty());
  EXPECT_EQ(*h->feed("\x05\x02"s), 2u);
  EXPECT_EQ(h->to_send(), "\x01\x01u\x01p"s);
  h->sent(5);
  EXPECT_EQ(*h->feed("\x01\x00"s), 2u);
  EXPECT_EQ(h->to_send(), "\x05\x01\x00\x03\x0b"s + "example.org" + "\x00\x50"s);
  h->sent(h->to_send().size());
  EXPECT_FALSE(h->done());
  EXPECT_EQ(*h->feed("\x05\x00\x00\x01\x00\x00\x00\x00\x00\x00hello"s), 10u);
  EXPECT_TRUE(h->done());
}

TEST(Handshake, Socks5NoAuthAndErrors) {
  auto h = ProxyHandshake::begin(ProxyType::socks5, {"10.0.0.1", 7}, std::nullopt);
  ASSERT_TRUE(h);
  h->sent(3);
  EXPECT_EQ(*h->feed("\x05\x00"s), 2u);
  EXPECT_EQ(h->to_send().size(), 10u);
  auto refused = h->feed("\x05\x05\x00\x01"s);
  EXPECT_EQ(refused.error(), proxy_socks5_reply(5));
  EXPECT_EQ(ProxyHandshake::begin(ProxyType::socks4, {"example.org", 1}, std::nullopt).error(),
            make_error_code(ProxyErrc::needs_ipv4));
}

TEST(Handshake, HttpAndSocks4) {
  auto h = ProxyHandshake::begin(ProxyType::http, {"h", 1}, std::nullopt);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->to_send(), "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n");
  h->sent(h->to_send().size());
  EXPECT_EQ(*h->feed("HTTP/1.1 200 OK\r\n"), 0u);
  EXPECT_EQ(*h->feed("HTTP/1.1 200 OK\r\n\r\nbanner"), 19u);
  EXPECT_TRUE(h->done());
  auto s4 = ProxyHandshake::begin(ProxyType::socks4a, {"h", 1}, ProxyCredentials{"id", ""});
  ASSERT_TRUE(s4);
  EXPECT_EQ(s4->to_send(), "\x04\x01\x00\x01\x00\x00\x00\x01id\x00h\x00"s);
}

TEST(ProxyErrors, Unreachable) {
  auto ec = proxy_unreachable({ECONNREFUSED, std::system_category()});
  EXPECT_EQ(describe(ec), "cannot reach the proxy: Connection refused");
  EXPECT_TRUE(is_network_error(ec));
  EXPECT_FALSE(is_network_error(make_error_code(ProxyErrc::proxy_not_resolved)));
  EXPECT_EQ(proxy_unreachable(make_error_code(Errc::timed_out)), make_error_code(Errc::timed_out));
}

}  // namespace
}  // namespace parley
