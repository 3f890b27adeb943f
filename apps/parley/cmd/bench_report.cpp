#include "bench_report.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "parley/errors.hpp"

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
// JSON keys usable in jq paths: [a-z][a-z0-9_]*.
constexpr const char* kPercentileKeys[] = {"p50_us", "p90_us", "p99_us", "p99_9_us", "p99_99_us"};

// "64 B messages, " (the pattern), "18 B requests, " (a constant message), "templated requests, ".
std::string request_text(const LoadConfig& c) {
  if (c.mode == BenchMode::hold) return "";
  if (!c.message) return fmt::format("{} B messages, ", c.size);
  if (!c.message->constant()) return "templated requests, ";
  return fmt::format("{} B requests, ", c.message->constant_text().size());
}

bool has_latency(const LoadConfig& c) {
  return c.mode != BenchMode::stream && c.mode != BenchMode::hold;
}

// The notes that explain a shortfall in words: descriptors, ports, the first other error.
std::string notes(const LoadResult& r, bool hold) {
  std::string out;
  if (r.out_of_fds > 0) {
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    out += fmt::format(
        "  note            {} sockets could not be opened: out of file descriptors\n"
        "                  (limit {} per thread): raise it with 'ulimit -n', or use fewer "
        "connections\n",
        r.out_of_fds, lim.rlim_cur);
  }
  if (r.out_of_ports > 0) {
    std::string range = "?";
    std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned lo = 0, hi = 0;
    if (f >> lo >> hi) range = fmt::format("{}-{}, {} ports", lo, hi, hi - lo + 1);
    out += fmt::format(
        "  note            {} connects failed: no local port left (EADDRNOTAVAIL; range {}\n"
        "                  per destination, TIME-WAIT included): use fewer connections, or\n"
        "                  --linger0 so that closed connections leave no TIME-WAIT\n",
        r.out_of_ports, range);
  }
  if (hold && r.not_open_at_end > 0)
    out += fmt::format(
        "  note            {} connections were not open at the end (still connecting, or not\n"
        "                  yet opened): the server accepts slower than asked; try a longer -d\n",
        r.not_open_at_end);
  const auto other = r.errors[static_cast<std::size_t>(ErrorKind::other)];
  if (other > r.out_of_fds + r.out_of_ports && r.other_error)
    out += fmt::format("  note            other errors: {} (the first)\n", describe(r.other_error));
  for (std::size_t i = 0; i < r.mismatches.size(); ++i)
    out += fmt::format("  mismatch        {}\n", r.mismatches[i]);
  if (!r.unasked.empty()) out += fmt::format("  server said     '{}' (unasked)\n", r.unasked);
  return out;
}

std::string status_text(const LoadResult& r) {
  std::string out;
  for (std::size_t i = 0; i < r.status.size(); ++i)
    if (r.status[i]) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", i, r.status[i]);
  return out;
}

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

nlohmann::json json_datagrams(const DatagramStats& d, std::size_t size) {
  const auto lost = d.sent > d.received ? d.sent - d.received : 0;
  return {
      {"sent", d.sent},
      {"received", d.received},
      {"lost", lost},
      {"loss_pct", d.sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(d.sent) : 0.0},
      {"reordered", d.reordered},
      {"jitter_us", size >= 16 ? nlohmann::json(d.jitter_ns / 1e3) : nlohmann::json()}};
}

nlohmann::json json_latency(const Histogram& h) {
  nlohmann::json lat;
  lat["count"] = h.count();
  lat["min_us"] = h.min() / 1e3;
  lat["mean_us"] = h.mean() / 1e3;
  lat["max_us"] = h.max() / 1e3;
  for (std::size_t i = 0; i < std::size(kPercentiles); ++i)
    lat[kPercentileKeys[i]] = h.percentile(kPercentiles[i].p) / 1e3;
  nlohmann::json buckets = nlohmann::json::array();
  for (int i = 0; i < Histogram::kBuckets; ++i)
    if (h.at(i)) buckets.push_back({Histogram::upper_edge(i) / 1e3, h.at(i)});
  lat["buckets"] = buckets;
  return lat;
}

