#include "parley/proxy.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "parley/errors.hpp"

namespace parley {
namespace {

bool is_ipv6(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

void put_port(std::string& out, std::uint16_t port) {
  out += static_cast<char>(port >> 8);
  out += static_cast<char>(port & 0xff);
}

// A name a proxy can be asked for: printable, no spaces, no NUL, CR or LF to smuggle in.
bool sendable_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(),
                                      [](unsigned char c) { return c > 0x20 && c != 0x7f; });
}

ReplyParse need(std::size_t total) {
  ReplyParse r;
  r.needed = total;
  return r;
}

ReplyParse failed(std::error_code ec, std::size_t consumed = 0) {
  ReplyParse r;
  r.complete = true;
  r.consumed = consumed;
  r.error = ec;
  return r;
}

ReplyParse ok(std::size_t consumed, int value = 0) {
  ReplyParse r;
  r.complete = true;
  r.consumed = consumed;
  r.value = value;
  return r;
}

}  // namespace

std::optional<ProxyType> parse_proxy_type(std::string_view text) {
  if (text == "http" || text == "connect") return ProxyType::http;
  if (text == "socks4" || text == "4") return ProxyType::socks4;
  if (text == "socks4a") return ProxyType::socks4a;
  if (text == "socks5" || text == "5") return ProxyType::socks5;
  return std::nullopt;
}

const char* proxy_type_name(ProxyType type) {
  switch (type) {
    case ProxyType::http:
      return "http";
    case ProxyType::socks4:
      return "socks4";
    case ProxyType::socks4a:
      return "socks4a";
    case ProxyType::socks5:
      return "socks5";
  }
  return "?";
}

std::uint16_t default_proxy_port(ProxyType type) {
  return type == ProxyType::http ? 3128 : 1080;
}

