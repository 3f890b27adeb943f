// The parser of ss's filter language (see socket_filter.hpp): a lexer that splits arguments as
// ss does, leading state keywords, and a recursive descent over ss's grammar (and/or bind
// equally, left to right; juxtaposition is and; not binds tightest).

#include <arpa/inet.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

#include <fmt/format.h>

#include "filter_words.hpp"
#include "parley/socket_filter.hpp"

namespace parley {

using namespace detail;  // The words of the language (filter_words.hpp).

class FilterParser {
 public:
  FilterParser(std::vector<std::string> words, const FilterContext& ctx, SocketFilter* f,
               std::string* why)
      : words_(std::move(words)), ctx_(ctx), f_(f), why_(why) {}

  bool run() {
    if (!states()) return false;
    if (at_ >= words_.size()) return true;
    int root = exprlist();
    if (root < 0) return false;
    if (at_ < words_.size())
      return fail(words_[at_] == ")" ? "')' without a matching '('"
                                     : fmt::format("unexpected '{}'", words_[at_]));
    f_->root_ = root;
    return true;
  }

 private:
  bool fail(std::string message) {
    *why_ = std::move(message);
    return false;
  }
  const std::string* peek() const { return at_ < words_.size() ? &words_[at_] : nullptr; }
  std::string next_or_end() const {
    return at_ < words_.size() ? "'" + words_[at_] + "'" : "the end";
  }

  // Leading `state NAME` / `exclude NAME` words, as ss reads them.
  bool states() {
    while (at_ < words_.size() && is_one_of(words_[at_], {"state", "exclude", "excl"})) {
      bool exclude = words_[at_] != "state";
      if (at_ + 1 >= words_.size())
        return fail(fmt::format("'{}' needs a state name", words_[at_]));
      auto bits = parse_states(words_[at_ + 1]);
      if (!bits)
        return fail(fmt::format(
            "unknown state '{}'; use one of: established, syn-sent, syn-recv, fin-wait-1, "
            "fin-wait-2, time-wait, closed, close-wait, last-ack, listening, closing, all, "
            "connected, synchronized, bucket, big",
            words_[at_ + 1]));
      if (!f_->states) f_->states = exclude ? kAllStates : 0;
      if (exclude)
        *f_->states &= ~*bits;
      else
        *f_->states |= *bits;
      at_ += 2;
    }
    return true;
  }

  int add(SocketFilter::Node n) {
    if (f_->nodes_.size() >= kMaxNodes)
      return fail(fmt::format("the filter has more than {} terms", kMaxNodes)), -1;
    f_->nodes_.push_back(std::move(n));
    return static_cast<int>(f_->nodes_.size() - 1);
  }
  int binary(SocketFilter::Op op, int l, int r) {
    SocketFilter::Node n(op);
    n.left = l;
    n.right = r;
    return add(std::move(n));
  }
  int negate(int e) { return binary(SocketFilter::Op::op_not, e, -1); }

  int exprlist() {
    int left = expr();
    while (left >= 0 && peek() != nullptr) {
      const std::string& w = *peek();
      SocketFilter::Op op = SocketFilter::Op::op_and;
      if (is_or(w)) {
        op = SocketFilter::Op::op_or;
        ++at_;
      } else if (is_and(w)) {
        ++at_;
      } else if (!(w == "(" || is_not(w) || is_predicate(w))) {
        break;  // ")" or a stray word: the caller decides.
      }
      int right = expr();
      if (right < 0) return -1;
      left = binary(op, left, right);
    }
    return left;
  }

  int expr() {
    if (peek() == nullptr) return fail("the filter ends where a condition was expected"), -1;
    if (depth_ >= kMaxDepth)
      return fail(fmt::format("the filter nests '(' and 'not' more than {} deep", kMaxDepth)), -1;
    ++depth_;
    int e = expr_at_depth();
    --depth_;
    return e;
  }

