// Setting up a worker's io_uring and its provided buffers (see ring.hpp).

#include "ring.hpp"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

namespace parley::server {
namespace {

std::string setup_error(int err) {
  std::string why = fmt::format("io_uring_setup: {}", std::strerror(err));
  if (err == EINVAL) why += " (kernel before 6.1: no DEFER_TASKRUN)";
  if (err == EPERM) why += " (disabled: kernel.io_uring_disabled, or a seccomp filter)";
  if (err == ENOSYS) why += " (kernel without io_uring)";
  return why;
}

}  // namespace

std::unique_ptr<Ring> Ring::create(std::string* why) {
  std::unique_ptr<Ring> r(new Ring());
  io_uring_params p{};
  // SINGLE_ISSUER + DEFER_TASKRUN: completions are processed only when the worker asks for them,
  // in its own io_uring_enter, instead of interrupting it; R_DISABLED lets the worker's thread,
  // not this one, become the single issuer.
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
  p.cq_entries = kEntries * 4;
  int rc = io_uring_queue_init_params(kEntries, &r->ring, &p);
  if (rc < 0) {
    *why = setup_error(-rc);
    return nullptr;
  }
  r->initialized_ = true;
  // One enter both submits and waits with a timeout (EXT_ARG), and no completion is ever dropped.
  if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP)) {
    *why = "io_uring without EXT_ARG or NODROP (kernel before 5.11)";
    return nullptr;
  }
  std::size_t ring_bytes = kBuffers * sizeof(io_uring_buf);
  void* mem = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mem == MAP_FAILED) {
    *why = fmt::format("buffer ring: {}", std::strerror(errno));
    return nullptr;
  }
  r->buf_ring = static_cast<io_uring_buf_ring*>(mem);
  mem = mmap(nullptr, std::size_t{kBuffers} * kBufferSize, PROT_READ | PROT_WRITE,
             MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE, -1, 0);
  if (mem == MAP_FAILED) {
    *why = fmt::format("buffers: {}", std::strerror(errno));
    return nullptr;
  }
  r->buffers = static_cast<char*>(mem);
  io_uring_buf_ring_init(r->buf_ring);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(r->buf_ring);
  reg.ring_entries = kBuffers;
  reg.bgid = 0;
  rc = io_uring_register_buf_ring(&r->ring, &reg, 0);
  if (rc < 0) {
    *why = fmt::format("io_uring_register_buf_ring: {} (kernel before 5.19)", std::strerror(-rc));
    return nullptr;
  }
  // The tests run the older kernels' path (single-shot receives) here too.
  if (const char* v = std::getenv("PARLEY_URING_SINGLE_SHOT"); v != nullptr && v[0] == '1')
    r->capped_multishot = false;
  for (unsigned i = 0; i < kBuffers; ++i) r->recycle(i);
  r->publish();
  return r;
}

Ring::~Ring() {
  // Exiting the ring cancels and waits for whatever is still in it, before the memory it may
  // write to goes.
  if (initialized_) io_uring_queue_exit(&ring);
  if (buffers != nullptr) munmap(buffers, std::size_t{kBuffers} * kBufferSize);
  if (buf_ring != nullptr) munmap(buf_ring, kBuffers * sizeof(io_uring_buf));
}

bool Ring::enable() {
  // Debian's liburing 2.3 declares io_uring_enable_rings() but does not export it.
  return syscall(__NR_io_uring_register, ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) ==
         0;
}

io_uring_sqe* Ring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring);
  if (s == nullptr) {
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

void Ring::recycle(unsigned id) {
  io_uring_buf_ring_add(buf_ring, buffer(id), kBufferSize, static_cast<unsigned short>(id),
                        io_uring_buf_ring_mask(kBuffers), static_cast<int>(recycled));
  ++recycled;
}

void Ring::publish() {
  if (recycled == 0) return;
  io_uring_buf_ring_advance(buf_ring, static_cast<int>(recycled));
  recycled = 0;
}

}  // namespace parley::server
