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
      return "closed_early";
    case ErrorKind::malformed:
      return "malformed";
    case ErrorKind::non_2xx:
      return "non_2xx";
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
  std::size_t intervals_taken = 0;
  std::vector<IntervalStats> all_intervals;  // Everything take_intervals() ever returned.
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
  // A request without fields is prepared once, `pipeline` times over, and sent by prefix.
  if (c.message && c.message->constant()) {
    const std::string one = c.message->constant_text();
    impl->shared.request_len = one.size();
    for (unsigned i = 0; i < std::max(1u, c.pipeline); ++i) impl->shared.batch += one;
  }
  c.pipeline = std::max(1u, c.pipeline);
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
  shared.measure_ns = shared.start_ns + shared.config.warmup.count() * 1'000'000LL;
  shared.end_ns = shared.measure_ns + shared.config.duration.count() * 1'000'000LL;
}

void LoadGenerator::start() {
  impl_->start_clock();
  for (auto& w : impl_->workers) impl_->threads.emplace_back([worker = w.get()] { worker->run(); });
}

void LoadGenerator::stop() {
  impl_->shared.stop.store(true);
}

LoadResult LoadGenerator::run(int stop_fd, const std::function<void()>& tick) {
  if (impl_->workers.size() == 1) {
    impl_->start_clock();
    impl_->workers.front()->run(stop_fd, &tick);
    return wait();
  }
  // Several workers: this thread only watches stop_fd and the clock while they run.
  start();
  auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
  bool watching = stop_fd >= 0;
  while (!finished()) {
    pollfd p{stop_fd, POLLIN, 0};
    if (::poll(&p, watching ? 1 : 0, 50) > 0) {
      stop();
      watching = false;  // stop_fd stays readable; the workers need a moment to wind down.
    }
    if (std::chrono::steady_clock::now() >= next) {
      tick();
      next += std::chrono::milliseconds(100);
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
    p.warming_up |= !w->measuring();
  }
  return p;
}

std::vector<IntervalStats> LoadGenerator::take_intervals() {
  std::size_t ready = SIZE_MAX;
  for (const auto& w : impl_->workers) ready = std::min(ready, w->intervals_done());
  std::vector<IntervalStats> out;
  if (ready <= impl_->intervals_taken) return out;
  std::vector<std::vector<load::IntervalRecord>> per_worker;
  for (const auto& w : impl_->workers)
    per_worker.push_back(w->intervals_from(impl_->intervals_taken));
  for (std::size_t k = 0; k < ready - impl_->intervals_taken; ++k) {
    Histogram h;
    IntervalStats s;
    std::uint64_t sum = 0;
    std::int64_t start = INT64_MAX, end = 0;
    for (const auto& recs : per_worker) {
      const auto& r = recs[k];
      s.round_trips += r.round_trips, s.bytes_sent += r.bytes_sent;
      s.bytes_received += r.bytes_received, s.errors += r.errors;
      for (auto [i, n] : r.buckets) h.add_bucket(static_cast<int>(i), n);
      sum += r.sum_ns;
      start = std::min(start, r.start_ns), end = std::max(end, r.end_ns);
    }
    const double t0 = static_cast<double>(impl_->shared.measure_ns);
    s.start_s = (static_cast<double>(start) - t0) / 1e9;
    s.end_s = (static_cast<double>(end) - t0) / 1e9;
    s.latency_count = h.count();
    s.mean_ns = h.count() ? static_cast<double>(sum) / static_cast<double>(h.count()) : 0;
    s.p50_ns = h.percentile(50), s.p90_ns = h.percentile(90), s.p99_ns = h.percentile(99);
    s.max_ns = h.max();
    out.push_back(s);
  }
  impl_->intervals_taken = ready;
  impl_->all_intervals.insert(impl_->all_intervals.end(), out.begin(), out.end());
  return out;
}

LoadResult LoadGenerator::wait() {
  for (auto& t : impl_->threads)
    if (t.joinable()) t.join();
  LoadResult r;
  take_intervals();
  r.series = impl_->all_intervals;
  r.elapsed = std::chrono::nanoseconds(std::max<std::int64_t>(
      0, std::min(load::now_ns(), impl_->shared.end_ns) - impl_->shared.measure_ns));
  for (const auto& w : impl_->workers) {
    const auto& c = w->counters();
    r.round_trips += c.round_trips.get();
    r.bytes_sent += c.bytes_sent.get();
    r.bytes_received += c.bytes_received.get();
    r.opened += c.opened.get();
    r.open_at_end += w->open_at_end();
    r.not_open_at_end += w->not_open_at_end();
    r.peak_open += w->peak_open();
    r.out_of_fds += c.out_of_fds.get();
    r.out_of_ports += c.out_of_ports.get();
    if (!r.other_error) r.other_error = w->other_error();
    for (const auto& m : w->mismatches())
      if (r.mismatches.size() < 3) r.mismatches.push_back(m);
    if (r.unasked.empty()) r.unasked = w->unasked();
    for (std::size_t i = 0; i < r.status.size(); ++i) r.status[i] += w->status()[i];
    const auto& d = w->datagrams();
    const double weight = static_cast<double>(r.datagrams.received + d.received);
    if (weight > 0)
      r.datagrams.jitter_ns = (r.datagrams.jitter_ns * static_cast<double>(r.datagrams.received) +
                               d.jitter_ns * static_cast<double>(d.received)) /
                              weight;
    r.datagrams.sent += d.sent, r.datagrams.received += d.received;
    r.datagrams.reordered += d.reordered;
    for (int k = 0; k < static_cast<int>(ErrorKind::count); ++k)
      r.errors[static_cast<std::size_t>(k)] += c.by_kind[static_cast<std::size_t>(k)].get();
    r.latency.merge(w->latency());
    r.steady_rate += w->steady_rate();
    r.ramp = std::max(r.ramp, std::chrono::nanoseconds(w->ramp_ns(impl_->shared.measure_ns)));
  }
  return r;
}

}  // namespace parley
