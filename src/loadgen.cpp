// LoadGenerator: splits the connections over worker threads, runs them, merges their results.

#include <poll.h>
#include <sys/resource.h>

#include <cstring>
#include <thread>

#include "loadgen_internal.hpp"

namespace parley {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::refused:
      return "refused";
    case ErrorKind::reset:
      return "reset";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::mismatch:
      return "mismatch";
    case ErrorKind::closed_early:
      return "closed early";
    case ErrorKind::other:
      return "other";
    case ErrorKind::count:
      break;
  }
  return "?";
}

std::uint64_t LoadResult::total_errors() const {
  std::uint64_t n = 0;
  for (auto e : errors) n += e;
  return n;
}

struct LoadGenerator::Impl {
  load::Shared shared;
  std::unique_ptr<char[]> pattern;
  std::vector<std::unique_ptr<load::Worker>> workers;
  std::vector<std::thread> threads;
  void start_clock();
};

Result<std::unique_ptr<LoadGenerator>> LoadGenerator::create(const LoadConfig& config) {
  auto impl = std::make_unique<Impl>();
  impl->shared.config = config;
  auto& c = impl->shared.config;
  c.threads = std::max(1u, std::min(config.threads, config.connections));
  // Many connections need many descriptors: raise the soft limit to the hard one.
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  // The message bytes: printable in line mode (ending in LF), varied otherwise so that --verify
  // catches reordering as well as corruption. Twice the period, so any window is contiguous.
  impl->pattern = std::make_unique<char[]>(2 * load::kPattern);
  char* p = impl->pattern.get();
  for (std::size_t i = 0; i < load::kPattern; ++i)
    p[i] =
        c.lines ? static_cast<char>('a' + (i % 26)) : static_cast<char>((i * 131 + i / 251) & 0xff);
  if (c.lines && c.size > 0 && c.size <= load::kPattern) p[c.size - 1] = '\n';
  std::memcpy(p + load::kPattern, p, load::kPattern);
  std::vector<std::vector<unsigned>> ids(c.threads);
  for (unsigned i = 0; i < c.connections; ++i) ids[i % c.threads].push_back(i);
  for (auto& share : ids)
    impl->workers.push_back(
        std::make_unique<load::Worker>(impl->shared, std::move(share), impl->pattern.get()));
  return std::unique_ptr<LoadGenerator>(new LoadGenerator(std::move(impl)));
}

LoadGenerator::LoadGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LoadGenerator::~LoadGenerator() {
  stop();
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
}

void LoadGenerator::Impl::start_clock() {
  shared.start_ns = load::now_ns();
  shared.end_ns = shared.start_ns + shared.config.duration.count() * 1'000'000LL;
}

void LoadGenerator::start() {
  impl_->start_clock();
  for (auto& w : impl_->workers) impl_->threads.emplace_back([worker = w.get()] { worker->run(); });
}

void LoadGenerator::stop() {
  impl_->shared.stop.store(true);
}

LoadResult LoadGenerator::run(int stop_fd, const std::function<void()>& every_second) {
  if (impl_->workers.size() == 1) {
    impl_->start_clock();
    impl_->workers.front()->run(stop_fd, &every_second);
    return wait();
  }
  // Several workers: this thread only watches stop_fd and the clock while they run.
  start();
  auto next = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  bool watching = stop_fd >= 0;
  while (!finished()) {
    pollfd p{stop_fd, POLLIN, 0};
    if (::poll(&p, watching ? 1 : 0, 50) > 0) {
      stop();
      watching = false;  // stop_fd stays readable; the workers need a moment to wind down.
    }
    if (std::chrono::steady_clock::now() >= next) {
      every_second();
      next += std::chrono::seconds(1);
    }
  }
  return wait();
}

bool LoadGenerator::finished() const {
  for (const auto& w : impl_->workers)
    if (!w->done()) return false;
  return true;
}

LoadProgress LoadGenerator::progress() const {
  LoadProgress p;
  for (const auto& w : impl_->workers) {
    const auto& c = w->counters();
    p.round_trips += c.round_trips.get();
    p.bytes_sent += c.bytes_sent.get();
    p.bytes_received += c.bytes_received.get();
    p.open += c.open.get();
    p.errors += c.errors.get();
  }
  return p;
}

LoadResult LoadGenerator::wait() {
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  LoadResult r;
  r.elapsed = std::chrono::nanoseconds(std::min(load::now_ns(), impl_->shared.end_ns) -
                                       impl_->shared.start_ns);
  for (const auto& w : impl_->workers) {
    const auto& c = w->counters();
    r.round_trips += c.round_trips.get();
    r.bytes_sent += c.bytes_sent.get();
    r.bytes_received += c.bytes_received.get();
    r.opened += c.opened.get();
    r.open_at_end += w->open_at_end();
    r.peak_open += w->peak_open();
    r.out_of_fds += c.out_of_fds.get();
    for (int k = 0; k < static_cast<int>(ErrorKind::count); ++k)
      r.errors[static_cast<std::size_t>(k)] += c.by_kind[static_cast<std::size_t>(k)].get();
    r.latency.merge(w->latency());
    r.steady_rate += w->steady_rate();
    r.ramp = std::max(r.ramp, std::chrono::nanoseconds(w->ramp_ns(impl_->shared.start_ns)));
  }
  return r;
}

}  // namespace parley
