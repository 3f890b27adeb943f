#pragma once
// Internal to the server runtime (see parley/server.hpp for the contract): what all workers share
// (read-mostly), one worker's event loop, connections, and the Handler through which a service
// gives the bytes meaning. Everything here runs on one worker's thread unless it says otherwise.

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "counter.hpp"
#include "parley/fd.hpp"
#include "parley/server.hpp"
#include "parley/transport.hpp"

namespace parley::server {

using Clock = std::chrono::steady_clock;
using detail::Counter;

inline constexpr std::size_t kReadBuffer = 64 << 10;  // One per worker, shared by its clients.
inline constexpr int kBurst = 64;  // Accepts or datagrams per wakeup, for fairness.
// While stopping, a connection with nothing in flight for this long is done.
inline constexpr std::chrono::milliseconds kDrainQuiet{100};
// How often connections still owing a PROXY header or a TLS handshake are checked for lateness.
inline constexpr std::chrono::milliseconds kExpiryScan{100};

struct WorkerStats {
  Counter active, total, refused, denied, bytes_in, bytes_out, messages;
  Counter failed_handshakes;  // PROXY header or TLS handshake (refused events, not "full").
};

enum class Phase : int { running = 0, draining = 1, closing = 2 };

struct Shared {
  ServerConfig config;
  std::atomic<std::size_t> connections{0};  // Across all workers, for max_conns.
  std::atomic<Phase> phase{Phase::running};
  std::atomic<int> failure{0};  // errno of the first local failure (the output), 0 if none.
  Clock::time_point drain_deadline;
  void log(const std::string& line) const {
    if (config.log) config.log(line);
  }
  // Reports a connection event (if connection events are wanted at all).
  void event(const ServerEvent& e) const;
};

enum class Kind : std::uint8_t { listener, datagram, wake, conn, watch };
// What epoll's data pointer points at, told apart by kind (no virtual call on the hot path).
struct Handle {
  Kind kind;
};

struct Slot : Handle {
  Slot(Kind k, Fd f) : Handle{k}, fd(std::move(f)) {}
  Fd fd;
  bool armed = false;  // io_uring: a multishot accept (or poll) is in the ring.
};

// A descriptor a handler watches besides its connections: stdin, stdout, a child's pidfd.
struct Watch : Handle {
  Watch() : Handle{Kind::watch} {}
  virtual ~Watch() = default;
  virtual void on_event(std::uint32_t events) = 0;
  int fd = -1;
  std::uint32_t events = 0;
  bool registered = false;
};

// One client connection. Handlers that keep more per client derive from it (Handler::make_conn).
struct Conn : Handle {
  explicit Conn(int f) : Handle{Kind::conn}, fd(f) {}
  virtual ~Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  int fd;
  std::uint32_t events = EPOLLIN;  // The interest registered with epoll.
  std::uint32_t index = 0;         // Position in the worker's list, for O(1) removal.
  bool closed = false;             // Closed; deleted once the current round of events is done.
  bool peer_done = false;          // The client half-closed: finish the output, then close.
  bool close_after = false;        // Close once the pending output is gone.
  bool read_paused = false;        // The handler stopped reading (its output is blocked).
  // The handler moves the bytes itself (Handler::io), through `tls` when it is set: the handler
  // then drains what the session holds, since epoll cannot see it.
  bool custom_io = false;
  bool outgoing = false;         // Opened by the handler (a forwarder's target), not accepted.
  bool awaiting_header = false;  // --proxy-protocol: the PROXY header has not come yet.
  // Echo-style backpressure: read nothing more while output is pending (the output comes from
  // the input). Broadcast services turn it off and bound the queue instead.
  bool hold_reads_while_pending = true;
  // --tls: the handshake is not done yet (the service has not seen the client); a read that
  // needs the socket writable, a write that needs it readable (TLS may want either); on the
  // worker's list of sessions holding input that epoll cannot see.
  bool tls_handshaking = false;
  bool tls_read_wants_write = false;
  bool tls_write_wants_read = false;
  bool tls_revisit = false;
  socklen_t peer_len = 0;
  sockaddr_in6 peer{};  // Big enough for IPv4; Unix stream peers are unnamed.
  std::uint64_t in = 0, out = 0, messages = 0;
  Clock::time_point since, last_active;
  std::unique_ptr<Transport> tls;  // --tls: every byte goes through it; null: plain socket.
  std::string pending;  // Output the client has not taken yet; empty (no allocation) normally.
  std::size_t pending_off = 0;
  // io_uring workers only: the output of the send in the ring (the kernel reads it until the
  // send completes, so appends go to `pending` meanwhile), and what the ring holds for c.
  std::string sending;
  std::uint16_t ring_ops = 0;  // Requests and list entries naming c: deleted only at 0.
  bool ring_recv = false;      // A receive is armed ...
  bool ring_capped = false;    // ... a multishot one with a byte limit (Ring::capped_multishot).
  bool ring_cancel = false;    // ... and its cancellation was asked for.
  bool ring_send = false;      // A send is in the ring.
  bool ring_dirty = false;     // On the worker's list of connections to look at before submitting.
  // custom_io connections wait for readiness with one-shot polls instead of receives: polls in
  // the ring (only the newest is armed, older ones are being removed), the newest one's events,
  // and whether an errors-only poll fired (not armed again until the interest changes: a hang-up
  // stays, and would fire on every round).
  std::uint8_t ring_polls = 0;
  bool ring_quiet = false;
  std::uint32_t ring_poll_mask = 0;

