// The load-generator worker's records: the end of the warmup, --interval records, and UDP stream
// datagrams (sequence numbers and send times, for loss, reordering and jitter).

#include <cstring>

#include "loadgen_internal.hpp"

namespace parley::load {

// The warmup is over: everything counted so far is forgotten (connections stay open).
void Worker::start_measuring() {
  auto zero = [](Counter& c) { c.value.store(0, std::memory_order_relaxed); };
  zero(counters_.round_trips), zero(counters_.bytes_sent), zero(counters_.bytes_received);
  zero(counters_.errors), zero(counters_.out_of_fds), zero(counters_.out_of_ports);
  for (auto& k : counters_.by_kind) zero(k);
  latency_ = Histogram{};
  interval_latency_ = Histogram{};
  status_ = {};
  datagrams_ = DatagramStats{};
  mismatches_.clear();
  other_error_ = {};
  steady_round_trips_ = 0;
  if (steady_start_ != 0) steady_start_ = std::max(steady_start_, shared_.measure_ns);
  const std::int64_t start = std::max(now_, shared_.measure_ns);
  interval_start_ = start;
  std::memset(interval_base_, 0, sizeof(interval_base_));
  if (config_.interval.count() > 0) next_interval_ = start + config_.interval.count() * 1'000'000;
  measuring_.store(true, std::memory_order_relaxed);
}

void Worker::close_interval(std::int64_t end) {
  IntervalRecord r;
  const std::uint64_t now[4] = {counters_.round_trips.get(), counters_.bytes_sent.get(),
                                counters_.bytes_received.get(), counters_.errors.get()};
  r.round_trips = now[0] - interval_base_[0];
  r.bytes_sent = now[1] - interval_base_[1];
  r.bytes_received = now[2] - interval_base_[2];
  r.errors = now[3] - interval_base_[3];
  std::memcpy(interval_base_, now, sizeof(now));
  r.start_ns = interval_start_, r.end_ns = end;
  for (int i = 0; i < Histogram::kBuckets; ++i)
    if (auto n = interval_latency_.at(i)) r.buckets.emplace_back(static_cast<std::uint32_t>(i), n);
  r.sum_ns = static_cast<std::uint64_t>(interval_latency_.mean() *
                                        static_cast<double>(interval_latency_.count()));
  interval_latency_ = Histogram{};
  interval_start_ = end;
  next_interval_ = end + config_.interval.count() * 1'000'000;
  std::lock_guard<std::mutex> lock(intervals_mutex_);
  intervals_.push_back(std::move(r));
}

std::vector<IntervalRecord> Worker::intervals_from(std::size_t from) const {
  std::lock_guard<std::mutex> lock(intervals_mutex_);
  if (from >= intervals_.size()) return {};
  return {intervals_.begin() + static_cast<std::ptrdiff_t>(from), intervals_.end()};
}

std::size_t Worker::intervals_done() const {
  std::lock_guard<std::mutex> lock(intervals_mutex_);
  return intervals_.size();
}

// Writes the next datagram's sequence number and send time over the start of its bytes (the
// rest is the pattern, which --verify checks on the way back).
void Worker::stamp_datagram(Conn& c) {
  if (c.out.size() != config_.size) c.out.assign(pattern_, config_.size);
  if (config_.size < kDatagramHeader) return;
  const std::uint64_t seq = ++c.requests;
  const std::int64_t t = now_;
  std::memcpy(c.out.data(), &seq, 8);
  std::memcpy(c.out.data() + 8, &t, 8);
}

void Worker::on_stream_datagram(Conn& c, const char* data, std::size_t got) {
  ++datagrams_.received;
  const bool stamped = config_.size >= kDatagramHeader && got >= kDatagramHeader;
  const std::size_t skip = stamped ? kDatagramHeader : 0;
  if (got != config_.size || (config_.verify && !matches(data + skip, got - skip, skip)))
    return mismatch("a datagram differs from what was sent");
  if (!stamped) return;
  std::uint64_t seq;
  std::int64_t sent;
  std::memcpy(&seq, data, 8);
  std::memcpy(&sent, data + 8, 8);
  if (seq < c.max_seq) ++datagrams_.reordered;
  c.max_seq = std::max(c.max_seq, seq);
  // RFC 3550's interarrival jitter, J += (|D| - J) / 16, with D the change in round-trip time
  // from one datagram to the next.
  const std::int64_t transit = now_ - sent;
  if (c.last_transit >= 0) {
    const double d = static_cast<double>(std::llabs(transit - c.last_transit));
    datagrams_.jitter_ns += (d - datagrams_.jitter_ns) / 16.0;
  }
  c.last_transit = transit;
}

}  // namespace parley::load
