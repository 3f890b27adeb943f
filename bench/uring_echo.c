// Baseline for bench/echo.sh: the least a TCP echo server can do on io_uring, beside
// epoll_echo.c. One thread, one ring set up as parley's (SINGLE_ISSUER | DEFER_TASKRUN |
// COOP_TASKRUN), multishot accept, multishot receive into a provided buffer ring, and each
// buffer sent straight back from where the kernel put it (no copy), given back once the send
// completes. No per-connection state, no backpressure (a client that does not read is only
// bounded by the buffer ring running dry): the floor of CPU per round trip on io_uring, to tell
// what parley's own bookkeeping costs from what the design costs.
//
//   uring_echo PORT      (binds 127.0.0.1 only)
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kBuffers = 4096, kBufferSize = 2048, kOpAccept = 1, kOpRecv = 2, kOpSend = 3 };

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *buffers;

static uint64_t tag(int fd, int op, unsigned id) {
  return ((uint64_t)id << 32) | ((uint64_t)(unsigned)fd << 2) | (uint64_t)op;
}

static struct io_uring_sqe *sqe(void) {
  struct io_uring_sqe *s = io_uring_get_sqe(&ring);
  if (s == NULL) {
    io_uring_submit(&ring);
    s = io_uring_get_sqe(&ring);
  }
  return s;
}

static void arm_recv(int fd) {
  struct io_uring_sqe *s = sqe();
  io_uring_prep_recv_multishot(s, fd, NULL, 0, 0);
  s->flags |= IOSQE_BUFFER_SELECT;
  s->buf_group = 0;
  io_uring_sqe_set_data64(s, tag(fd, kOpRecv, 0));
}

static void give_back(unsigned id) {
  io_uring_buf_ring_add(br, buffers + (size_t)id * kBufferSize, kBufferSize, (unsigned short)id,
                        io_uring_buf_ring_mask(kBuffers), 0);
  io_uring_buf_ring_advance(br, 1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: uring_echo PORT\n");
    return 2;
  }
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    perror("uring_echo: bind/listen");
    return 1;
  }

  struct io_uring_params p = {0};
  p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN |
            IORING_SETUP_CQSIZE;
  p.cq_entries = 16384;
  int rc = io_uring_queue_init_params(1024, &ring, &p);
  if (rc < 0) {
    fprintf(stderr, "uring_echo: io_uring_queue_init: %s\n", strerror(-rc));
    return 1;
  }
  // liburing 2.3 (Debian 12) has no io_uring_setup_buf_ring: the ring's memory is ours.
  void *mem = mmap(NULL, kBuffers * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE,
                   MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  buffers = malloc((size_t)kBuffers * kBufferSize);
  if (mem == MAP_FAILED || buffers == NULL) {
    perror("uring_echo: buffers");
    return 1;
  }
  br = mem;
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg = {
      .ring_addr = (uintptr_t)br, .ring_entries = kBuffers, .bgid = 0};
  rc = io_uring_register_buf_ring(&ring, &reg, 0);
  if (rc < 0) {
    fprintf(stderr, "uring_echo: io_uring_register_buf_ring: %s\n", strerror(-rc));
    return 1;
  }
  for (unsigned i = 0; i < kBuffers; ++i)
    io_uring_buf_ring_add(br, buffers + (size_t)i * kBufferSize, kBufferSize, (unsigned short)i,
                          io_uring_buf_ring_mask(kBuffers), (int)i);
  io_uring_buf_ring_advance(br, kBuffers);

  struct io_uring_sqe *s = sqe();
  io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(s, tag(lfd, kOpAccept, 0));

  while (!stop) {
    if (io_uring_submit_and_wait(&ring, 1) < 0 && !stop) continue;
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++n;
      uint64_t d = cqe->user_data;
      int op = (int)(d & 3), fd = (int)((d >> 2) & 0x3fffffff);
      if (op == kOpAccept) {
        if (cqe->res >= 0) arm_recv(cqe->res);
        if (!(cqe->flags & IORING_CQE_F_MORE)) {
          s = sqe();
          io_uring_prep_multishot_accept(s, lfd, NULL, NULL, SOCK_CLOEXEC);
          io_uring_sqe_set_data64(s, tag(lfd, kOpAccept, 0));
        }
      } else if (op == kOpRecv) {
        int more = (cqe->flags & IORING_CQE_F_MORE) != 0;
        if (cqe->res > 0) {
          unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
          s = sqe();
          io_uring_prep_send(s, fd, buffers + (size_t)id * kBufferSize, (size_t)cqe->res,
                             MSG_NOSIGNAL);
          io_uring_sqe_set_data64(s, tag(fd, kOpSend, id));
        } else if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS)) {
          close(fd);  // End of stream or an error: the connection is done.
          more = 1;
        }
        if (!more) arm_recv(fd);  // Ended (out of buffers): armed again.
      } else if (op == kOpSend) {
        give_back((unsigned)(d >> 32));
      }
    }
    io_uring_cq_advance(&ring, n);
  }
  io_uring_queue_exit(&ring);
  return 0;
}