  // Output not yet taken by the client (or, on io_uring, not yet confirmed sent).
  std::size_t pending_size() const { return pending.size() - pending_off + sending.size(); }
  const sockaddr* peer_address() const { return reinterpret_cast<const sockaddr*>(&peer); }
  std::string peer_name() const;
};

class Worker;
struct Ring;

// What a service does with connections; one per worker, called on that worker's thread only.
// Hooks that may close the connection return false when they did.
class Handler {
 public:
  virtual ~Handler() = default;
  // Before the loop starts: register watches (stdin, stdout).
  virtual void start(Worker&) {}
  virtual Conn* make_conn(int fd) { return new Conn(fd); }
  // A client was accepted (it passed the access list and the connection limit).
  virtual bool opened(Worker&, Conn&) { return true; }
  // n bytes from c are in data (the worker's shared buffer, valid until return).
  virtual bool received(Worker& w, Conn& c, char* data, std::size_t n) = 0;
  // The client half-closed. Default: close once the pending output is sent.
  virtual bool peer_closed(Worker& w, Conn& c);
  // Everything pending for c was sent. Default: close if the client is done.
  virtual bool drained(Worker& w, Conn& c);
  // c is being closed; it is deleted right after.
  virtual void closing(Worker&, Conn&, const char* /*reason*/) {}
  // A datagram socket is readable (datagram services read it themselves).
  virtual void datagram_ready(Worker&, Slot&) {}
  // A graceful stop began (listeners are closed already).
  virtual void draining(Worker&) {}
  // While draining: may c be closed now? Default: nothing pending and quiet for kDrainQuiet.
  virtual bool drain_done(Worker& w, const Conn& c);
  // While draining: has the handler itself finished (children reaped, output flushed)?
  virtual bool settled(Worker&) { return true; }
  // When the client was last active, for --idle-timeout.
  virtual Clock::time_point last_active(const Conn& c) { return c.last_active; }
  // The loop is about to close everything at once (stop without grace, or the drain deadline).
  virtual void closing_all(Worker&) {}
  // An error or hang-up on a connection that is neither read nor written (paused, or handed to a
  // child). Default: close it on an error, ignore a hang-up (it is seen when reading resumes).
  virtual void hangup(Worker& w, Conn& c, std::uint32_t events);
  // Readiness of a connection marked custom_io: the handler reads and writes it itself.
  virtual void io(Worker&, Conn&, std::uint32_t /*events*/) {}
  // Timers: the loop wakes up by next_deadline() and then calls on_time().
  virtual Clock::time_point next_deadline() { return Clock::time_point::max(); }
  virtual void on_time(Worker&) {}
};

class Worker {
 public:
  // With a ring (made by Ring::create on any thread, disabled until run() enables it on the
  // worker's own thread), the worker runs on io_uring; else on epoll.
  Worker(Shared& shared, std::vector<Fd> listeners, std::unique_ptr<Handler> handler,
         std::unique_ptr<Ring> ring = nullptr);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void run();   // The event loop; returns when stopped and drained.
  void wake();  // Any thread: make run() look at the phase.
  // Any thread: this worker's clients, copied by the worker itself (false on timeout).
  bool clients(std::vector<ClientInfo>* out, std::size_t limit, std::chrono::milliseconds timeout);
  const WorkerStats& stats() const { return stats_; }
  bool done() const { return done_.load(); }

