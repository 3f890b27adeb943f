// The proxy error category: what a proxy's refusal or a failed handshake means, in words,
// and which of them are the user's mistake or the target's refusal (doctor and connect ask).
#include <algorithm>
#include <string>
#include <system_error>

#include "parley/errors.hpp"
#include "parley/proxy.hpp"

namespace parley {
namespace {

// proxy_category() values: the ProxyErrc enum below 100, then one range per kind of answer.
constexpr int kHttp = 1000;          // + status, no credentials sent
constexpr int kHttpAuth = 2000;      // + status, credentials sent
constexpr int kSocks4 = 3000;        // + reply code
constexpr int kSocks5 = 4000;        // + reply code
constexpr int kSocks5Auth = 5000;    // + status
constexpr int kUnreachable = 10000;  // + errno

const char* http_reason(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 408:
      return "request timeout";
    case 429:
      return "too many requests";
    case 500:
      return "internal server error";
    case 501:
      return "not implemented";
    case 502:
      return "bad gateway";
    case 503:
      return "service unavailable";
    case 504:
      return "gateway timeout";
    default:
      return nullptr;
  }
}

const char* socks4_reason(int code) {
  switch (code) {
    case 91:
      return "request rejected or failed";
    case 92:
      return "request rejected: the proxy cannot reach our identd";
    case 93:
      return "request rejected: identd reports another user";
    default:
      return "unknown reply";
  }
}

const char* socks5_reason(int code) {
  switch (code) {
    case 1:
      return "general SOCKS server failure";
    case 2:
      return "connection not allowed by ruleset";
    case 3:
      return "network unreachable";
    case 4:
      return "host unreachable";
    case 5:
      return "connection refused";
    case 6:
      return "TTL expired";
    case 7:
      return "command not supported";
    case 8:
      return "address type not supported";
    default:
      return "unassigned reply code";
  }
}

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "proxy"; }
  std::string message(int v) const override {
    if (v >= kUnreachable)
      return "cannot reach the proxy: " + std::system_category().message(v - kUnreachable);
    if (v >= kSocks5Auth)
      return "proxy rejected the user name or password (SOCKS5 auth status " +
             std::to_string(v - kSocks5Auth) + ")";
    if (v >= kSocks5)
      return std::string("proxy refused: ") + socks5_reason(v - kSocks5) + " (SOCKS5 reply " +
             std::to_string(v - kSocks5) + ")";
    if (v >= kSocks4)
      return std::string("proxy refused: ") + socks4_reason(v - kSocks4) + " (SOCKS4 reply " +
             std::to_string(v - kSocks4) + ")";
    if (v >= kHttp) {
      const bool auth = v >= kHttpAuth;
      const int status = v - (auth ? kHttpAuth : kHttp);
      const std::string code = " (HTTP " + std::to_string(status) + ")";
      if (status == 407 && auth) return "proxy rejected the user name or password" + code;
      if (status == 407) return "proxy requires authentication" + code;
      const char* reason = http_reason(status);
      return reason ? "proxy refused: " + std::string(reason) + code : "proxy refused" + code;
    }
    switch (static_cast<ProxyErrc>(v)) {
      case ProxyErrc::closed:
        return "the proxy closed the connection during the handshake";
      case ProxyErrc::reset:
        return "the proxy reset the connection during the handshake";
      case ProxyErrc::malformed_reply:
        return "the proxy's reply is not in the protocol (wrong --proxy-type?)";
      case ProxyErrc::reply_too_long:
        return "the proxy's reply header is too long";
      case ProxyErrc::auth_required:
        return "proxy requires authentication (SOCKS5: no acceptable method)";
      case ProxyErrc::no_acceptable_method:
        return "proxy accepts none of the offered authentication methods (SOCKS5)";
      case ProxyErrc::wrong_method:
        return "the proxy chose an authentication method that was not offered (SOCKS5)";
      case ProxyErrc::needs_ipv4:
        return "SOCKS4 can only ask for IPv4 addresses (use socks4a or socks5 for names)";
      case ProxyErrc::name_too_long:
        return "the target name is too long for the proxy protocol (255 bytes at most)";
      case ProxyErrc::bad_target:
        return "the target name cannot be sent to the proxy";
      case ProxyErrc::credentials_too_long:
        return "SOCKS5 user names and passwords are 255 bytes at most";
      case ProxyErrc::proxy_not_resolved:
        return "proxy name not resolved";
    }
    return "unknown proxy error";
  }
};

}  // namespace

const std::error_category& proxy_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(ProxyErrc e) noexcept {
  return {static_cast<int>(e), proxy_category()};
}

std::error_code proxy_http_status(int status, bool sent_credentials) {
  status = std::clamp(status, 0, 999);
  return {(sent_credentials ? kHttpAuth : kHttp) + status, proxy_category()};
}
std::error_code proxy_socks4_reply(int code) {
  return {kSocks4 + std::clamp(code, 0, 255), proxy_category()};
}
std::error_code proxy_socks5_reply(int code) {
  return {kSocks5 + std::clamp(code, 0, 255), proxy_category()};
}
std::error_code proxy_socks5_auth_status(int status) {
  return {kSocks5Auth + std::clamp(status, 0, 255), proxy_category()};
}
std::error_code proxy_unreachable(const std::error_code& cause) {
  if (cause.category() != std::system_category()) return cause;
  return {kUnreachable + cause.value(), proxy_category()};
}

bool is_proxy_usage_error(const std::error_code& ec) noexcept {
  if (ec.category() != proxy_category()) return false;
  switch (static_cast<ProxyErrc>(ec.value())) {
    case ProxyErrc::needs_ipv4:
    case ProxyErrc::name_too_long:
    case ProxyErrc::bad_target:
    case ProxyErrc::credentials_too_long:
    case ProxyErrc::proxy_not_resolved:
      return true;
    default:
      return false;
  }
}

bool is_proxy_target_refusal(const std::error_code& ec) noexcept {
  if (ec.category() != proxy_category()) return false;
  const int v = ec.value();
  if (v >= kSocks5 && v < kSocks5Auth) return v - kSocks5 == 5;
  if (v >= kSocks4 && v < kSocks5) return v - kSocks4 == 91;
  if (v >= kHttp && v < kSocks4) {
    const int status = v - (v >= kHttpAuth ? kHttpAuth : kHttp);
    return status == 502 || status == 503;
  }
  return false;
}

bool is_proxy_target_filtered(const std::error_code& ec) noexcept {
  if (ec.category() != proxy_category()) return false;
  const int v = ec.value();
  if (v >= kSocks5 && v < kSocks5Auth) {
    const int code = v - kSocks5;
    return code == 2 || code == 3 || code == 4 || code == 6;
  }
  if (v >= kHttp && v < kSocks4) {
    const int status = v - (v >= kHttpAuth ? kHttpAuth : kHttp);
    return status == 403 || status == 504;
  }
  return false;
}

}  // namespace parley
