#include "parley/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace parley {

// Values below 64 get a bucket each; above, the top kSubBits bits after the leading one pick the
// sub-bucket within the value's power of two.
int Histogram::index_of(std::uint64_t v) {
  if (v < (1u << kSubBits)) return static_cast<int>(v);
  int msb = 63 - std::countl_zero(v);
  int shift = msb - kSubBits;
  auto sub = static_cast<int>((v >> shift) & ((1u << kSubBits) - 1));
  return ((shift + 1) << kSubBits) + sub;
}

std::uint64_t Histogram::upper_edge(int index) {
  if (index < (1 << kSubBits)) return static_cast<std::uint64_t>(index);
  int shift = (index >> kSubBits) - 1;
  std::uint64_t sub = static_cast<std::uint64_t>(index & ((1 << kSubBits) - 1)) | (1u << kSubBits);
  return ((sub + 1) << shift) - 1;
}

void Histogram::record(std::uint64_t v) {
  ++buckets_[static_cast<std::size_t>(index_of(v))];
  ++count_;
  sum_ += v;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::add_bucket(int index, std::uint64_t n) {
  if (n == 0 || index < 0 || index >= kBuckets) return;
  const std::uint64_t v = upper_edge(index);
  buckets_[static_cast<std::size_t>(index)] += n;
  count_ += n;
  sum_ += v * n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
}

void Histogram::merge(const Histogram& o) {
  for (std::size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += o.buckets_[i];
  count_ += o.count_;
  sum_ += o.sum_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
}

std::uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (int i = 0; i < kBuckets; ++i) {
    seen += buckets_[static_cast<std::size_t>(i)];
    if (seen >= rank) return std::min(upper_edge(i), max_);
  }
  return max_;
}

}  // namespace parley
