// Load generator for bench/echo.sh: single-threaded epoll ping-pong, as lean as the servers
// it measures, so that on a 2-core box (server on core 0, this on core 1) it costs the client
// about what it costs the server.
//
//   pingpong -p PORT [-h 127.0.0.1] -c CONNS -s SIZE -d SECONDS [--hold]
//
// Each connection sends SIZE bytes, waits until exactly SIZE bytes came back, records the
// round trip, and repeats until SECONDS are over; prints one line:
//   conns=N size=S seconds=D rtts=TOTAL rps=X p50_us=A p99_us=B errors=E
// --hold: connect CONNS, send nothing, print "held=N errors=E" once connected, keep them open
// for SECONDS, exit (the server's RSS per idle connection is measured meanwhile).
#define _GNU_SOURCE  // getopt_long
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Log-linear latency histogram in ns (HdrHistogram-like): exact below 128 ns, then 64
// sub-buckets per power of two, so any percentile is within 1/64 (1.6%) of the truth, for any
// run length, in a fixed 30 KiB.
#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define NBUCKETS ((64 - SUB_BITS + 1) * SUB)
static uint64_t hist[NBUCKETS];

static unsigned bucket_of(uint64_t v) {
  if (v < 2 * SUB) return (unsigned)v;
  unsigned shift = (unsigned)(63 - __builtin_clzll(v)) - SUB_BITS;
  return (shift + 1) * SUB + (unsigned)((v >> shift) - SUB);
}

static double percentile_us(uint64_t total, double p) {  // Midpoint of the bucket, in us.
  uint64_t rank = (uint64_t)(p * (double)total + 0.999999), seen = 0;
  for (unsigned i = 0; i < NBUCKETS && total > 0; i++) {
    if ((seen += hist[i]) < rank || hist[i] == 0) continue;
    if (i < 2 * SUB) return i / 1000.0;
    unsigned shift = i / SUB - 1;
    uint64_t low = (uint64_t)(i % SUB + SUB) << shift;
    return (double)(low + ((1ull << shift) >> 1)) / 1000.0;
  }
  return 0;
}

struct conn {
  int fd;          // -1 once failed or closed
  int up;          // connected
  int want_out;    // EPOLLOUT registered (only while a send is stuck)
  uint32_t sent, rcvd;
  uint64_t t0;     // when the current ping started
};

static struct conn *conns;
static int ep, errors;
static uint32_t size;
static char *payload;

static void fail(struct conn *c) {
  errors++;
  close(c->fd);  // Also removes it from the epoll set.
  c->fd = -1;
}

