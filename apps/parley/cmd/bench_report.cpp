#include "bench_report.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace parley::cmd {
namespace {

std::string bytes_text(double b) {
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.2f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{:.0f} B", b);
}

struct Percentile {
  const char* name;
  double p;
};
constexpr Percentile kPercentiles[] = {
    {"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}, {"p99.99", 99.99}};

// Log-spaced bins between min and max; each histogram bucket falls into the bin of its upper edge.
std::string histogram_bars(const Histogram& h) {
  if (h.count() == 0) return {};
  double lo = std::max<double>(1.0, static_cast<double>(h.min()));
  double hi = std::max(lo * 1.001, static_cast<double>(h.max()));
  constexpr int kBins = 12;
  std::vector<std::uint64_t> bins(kBins, 0);
  for (int i = 0; i < Histogram::kBuckets; ++i) {
    if (h.at(i) == 0) continue;
    double v = std::clamp(static_cast<double>(Histogram::upper_edge(i)), lo, hi);
    int b = static_cast<int>(std::log(v / lo) / std::log(hi / lo) * kBins);
    bins[static_cast<std::size_t>(std::clamp(b, 0, kBins - 1))] += h.at(i);
  }
  std::uint64_t top = *std::max_element(bins.begin(), bins.end());
  std::string out;
  for (int b = 0; b < kBins; ++b) {
    double upper = lo * std::pow(hi / lo, (b + 1.0) / kBins);
    auto n = bins[static_cast<std::size_t>(b)];
    int width = top ? static_cast<int>(
                          std::lround(40.0 * static_cast<double>(n) / static_cast<double>(top)))
                    : 0;
    if (n > 0 && width == 0) width = 1;
    out +=
        fmt::format("  <= {:>10}  {:<40}  {}\n", format_latency(static_cast<std::uint64_t>(upper)),
                    std::string(static_cast<std::size_t>(width), '#'), n);
  }
  return out;
}

}  // namespace

std::string format_latency(std::uint64_t ns) {
  if (ns >= 1'000'000'000) return fmt::format("{:.2f} s", ns / 1e9);
  if (ns >= 1'000'000) return fmt::format("{:.2f} ms", ns / 1e6);
  return fmt::format("{:.1f} us", ns / 1e3);
}

std::string progress_line(const LoadProgress& now, const LoadProgress& before, double elapsed_s,
                          double duration_s, double interval_s) {
  constexpr int kBar = 20;
  int filled = static_cast<int>(std::clamp(elapsed_s / duration_s, 0.0, 1.0) * kBar);
  double rts = static_cast<double>(now.round_trips - before.round_trips) / interval_s;
  double mbs = static_cast<double>(now.bytes_received - before.bytes_received) / interval_s / 1e6;
  return fmt::format("[{}{}] {:.0f}/{:.0f} s  {:.0f} rt/s  {:.1f} MB/s  {} open  {} errors",
                     std::string(static_cast<std::size_t>(filled), '#'),
                     std::string(static_cast<std::size_t>(kBar - filled), ' '), elapsed_s,
                     duration_s, rts, mbs, now.open, now.errors);
}

std::string summary(const BenchHeader& h, const LoadResult& r) {
  const auto& c = h.config;
  double secs = std::max(1e-9, std::chrono::duration<double>(r.elapsed).count());
  std::string out = fmt::format(
      "parley bench {} {}{}: {} connection{}, {}{} thread{}, {:.2f} s{}\n", h.mode, h.target,
      c.udp ? " (UDP)" : "", c.connections, c.connections == 1 ? "" : "s",
      c.mode == BenchMode::hold ? "" : fmt::format("{} B messages, ", c.size), c.threads,
      c.threads == 1 ? "" : "s", secs, h.interrupted ? " (interrupted)" : "");
  if (c.rate > 0)
    out += fmt::format("  target rate     {:.0f} requests/s (latency from intended send time)\n",
                       c.rate);
  out +=
      fmt::format("  round trips     {}  ({:.0f}/s overall", r.round_trips, r.round_trips / secs);
  if (r.steady_rate > 0)
    out += fmt::format(", {:.0f}/s once all connections were up after {}", r.steady_rate,
                       format_latency(static_cast<std::uint64_t>(r.ramp.count())));
  out += ")\n";
  out +=
      fmt::format("  sent            {}  ({}/s)\n", bytes_text(static_cast<double>(r.bytes_sent)),
                  bytes_text(r.bytes_sent / secs));
  out +=
      fmt::format("  received        {}  ({}/s)", bytes_text(static_cast<double>(r.bytes_received)),
                  bytes_text(r.bytes_received / secs));
  // UDP drops datagrams where TCP would slow down: say how much of what was sent came back.
  if (c.udp && r.bytes_sent > 0)
    out += fmt::format(", {:.1f}% of sent", 100.0 * static_cast<double>(r.bytes_received) /
                                                static_cast<double>(r.bytes_sent));
  out += "\n";
  out += fmt::format("  connections     {} opened, {} open at the end, {} at most\n", r.opened,
                     r.open_at_end, r.peak_open);
  std::string errors;
  for (int k = 0; k < static_cast<int>(ErrorKind::count); ++k) {
    auto n = r.errors[static_cast<std::size_t>(k)];
    if (n)
      errors += fmt::format("{}{} {}", errors.empty() ? "" : ", ",
                            error_kind_name(static_cast<ErrorKind>(k)), n);
  }
  out += fmt::format("  errors          {}\n", errors.empty() ? "none" : errors);
  // The usual reason a big run falls short, and the user can fix it: say so in words.
  if (r.out_of_fds > 0) {
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    out += fmt::format(
        "  note            {} sockets could not be opened: out of file descriptors\n"
        "                  (limit {} per thread): raise it with 'ulimit -n', or use fewer "
        "connections\n",
        r.out_of_fds, lim.rlim_cur);
  }
  if (r.latency.count() == 0) return out;
  out += fmt::format("latency           min {}  mean {}  max {}\n", format_latency(r.latency.min()),
                     format_latency(static_cast<std::uint64_t>(r.latency.mean())),
                     format_latency(r.latency.max()));
  std::string line = "                 ";
  for (const auto& p : kPercentiles)
    line += fmt::format(" {} {} ", p.name, format_latency(r.latency.percentile(p.p)));
  while (line.back() == ' ') line.pop_back();
  out += line + "\n" + histogram_bars(r.latency);
  return out;
}

std::string json_result(const BenchHeader& h, const LoadResult& r) {
  const auto& c = h.config;
  double secs = std::max(1e-9, std::chrono::duration<double>(r.elapsed).count());
  nlohmann::json j;
  j["mode"] = h.mode;
  j["protocol"] = c.udp ? "udp" : "tcp";
  j["target"] = h.target;
  j["connections"] = c.connections;
  j["size"] = c.size;
  j["threads"] = c.threads;
  j["rate"] = c.rate;
  j["seconds"] = secs;
  j["interrupted"] = h.interrupted;
  j["round_trips"] = r.round_trips;
  j["round_trips_per_s"] = r.round_trips / secs;
  j["steady_round_trips_per_s"] = r.steady_rate;
  j["connect_ramp_ms"] = r.ramp.count() >= 0 ? r.ramp.count() / 1e6 : -1.0;
  j["bytes_sent"] = r.bytes_sent;
  j["bytes_received"] = r.bytes_received;
  j["connections_opened"] = r.opened;
  j["open_at_end"] = r.open_at_end;
  j["peak_open"] = r.peak_open;
  nlohmann::json errors = nlohmann::json::object();
  for (int k = 0; k < static_cast<int>(ErrorKind::count); ++k)
    errors[error_kind_name(static_cast<ErrorKind>(k))] = r.errors[static_cast<std::size_t>(k)];
  j["errors"] = errors;
  j["errors_total"] = r.total_errors();
  nlohmann::json lat;
  lat["count"] = r.latency.count();
  lat["min_us"] = r.latency.min() / 1e3;
  lat["mean_us"] = r.latency.mean() / 1e3;
  lat["max_us"] = r.latency.max() / 1e3;
  for (const auto& p : kPercentiles)
    lat[std::string(p.name) + "_us"] = r.latency.percentile(p.p) / 1e3;
  j["latency"] = lat;
  return j.dump(2) + "\n";
}

}  // namespace parley::cmd