  // --- For handlers (worker thread only) ---
  // Sends now what the socket takes and queues the rest; false if the connection was closed.
  bool send(Conn& c, const char* data, std::size_t n);
  // The same for several pieces in one system call (at most IOV_MAX of them).
  bool send(Conn& c, const iovec* pieces, int count);
  void close(Conn& c, const char* reason);
  void set_reading(Conn& c, bool on);
  // custom_io connections: the epoll interest, as the handler wants it (0: errors only).
  void set_events(Conn& c, std::uint32_t events);
  // Registers a connection the handler opened itself (a forwarder's target): it is closed,
  // swept for idleness and drained like the others, but not counted against max_conns or
  // reported as a client. The worker owns it from now on. On io_uring it must be custom_io (it is
  // polled for `events`, and the handler moves its bytes).
  void adopt(Conn& c, std::uint32_t events);
  // Registers, changes or removes a watched descriptor (w.fd must be set).
  void watch(Watch& w, std::uint32_t events);
  void unwatch(Watch& w);
  // Accepting stops while the handler is at a limit of its own (exec's -m): clients wait in the
  // kernel's backlog.
  void hold_accepting(bool hold);
  // The handler starts programs (exec). A child holds a copy of every descriptor of the process
  // from its clone until its close-on-exec, and the kernel does that after posix_spawn has
  // already returned here: a descriptor closed in that moment stays in the epoll set (which
  // watches the open file), and its next event names a connection already deleted. close() then
  // takes each descriptor out of the set first. Call from Handler::start.
  void spawns_children() { spawns_ = true; }
  // The service is done (listen without -k after its one client, output gone): drain and end.
  void finish();
  // Close every connection now.
  void close_all(const char* reason);
  // A local failure (the output cannot be written): remembered for Server::failure(), then finish.
  void fail(int error);
  // The same failure remembered, the server going on without what failed (the broker's output).
  void note_failure(int error);

  char* buffer() { return buffer_.get(); }
  std::string& scratch() { return out_; }
  WorkerStats& counters() { return stats_; }
  const Shared& shared() const { return shared_; }
  const ServerConfig& config() const { return shared_.config; }
  Clock::time_point now() const { return now_; }
  const std::vector<Conn*>& conns() const { return conns_; }
  bool draining() const { return draining_; }
  void log(const std::string& line) const { shared_.log(line); }

