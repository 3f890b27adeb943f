#pragma once
// Access control for servers (--allow, --deny, --allowfile, --denyfile): which client addresses
// may connect. Rules are IPv4 and IPv6 addresses and CIDR prefixes; host names are resolved once,
// when the list is built. An IPv4-mapped IPv6 client (::ffff:a.b.c.d, as a dual-stack socket
// reports IPv4 clients) is matched as the IPv4 address it is.
//
// Decision: deny wins. A client matching any deny rule is refused; otherwise, when there are allow
// rules, it must match one of them; with no allow rules everything not denied is allowed. (ncat's
// man page and its guide disagree on this; parley states it in --help.)
//
// Thread-safety: build on one thread, then check() from any number of threads (read-only).

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"

namespace parley {

class AccessList {
 public:
  // Turns a host name into its addresses. The default is the system's resolver (DNS); tests and
  // the fuzz target pass their own, so that building a list never asks the network.
  using Resolver = std::function<Result<std::vector<SocketAddress>>(const std::string& host)>;
  AccessList() = default;
  explicit AccessList(Resolver resolver) : resolver_(std::move(resolver)) {}

  // Adds rules from a comma-separated list ("10.0.0.0/8,::1,example.org"). Errors:
  // std::errc::invalid_argument for a malformed address or prefix (error_text() says which),
  // Errc::name_not_resolved for a host name that does not resolve.
  std::error_code allow(std::string_view list);
  std::error_code deny(std::string_view list);
  // Adds rules from a file: one rule per line, '#' starts a comment, blank lines ignored.
  // Errors as above, or the errno of opening/reading the file.
  std::error_code allow_file(const std::string& path);
  std::error_code deny_file(const std::string& path);
  // The rule text that the last error was about.
  const std::string& error_text() const { return error_text_; }

  bool empty() const { return allow_.empty() && deny_.empty(); }

  struct Verdict {
    bool allowed;
    // The rule that decided, as the user wrote it ("deny 10.0.0.0/8"), or why nothing matched
    // ("not in any --allow rule"); empty when allowed with no rule involved.
    std::string_view rule;
  };
  Verdict check(const sockaddr* address) const;

 private:
  struct Rule {
    int family;              // AF_INET or AF_INET6.
    std::uint8_t bytes[16];  // Network order; the first 4 for IPv4.
    int prefix;              // Bits that must match.
    std::string text;        // "deny 10.0.0.0/8", for the log.
  };
  std::error_code add(std::vector<Rule>& rules, std::string_view list, const char* verb);
  std::error_code add_one(std::vector<Rule>& rules, std::string_view item, const char* verb);
  std::error_code add_file(std::vector<Rule>& rules, const std::string& path, const char* verb);
  static bool matches(const Rule& rule, int family, const std::uint8_t* bytes);

  Resolver resolver_;  // Empty: resolve().
  std::vector<Rule> allow_, deny_;
  std::string error_text_;
};

}  // namespace parley