nlohmann::json json_series(const std::vector<IntervalStats>& all) {
  nlohmann::json series = nlohmann::json::array();
  for (const auto& s : all) {
    const double len = std::max(1e-9, s.end_s - s.start_s);
    series.push_back({{"start_s", s.start_s},
                      {"end_s", s.end_s},
                      {"round_trips", s.round_trips},
                      {"round_trips_per_s", static_cast<double>(s.round_trips) / len},
                      {"bytes_sent", s.bytes_sent},
                      {"bytes_received", s.bytes_received},
                      {"errors", s.errors},
                      {"p50_us", s.p50_ns / 1e3},
                      {"p90_us", s.p90_ns / 1e3},
                      {"p99_us", s.p99_ns / 1e3},
                      {"max_us", s.max_ns / 1e3},
                      {"mean_us", s.mean_ns / 1e3}});
  }
  return series;
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
  return fmt::format("[{}{}] {:.0f}/{:.0f} s  {:.0f} rt/s  {:.1f} MB/s  {} open  {} errors{}",
                     std::string(static_cast<std::size_t>(filled), '#'),
                     std::string(static_cast<std::size_t>(kBar - filled), ' '), elapsed_s,
                     duration_s, rts, mbs, now.open, now.errors,
                     now.warming_up ? "  (warmup)" : "");
}

namespace {

// The first lines: what ran, and the settings that shape the figures below.
std::string summary_head(const BenchHeader& h, double secs) {
  const auto& c = h.config;
  std::string out = fmt::format(
      "parley bench {} {}{}: {} connection{}, {}{} thread{}, {:.2f} s{}\n", h.mode, h.target,
      c.udp   ? " (UDP)"
      : c.tls ? " (TLS)"
              : "",
      c.connections, c.connections == 1 ? "" : "s", request_text(c), c.threads,
      c.threads == 1 ? "" : "s", secs, h.interrupted ? " (interrupted)" : "");
  if (c.warmup.count() > 0)
    out += fmt::format("  warmup          {} before, not counted\n",
                       format_latency(static_cast<std::uint64_t>(c.warmup.count()) * 1'000'000));
  if (c.pipeline > 1)
    out += fmt::format("  pipeline        {} requests in flight per connection\n", c.pipeline);
  if (c.rate > 0)
    out += fmt::format("  target rate     {:g} {}/s{}\n", c.rate,
                       c.mode == BenchMode::stream ? "messages" : "requests",
                       has_latency(c) ? " (latency from intended send time)" : "");
  return out;
}

// Round trips, bytes each way and, for a UDP stream, what happened to the datagrams.
std::string traffic_text(const LoadConfig& c, const LoadResult& r, double secs) {
  std::string out =
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
  if (c.udp && c.mode == BenchMode::stream) {
    const auto& d = r.datagrams;
    const auto lost = d.sent > d.received ? d.sent - d.received : 0;
    out +=
        fmt::format("  datagrams       {} sent, {} received, {} lost ({:.2f}%), {} reordered",
                    d.sent, d.received, lost,
                    d.sent ? 100.0 * static_cast<double>(lost) / static_cast<double>(d.sent) : 0.0,
                    d.reordered);
    if (c.size >= 16)
      out += fmt::format(", jitter {}", format_latency(static_cast<std::uint64_t>(d.jitter_ns)));
    out += "\n";
  }
  return out;
}

std::string errors_text(const LoadResult& r) {
  std::string errors;
  for (int k = 0; k < static_cast<int>(ErrorKind::count); ++k) {
    auto n = r.errors[static_cast<std::size_t>(k)];
    if (n)
      errors += fmt::format("{}{} {}", errors.empty() ? "" : ", ",
                            error_kind_name(static_cast<ErrorKind>(k)), n);
  }
  return errors.empty() ? "none" : errors;
}

std::string latency_text(const Histogram& h) {
  std::string out =
      fmt::format("latency           min {}  mean {}  max {}\n", format_latency(h.min()),
                  format_latency(static_cast<std::uint64_t>(h.mean())), format_latency(h.max()));
  std::string line = "                 ";
  for (const auto& p : kPercentiles)
    line += fmt::format(" {} {} ", p.name, format_latency(h.percentile(p.p)));
  while (line.back() == ' ') line.pop_back();
  return out + line + "\n" + histogram_bars(h);
}

}  // namespace

