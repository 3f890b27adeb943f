// NETLINK_SOCK_DIAG source: one dump request per (family, protocol) and one for Unix sockets,
// streamed datagram by datagram through the parser into the caller's sink. The byte exchange is
// injectable (live kernel, recording, replay); parsing is the same for all.

#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <vector>

#include "netlink_parse.hpp"
#include "parley/errors.hpp"
#include "parley/fd.hpp"
#include "parley/socket_table.hpp"

namespace parley {
namespace {

constexpr std::uint32_t kSeq = 0x70617231;  // Any value; answers must carry it back.

template <typename Req>
std::string make_request(const Req& req, std::uint16_t type, std::uint16_t flags,
                         std::string_view bytecode = {}) {
  std::string msg(NLMSG_LENGTH(sizeof(Req)), '\0');
  if (!bytecode.empty()) msg.resize(NLMSG_ALIGN(msg.size()) + RTA_LENGTH(bytecode.size()), '\0');
  nlmsghdr h{};
  h.nlmsg_len = static_cast<std::uint32_t>(msg.size());
  h.nlmsg_type = type;
  h.nlmsg_flags = flags;
  h.nlmsg_seq = kSeq;
  std::memcpy(msg.data(), &h, sizeof(h));
  std::memcpy(msg.data() + NLMSG_HDRLEN, &req, sizeof(req));
  if (!bytecode.empty()) {
    rtattr a{static_cast<unsigned short>(RTA_LENGTH(bytecode.size())), INET_DIAG_REQ_BYTECODE};
    std::size_t at = NLMSG_ALIGN(NLMSG_LENGTH(sizeof(Req)));
    std::memcpy(msg.data() + at, &a, sizeof(a));
    std::memcpy(msg.data() + at + RTA_LENGTH(0), bytecode.data(), bytecode.size());
  }
  return msg;
}

// The family and protocol a dump request asks for (sdiag_family, sdiag_protocol).
bool request_kind(std::string_view request, int* family, Proto* proto) {
  if (request.size() < NLMSG_HDRLEN + 2) return false;
  *family = static_cast<unsigned char>(request[NLMSG_HDRLEN]);
  int protocol = static_cast<unsigned char>(request[NLMSG_HDRLEN + 1]);
  *proto = *family == AF_UNIX        ? Proto::unix_stream
           : protocol == IPPROTO_UDP ? Proto::udp
                                     : Proto::tcp;
  return *family == AF_UNIX || *family == AF_INET || *family == AF_INET6;
}

std::error_code send_request(int fd, std::string_view request) {
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof(kernel)) < 0)
    return last_error();
  return {};
}

class NetlinkSource final : public SocketSource {
 public:
  explicit NetlinkSource(NetlinkExchange exchange) : exchange_(std::move(exchange)) {}

  std::error_code list(const DiagQuery& q, const RecordSink& sink) override {
    detail_.clear();
    for (int family : {AF_INET, AF_INET6}) {
      if ((family == AF_INET && !q.v4) || (family == AF_INET6 && !q.v6)) continue;
      for (Proto proto : {Proto::tcp, Proto::udp}) {
        if (!(q.protos & proto_bit(proto))) continue;
        inet_diag_req_v2 req{};
        req.sdiag_family = static_cast<__u8>(family);
        req.sdiag_protocol = proto == Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP;
        req.idiag_states = q.states;
        if (q.tcp_info && proto == Proto::tcp)
          req.idiag_ext |= (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_CONG - 1));
        if (q.memory) req.idiag_ext |= 1 << (INET_DIAG_SKMEMINFO - 1);
        std::size_t delivered = 0;
        auto ec =
            run(make_request(req, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, q.bytecode),
                false, proto, q, sink, &delivered);
        // A kernel that refuses the bytecode (too old, or fwmark without CAP_NET_ADMIN) refuses
        // before answering anything: list without it; the caller filters in user space too.
        if ((ec == std::errc::invalid_argument || ec == std::errc::operation_not_permitted) &&
            !q.bytecode.empty() && delivered == 0)
          ec = run(make_request(req, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP), false, proto,
                   q, sink, &delivered);
        if (ec) return ec;
      }
    }
    if (q.protos & kUnixProtos) {
      unix_diag_req req{};
      req.sdiag_family = AF_UNIX;
      req.udiag_states = q.states;
      req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN;
      if (q.memory) req.udiag_show |= UDIAG_SHOW_MEMINFO;
      if (q.unix_uid) req.udiag_show |= UDIAG_SHOW_UID;
      std::size_t delivered = 0;
      if (auto ec = run(make_request(req, SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP), true,
                        Proto::unix_stream, q, sink, &delivered))
        return ec;
    }
    return {};
  }

 private:
  std::error_code run(const std::string& request, bool unix_dump, Proto proto, const DiagQuery& q,
                      const RecordSink& sink, std::size_t* delivered) {
    detail::DumpParser parser(unix_dump, proto, q, sink);
    std::string where;
    auto ec = exchange_(
        request, [&](std::string_view d) { return parser.feed(d); }, &where);
    *delivered = parser.delivered();
    if (ec) {
      detail_ = where;
      if (!parser.what().empty()) detail_ += (detail_.empty() ? "" : ": ") + parser.what();
    }
    return ec;
  }
  NetlinkExchange exchange_;
};

// Reads a whole file that must be a regular file of sane size.
std::error_code read_file(const std::string& path, std::string* out) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return last_error();
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return last_error();
  if (!S_ISREG(st.st_mode)) return std::make_error_code(std::errc::invalid_argument);
  if (st.st_size > (1ll << 30)) return std::make_error_code(std::errc::file_too_large);
  out->resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < out->size()) {
    ssize_t n = ::read(fd.get(), out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  out->resize(got);
  return {};
}

std::error_code write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

}  // namespace

