// Running an ss filter expression: in user space (matches) with the kernel's inet_diag semantics,
// and compiled into inet_diag bytecode (compile) in ss's layout, so that the kernel skips
// non-matching sockets before copying them out.
//
// Bytecode (linux/inet_diag.h): a sequence of ops {code, yes, no}; a true condition advances by
// `yes`, a false one by `no`. Running off the end exactly means "match", 4 bytes past the end
// means "no match". A compiled sub-expression therefore has two exits: its end (true) and its
// end + 4 (false); and/or/not splice sub-expressions by moving those exits.

#include <fnmatch.h>
#include <linux/inet_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "parley/socket_filter.hpp"

namespace parley {
namespace {

bool prefix_match(const std::uint8_t* a, const std::uint8_t* b, int bits) {
  int bytes = bits / 8;
  if (std::memcmp(a, b, static_cast<std::size_t>(bytes)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

// inet_diag_bc_run's INET_DIAG_BC_S_COND / D_COND for one prefix (or none).
bool host_cond(int cond_family, const SocketFilter::Prefix* p, int port, int family,
               const std::uint8_t* addr, int sock_port) {
  if (port != -1 && port != sock_port) return false;
  if (cond_family != AF_UNSPEC && cond_family != family) {
    // An IPv4 condition also matches the IPv4-mapped addresses of IPv6 sockets.
    static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return family == AF_INET6 && cond_family == AF_INET && p != nullptr &&
           std::memcmp(addr, mapped, 12) == 0 &&
           prefix_match(addr + 12, p->bytes.data(), p->length);
  }
  if (p == nullptr || p->length == 0) return true;
  return prefix_match(addr, p->bytes.data(), p->length);
}

void put_op(std::string* out, std::uint8_t code, std::uint8_t yes, std::uint16_t no) {
  inet_diag_bc_op op{code, yes, no};
  out->append(reinterpret_cast<const char*>(&op), sizeof(op));
}

// Moves the "false" exit (len + 4) of the code at [start, start + len) by reloc bytes.
void relocate_false_exit(std::string* code, std::size_t start, std::size_t len, std::size_t reloc) {
  std::size_t at = 0;
  while (at < len) {
    inet_diag_bc_op op;
    std::memcpy(&op, code->data() + start + at, sizeof(op));
    if (op.no == len - at + 4) {
      op.no = static_cast<std::uint16_t>(op.no + reloc);
      std::memcpy(code->data() + start + at, &op, sizeof(op));
    }
    at += op.yes;
  }
}

bool host_ops(const SocketFilter::Host& h, bool source, std::string* out) {
  if (h.is_unix) return false;  // The kernel has no Unix path matching for inet sockets.
  std::uint8_t code = source ? INET_DIAG_BC_S_COND : INET_DIAG_BC_D_COND;
  std::size_t n = h.prefixes.empty() ? 1 : h.prefixes.size();
  std::size_t total = 0;
  for (std::size_t i = 0; i < n; ++i) {
    int fam = h.prefixes.empty() ? h.family : h.prefixes[i].family;
    total += sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) + (fam == AF_INET6 ? 16 : 4) +
             (i + 1 < n ? sizeof(inet_diag_bc_op) : 0);
  }
  if (total > 0xff00) return false;
  std::size_t start = out->size();
  for (std::size_t i = 0; i < n; ++i) {
    const SocketFilter::Prefix* p = h.prefixes.empty() ? nullptr : &h.prefixes[i];
    int fam = p ? p->family : h.family;
    std::size_t alen = fam == AF_INET6 ? 16 : 4;
    auto oplen =
        static_cast<std::uint8_t>(sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) + alen);
    put_op(out, code, oplen, static_cast<std::uint16_t>(oplen + 4));
    inet_diag_hostcond cond{};
    cond.family = static_cast<std::uint8_t>(fam);
    cond.prefix_len = static_cast<std::uint8_t>(p ? p->length : 0);
    cond.port = h.port;
    out->append(reinterpret_cast<const char*>(&cond), sizeof(cond));
    if (p)
      out->append(reinterpret_cast<const char*>(p->bytes.data()), alen);
    else
      out->append(alen, '\0');
    if (i + 1 < n)  // This prefix matched: jump to the end (true).
      put_op(out, INET_DIAG_BC_JMP, 4, static_cast<std::uint16_t>(total - (out->size() - start)));
  }
  return true;
}

}  // namespace

bool SocketFilter::matches(const SocketRecord& r) const {
  return root_ < 0 || eval(root_, r);
}

bool SocketFilter::eval(int index, const SocketRecord& r) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  const bool ux = is_unix(r.proto);
  // As in ss, a Unix socket's "ports" are its inode and its peer's inode.
  const long sport = ux ? static_cast<long>(r.inode) : r.local_port;
  const long dport = ux ? static_cast<long>(r.unix_peer) : r.peer_port;
  switch (n.op) {
    case Op::op_and:
      return eval(n.left, r) && eval(n.right, r);
    case Op::op_or:
      return eval(n.left, r) || eval(n.right, r);
    case Op::op_not:
      return !eval(n.left, r);
    case Op::src:
    case Op::dst: {
      const bool source = n.op == Op::src;
      const Host& h = n.host;
      if (h.is_unix) {
        if (!ux) return false;
        std::string name(source ? r.unix_name : std::string_view());  // ss knows no peer names.
        return fnmatch(h.glob.c_str(), name.c_str(), FNM_CASEFOLD) == 0;
      }
      if (ux)  // As in ss, a port compares with the inode (src) or the peer's inode (dst).
        return h.prefixes.empty() && h.family == 0 &&
               (h.port == -1 || h.port == (source ? sport : dport));
      const std::uint8_t* addr = source ? r.local.data() : r.peer.data();
      int port = source ? r.local_port : r.peer_port;
      if (h.prefixes.empty()) return host_cond(h.family, nullptr, h.port, r.family, addr, port);
      for (const auto& p : h.prefixes)
        if (host_cond(p.family, &p, h.port, r.family, addr, port)) return true;
      return false;
    }
    case Op::sport_ge:
      return sport >= n.value;
    case Op::sport_le:
      return sport <= n.value;
    case Op::dport_ge:
      return dport >= n.value;
    case Op::dport_le:
      return dport <= n.value;
    case Op::autobound:
      // The kernel knows (SOCK_BINDPORT_LOCK); user space guesses as ss does: an ephemeral port,
      // or an autobound Unix name ("@" and five hex digits).
      if (ux) {
        auto name = r.unix_name;
        return name.empty() || (name.size() == 6 && name[0] == '@' &&
                                name.find_first_not_of("0123456789abcdef", 1) == std::string::npos);
      }
      return r.local_port >= context_.ephemeral_low && r.local_port <= context_.ephemeral_high;
    case Op::dev:
      return r.iface == n.value;
    case Op::mark:
      return (r.mark & n.mask) == n.value;
    case Op::cgroup:
      return r.cgroup_id == n.id;
  }
  return false;
}

// Three-valued: can a socket of this family satisfy the node, must it, or can it not.
SocketFilter::Possible SocketFilter::possible(int index, int family) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  switch (n.op) {
    case Op::op_and: {
      Possible a = possible(n.left, family), b = possible(n.right, family);
      return a == kNever || b == kNever ? kNever : a == kAlways && b == kAlways ? kAlways : kMaybe;
    }
    case Op::op_or: {
      Possible a = possible(n.left, family), b = possible(n.right, family);
      return a == kAlways || b == kAlways ? kAlways : a == kNever && b == kNever ? kNever : kMaybe;
    }
    case Op::op_not: {
      Possible a = possible(n.left, family);
      return a == kAlways ? kNever : a == kNever ? kAlways : kMaybe;
    }
    case Op::src:
    case Op::dst: {
      const Host& h = n.host;
      if (h.is_unix) return family == AF_UNIX ? kMaybe : kNever;
      if (family == AF_UNIX)
        return !h.prefixes.empty() || h.family != 0 ? kNever : h.port == -1 ? kAlways : kMaybe;
      if (h.prefixes.empty())
        return h.family == 0 || h.family == family || (h.family == AF_INET && family == AF_INET6)
                   ? kMaybe
                   : kNever;
      for (const auto& p : h.prefixes)  // IPv4 prefixes also match v4-mapped IPv6 sockets.
        if (p.family == family || (p.family == AF_INET && family == AF_INET6)) return kMaybe;
      return kNever;
    }
    default:
      return kMaybe;
  }
}