  int expr_at_depth() {
    std::string w = words_[at_++];
    if (w == "(") {
      int e = exprlist();
      if (e < 0) return -1;
      if (peek() == nullptr || *peek() != ")") return fail("'(' without a matching ')'"), -1;
      ++at_;
      return e;
    }
    if (is_not(w)) {
      int e = expr();
      return e < 0 ? -1 : negate(e);
    }
    if (w == "src" || w == "dst") return address(w);
    if (w == "sport" || w == "dport") return port(w);
    if (w == "dev" || w == "fwmark" || w == "cgroup") return keyed(w);
    if (w == "autobound") return add(SocketFilter::Node(SocketFilter::Op::autobound));
    if (w.size() > 1 && (w[0] == '(' || w.back() == ')'))
      return fail(fmt::format("'{}': put spaces around parentheses, e.g. '( dport = :22 )'", w)),
             -1;
    return fail(fmt::format("unknown word '{}' (expected src, dst, sport, dport, dev, fwmark, "
                            "cgroup, autobound, not or '(')",
                            w)),
           -1;
  }

  // The value after a keyword and its optional comparison word.
  bool value(const std::string& key, Cmp* cmp, std::string* out) {
    *cmp = peek() ? comparison(*peek()) : Cmp::none;
    std::string before = key;
    if (*cmp != Cmp::none) before += " " + words_[at_++];
    if (peek() == nullptr || comparison(*peek()) != Cmp::none || is_and(*peek()) ||
        is_or(*peek()) || *peek() == "(" || *peek() == ")")
      return fail(fmt::format("after '{}': expected a value, got {}", before, next_or_end()));
    *out = words_[at_++];
    return true;
  }

  int address(const std::string& key) {
    Cmp cmp;
    std::string text;
    if (!value(key, &cmp, &text)) return -1;
    if (cmp != Cmp::eq && cmp != Cmp::none)
      return fail(fmt::format("'{}' takes '=' or nothing before the address", key)), -1;
    SocketFilter::Node n(key == "src" ? SocketFilter::Op::src : SocketFilter::Op::dst);
    if (!host(text, false, &n.host)) return -1;
    return add(std::move(n));
  }

  int port(const std::string& key) {
    Cmp cmp;
    std::string text;
    if (!value(key, &cmp, &text)) return -1;
    SocketFilter::Host h;
    if (!host(text, true, &h)) return -1;
    bool source = key == "sport";
    using Op = SocketFilter::Op;
    if (cmp == Cmp::eq || cmp == Cmp::none || cmp == Cmp::ne) {
      SocketFilter::Node n(source ? Op::src : Op::dst);
      n.host = std::move(h);
      int e = add(std::move(n));
      return cmp == Cmp::ne ? negate(e) : e;
    }
    if (h.port < 0) return fail(fmt::format("'{} {}' needs a port number", key, text)), -1;
    // As ss: a > b is not (a <= b), a < b is not (a >= b).
    bool ge = cmp == Cmp::ge || cmp == Cmp::lt;
    SocketFilter::Node n(source ? (ge ? Op::sport_ge : Op::sport_le)
                                : (ge ? Op::dport_ge : Op::dport_le));
    n.value = static_cast<std::uint32_t>(h.port);
    int e = add(std::move(n));
    return (cmp == Cmp::gt || cmp == Cmp::lt) ? negate(e) : e;
  }

  int keyed(const std::string& key) {
    Cmp cmp;
    std::string text;
    if (!value(key, &cmp, &text)) return -1;
    if (cmp != Cmp::eq && cmp != Cmp::ne && cmp != Cmp::none)
      return fail(fmt::format("'{}' takes '=' or '!='", key)), -1;
    using Op = SocketFilter::Op;
    SocketFilter::Node n(key == "dev" ? Op::dev : key == "fwmark" ? Op::mark : Op::cgroup);
    if (key == "dev") {
      n.value = if_nametoindex(text.c_str());
      if (n.value == 0) {
        auto v = integer(text);
        if (!v || *v > 0xffffffffL)
          return fail(fmt::format("dev '{}': no such network interface", text)), -1;
        n.value = static_cast<std::uint32_t>(*v);
      }
    } else if (key == "fwmark") {
      auto slash = text.find('/');
      auto mark = integer(text.substr(0, slash));
      auto mask = slash == std::string::npos ? std::optional<long>(0xffffffffL)
                                             : integer(text.substr(slash + 1));
      if (!mark || !mask || *mark > 0xffffffffL || *mask > 0xffffffffL)
        return fail(fmt::format("fwmark '{}': expected MARK or MARK/MASK", text)), -1;
      n.value = static_cast<std::uint32_t>(*mark);
      n.mask = static_cast<std::uint32_t>(*mask);
    } else {
      auto id = cgroup_id_of(text);
      if (!id) return fail(fmt::format("cgroup '{}': no such cgroup (v2)", text)), -1;
      n.id = *id;
    }
    int e = add(std::move(n));
    return cmp == Cmp::ne ? negate(e) : e;
  }

