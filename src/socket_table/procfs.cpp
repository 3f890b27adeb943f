// /proc source: the text tables netstat reads. Used when netlink is unavailable (or forced), and
// with a different root to replay recorded files in tests. The files are read in 64 KiB blocks
// and parsed line by line; every field is checked (hex widths, state and type codes, the header,
// the newline that ends every line), so a damaged copy is an error naming the file and line.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "parley/socket_table.hpp"

namespace parley {
namespace {

// Lines of a file, read in blocks; a line must end with '\n' and fit in the block.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd), buf_(64 << 10) {}
  // 1: *line set; 0: end of file; -1: error (*error set).
  int next(std::string_view* line, std::string* error) {
    for (;;) {
      auto nl = static_cast<const char*>(std::memchr(buf_.data() + start_, '\n', end_ - start_));
      if (nl != nullptr) {
        *line = std::string_view(buf_.data() + start_,
                                 static_cast<std::size_t>(nl - (buf_.data() + start_)));
        start_ = static_cast<std::size_t>(nl - buf_.data()) + 1;
        ++number_;
        return 1;
      }
      if (start_ > 0) {
        std::memmove(buf_.data(), buf_.data() + start_, end_ - start_);
        end_ -= start_;
        start_ = 0;
      }
      if (end_ == buf_.size()) return *error = "a line longer than 64 KiB", -1;
      ssize_t n = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return *error = std::strerror(errno), -1;
      if (n == 0) {
        if (end_ == 0) return 0;
        return *error = fmt::format("line {} is cut short (no newline)", number_ + 1), -1;
      }
      end_ += static_cast<std::size_t>(n);
    }
  }
  std::size_t number() const { return number_; }

 private:
  int fd_;
  std::vector<char> buf_;
  std::size_t start_ = 0, end_ = 0, number_ = 0;
};

// Splits off the next space-separated field.
std::string_view field(std::string_view* line) {
  std::size_t b = line->find_first_not_of(' ');
  if (b == std::string_view::npos) {
    *line = {};
    return {};
  }
  std::size_t e = line->find(' ', b);
  std::string_view f =
      line->substr(b, e == std::string_view::npos ? std::string_view::npos : e - b);
  *line = e == std::string_view::npos ? std::string_view() : line->substr(e);
  return f;
}

bool hex(std::string_view s, std::size_t max_digits, std::uint64_t* out) {
  if (s.empty() || s.size() > max_digits) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                   : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<unsigned>(d);
  }
  *out = v;
  return true;
}

bool dec(std::string_view s, std::uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  *out = v;
  return true;
}

// "HEX:HEX" with widths a and b.
bool hex_pair(std::string_view s, std::size_t a, std::size_t b, std::uint64_t* x, std::uint64_t* y,
              bool exact) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  auto l = s.substr(0, colon), r = s.substr(colon + 1);
  if (exact && (l.size() != a || r.size() != b)) return false;
  return hex(l, a, x) && hex(r, b, y);
}

// "0100007F:3039" (IPv4) or 32 hex digits + ":PORT" (IPv6): the kernel prints each 32-bit word of
// the address as it lies in memory, read as a host-order integer.
bool address(std::string_view s, int family, std::uint8_t* addr, std::uint16_t* port) {
  std::size_t len = family == AF_INET ? 8 : 32;
  auto colon = s.find(':');
  std::uint64_t p = 0;
  if (colon != len || s.size() != len + 5 || !hex(s.substr(len + 1), 4, &p)) return false;
  for (std::size_t i = 0; i < len / 8; ++i) {
    std::uint64_t word;
    if (!hex(s.substr(i * 8, 8), 8, &word)) return false;
    auto w = static_cast<std::uint32_t>(word);
    std::memcpy(addr + 4 * i, &w, 4);
  }
  *port = static_cast<std::uint16_t>(p);
  return true;
}

class ProcSource final : public SocketSource {
 public:
  ProcSource(std::string root, bool missing_ok) : root_(std::move(root)), missing_ok_(missing_ok) {}

  std::error_code list(const DiagQuery& q, const RecordSink& sink) override {
    detail_.clear();
    seen_.clear();
    struct Table {
      const char* name;
      Proto proto;
      int family;
    };
    static const Table tables[] = {{"tcp", Proto::tcp, AF_INET},
                                   {"tcp6", Proto::tcp, AF_INET6},
                                   {"udp", Proto::udp, AF_INET},
                                   {"udp6", Proto::udp, AF_INET6}};
    bool more = true;
    for (const auto& t : tables) {
      if (!more || !(q.protos & proto_bit(t.proto))) continue;
      if ((t.family == AF_INET && !q.v4) || (t.family == AF_INET6 && !q.v6)) continue;
      if (auto ec = read(t.name, [&](LineReader& in, std::string_view line, std::string* why) {
            return inet_line(in, line, t.proto, t.family, q, sink, &more, why);
          }))
        return ec;
    }
    if (more && (q.protos & kUnixProtos))
      return read("unix", [&](LineReader& in, std::string_view line, std::string* why) {
        return unix_line(in, line, q, sink, &more, why);
      });
    return {};
  }

