#include "parley/http.hpp"

#include <gtest/gtest.h>

#include <string>

namespace parley {
namespace {

TEST(HttpHead, ContentLength) {
  HttpHead h;
  std::string r =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length:  12 \r\n\r\nhello";
  ASSERT_EQ(parse_response_head(r, false, h), HeadParse::complete);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, HttpHead::Body::length);
  EXPECT_EQ(h.content_length, 12u);
  EXPECT_EQ(h.head_length, r.find("hello"));
  EXPECT_FALSE(h.close);
}

TEST(HttpHead, IncompleteAtEveryCut) {
  std::string r = "HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n";
  HttpHead h;
  for (std::size_t n = 0; n < r.size(); ++n)
    EXPECT_EQ(parse_response_head(r.substr(0, n), false, h), HeadParse::incomplete) << n;
  ASSERT_EQ(parse_response_head(r, false, h), HeadParse::complete);
  EXPECT_EQ(h.body, HttpHead::Body::none);
}

TEST(HttpHead, BodyRules) {
  HttpHead h;
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n"
                                "Content-Length: 5\r\n\r\n",
                                false, h),
            HeadParse::complete);
  EXPECT_EQ(h.body, HttpHead::Body::chunked);  // Transfer-Encoding wins.
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\nContent-Length: 5\n\n", true, h),
            HeadParse::complete);
  EXPECT_EQ(h.body, HttpHead::Body::none);  // HEAD; bare LF line ends.
  ASSERT_EQ(parse_response_head("HTTP/1.0 200 OK\r\n\r\n", false, h), HeadParse::complete);
  EXPECT_EQ(h.body, HttpHead::Body::until_close);
  EXPECT_TRUE(h.close);
  ASSERT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
                                "Content-Length: 0\r\n\r\n",
                                false, h),
            HeadParse::complete);
  EXPECT_TRUE(h.close);
  EXPECT_EQ(h.body, HttpHead::Body::none);
  ASSERT_EQ(parse_response_head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, h),
            HeadParse::complete);
  EXPECT_EQ(h.body, HttpHead::Body::none);
}

TEST(HttpHead, Malformed) {
  HttpHead h;
  for (const char* r : {"HTTP/2 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", "FOO\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nBad Header : x\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "HTTP/1.1 099 x\r\n\r\n"})
    EXPECT_EQ(parse_response_head(r, false, h), HeadParse::malformed) << r;
  // The same Content-Length twice is allowed.
  EXPECT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
                                false, h),
            HeadParse::complete);
}

// The chunked decoder must give the same answer however the body is split.
TEST(ChunkedBody, AnySplit) {
  std::string body = "3;ext=1\r\nhel\r\nA\r\nlo chunks!\r\n0\r\nTrailer: yes\r\n\r\n";
  for (std::size_t cut = 0; cut <= body.size(); ++cut) {
    ChunkedBody c;
    std::size_t used = c.feed(std::string_view(body).substr(0, cut));
    EXPECT_EQ(used, cut);
    if (!c.done()) used += c.feed(body.substr(cut) + "NEXT");
    EXPECT_TRUE(c.done()) << cut;
    EXPECT_EQ(used, body.size()) << cut;
  }
  EXPECT_EQ(dechunk(body), "hello chunks!");
  ChunkedBody one;
  for (char ch : body) one.feed(std::string_view(&ch, 1));  // Byte by byte.
  EXPECT_TRUE(one.done());
}

TEST(ChunkedBody, Malformed) {
  for (const char* b : {"x\r\n", "3\r\nabcX", "1234567890abcdef0\r\n", "\r\n"}) {
    ChunkedBody c;
    c.feed(b);
    EXPECT_TRUE(c.failed()) << b;
  }
}

TEST(HttpUrl, Forms) {
  auto u = parse_http_url("http://127.0.0.1:8080/a/b?q=1#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8080);
  EXPECT_EQ(u->target, "/a/b?q=1");
  u = parse_http_url("HTTP://[::1]/");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->authority, "[::1]");
  u = parse_http_url("http://example.org?x");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->target, "/?x");
  u = parse_http_url("https://x/");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 443);
  u = parse_http_url("HTTPS://x:8443/y");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/y");
  EXPECT_FALSE(parse_http_url("http://x/")->tls);
  for (const char* bad : {"ftp://x/", "http://", "http://:80/", "http://x:0/", "http://x:65536/",
                          "http://x y/", "http://u@x/", "http://[::1/"})
    EXPECT_FALSE(parse_http_url(bad)) << bad;
}

TEST(HttpRequest, Format) {
  auto u = *parse_http_url("http://h:81/p");
  EXPECT_EQ(http_request("GET", u, {}, ""), "GET /p HTTP/1.1\r\nHost: h:81\r\n\r\n");
  EXPECT_EQ(http_request("POST", u, {"X-A: 1", "host: other"}, "hi"),
            "POST /p HTTP/1.1\r\nX-A: 1\r\nhost: other\r\nContent-Length: 2\r\n\r\nhi");
}

}  // namespace
}  // namespace parley