std::string SocketFilter::compile() const {
  std::string out;
  if (root_ < 0 || !compile(root_, &out) || out.size() > 0xff00) return {};
  return out;
}

bool SocketFilter::compile(int index, std::string* out) const {
  const Node& n = nodes_[static_cast<std::size_t>(index)];
  switch (n.op) {
    case Op::op_and: {
      std::size_t start = out->size();
      if (!compile(n.left, out)) return false;
      std::size_t l1 = out->size() - start;
      if (!compile(n.right, out)) return false;
      relocate_false_exit(out, start, l1, out->size() - start - l1);
      return out->size() - start <= 0xff00;
    }
    case Op::op_or: {
      // left, JMP to the end (left was true), right; left's false exit lands on right.
      std::size_t start = out->size();
      if (!compile(n.left, out)) return false;
      std::size_t jmp = out->size();
      out->append(sizeof(inet_diag_bc_op), '\0');
      if (!compile(n.right, out)) return false;
      if (out->size() - start > 0xff00) return false;
      inet_diag_bc_op op{INET_DIAG_BC_JMP, 4, static_cast<std::uint16_t>(out->size() - jmp)};
      std::memcpy(out->data() + jmp, &op, sizeof(op));
      return true;
    }
    case Op::op_not:
      if (!compile(n.left, out)) return false;
      put_op(out, INET_DIAG_BC_JMP, 4, 8);
      return true;
    case Op::src:
    case Op::dst:
      return host_ops(n.host, n.op == Op::src, out);
    case Op::sport_ge:
    case Op::sport_le:
    case Op::dport_ge:
    case Op::dport_le: {
      std::uint8_t code = n.op == Op::sport_ge   ? INET_DIAG_BC_S_GE
                          : n.op == Op::sport_le ? INET_DIAG_BC_S_LE
                          : n.op == Op::dport_ge ? INET_DIAG_BC_D_GE
                                                 : INET_DIAG_BC_D_LE;
      put_op(out, code, 8, 12);
      put_op(out, 0, 0, static_cast<std::uint16_t>(n.value));
      return true;
    }
    case Op::autobound:
      put_op(out, INET_DIAG_BC_AUTO, 4, 8);
      return true;
    case Op::dev:
      put_op(out, INET_DIAG_BC_DEV_COND, 8, 12);
      out->append(reinterpret_cast<const char*>(&n.value), 4);
      return true;
    case Op::mark: {
      put_op(out, INET_DIAG_BC_MARK_COND, 12, 16);
      inet_diag_markcond m{n.value, n.mask};
      out->append(reinterpret_cast<const char*>(&m), sizeof(m));
      return true;
    }
    case Op::cgroup:
      put_op(out, INET_DIAG_BC_CGROUP_COND, 12, 16);
      out->append(reinterpret_cast<const char*>(&n.id), 8);
      return true;
  }
  return false;
}

}  // namespace parley
