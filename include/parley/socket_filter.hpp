#pragma once
// ss's filter language (ss(8), "FILTER"), for `parley conns`: leading state keywords, then an
// expression over the sockets' addresses and ports.
//
//   state established | connected | synchronized | bucket | big | all | <state>  (repeatable)
//   exclude <state>
//   src|dst [=] [FAMILY:]ADDRESS[/PREFIX][:PORT]   ADDRESS: IPv4 (also short, "10.1/16"),
//                                                  [IPv6], a host name, *; unix:GLOB for paths
//   sport|dport OP [FAMILY:][:]PORT                OP: = == eq != ne neq < lt <= le leq > gt
//                                                  >= ge geq; PORT: number, service name or *
//   dev [=|!=] NAME|INDEX   fwmark [=|!=] MARK[/MASK]   cgroup [=|!=] PATH   autobound
//   ( ... )   not | !   and | && | &   or | || | |   (juxtaposition means and)
//
// As in ss, `and` and `or` bind equally and group from the left: `a or b and c` means
// `(a or b) and c` (ss's grammar, whatever its manual says); `not` binds tighter. Tokens are
// separated by spaces inside each argument, so a filter may come as one quoted argument or many.
//
// Matching follows the kernel's inet_diag bytecode (which is what ss's rows come from): an IPv4
// condition also matches the IPv4-mapped addresses of IPv6 sockets; an IPv6 one matches only
// IPv6 sockets. compile() turns the expression into that bytecode (INET_DIAG_REQ_BYTECODE) so
// the kernel drops non-matching inet sockets before they are copied out; matches() is the same
// test in user space, for Unix sockets, /proc and recordings, and as ss does it, after the kernel.
//
// Pure values; any thread. Host names and services are resolved once, at parse time.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parley/result.hpp"
#include "parley/socket_table.hpp"

namespace parley {

struct FilterContext {
  int default_family = 0;        // ss's -f: AF_INET (-4), AF_INET6 (-6), AF_UNIX (only -x), else 0.
  bool tcp = true, udp = false;  // Which services a port name may mean (ambiguity is an error).
  bool resolve = true;           // Look host names up (DNS); false: numeric addresses only.
  std::uint16_t ephemeral_low = 32768, ephemeral_high = 60999;  // For `autobound` in user space.
};

class SocketFilter {
 public:
  // The states that `state` / `exclude` keywords selected, if any were given.
  std::optional<std::uint32_t> states;
  // Families named by FAMILY: prefixes (AF_INET / AF_INET6 / AF_UNIX); like ss, naming one
  // limits the listing to those families. Empty: no restriction.
  std::vector<int> families;

  bool has_expression() const { return root_ >= 0; }
  bool matches(const SocketRecord& r) const;
  // INET_DIAG_REQ_BYTECODE payload; empty when there is no expression or when part of it cannot
  // run in the kernel (a Unix path glob): then only matches() filters.
  std::string compile() const;
  // Whether any socket of this family (AF_INET, AF_INET6, AF_UNIX) can match: `dst [::1]`
  // rules out every IPv4 socket, so that dump need not be asked for at all.
  bool may_match(int family) const { return root_ < 0 || possible(root_, family) != kNever; }

  struct Prefix {
    int family;  // AF_INET or AF_INET6.
    int length;  // Bits that must match.
    std::array<std::uint8_t, 16> bytes;
  };
  struct Host {
    int family = 0;  // Without prefixes: AF_UNSPEC, or the family a FAMILY: prefix named.
    std::vector<Prefix> prefixes;  // Any of them matches (a host name may have several).
    int port = -1;                 // -1: any.
    bool is_unix = false;          // A Unix path pattern (fnmatch, case-insensitive, as ss).
    std::string glob;
  };
  enum class Op : std::uint8_t {
    src,
    dst,
    sport_ge,
    sport_le,
    dport_ge,
    dport_le,
    autobound,
    dev,
    mark,
    cgroup,
    op_and,
    op_or,
    op_not
  };
  struct Node {
    explicit Node(Op o) : op(o) {}
    Op op;
    int left = -1, right = -1;          // Children (op_and, op_or; op_not uses left).
    Host host;                          // src, dst.
    std::uint32_t value = 0, mask = 0;  // Port (sport_ge ...), ifindex, mark/mask.
    std::uint64_t id = 0;               // cgroup id.
  };

 private:
  friend Result<SocketFilter> parse_socket_filter(const std::vector<std::string>&,
                                                  const FilterContext&, std::string*);
  friend class FilterParser;
  enum Possible { kNever, kMaybe, kAlways };
  Possible possible(int node, int family) const;
  bool eval(int node, const SocketRecord& r) const;
  bool compile(int node, std::string* out) const;
  std::vector<Node> nodes_;
  int root_ = -1;
  FilterContext context_;
};

// Parses the trailing arguments of `parley conns`. Errors: std::errc::invalid_argument, with
// *why naming the word and what was expected ("after 'sport >': expected a port, got 'x'").
Result<SocketFilter> parse_socket_filter(const std::vector<std::string>& args,
                                         const FilterContext& context, std::string* why);

// The ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range), for FilterContext.
std::pair<std::uint16_t, std::uint16_t> ephemeral_ports();

}  // namespace parley
