#pragma once
// A counter written by one thread and read by others: a relaxed load and store (no locked
// read-modify-write on the hot path); readers see a recent value.

#include <atomic>
#include <cstdint>

namespace parley::detail {

struct Counter {
  std::atomic<std::uint64_t> value{0};
  void add(std::uint64_t n) {
    value.store(value.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n) { add(~n + 1); }  // Wraps, like the reader's subtraction.
  std::uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

}  // namespace parley::detail