static void set_events(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

// Sends what is left of the ping; a full socket buffer (only with big SIZE) waits for EPOLLOUT.
static void try_send(struct conn *c) {
  while (c->sent < size) {
    ssize_t w = write(c->fd, payload + c->sent, size - c->sent);
    if (w > 0) {
      c->sent += (uint32_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      if (!c->want_out) set_events(c, EPOLLIN | EPOLLOUT);
      c->want_out = 1;
      return;
    } else if (!(w < 0 && errno == EINTR)) {
      fail(c);
      return;
    }
  }
  if (c->want_out) set_events(c, EPOLLIN);
  c->want_out = 0;
}

static void start_ping(struct conn *c, uint64_t t) {
  c->t0 = t;
  c->sent = c->rcvd = 0;
  try_send(c);
}

static void usage(void) {
  fprintf(stderr,
          "usage: pingpong -p PORT [-h 127.0.0.1] -c CONNS -s SIZE -d SECONDS [--hold]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1";
  long port = 0, n = 1, sz = 64;
  double seconds = 5;
  int hold = 0, opt;
  static const struct option longopts[] = {{"hold", no_argument, NULL, 'H'}, {0, 0, 0, 0}};
  while ((opt = getopt_long(argc, argv, "p:h:c:s:d:", longopts, NULL)) != -1) {
    switch (opt) {
      case 'p': port = strtol(optarg, NULL, 10); break;
      case 'h': host = optarg; break;
      case 'c': n = strtol(optarg, NULL, 10); break;
      case 's': sz = strtol(optarg, NULL, 10); break;
      case 'd': seconds = strtod(optarg, NULL); break;
      case 'H': hold = 1; break;
      default: usage();
    }
  }
  // Bounds keep memory and run time finite whatever the arguments.
  if (optind != argc || port < 1 || port > 65535 || n < 1 || n > 1000000 || sz < 1 ||
      sz > (16l << 20) || !(seconds > 0 && seconds <= 3600))
    usage();
  size = (uint32_t)sz;

  // 10,000 connections need 10,000 fds; the hard limit is what the shell allows.
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  signal(SIGPIPE, SIG_IGN);  // A server reset must be an error count, not our death.

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
    fprintf(stderr, "pingpong: -h wants an IPv4 address, got %s\n", host);
    return 2;
  }
  conns = calloc((size_t)n, sizeof *conns);
  payload = malloc(size);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (!conns || !payload || ep < 0) return 1;
  memset(payload, 'p', size);

  // Connect phase: non-blocking connects, at most 512 in flight so that a slow accept loop
  // is not drowned in SYNs (a dropped SYN costs a 1 s retransmit). Bounded by 10 s in all.
  enum { MAX_PENDING = 512 };
  struct epoll_event evs[256];
  uint64_t deadline = now_ns() + 10000000000ull;
  long next = 0, pending = 0, connected = 0;
  int one = 1;
  while (connected + errors < n && now_ns() < deadline) {
    for (; next < n && pending < MAX_PENDING; next++) {
      struct conn *c = &conns[next];
      c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0) { errors++; continue; }
      setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      // Loopback connect may finish at once (0) or later (EINPROGRESS); both end in EPOLLOUT.
      if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) {
        fail(c);
        continue;
      }
      struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)next};
      epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
      pending++;
    }
    int k = epoll_wait(ep, evs, 256, 100);
    for (int i = 0; i < k; i++) {
      struct conn *c = &conns[evs[i].data.u32];
      if (c->up) continue;  // Only EPOLLHUP/ERR can come from a connected one; later.
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      pending--;
      if (err) { fail(c); continue; }
      connected++;
      c->up = 1;
      set_events(c, 0);  // No interest until the pings start (hold mode never starts them).
    }
  }
  for (long i = 0; i < n; i++) {  // Still connecting after 10 s, or never started: errors.
    if (i >= next) {
      errors++;
      conns[i].fd = -1;  // calloc left fd 0 there: it must never be used.
    } else if (conns[i].fd >= 0 && !conns[i].up) {
      fail(&conns[i]);
    }
  }

  if (hold) {
    printf("held=%ld errors=%d\n", connected, errors);
    fflush(stdout);  // echo.sh polls the output file for "held=".
    struct timespec ts = {.tv_sec = (time_t)seconds,
                          .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
    return errors ? 1 : 0;
  }

  // Ping-pong phase. Pings still in flight when time is up are not counted.
  static char rbuf[64 * 1024];
  for (long i = 0; i < n; i++)
    if (conns[i].fd >= 0) set_events(&conns[i], EPOLLIN);
  uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), t = start, rtts = 0;
  for (long i = 0; i < n; i++)
    if (conns[i].fd >= 0) start_ping(&conns[i], start);
  while (t < end) {
    int k = epoll_wait(ep, evs, 256, (int)((end - t) / 1000000) + 1);
    for (int i = 0; i < k; i++) {
      struct conn *c = &conns[evs[i].data.u32];
      if (c->fd < 0) continue;
      if ((evs[i].events & EPOLLOUT) && c->sent < size) try_send(c);
      if (c->fd < 0 || !(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) continue;
      ssize_t r = read(c->fd, rbuf, sizeof rbuf);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0 || (c->rcvd += (uint32_t)r) > c->sent) {  // EOF, error, or more than sent
        fail(c);
        continue;
      }
      if (c->rcvd == size) {
        t = now_ns();
        hist[bucket_of(t - c->t0)]++;
        rtts++;
        if (t < end) start_ping(c, t);
      }
    }
    t = now_ns();
  }
  double secs = (double)(t - start) / 1e9;
  printf("conns=%ld size=%u seconds=%g rtts=%llu rps=%.0f p50_us=%.1f p99_us=%.1f errors=%d\n",
         n, size, seconds, (unsigned long long)rtts, (double)rtts / secs,
         percentile_us(rtts, 0.50), percentile_us(rtts, 0.99), errors);
  return connected ? 0 : 1;
}
