#include "parley/ports.hpp"

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <bitset>
#include <cctype>
#include <charconv>

#include "parley/errors.hpp"

namespace parley {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

// A printable, bounded rendering of an item for messages (the input may be anything).
std::string shown(std::string_view item) {
  std::string out;
  for (unsigned char c : item.substr(0, 40)) out += std::isprint(c) ? static_cast<char>(c) : '?';
  if (item.size() > 40) out += "...";
  return out;
}

// One end of a range: a number 1..65535 or a service name.
Result<std::uint16_t> one_port(std::string_view text, const ServiceLookup& services,
                               std::string* why) {
  auto fail = [&](std::string reason) -> Result<std::uint16_t> {
    if (why) *why = std::move(reason);
    return Errc::bad_port_list;
  };
  if (text.empty()) return fail("empty port");
  if (all_digits(text)) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || value < 1 || value > 65535)
      return fail("'" + shown(text) + "' is not a port (1-65535)");
    return static_cast<std::uint16_t>(value);
  }
  const bool name_like = std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '+' || c == '/';
  });
  if (!name_like || text.size() > 64 || !services)
    return fail("'" + shown(text) + "' is not a port or a service name");
  auto port = services(text);
  if (!port || *port == 0) return fail("unknown service '" + shown(text) + "'");
  return *port;
}

}  // namespace

Result<std::vector<std::uint16_t>> parse_port_list(std::string_view text,
                                                   const ServiceLookup& services,
                                                   std::string* why) {
  std::vector<std::uint16_t> out;
  std::bitset<65536> seen;
  auto add = [&](unsigned lo, unsigned hi) {
    for (unsigned p = lo; p <= hi; ++p) {
      if (seen[p]) continue;
      seen[p] = true;
      out.push_back(static_cast<std::uint16_t>(p));
    }
  };
  if (text.empty()) {
    if (why) *why = "no ports given";
    return Errc::bad_port_list;
  }
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (item.empty()) {
      if (why) *why = "empty item in the port list";
      return Errc::bad_port_list;
    }
    // A range has a dash between two numbers, or at one end ("-1024", "8000-"). Service names may
    // contain dashes too ("kerberos-adm"), so a dash splits only where both sides are numbers or
    // empty; otherwise the whole item is one name.
    std::size_t dash = item.find('-');
    std::string_view lo_text = dash == std::string_view::npos ? item : item.substr(0, dash);
    std::string_view hi_text = dash == std::string_view::npos ? item : item.substr(dash + 1);
    const bool range = dash != std::string_view::npos && (lo_text.empty() || all_digits(lo_text)) &&
                       (hi_text.empty() || all_digits(hi_text)) && item.size() > 1;
    if (range) {
      unsigned lo = 1, hi = 65535;
      if (!lo_text.empty()) {
        auto p = one_port(lo_text, services, why);
        if (!p) return p.error();
        lo = *p;
      }
      if (!hi_text.empty()) {
        auto p = one_port(hi_text, services, why);
        if (!p) return p.error();
        hi = *p;
      }
      if (lo > hi) std::swap(lo, hi);
      add(lo, hi);
    } else {
      auto p = one_port(item, services, why);
      if (!p) return p.error();
      add(*p, *p);
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<std::uint16_t> system_service_port(std::string_view name, const char* proto) {
  std::string n(name);
  servent entry{}, *found = nullptr;
  char buf[4096];
  if (getservbyname_r(n.c_str(), proto, &entry, buf, sizeof(buf), &found) != 0 || !found)
    return std::nullopt;
  return ntohs(static_cast<std::uint16_t>(found->s_port));
}

std::string system_service_name(std::uint16_t port, const char* proto) {
  servent entry{}, *found = nullptr;
  char buf[4096];
  if (getservbyport_r(htons(port), proto, &entry, buf, sizeof(buf), &found) != 0 || !found)
    return {};
  return found->s_name;
}

}  // namespace parley
