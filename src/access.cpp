#include "parley/access.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <fstream>

#include "parley/endpoint.hpp"
#include "parley/errors.hpp"

namespace parley {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The address a client really is: an IPv4-mapped IPv6 address becomes its IPv4 address.
int normalise(const sockaddr* sa, std::uint8_t* bytes) {
  if (sa->sa_family == AF_INET) {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return AF_INET;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* a = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) {
      std::memcpy(bytes, a->s6_addr + 12, 4);
      return AF_INET;
    }
    std::memcpy(bytes, a->s6_addr, 16);
    return AF_INET6;
  }
  return AF_UNSPEC;
}

}  // namespace

std::error_code AccessList::allow(std::string_view list) {
  return add(allow_, list, "allow");
}
std::error_code AccessList::deny(std::string_view list) {
  return add(deny_, list, "deny");
}
std::error_code AccessList::allow_file(const std::string& path) {
  return add_file(allow_, path, "allow");
}
std::error_code AccessList::deny_file(const std::string& path) {
  return add_file(deny_, path, "deny");
}

std::error_code AccessList::add(std::vector<Rule>& rules, std::string_view list, const char* verb) {
  while (true) {
    std::size_t comma = list.find(',');
    std::string_view item = trim(list.substr(0, comma));
    if (item.empty()) {
      error_text_ = std::string(list);
      return std::make_error_code(std::errc::invalid_argument);
    }
    if (auto ec = add_one(rules, item, verb)) return ec;
    if (comma == std::string_view::npos) return {};
    list.remove_prefix(comma + 1);
  }
}

std::error_code AccessList::add_file(std::vector<Rule>& rules, const std::string& path,
                                     const char* verb) {
  std::ifstream in(path);
  if (!in) {
    error_text_ = path;
    return last_error();
  }
  std::string line;
  while (std::getline(in, line)) {
    std::string_view item = trim(std::string_view(line).substr(0, line.find('#')));
    if (item.empty()) continue;
    if (auto ec = add_one(rules, item, verb)) return ec;
  }
  if (in.bad()) {
    error_text_ = path;
    return std::make_error_code(std::errc::io_error);
  }
  return {};
}

// One rule: an address, an address/prefix, or a host name (every address it resolves to).
std::error_code AccessList::add_one(std::vector<Rule>& rules, std::string_view item,
                                    const char* verb) {
  error_text_ = std::string(item);
  std::string text = std::string(verb) + " " + std::string(item);
  std::size_t slash = item.find('/');
  std::string host(item.substr(0, slash));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  Rule rule{};
  rule.text = text;
  if (inet_pton(AF_INET, host.c_str(), rule.bytes) == 1) {
    rule.family = AF_INET;
  } else if (inet_pton(AF_INET6, host.c_str(), rule.bytes) == 1) {
    rule.family = AF_INET6;
    if (IN6_IS_ADDR_V4MAPPED(reinterpret_cast<const in6_addr*>(rule.bytes))) {
      std::memmove(rule.bytes, rule.bytes + 12, 4);  // ::ffff:10.0.0.1 means 10.0.0.1.
      rule.family = AF_INET;
    }
  } else if (slash == std::string_view::npos && !host.empty() &&
             host.find_first_of(" :/") == std::string::npos) {
    auto addresses =
        resolver_ ? resolver_(host) : resolve(host, 0, {Family::any, false, SOCK_STREAM, false});
    if (!addresses) return addresses.error();
    for (const auto& a : *addresses) {
      Rule r{};
      r.text = text;
      r.family = normalise(a.get(), r.bytes);
      r.prefix = r.family == AF_INET ? 32 : 128;
      rules.push_back(std::move(r));
    }
    return {};
  } else {
    return std::make_error_code(std::errc::invalid_argument);
  }
  const bool written_v6 = host.find(':') != std::string::npos;
  const int bits = written_v6 ? 128 : 32;
  rule.prefix = rule.family == AF_INET ? 32 : 128;
  if (slash != std::string_view::npos) {
    std::string_view p = item.substr(slash + 1);
    int prefix = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || prefix < 0 || prefix > bits)
      return std::make_error_code(std::errc::invalid_argument);
    // An IPv4 rule written as a mapped IPv6 prefix (::ffff:10.0.0.0/112) keeps its meaning.
    if (rule.family == AF_INET && written_v6) prefix -= 96;
    if (prefix < 0) return std::make_error_code(std::errc::invalid_argument);
    rule.prefix = prefix;
  }
  rules.push_back(std::move(rule));
  return {};
}

bool AccessList::matches(const Rule& rule, int family, const std::uint8_t* bytes) {
  if (rule.family != family) return false;
  int full = rule.prefix / 8, rest = rule.prefix % 8;
  if (std::memcmp(rule.bytes, bytes, static_cast<std::size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (rule.bytes[full] & mask) == (bytes[full] & mask);
}

AccessList::Verdict AccessList::check(const sockaddr* address) const {
  std::uint8_t bytes[16];
  int family = normalise(address, bytes);
  if (family == AF_UNSPEC) return {true, {}};  // Unix sockets: the file's permissions decide.
  for (const auto& r : deny_)
    if (matches(r, family, bytes)) return {false, r.text};
  if (allow_.empty()) return {true, {}};
  for (const auto& r : allow_)
    if (matches(r, family, bytes)) return {true, r.text};
  return {false, "not in any --allow rule"};
}

}  // namespace parley