 private:
  void close_descriptor(int fd);
  void on_listener(Slot& slot);
  void accepted(int fd, const sockaddr_in6& peer, socklen_t len);
  void poll_epoll(int timeout_ms);
  void delete_closed();
  bool deliver(Conn& c, char* data, std::size_t n);  // Counts, logs and hands input over.
  // The io_uring side (worker_uring.cpp).
  void ring_start();
  void ring_poll(int timeout_ms);
  void ring_complete(std::uint64_t data, int res, std::uint32_t flags);
  void ring_on_recv(Conn& c, int res, std::uint32_t flags);
  void ring_on_send(Conn& c, int res);
  void ring_on_accept(Slot& s, int res, std::uint32_t flags);
  void ring_on_poll(Conn& c, int res);
  void ring_arm_poll(Conn& c);  // custom_io: a poll for c.events, unless one is armed.
  void ring_prepare();          // Before each submit: output, resumed input, receives to arm.
  void ring_mark(Conn& c);      // Put c on the list ring_prepare() looks at.
  void ring_send_now(Conn& c);  // pending -> sending, into the ring.
  bool ring_wants_read(const Conn& c) const;
  bool ring_can_deliver(const Conn& c) const;
  void ring_interest(Conn& c);  // update_interest() for io_uring.
  void ring_accepting(bool on);
  void ring_closing(Conn& c);
  bool ring_resume(Conn& c);  // Input held while reads were off, once they are on again.
  bool admit(int fd, const sockaddr_in6& peer, socklen_t len);
  void welcome(Conn& c);
  void read_proxy_header(Conn& c);
  bool on_readable(Conn& c);
  void on_writable(Conn& c);
  bool wrote(Conn& c, std::size_t n);  // Bookkeeping after n pending bytes left; false: closed.
  // n bytes went out to c (the server's counters count only its clients, not adopted ends).
  void count_out(Conn& c, std::size_t n) {
    c.out += n;
    if (!c.outgoing) stats_.bytes_out.add(n);
  }
  bool reading_wanted(const Conn& c) const;
  // --tls (tls_accept.cpp).
  void start_tls(Conn& c);
  void continue_handshake(Conn& c);
  void expire_late();  // Late PROXY headers and TLS handshakes (conn.cpp).
  void tls_event(Conn& c, std::uint32_t ev);
  bool tls_readable(Conn& c);
  void tls_flush(Conn& c);
  std::size_t tls_send(Conn& c, const char* data, std::size_t n);  // Taken; SIZE_MAX: closed.
  void tls_revisit();
  void tls_interest(Conn& c, std::uint32_t* want);
  void on_conn_event(Conn& c, std::uint32_t ev);
  void update_interest(Conn& c);  // (private, but proxy_accept.cpp uses it too)
  void begin_drain();
  void close_quiet();
  void sweep_idle();
  void pause_accepting();
  void set_accepting(bool on);
  int next_timeout_ms() const;

  Shared& shared_;
  std::unique_ptr<Handler> handler_;
  std::unique_ptr<Ring> ring_;  // Null: epoll.
  Fd epoll_;
  Fd wake_;
  std::vector<std::unique_ptr<Slot>> slots_;  // Listeners or datagram sockets, and the wake fd.
  std::vector<Conn*> conns_;
  std::vector<Conn*> closed_;         // Deleted after the round of events that closed them.
  std::vector<Conn*> dirty_;          // io_uring: to look at before the next submit.
  std::size_t awaiting_headers_ = 0;  // Connections still owing a PROXY header.
  std::size_t handshakes_ = 0;        // --tls: connections still in their handshake.
  std::vector<Conn*> tls_buffered_;   // --tls: sessions holding input to read without a wakeup.
  std::string tls_flat_;              // --tls: send(iovec) joined into one write.
  std::unique_ptr<char[]> buffer_;    // One read buffer for every connection of this worker.
  std::string out_;                   // Scratch for handlers' replies.
  WorkerStats stats_;
  Clock::time_point now_;
  Clock::time_point next_sweep_;
  Clock::time_point next_expiry_scan_{};  // Late PROXY headers and TLS handshakes.
  Clock::time_point accept_paused_until_{};
  bool accept_paused_ = false;  // Out of descriptors, for a moment.
  bool accept_held_ = false;    // The handler is at its own limit.
  bool accepting_ = true;       // Listeners are in the epoll set.
  bool draining_ = false;
  bool finishing_ = false;
  bool spawns_ = false;               // spawns_children()
  Clock::time_point drain_deadline_;  // The server's, or this worker's own when it finished.
  std::atomic<bool> done_{false};
  // The live view's request for a copy of the client list, answered at the top of the loop.
  void answer_snapshot();
  std::atomic<bool> snapshot_wanted_{false};
  std::mutex snapshot_mutex_;
  std::condition_variable snapshot_cv_;
  std::vector<ClientInfo> snapshot_;
  std::size_t snapshot_limit_ = 0;
  std::uint64_t snapshot_serial_ = 0;
};

}  // namespace parley::server