 private:
  template <typename F>
  std::error_code read(const char* name, F&& parse_line) {
    std::string path = root_ + "/net/" + name;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT && missing_ok_) return {};
      detail_ = path;
      return last_error();
    }
    LineReader in(fd.get());
    std::string_view line;
    std::string why;
    int r = in.next(&line, &why);
    if (r == 0) why = "empty (no header line)";
    if (r == 1) {
      std::string_view rest = line;
      std::string_view first = field(&rest);
      if (first != "sl" && first != "Num") why = "line 1 is not the table's header";
    }
    while (why.empty() && (r = in.next(&line, &why)) == 1) {
      if (!parse_line(in, line, &why)) break;
    }
    if (why.empty()) return {};
    detail_ = path + ": " + why;
    return std::make_error_code(std::errc::bad_message);
  }

  // False to stop: *why set on an error, empty when the sink asked to stop.
  bool inet_line(LineReader& in, std::string_view line, Proto proto, int family, const DiagQuery& q,
                 const RecordSink& sink, bool* more, std::string* why) {
    std::string_view sl = field(&line), local = field(&line), remote = field(&line),
                     st = field(&line), queues = field(&line), timer = field(&line),
                     retr = field(&line), uid = field(&line), timeout = field(&line),
                     inode = field(&line);
    SocketRecord r;
    r.proto = proto;
    r.family = family;
    std::uint64_t state = 0, tx = 0, rx = 0, tr = 0, when = 0, retrans = 0, u = 0, t = 0, ino = 0;
    const char* bad = nullptr;
    if (sl.empty() || sl.back() != ':')
      bad = "slot";
    else if (!address(local, family, r.local.data(), &r.local_port))
      bad = "local address";
    else if (!address(remote, family, r.peer.data(), &r.peer_port))
      bad = "remote address";
    else if (!hex(st, 2, &state) || state < kEstablished || state > kMaxState)
      bad = "state";
    else if (!hex_pair(queues, 8, 8, &tx, &rx, false))
      bad = "queues";
    else if (!hex_pair(timer, 2, 16, &tr, &when, false))
      bad = "timer";
    else if (!hex(retr, 8, &retrans))
      bad = "retransmits";
    else if (!dec(uid, &u) || u > 0xffffffffu)
      bad = "uid";
    else if (!dec(timeout, &t))
      bad = "timeout";
    else if (!dec(inode, &ino))
      bad = "inode";
    if (bad != nullptr) {
      *why = fmt::format("line {}: bad {} field", in.number(), bad);
      return false;
    }
    r.state = static_cast<int>(state);
    if (!(q.states & (1u << r.state))) return true;
    r.send_q = static_cast<std::uint32_t>(tx);
    r.recv_q = static_cast<std::uint32_t>(rx);
    r.timer = tr <= 4 ? static_cast<Timer>(tr) : Timer::unknown;
    static const long ticks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
    r.expires_ms = static_cast<std::uint32_t>(std::min<std::uint64_t>(when, 1ull << 40) * 1000 /
                                              static_cast<std::uint64_t>(ticks));
    r.retrans = static_cast<std::uint8_t>(std::min<std::uint64_t>(retrans, 255));
    r.uid = static_cast<std::uint32_t>(u);
    r.inode = ino;
    if (repeated(ino)) return true;
    *more = sink(r);
    return *more;
  }

  bool unix_line(LineReader& in, std::string_view line, const DiagQuery& q, const RecordSink& sink,
                 bool* more, std::string* why) {
    std::string_view num = field(&line), refs = field(&line), protocol = field(&line),
                     flags = field(&line), type = field(&line), st = field(&line),
                     inode = field(&line);
    std::uint64_t ref = 0, proto_no = 0, fl = 0, ty = 0, state = 0, ino = 0;
    const char* bad = nullptr;
    if (num.empty() || num.back() != ':')
      bad = "slot";
    else if (!hex(refs, 8, &ref))
      bad = "reference count";
    else if (!hex(protocol, 8, &proto_no))
      bad = "protocol";
    else if (!hex(flags, 8, &fl))
      bad = "flags";
    else if (!hex(type, 4, &ty) || (ty != SOCK_STREAM && ty != SOCK_DGRAM && ty != SOCK_SEQPACKET))
      bad = "type";
    else if (!hex(st, 2, &state) || state > 4)
      bad = "state";
    else if (!dec(inode, &ino))
      bad = "inode";
    if (bad != nullptr) {
      *why = fmt::format("line {}: bad {} field", in.number(), bad);
      return false;
    }
    SocketRecord r;
    r.proto = ty == SOCK_DGRAM       ? Proto::unix_dgram
              : ty == SOCK_SEQPACKET ? Proto::unix_seqpacket
                                     : Proto::unix_stream;
    r.family = AF_UNIX;
    // As unix_diag reports them: __SO_ACCEPTCON marks a listener; SS_CONNECTED is established.
    r.state = (fl & 0x10000) ? kListen : state == 3 ? kEstablished : state == 2 ? kSynSent : kClose;
    if (!(q.protos & proto_bit(r.proto)) || !(q.states & (1u << r.state))) return true;
    r.inode = ino;
    // The path is the rest of the line after one space: it may contain spaces itself.
    if (line.size() > 1 && line[0] == ' ') r.unix_name = line.substr(1);
    if (repeated(ino)) return true;
    *more = sink(r);
    return *more;
  }

  // The kernel resumes each read of a /proc/net table by position, so sockets that come and go
  // meanwhile can make it list one socket again: one with an inode is passed on once. (TIME-WAIT
  // sockets have inode 0 and are all kept; netlink dumps, the default, do not repeat.)
  bool repeated(std::uint64_t inode) { return inode != 0 && !seen_.insert(inode).second; }

  std::string root_;
  bool missing_ok_;
  std::unordered_set<std::uint64_t> seen_;  // Inodes listed so far in this list().
};

}  // namespace

std::unique_ptr<SocketSource> make_proc_source(std::string root, bool missing_ok) {
  return std::make_unique<ProcSource>(std::move(root), missing_ok);
}

}  // namespace parley
