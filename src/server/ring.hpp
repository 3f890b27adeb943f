#pragma once
// One server worker's io_uring (internal to the server runtime): the ring itself, set up with the
// flags that make it cheap, and the ring of provided buffers that receives fill.
// Made on any thread, disabled; the worker enables it on its own thread (SINGLE_ISSUER makes
// that thread the only one allowed to submit). Everything else runs on the worker's thread.

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

namespace parley::server {

struct Conn;

// What a completion is about: the low bits of its user_data (the rest is a Conn* or Slot*, both
// at least 8-aligned).
enum RingOp : std::uint64_t {
  kOpRecv = 1,
  kOpSend = 2,
  kOpAccept = 3,
  kOpWake = 4,
  kOpCancel = 5,  // A cancellation's own completion: nothing to do.
  kOpPoll = 6,    // Readiness of a custom_io connection (a forwarder's sides).
};
inline constexpr std::uint64_t kOpMask = 7;
inline constexpr std::size_t kStashBound = 16 << 10;

struct Ring {
  // 512 buffers of 4 KiB per worker (2 MiB, touched at start: the kernel takes them in turn, so
  // a busy worker soon touches them all anyway): every connection whose data arrives in one
  // round needs one, an idle connection none. A receive that finds none ends (ENOBUFS) and is
  // armed again once the round has given its buffers back.
  static constexpr unsigned kBuffers = 512;
  static constexpr unsigned kBufferSize = 4096;
  static constexpr unsigned kEntries = 2048;  // Submission queue; completions: 4x.

  // Input that came while the connection's output was pending (handlers get input only when
  // none is, as on epoll), with the end of input if that came too; delivered once the output is
  // gone. Past kStashBound the receive is not armed again, so a client that sends and never reads
  // costs at most this plus one buffer.
  struct Stash {
    std::string data;
    bool eof = false;
  };

  // Null and *why filled in if this kernel cannot give a worker the ring it needs.
  static std::unique_ptr<Ring> create(std::string* why);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  bool enable();  // On the worker's thread, before anything else.
  // A free submission entry; submits what is queued first if the queue is full.
  io_uring_sqe* sqe();
  char* buffer(unsigned id) { return buffers + std::size_t{id} * kBufferSize; }
  // Gives buffer id back to the kernel (made visible at the next publish()).
  void recycle(unsigned id);
  void publish();

  // Whether the kernel takes a multishot receive with a byte limit (sqe->optlen, the field that
  // is file_index in older headers): it then ends after kStashBound, so a client whose answers
  // are stuck cannot be read further ahead than that. Found out at the first receive (EINVAL
  // where it is not supported); single-shot receives otherwise.
  bool capped_multishot = true;
  io_uring ring{};
  io_uring_buf_ring* buf_ring = nullptr;
  char* buffers = nullptr;
  unsigned recycled = 0;  // Given back since the last publish().
  std::unordered_map<Conn*, Stash> stashes;

 private:
  Ring() = default;
  bool initialized_ = false;
};

}  // namespace parley::server