std::string recording_file(int family, Proto proto) {
  if (family == AF_UNIX || is_unix(proto)) return "unix.nl";
  return std::string(family == AF_INET6 ? "inet6-" : "inet-") +
         (proto == Proto::udp ? "udp.nl" : "tcp.nl");
}

NetlinkExchange live_netlink() {
  return [](std::string_view request, const DatagramSink& sink, std::string*) -> std::error_code {
    Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
    if (!fd) return last_error();
    if (auto ec = send_request(fd.get(), request)) return ec;
    // The kernel fills each dump datagram up to 32 KiB when the reader offers that much; one
    // buffer of that size is all the memory a dump of any size needs here.
    std::vector<char> buf(64 << 10);
    for (;;) {
      ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), MSG_TRUNC);
      if (n < 0) {
        if (errno == EINTR) continue;
        return last_error();
      }
      if (n == 0) return std::make_error_code(std::errc::connection_reset);
      if (static_cast<std::size_t>(n) > buf.size())
        return std::make_error_code(std::errc::message_size);
      auto fed = sink(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      if (!fed) return fed.error();
      if (*fed == Feed::done) return {};
    }
  };
}

NetlinkExchange recording_netlink(NetlinkExchange inner, std::string dir) {
  return [inner = std::move(inner), dir = std::move(dir)](std::string_view request,
                                                          const DatagramSink& sink,
                                                          std::string* where) -> std::error_code {
    int family = 0;
    Proto proto{};
    if (!request_kind(request, &family, &proto))
      return std::make_error_code(std::errc::invalid_argument);
    const std::string final_path = dir + "/" + recording_file(family, proto);
    // mkostemp creates with O_EXCL: it never opens an existing file or follows a symlink.
    std::string temp = dir + "/." + recording_file(family, proto) + ".XXXXXX";
    Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd) {
      *where = dir;
      return last_error();
    }
    std::error_code write_error;
    auto ec = inner(
        request,
        [&](std::string_view d) -> Result<Feed> {
          if (!write_error) write_error = write_all(fd.get(), d);
          return sink(d);
        },
        where);
    if (!ec && !write_error && ::rename(temp.c_str(), final_path.c_str()) != 0)
      write_error = last_error();
    if (ec || write_error) ::unlink(temp.c_str());
    if (!ec && write_error) {
      *where = final_path;
      return write_error;
    }
    return ec;
  };
}

NetlinkExchange replay_netlink(std::string dir) {
  return [dir = std::move(dir)](std::string_view request, const DatagramSink& sink,
                                std::string* where) -> std::error_code {
    int family = 0;
    Proto proto{};
    if (!request_kind(request, &family, &proto))
      return std::make_error_code(std::errc::invalid_argument);
    *where = dir + "/" + recording_file(family, proto);
    std::string bytes;
    if (auto ec = read_file(*where, &bytes)) return ec;
    auto fed = sink(bytes);
    if (!fed) return fed.error();
    if (*fed == Feed::more) {  // Truncated, or empty: a dump always ends with NLMSG_DONE.
      *where += bytes.empty() ? ": empty" : ": ends before the dump's NLMSG_DONE";
      return std::make_error_code(std::errc::bad_message);
    }
    return {};
  };
}

std::unique_ptr<SocketSource> make_netlink_source(NetlinkExchange exchange) {
  return std::make_unique<NetlinkSource>(std::move(exchange));
}

SocketKiller::SocketKiller()
    : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)),
      open_error_(fd_ < 0 ? errno : 0) {}

SocketKiller::~SocketKiller() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code SocketKiller::kill(const SocketRecord& r) {
  if (fd_ < 0) return std::error_code(open_error_, std::system_category());
  if (is_unix(r.proto)) return std::make_error_code(std::errc::operation_not_supported);
  inet_diag_req_v2 req{};
  req.sdiag_family = static_cast<__u8>(r.family);
  req.sdiag_protocol = r.proto == Proto::tcp ? IPPROTO_TCP : IPPROTO_UDP;
  req.idiag_states = kAllStates;
  std::memcpy(&req.id, r.diag_id.data(), sizeof(req.id));
  std::string msg = make_request(req, SOCK_DESTROY, NLM_F_REQUEST | NLM_F_ACK);
  std::uint32_t seq = ++seq_;
  std::memcpy(msg.data() + offsetof(nlmsghdr, nlmsg_seq), &seq, sizeof(seq));
  if (auto ec = send_request(fd_, msg)) return ec;
  char buf[1024];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return last_error();
    if (static_cast<std::size_t>(n) < NLMSG_HDRLEN + sizeof(int))
      return std::make_error_code(std::errc::bad_message);
    nlmsghdr h;
    std::memcpy(&h, buf, sizeof(h));
    if (h.nlmsg_seq != seq) continue;  // A late answer to an earlier request.
    if (h.nlmsg_type != NLMSG_ERROR) return std::make_error_code(std::errc::bad_message);
    int error;
    std::memcpy(&error, buf + NLMSG_HDRLEN, sizeof(error));
    if (error > 0 || error == INT_MIN) return std::make_error_code(std::errc::bad_message);
    return error == 0 ? std::error_code() : std::error_code(-error, std::system_category());
  }
}

std::error_code enter_netns(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return std::make_error_code(std::errc::invalid_argument);
  Fd fd;
  for (const char* dir : {"/run/netns/", "/var/run/netns/"}) {
    fd.reset(::open((dir + std::string(name)).c_str(), O_RDONLY | O_CLOEXEC));
    if (fd || errno != ENOENT) break;
  }
  if (!fd) return last_error();
  if (::setns(fd.get(), CLONE_NEWNET) != 0) return last_error();
  return {};
}

}  // namespace parley
