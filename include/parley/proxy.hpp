#pragma once
// Proxy protocols: HTTP CONNECT (RFC 9110 §9.3.6, Basic auth), SOCKS4, SOCKS4a and SOCKS5
// (RFC 1928, username/password RFC 1929), without any I/O.
//
//  * The request builders and reply parsers are pure functions over byte strings: no state, no
//    globals, safe on any input (bounded work and memory), so they can be unit-tested and fuzzed.
//  * ProxyHandshake strings them together: it says what to send and consumes what the proxy
//    answers, so a blocking caller (dial(), in dial.hpp) and an event loop (the port scanner)
//    drive the same code. One object per connection; not thread-safe.
//
// A proxy's "no" is a std::error_code of proxy_category() whose message says what the proxy
// answered: "proxy refused: connection not allowed by ruleset (SOCKS5 reply 2)",
// "proxy requires authentication (HTTP 407)".

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"

namespace parley {

enum class ProxyType { http, socks4, socks4a, socks5 };

// Who turns the target's name into an address. automatic: the proxy, where the protocol can carry
// a name (http, socks4a, socks5); parley for socks4, which carries IPv4 addresses only.
enum class ProxyDns { automatic, remote, local };

struct ProxyCredentials {
  std::string user;
  std::string password;
};

struct ProxySpec {
  ProxyType type = ProxyType::socks5;
  HostPort server;
  std::optional<ProxyCredentials> auth;  // HTTP Basic, SOCKS5 username/password, SOCKS4 user id.
  ProxyDns dns = ProxyDns::automatic;
};

// "http", "socks4", "socks4a", "socks5", and OpenBSD nc's -X spellings "connect", "4", "5".
std::optional<ProxyType> parse_proxy_type(std::string_view text);
const char* proxy_type_name(ProxyType type);  // "http", "socks4", ...
// The port a proxy of this type usually listens on (3128 for http, 1080 for SOCKS).
std::uint16_t default_proxy_port(ProxyType type);

// ---- Errors -----------------------------------------------------------------------------------

enum class ProxyErrc {
  closed = 1,            // The proxy closed the connection during the handshake.
  reset,                 // ...or reset it.
  malformed_reply,       // The reply is not the protocol's.
  reply_too_long,        // An HTTP reply header beyond kMaxHttpReply bytes.
  auth_required,         // SOCKS5: no method without authentication is acceptable (0xFF).
  no_acceptable_method,  // SOCKS5: none of the offered methods, password included (0xFF).
  wrong_method,          // SOCKS5: the proxy chose a method that was not offered.
  needs_ipv4,            // SOCKS4 carries IPv4 addresses only (not a name, not IPv6).
  name_too_long,         // SOCKS names are at most 255 bytes.
  bad_target,            // A target name with spaces or control characters.
  credentials_too_long,  // SOCKS5 user and password are at most 255 bytes each.
  proxy_not_resolved,    // The proxy's own name did not resolve.
};

const std::error_category& proxy_category() noexcept;
std::error_code make_error_code(ProxyErrc e) noexcept;

// The proxy's answers as error codes (all in proxy_category()).
std::error_code proxy_http_status(int status, bool sent_credentials);
std::error_code proxy_socks4_reply(int code);
std::error_code proxy_socks5_reply(int code);
std::error_code proxy_socks5_auth_status(int status);
// Connecting to the proxy itself failed with this system error ("cannot reach the proxy: ...").
std::error_code proxy_unreachable(const std::error_code& cause);

// Failures that are the command line's, not the network's (exit 2): a target the protocol cannot
// carry, names or credentials too long, a proxy name that does not resolve.
bool is_proxy_usage_error(const std::error_code& ec) noexcept;
// For SOCKS reply codes and HTTP statuses: the target itself refused (SOCKS5 reply 5, SOCKS4 91,
// HTTP 502/503/504 and the like), as opposed to the proxy refusing us. The scanner calls such a
// port closed rather than aborting the scan.
bool is_proxy_target_refusal(const std::error_code& ec) noexcept;
// The proxy could not reach the target or will not let us (network/host unreachable, TTL
// expired, not allowed by ruleset, HTTP 403 or 504): a scan calls the port filtered.
bool is_proxy_target_filtered(const std::error_code& ec) noexcept;

// ---- Pure request builders and reply parsers --------------------------------------------------

inline constexpr std::size_t kMaxHttpReply = 16 * 1024;

struct ReplyParse {
  bool complete = false;     // False: more bytes are needed (and error is clear).
  std::size_t consumed = 0;  // Bytes of the reply; what follows belongs to the tunnel.
  std::error_code error;     // The proxy said no, or the reply is malformed.
  int value = 0;             // SOCKS5 method reply: the chosen method; HTTP: the status.
  std::size_t needed = 0;    // Incomplete: the reply is at least this many bytes in all.
};

// "CONNECT host:port HTTP/1.1" with Host and, given credentials, Proxy-Authorization: Basic.
Result<std::string> http_connect_request(const HostPort& target, const ProxyCredentials* auth);
// Status line, headers, empty line (CRLF or bare LF). 2xx is success.
ReplyParse parse_http_connect_reply(std::string_view data, bool sent_credentials);

// SOCKS4: target.host must be an IPv4 literal; SOCKS4a (socks4a = true) also takes a name.
Result<std::string> socks4_request(const HostPort& target, std::string_view user_id, bool socks4a);
ReplyParse parse_socks4_reply(std::string_view data);  // 8 bytes, reply 90 = granted.

std::string socks5_greeting(bool offer_password);
Result<std::string> socks5_password_request(const ProxyCredentials& auth);
Result<std::string> socks5_connect_request(const HostPort& target);  // IPv4, IPv6 or a name.
ReplyParse parse_socks5_method_reply(std::string_view data, bool offered_password);
ReplyParse parse_socks5_password_reply(std::string_view data);
ReplyParse parse_socks5_connect_reply(std::string_view data);  // Variable length (bound address).

std::string base64_encode(std::string_view data);

// ---- The handshake as a state machine ---------------------------------------------------------

class ProxyHandshake {
 public:
  // target.host is an address literal, or a name for the proxy to resolve (not with socks4).
  static Result<ProxyHandshake> begin(ProxyType type, const HostPort& target,
                                      const std::optional<ProxyCredentials>& auth);

  // Bytes to send now (empty while waiting for a reply); sent(n) marks n of them as gone.
  std::string_view to_send() const { return std::string_view(out_).substr(out_done_); }
  void sent(std::size_t n) { out_done_ += n; }

  // Offers the bytes received and not yet consumed. Returns how many belong to the handshake
  // (0: the reply is incomplete, offer more later); bytes after the last reply belong to the
  // tunnel. Errors are the proxy's answer or a malformed reply.
  Result<std::size_t> feed(std::string_view received);
  bool done() const { return step_ == Step::done; }

 private:
  enum class Step { http_reply, socks4_reply, socks5_method, socks5_password, socks5_reply, done };
  ProxyHandshake() = default;
  void queue(std::string bytes);

  Step step_ = Step::done;
  std::string out_;
  std::size_t out_done_ = 0;
  bool with_password_ = false;
  std::string connect_request_;  // SOCKS5: sent once authentication is settled.
  std::optional<ProxyCredentials> auth_;
};

}  // namespace parley

template <>
struct std::is_error_code_enum<parley::ProxyErrc> : std::true_type {};