  bool port_value(const std::string& text, int* port) {
    if (text.empty() || text == "*") return true;
    if (auto v = integer(text)) {
      if (*v > 65535) return fail(fmt::format("port '{}' is over 65535", text));
      *port = static_cast<int>(*v);
      return true;
    }
    int tcp = -1, udp = -1;
    if (ctx_.tcp)
      if (const servent* s = getservbyname(text.c_str(), "tcp")) tcp = ntohs(s->s_port);
    if (ctx_.udp)
      if (const servent* s = getservbyname(text.c_str(), "udp")) udp = ntohs(s->s_port);
    if (tcp >= 0 && udp >= 0 && tcp != udp)
      return fail(fmt::format("port '{}' is ambiguous: {} for TCP, {} for UDP", text, tcp, udp));
    *port = tcp >= 0 ? tcp : udp;
    if (*port < 0) return fail(fmt::format("'{}' is neither a port number nor a service", text));
    return true;
  }

  // [FAMILY:]ADDRESS[/PREFIX][:PORT] (is_port: [FAMILY:][:]PORT), as ss's parse_hostcond.
  bool host(const std::string& word, bool is_port, SocketFilter::Host* h) {
    int family = ctx_.default_family;
    std::string text(strip_family(word, &family));
    if (family < 0)
      return fail(fmt::format("'{}': parley lists TCP, UDP and Unix sockets only", word));
    if (family != ctx_.default_family) remember_family(family);
    if (family == AF_UNIX) {
      if (is_port) return fail(fmt::format("'{}': Unix sockets have no ports", word));
      h->is_unix = true;
      h->glob = text;
      return true;
    }
    std::string addr = text, port_text;
    if (is_port) {
      addr.clear();
      port_text = text;
    } else if (!text.empty() && text[0] == '[') {
      auto close = text.find(']');
      if (close == std::string::npos) return fail(fmt::format("'{}': missing ']'", word));
      addr = text.substr(1, close - 1);
      port_text = text.substr(close + 1);
    } else if (!text.empty() && text[0] == '*') {
      addr.clear();
      port_text = text.substr(1);
    } else {
      auto slash = text.find('/');
      auto colon = text.rfind(':');
      if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        addr = text.substr(0, colon);
        port_text = text.substr(colon);
      }
    }
    if (!port_text.empty() && port_text[0] == ':') port_text.erase(0, 1);
    if (!port_value(port_text, &h->port)) return false;
    h->family = family == AF_INET || family == AF_INET6 ? family : 0;
    if (addr.empty() || addr == "*" || is_one_of(addr, {"any", "all", "default"})) return true;
    return address_value(addr, family, word, h);
  }

