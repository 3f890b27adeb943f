#pragma once
// Answer coalescing for the load generator's closed loop: interrupt moderation on the client.
//
// A client that sleeps in epoll_wait while answers are outstanding is woken by the server's next
// answer, and the wakeup is paid on the server's core (try_to_wake_up; in a virtual machine an
// inter-processor interrupt, which is a VM exit). When the server is the bottleneck that cost
// comes out of the very rate being measured: against HAProxy on one core, parley's client was
// idle a third of the time and HAProxy served it ~5% fewer requests/s than the busier wrk.
//
// So when the server is visibly queueing (many connections wait, and their answers take several
// times as long as the fastest one did), the client naps off every wait queue for a short while
// and then takes what came in one batch: the server sends its answers without waking anybody.
// The nap is at most a quarter of the queueing delay that is already there, so the server still
// has most of its queue to work on when the nap ends: waiting moves from the server's queue into
// the socket instead of adding to it (in a closed loop the mean latency is connections / rate,
// and the rate goes up). A server that answers at once, a latency that is the server's own work
// (a fixed 5 ms delay) or the network's (every answer takes the round trip time), or a client
// that is itself the bottleneck (it finds answers waiting every time it looks) gets no nap.
//
// With few connections the latency is mostly wakeups on both sides, not a queue: against HAProxy
// on one core (bench/http.sh) naps cost 13% of the rate at 8 connections and 4% at 16, and gained
// 2-7% from 24 to 50 (2-5% at 24).
//
// Not thread-safe: one per load generator worker.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace parley::load {

class AnswerCoalescer {
 public:
  static constexpr std::int64_t kMaxNapNs = 50'000;
  // Shorter naps would cost the client a timer and a system call for little batching.
  static constexpr std::int64_t kMinNapNs = 10'000;
  // Queueing means this many connections wait for answers, and the typical answer takes at
  // least kQueueingFactor times as long as the fastest one.
  static constexpr std::size_t kMinWaiting = 24;
  static constexpr std::int64_t kQueueingFactor = 4;
  static constexpr std::uint64_t kLongest = 86'400'000'000'000;

  // Every completed round trip's latency.
  void observe(std::uint64_t latency_ns) {
    // Bounded (a day), so that kQueueingFactor times it cannot overflow.
    const auto l = static_cast<std::int64_t>(std::min<std::uint64_t>(latency_ns, kLongest));
    fastest_ = std::min(fastest_, l);
    // Exponentially weighted (1/16): follows a change of load within a few dozen answers.
    typical_ = typical_ < 0 ? l : typical_ + (l - typical_) / 16;
  }

  // How long to nap before waiting for answers on `waiting` connections: 0 for not at all.
  std::int64_t nap_ns(std::size_t waiting) const {
    if (waiting < kMinWaiting || typical_ < 0 || typical_ < kQueueingFactor * fastest_) return 0;
    const std::int64_t nap = std::min(kMaxNapNs, (typical_ - fastest_) / 4);
    return nap >= kMinNapNs ? nap : 0;
  }

 private:
  std::int64_t fastest_ = INT64_MAX;
  std::int64_t typical_ = -1;  // -1: nothing observed yet.
};

}  // namespace parley::load