std::string summary(const BenchHeader& h, const LoadResult& r) {
  const auto& c = h.config;
  double secs = std::max(1e-9, std::chrono::duration<double>(r.elapsed).count());
  std::string out = summary_head(h, secs) + traffic_text(c, r, secs);
  out += fmt::format("  connections     {} opened, {} open at the end, {} at most\n", r.opened,
                     r.open_at_end, r.peak_open);
  if (c.mode == BenchMode::http)
    out += fmt::format("  status          {}\n", status_text(r).empty() ? "none" : status_text(r));
  out += fmt::format("  errors          {}\n", errors_text(r));
  // The usual reasons a big run falls short, and the user can fix them: say so in words.
  out += notes(r, c.mode == BenchMode::hold);
  if (r.latency.count() == 0 || !has_latency(c)) return out;
  return out + latency_text(r.latency);
}

std::string json_result(const BenchHeader& h, const LoadResult& r) {
  const auto& c = h.config;
  double secs = std::max(1e-9, std::chrono::duration<double>(r.elapsed).count());
  nlohmann::json j;
  j["mode"] = h.mode;
  j["protocol"] = c.udp ? "udp" : "tcp";
  j["tls"] = c.tls != nullptr;
  j["target"] = h.target;
  j["connections"] = c.connections;
  j["size"] = c.message && c.message->constant() ? c.message->constant_text().size() : c.size;
  j["threads"] = c.threads;
  j["rate"] = c.rate;
  j["pipeline"] = c.pipeline;
  j["seconds"] = secs;
  j["warmup_seconds"] = std::chrono::duration<double>(c.warmup).count();
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
  j["not_open_at_end"] = r.not_open_at_end;
  nlohmann::json errors = nlohmann::json::object();
  for (int k = 0; k < static_cast<int>(ErrorKind::count); ++k)
    errors[error_kind_name(static_cast<ErrorKind>(k))] = r.errors[static_cast<std::size_t>(k)];
  j["errors"] = errors;
  j["errors_total"] = r.total_errors();
  j["mismatches"] = r.mismatches;
  j["unasked"] = r.unasked;
  if (c.mode == BenchMode::http) {
    nlohmann::json status = nlohmann::json::object();
    for (std::size_t i = 0; i < r.status.size(); ++i)
      if (r.status[i]) status[std::to_string(i)] = r.status[i];
    j["status"] = status;
  }
  if (c.udp && c.mode == BenchMode::stream) j["datagrams"] = json_datagrams(r.datagrams, c.size);
  // Stream and hold have no round trips to time.
  j["latency"] = has_latency(c) ? json_latency(r.latency) : nlohmann::json();
  if (c.interval.count() > 0) j["series"] = json_series(r.series);
  return j.dump(2) + "\n";
}

std::string interval_header() {
  return fmt::format("{:>15}  {:>10}  {:>10}  {:>10}  {:>10}  {:>10}  {:>6}\n", "interval", "rt/s",
                     "MB/s in", "p50", "p99", "max", "errors");
}

std::string interval_line(const IntervalStats& s) {
  const double len = std::max(1e-9, s.end_s - s.start_s);
  auto lat = [&](std::uint64_t ns) { return s.latency_count ? format_latency(ns) : "-"; };
  return fmt::format("{:>15}  {:>10.0f}  {:>10.2f}  {:>10}  {:>10}  {:>10}  {:>6}\n",
                     fmt::format("{:.1f}-{:.1f} s", s.start_s, s.end_s),
                     static_cast<double>(s.round_trips) / len,
                     static_cast<double>(s.bytes_received) / len / 1e6, lat(s.p50_ns),
                     lat(s.p99_ns), lat(s.max_ns), s.errors);
}

}  // namespace parley::cmd