  bool address_value(const std::string& text, int family, const std::string& word,
                     SocketFilter::Host* h) {
    std::string addr = text;
    std::string prefix;
    if (auto slash = text.find('/'); slash != std::string::npos) {
      addr = text.substr(0, slash);
      prefix = text.substr(slash + 1);
    }
    SocketFilter::Prefix p{0, 0, {}};
    if (addr.find(':') != std::string::npos && family != AF_INET) {
      if (inet_pton(AF_INET6, addr.c_str(), p.bytes.data()) == 1) p.family = AF_INET6;
    } else if (family != AF_INET6 && parse_ipv4(addr, p.bytes.data())) {
      p.family = AF_INET;
    }
    if (p.family == 0 && (family == AF_INET || family == AF_INET6)) {
      std::array<std::uint8_t, 16> other{};
      bool v6 = addr.find(':') != std::string::npos;
      if (v6 ? inet_pton(AF_INET6, addr.c_str(), other.data()) == 1
             : parse_ipv4(addr, other.data()))
        return fail(
            fmt::format("'{}': {} is an {} address, but the filter is for {} (-4, -6 or "
                        "a FAMILY: prefix)",
                        word, addr, v6 ? "IPv6" : "IPv4", v6 ? "IPv4" : "IPv6"));
    }
    if (p.family == 0) {
      if (!prefix.empty() || !ctx_.resolve)
        return fail(fmt::format("'{}': an address is expected here, not '{}'", word, addr));
      return resolve(addr, family, word, h);
    }
    int max = p.family == AF_INET ? 32 : 128;
    p.length = max;
    if (!prefix.empty()) {
      auto n = integer(prefix);
      std::array<std::uint8_t, 16> mask{};
      if (n && *n <= max) {
        p.length = static_cast<int>(*n);
      } else if (p.family == AF_INET && prefix.find('.') != std::string::npos &&
                 parse_ipv4(prefix, mask.data())) {
        std::uint32_t m = (std::uint32_t{mask[0]} << 24) | (std::uint32_t{mask[1]} << 16) |
                          (std::uint32_t{mask[2]} << 8) | mask[3];
        int bits = __builtin_popcount(m);
        if (m != (bits == 0 ? 0u : ~0u << (32 - bits)))
          return fail(fmt::format("'{}': {} is not a netmask", word, prefix));
        p.length = bits;
      } else {
        return fail(fmt::format("'{}': prefix length '{}' is not 0..{}", word, prefix, max));
      }
    }
    h->prefixes.push_back(p);
    return true;
  }

  // A host name: every address it has (of the FAMILY: prefix's family, if one was given).
  bool resolve(const std::string& name, int family, const std::string& word,
               SocketFilter::Host* h) {
    addrinfo hints{};
    hints.ai_family = family == AF_INET || family == AF_INET6 ? family : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    if (getaddrinfo(name.c_str(), nullptr, &hints, &list) != 0 || list == nullptr)
      return fail(
          fmt::format("'{}': '{}' is neither an address nor a known host name", word, name));
    for (addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
      SocketFilter::Prefix p{ai->ai_family, ai->ai_family == AF_INET ? 32 : 128, {}};
      if (ai->ai_family == AF_INET)
        std::memcpy(p.bytes.data(), &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
      else if (ai->ai_family == AF_INET6)
        std::memcpy(p.bytes.data(), &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, 16);
      else
        continue;
      bool seen = false;
      for (const auto& q : h->prefixes) seen |= q.family == p.family && q.bytes == p.bytes;
      if (!seen) h->prefixes.push_back(p);
    }
    freeaddrinfo(list);
    if (h->prefixes.empty())
      return fail(fmt::format("'{}': '{}' has no IPv4 or IPv6 address", word, name));
    return true;
  }

  void remember_family(int family) {
    for (int f : f_->families)
      if (f == family) return;
    f_->families.push_back(family);
  }

  std::vector<std::string> words_;
  std::size_t at_ = 0;
  // The parser, the compiler and the matcher recurse over the tree: bounded, so that no filter
  // can overflow the stack (ss stops with "memory exhausted" too). ss's own filters are a few
  // dozen terms.
  static constexpr int kMaxDepth = 100;
  static constexpr std::size_t kMaxNodes = 2000;
  int depth_ = 0;
  FilterContext ctx_;
  SocketFilter* f_;
  std::string* why_;
};

Result<SocketFilter> parse_socket_filter(const std::vector<std::string>& args,
                                         const FilterContext& context, std::string* why) {
  SocketFilter f;
  f.context_ = context;
  FilterParser parser(split_words(args), context, &f, why);
  if (!parser.run()) return std::make_error_code(std::errc::invalid_argument);
  return f;
}

}  // namespace parley
