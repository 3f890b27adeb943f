#pragma once
// The forwarder's TCP/Unix handler, shared by its two files: forward.cpp (sessions: accepting,
// connecting to targets, TLS handshakes with them, ending) and forward_pump.cpp (moving the
// bytes: splice(2) through pipes, or copies through user space when a side speaks TLS). One
// handler per worker, used only on its thread.

#include <fcntl.h>
#include <sys/epoll.h>

#include <chrono>
#include <string>
#include <vector>

#include "parley/forward.hpp"
#include "runtime.hpp"

namespace parley::server::fwd {

constexpr int kPipeSize = 1 << 20;
constexpr std::size_t kFreePipes = 16;
constexpr std::size_t kSpliceChunk = kPipeSize;
constexpr unsigned kSpliceFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
// A client no target could take is closed cleanly: FIN first, then what it sent is read and
// dropped until its own FIN (closing with unread input would reset it), for at most this long.
constexpr std::chrono::seconds kLinger{2};

// What one direction has in flight: bytes read from a side, not yet written to its peer.
struct Pipe {
  int r = -1, w = -1;
  std::size_t bytes = 0;
};

struct Side : Conn {
  using Conn::Conn;
  Side* peer = nullptr;
  Pipe pipe;                // Read from this side, waiting for the peer (only while stuck).
  bool eof = false;         // This side sent its FIN.
  bool shut = false;        // We sent ours to this side.
  bool connecting = false;  // A target still connecting.
  bool lingering = false;   // A client with no target, being closed cleanly.
  bool client = false;
  bool copy = false;         // TLS on a side of this session: bytes go through user space.
  bool handshaking = false;  // A target's TLS handshake is under way.
  std::string stuck;         // Copy mode: read from this side, not yet taken by the peer.
  std::size_t stuck_off = 0;
  std::uint32_t target = 0, address = 0, attempts = 0;
  Clock::time_point deadline;
  std::string header;       // PROXY protocol header still to send (target side).
  std::string target_name;  // Client side: where it went.
};

class ForwardHandler : public Handler {
 public:
  explicit ForwardHandler(const ForwardOptions& options)
      : options_(options), down_until_(options.targets.size()) {}
  ~ForwardHandler() override;

  void start(Worker& w) override { w_ = &w; }
  Conn* make_conn(int fd) override { return new Side(fd); }
  bool opened(Worker& w, Conn& c) override;
  bool received(Worker&, Conn&, char*, std::size_t) override { return true; }  // Not used.
  void io(Worker& w, Conn& c, std::uint32_t events) override;
  void closing(Worker& w, Conn& c, const char* reason) override;
  bool drain_done(Worker&, const Conn&) override { return false; }  // Sessions end by themselves.
  void closing_all(Worker& w) override;
  Clock::time_point next_deadline() override;
  void on_time(Worker& w) override;

 private:
  bool connect_next(Side& client, std::error_code last);
  std::uint32_t pick_target();
  void give_up(Side& client, std::error_code last);
  void connected(Side& target);
  void handshake(Side& target);
  void ready(Side& target);
  void pump(Side& from);
  void pump_copy(Side& from);
  bool copy_out(Side& from, Side& to);
  std::size_t write_to(Side& to, const char* data, std::size_t n);
  void shut(Side& to);
  bool held(const Side& s) const { return s.pipe.bytes > 0 || s.stuck.size() > s.stuck_off; }
  bool move_out(Pipe& p, Side& to);
  bool flush_to(Side& to);
  void update(Side& s);
  void end(Side& s, const std::string& why, bool reset);
  void finish_if_done(Side& s);
  Pipe take_pipe();
  void give_back(Pipe& p);

  const ForwardOptions& options_;
  Worker* w_ = nullptr;
  std::vector<Clock::time_point> down_until_;  // Per target: skipped until then.
  std::size_t next_target_ = 0;
  Pipe scratch_;
  std::vector<Pipe> free_;
  std::size_t connecting_ = 0, lingering_ = 0;
  Clock::time_point next_scan_ = Clock::time_point::max();
};

}  // namespace parley::server::fwd