std::string base64_encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const unsigned v = static_cast<unsigned char>(data[i]) << 16 |
                       static_cast<unsigned char>(data[i + 1]) << 8 |
                       static_cast<unsigned char>(data[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(v >> shift) & 63];
  }
  if (i < data.size()) {
    unsigned v = static_cast<unsigned char>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<unsigned char>(data[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Result<std::string> http_connect_request(const HostPort& target, const ProxyCredentials* auth) {
  if (!sendable_name(target.host)) return ProxyErrc::bad_target;
  const std::string where =
      (target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host) + ":" +
      std::to_string(target.port);
  std::string out = "CONNECT " + where + " HTTP/1.1\r\nHost: " + where + "\r\n";
  if (auth)
    out +=
        "Proxy-Authorization: Basic " + base64_encode(auth->user + ":" + auth->password) + "\r\n";
  return out + "\r\n";
}

ReplyParse parse_http_connect_reply(std::string_view data, bool sent_credentials) {
  // Reject what is plainly not HTTP as soon as it shows (a SOCKS proxy's binary answer, an SSH
  // banner), rather than waiting for a header end that never comes.
  constexpr std::string_view kPrefix = "HTTP/";
  if (data.substr(0, kPrefix.size()) != kPrefix.substr(0, std::min(data.size(), kPrefix.size())))
    return failed(ProxyErrc::malformed_reply);
  // The header ends at the first empty line (CRLF CRLF, or bare LF LF from sloppy proxies).
  std::size_t end = std::string_view::npos;
  for (std::size_t nl = data.find('\n'); nl != std::string_view::npos;
       nl = data.find('\n', nl + 1)) {
    std::size_t next = nl + 1;
    if (next < data.size() && data[next] == '\n') {
      end = next + 1;
      break;
    }
    if (next + 1 < data.size() && data[next] == '\r' && data[next + 1] == '\n') {
      end = next + 2;
      break;
    }
  }
  if (end == std::string_view::npos) {
    if (data.size() >= kMaxHttpReply) return failed(ProxyErrc::reply_too_long);
    return need(data.size() + 1);
  }
  if (end > kMaxHttpReply) return failed(ProxyErrc::reply_too_long);
  // "HTTP/1.1 200 Connection established": the status is the three digits after the first space.
  std::string_view line = data.substr(0, data.find('\n'));
  std::size_t space = line.find(' ');
  if (space == std::string_view::npos || line.size() < space + 4)
    return failed(ProxyErrc::malformed_reply, end);
  int status = 0;
  for (std::size_t k = space + 1; k < space + 4; ++k) {
    if (line[k] < '0' || line[k] > '9') return failed(ProxyErrc::malformed_reply, end);
    status = status * 10 + (line[k] - '0');
  }
  if (line.size() > space + 4 && line[space + 4] != ' ' && line[space + 4] != '\r')
    return failed(ProxyErrc::malformed_reply, end);
  if (status < 200 || status > 299) return failed(proxy_http_status(status, sent_credentials), end);
  return ok(end, status);
}

Result<std::string> socks4_request(const HostPort& target, std::string_view user_id, bool socks4a) {
  if (user_id.find('\0') != std::string_view::npos || user_id.size() > 255)
    return ProxyErrc::credentials_too_long;
  std::string out{'\x04', '\x01'};
  put_port(out, target.port);
  in_addr a{};
  if (inet_pton(AF_INET, target.host.c_str(), &a) == 1) {
    out.append(reinterpret_cast<const char*>(&a), 4);
    out.append(user_id);
    out += '\0';
    return out;
  }
  if (!socks4a || is_ipv6(target.host)) return ProxyErrc::needs_ipv4;
  if (!sendable_name(target.host)) return ProxyErrc::bad_target;
  if (target.host.size() > 255) return ProxyErrc::name_too_long;
  out.append({'\0', '\0', '\0', '\x01'});  // 0.0.0.x: "the name follows" (SOCKS4a).
  out.append(user_id);
  out += '\0';
  out += target.host;
  out += '\0';
  return out;
}

ReplyParse parse_socks4_reply(std::string_view data) {
  if (data.empty()) return need(8);
  // VN is 0 in the protocol; some servers answer 4. Anything else is not SOCKS4.
  if (data[0] != 0 && data[0] != 4) return failed(ProxyErrc::malformed_reply);
  if (data.size() < 2) return need(8);
  const int code = static_cast<unsigned char>(data[1]);
  if (code < 90 || code > 93) return failed(ProxyErrc::malformed_reply);
  if (code != 90) return failed(proxy_socks4_reply(code), std::min<std::size_t>(data.size(), 8));
  if (data.size() < 8) return need(8);
  return ok(8);
}

std::string socks5_greeting(bool offer_password) {
  if (offer_password) return std::string{'\x05', '\x02', '\x00', '\x02'};
  return std::string{'\x05', '\x01', '\x00'};
}

Result<std::string> socks5_password_request(const ProxyCredentials& auth) {
  if (auth.user.size() > 255 || auth.password.size() > 255) return ProxyErrc::credentials_too_long;
  std::string out{'\x01'};
  out += static_cast<char>(auth.user.size());
  out += auth.user;
  out += static_cast<char>(auth.password.size());
  out += auth.password;
  return out;
}

Result<std::string> socks5_connect_request(const HostPort& target) {
  std::string out{'\x05', '\x01', '\x00'};
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, target.host.c_str(), &a4) == 1) {
    out += '\x01';
    out.append(reinterpret_cast<const char*>(&a4), 4);
  } else if (inet_pton(AF_INET6, target.host.c_str(), &a6) == 1) {
    out += '\x04';
    out.append(reinterpret_cast<const char*>(&a6), 16);
  } else {
    if (!sendable_name(target.host)) return ProxyErrc::bad_target;
    if (target.host.size() > 255) return ProxyErrc::name_too_long;
    out += '\x03';
    out += static_cast<char>(target.host.size());
    out += target.host;
  }
  put_port(out, target.port);
  return out;
}

ReplyParse parse_socks5_method_reply(std::string_view data, bool offered_password) {
  if (data.empty()) return need(2);
  if (data[0] != 5) return failed(ProxyErrc::malformed_reply);
  if (data.size() < 2) return need(2);
  const int method = static_cast<unsigned char>(data[1]);
  if (method == 0 || (method == 2 && offered_password)) return ok(2, method);
  if (method == 0xff)
    return failed(offered_password ? ProxyErrc::no_acceptable_method : ProxyErrc::auth_required, 2);
  return failed(ProxyErrc::wrong_method, 2);
}

ReplyParse parse_socks5_password_reply(std::string_view data) {
  if (data.size() < 2) return need(2);
  // RFC 1929 says VER is 1; some servers echo 5. The status byte is what matters.
  if (data[0] != 1 && data[0] != 5) return failed(ProxyErrc::malformed_reply, 2);
  const int status = static_cast<unsigned char>(data[1]);
  if (status != 0) return failed(proxy_socks5_auth_status(status), 2);
  return ok(2);
}

ReplyParse parse_socks5_connect_reply(std::string_view data) {
  if (data.empty()) return need(4);
  if (data[0] != 5) return failed(ProxyErrc::malformed_reply);
  if (data.size() < 2) return need(4);
  const int code = static_cast<unsigned char>(data[1]);
  if (code != 0) return failed(proxy_socks5_reply(code), std::min<std::size_t>(data.size(), 2));
  if (data.size() < 5) return need(5);
  std::size_t total = 0;
  switch (data[3]) {
    case 1:
      total = 4 + 4 + 2;
      break;
    case 4:
      total = 4 + 16 + 2;
      break;
    case 3:
      total = 4 + 1 + static_cast<unsigned char>(data[4]) + 2;
      break;
    default:
      return failed(ProxyErrc::malformed_reply);
  }
  if (data.size() < total) return need(total);
  return ok(total);
}

Result<ProxyHandshake> ProxyHandshake::begin(ProxyType type, const HostPort& target,
                                             const std::optional<ProxyCredentials>& auth) {
  ProxyHandshake h;
  h.auth_ = auth;
  switch (type) {
    case ProxyType::http: {
      auto request = http_connect_request(target, auth ? &*auth : nullptr);
      if (!request) return request.error();
      h.queue(std::move(*request));
      h.step_ = Step::http_reply;
      break;
    }
    case ProxyType::socks4:
    case ProxyType::socks4a: {
      auto request =
          socks4_request(target, auth ? auth->user : std::string(), type == ProxyType::socks4a);
      if (!request) return request.error();
      h.queue(std::move(*request));
      h.step_ = Step::socks4_reply;
      break;
    }
    case ProxyType::socks5: {
      auto request = socks5_connect_request(target);
      if (!request) return request.error();
      if (auth) {
        auto check = socks5_password_request(*auth);
        if (!check) return check.error();
      }
      h.connect_request_ = std::move(*request);
      h.with_password_ = auth.has_value();
      h.queue(socks5_greeting(h.with_password_));
      h.step_ = Step::socks5_method;
      break;
    }
  }
  return h;
}

void ProxyHandshake::queue(std::string bytes) {
  out_ = out_.substr(std::min(out_done_, out_.size())) + bytes;
  out_done_ = 0;
}

Result<std::size_t> ProxyHandshake::feed(std::string_view received) {
  ReplyParse r;
  switch (step_) {
    case Step::http_reply:
      r = parse_http_connect_reply(received, auth_.has_value());
      break;
    case Step::socks4_reply:
      r = parse_socks4_reply(received);
      break;
    case Step::socks5_method:
      r = parse_socks5_method_reply(received, with_password_);
      break;
    case Step::socks5_password:
      r = parse_socks5_password_reply(received);
      break;
    case Step::socks5_reply:
      r = parse_socks5_connect_reply(received);
      break;
    case Step::done:
      return std::size_t{0};
  }
  if (r.error) return r.error;
  if (!r.complete) return std::size_t{0};
  switch (step_) {
    case Step::socks5_method:
      if (r.value == 2) {
        queue(*socks5_password_request(*auth_));
        step_ = Step::socks5_password;
      } else {
        queue(std::move(connect_request_));
        step_ = Step::socks5_reply;
      }
      break;
    case Step::socks5_password:
      queue(std::move(connect_request_));
      step_ = Step::socks5_reply;
      break;
    default:
      step_ = Step::done;
      break;
  }
  return r.consumed;
}

}  // namespace parley
