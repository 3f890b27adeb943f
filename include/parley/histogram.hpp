#pragma once
// Latency histogram in the HdrHistogram style: log-linear buckets (64 per power of two, so every
// value is kept within 1.6%), fixed memory (about 30 KiB), O(1) record, exact count, min, max and
// mean. One per thread; merge() adds another into this one. Not thread-safe.

#include <array>
#include <cstdint>

namespace parley {

class Histogram {
 public:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two.
  static constexpr int kBuckets = (64 - kSubBits + 1) << kSubBits;

  void record(std::uint64_t value_ns);
  void merge(const Histogram& other);
  // Adds n values at bucket `index` (each taken as the bucket's upper edge): rebuilding a histogram
  // from its non-empty buckets.
  void add_bucket(int index, std::uint64_t n);
  std::uint64_t count() const { return count_; }
  std::uint64_t min() const { return count_ ? min_ : 0; }
  std::uint64_t max() const { return max_; }
  double mean() const {
    return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0;
  }
  // The value at percentile p (0..100): the upper edge of the bucket holding it, capped at max().
  std::uint64_t percentile(double p) const;
  // Bucket access for drawing: index range and the value range each covers.
  static int index_of(std::uint64_t value);
  static std::uint64_t upper_edge(int index);
  std::uint64_t at(int index) const { return buckets_[static_cast<std::size_t>(index)]; }

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0, sum_ = 0, min_ = UINT64_MAX, max_ = 0;
};

}  // namespace parley
