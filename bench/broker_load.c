// Load generator for bench/serve.sh: N clients of a broker (a server that relays what each
// client sends to every other client), single-threaded epoll.
//
//   broker_load -p PORT [-h 127.0.0.1] -c CLIENTS -s SIZE -d SECONDS [-w WINDOW]
//
// Every client sends SIZE-byte lines (the last byte a newline). Client i may send its line number
// r only once it has received (r - WINDOW) * (CLIENTS - 1) lines, so the load keeps the server
// busy without letting any client run ahead and fill the server's queues: it measures how fast
// the broker delivers, not how much it buffers. Prints one line:
//   clients=N size=S seconds=D sent=X delivered=Y delivered_per_s=Z errors=E
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct client {
  int fd;
  uint64_t sent_lines, received_bytes;
  uint32_t partial;  // Bytes of the current line already written.
  int want_out;
};

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  int port = 0, n = 50, size = 64, window = 4;
  double seconds = 5;
  int opt;
  while ((opt = getopt(argc, argv, "h:p:c:s:d:w:")) != -1) {
    switch (opt) {
      case 'h': host = optarg; break;
      case 'p': port = atoi(optarg); break;
      case 'c': n = atoi(optarg); break;
      case 's': size = atoi(optarg); break;
      case 'd': seconds = atof(optarg); break;
      case 'w': window = atoi(optarg); break;
      default: fprintf(stderr, "usage: broker_load -p PORT -c N -s SIZE -d SECONDS [-w W]\n"); return 2;
    }
  }
  if (port <= 0 || n < 2 || size < 2 || seconds <= 0 || window < 1) return 2;
  char *line = malloc((size_t)size);
  memset(line, 'x', (size_t)size);
  line[size - 1] = '\n';
  struct client *c = calloc((size_t)n, sizeof *c);
  int ep = epoll_create1(0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &sa.sin_addr);
  for (int i = 0; i < n; i++) {
    c[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c[i].fd, (struct sockaddr *)&sa, sizeof sa) != 0) { perror("connect"); return 1; }
    int one = 1;
    setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  usleep(300000);  // Let the server register everybody before the first line.
  for (int i = 0; i < n; i++) {
    // Drain greetings (a chat server would send some; a broker sends none).
    char junk[4096];
    while (recv(c[i].fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
  }
  uint64_t per_round = (uint64_t)(n - 1);
  uint64_t errors = 0;
  char buf[1 << 16];
  double start = now_s(), end = start + seconds;
  // May client i send its next line? Only when it is at most `window` rounds ahead.
#define CAN_SEND(k) \
  (c[k].received_bytes / (uint64_t)size + (uint64_t)window * per_round >= (c[k].sent_lines) * per_round)
  for (;;) {
    double t = now_s();
    if (t >= end) break;
    for (int i = 0; i < n; i++) {
      while (!c[i].want_out && CAN_SEND(i)) {
        ssize_t w = send(c[i].fd, line + c[i].partial, (size_t)size - c[i].partial, MSG_DONTWAIT);
        if (w < 0) {
          if (errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_MOD, c[i].fd, &ev);
            c[i].want_out = 1;
          } else {
            errors++;
          }
          break;
        }
        c[i].partial += (uint32_t)w;
        if (c[i].partial == (uint32_t)size) {
          c[i].partial = 0;
          c[i].sent_lines++;
        }
      }
    }
    struct epoll_event events[256];
    int k = epoll_wait(ep, events, 256, 10);
    for (int e = 0; e < k; e++) {
      int i = (int)events[e].data.u32;
      if (events[e].events & EPOLLOUT) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_MOD, c[i].fd, &ev);
        c[i].want_out = 0;
      }
      if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t r = recv(c[i].fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r > 0) c[i].received_bytes += (uint64_t)r;
        else if (r == 0 || errno != EAGAIN) {
          errors++;
          epoll_ctl(ep, EPOLL_CTL_DEL, c[i].fd, NULL);
        }
      }
    }
  }
  double elapsed = now_s() - start;
  uint64_t sent = 0, delivered = 0;
  for (int i = 0; i < n; i++) {
    sent += c[i].sent_lines;
    delivered += c[i].received_bytes / (uint64_t)size;
  }
  printf("clients=%d size=%d seconds=%.2f sent=%llu delivered=%llu delivered_per_s=%.0f errors=%llu\n",
         n, size, elapsed, (unsigned long long)sent, (unsigned long long)delivered,
         (double)delivered / elapsed, (unsigned long long)errors);
  return 0;
}
