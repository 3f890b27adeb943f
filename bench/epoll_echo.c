// Baseline for bench/echo.sh: the least a TCP echo server can do on Linux. One thread, one
// level-triggered epoll set, one shared 64 KiB buffer, read() then write() straight back.
// No per-connection state at all, so its RSS per idle connection is ~0 and its CPU per round
// trip is the floor that parley is compared against.
//
//   epoll_echo PORT      (binds 127.0.0.1 only; port 0 picks one and prints it)
#define _GNU_SOURCE  // accept4
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static char buf[64 * 1024];  // Shared by all connections: data never outlives one read/write.

// Writes all of buf[0..n). A partial write only happens when the client is not reading; the
// baseline just waits for it (bounded: a client stuck for 10 s is dropped) instead of keeping
// per-connection backlog like a real server must.
static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w > 0) {
      p += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      struct pollfd pfd = {.fd = fd, .events = POLLOUT};
      if (poll(&pfd, 1, 10000) <= 0) return -1;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else {
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: epoll_echo PORT\n");
    return 2;
  }
  // No SA_RESTART: SIGTERM/SIGINT must interrupt epoll_wait so the loop sees `stop`.
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);  // A client that resets mid-write must give EPIPE, not kill us.

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // Rebind while in TIME_WAIT.
  struct sockaddr_in addr = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof addr;
  // Large backlog: the hold test opens 10,000 connections at once; a full accept queue would
  // drop SYNs and measure the 1 s SYN retransmit timer instead of the server.
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
    perror("epoll_echo: listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  fprintf(stderr, "listening on 127.0.0.1:%u\n", ntohs(addr.sin_port));

  struct epoll_event evs[256];
  while (!stop) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      perror("epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == lfd) {
        // Drain the accept queue; level-triggered, so leftovers would just wake us again.
        // (On EMFILE this would spin: echo.sh raises `ulimit -n` well above what it opens.)
        int c;
        while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // Small echoes go now.
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      // EPOLLIN, EPOLLHUP or EPOLLERR: read() tells them apart (data, 0 = EOF, or an error).
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0 && write_all(fd, buf, (size_t)r) == 0) continue;
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      close(fd);  // EOF or error. Closing the only fd also removes it from the epoll set.
    }
  }
  return 0;
}
