#pragma once
// --metrics ADDR:PORT: a small HTTP endpoint beside a server, for Prometheus and for people.
//   /metrics       Prometheus text format: parley_connections_active, parley_connections_total,
//                  parley_bytes_received_total, parley_bytes_sent_total,
//                  parley_refused_total{reason="full"|"denied"}, parley_messages_total
//   /clients.json  the clients connected now (address, seconds, bytes each way) and the totals
//   /              a live page (refreshes itself every second): clients, bytes, rates
// Only GET (and HEAD); one request per connection, bounded in size (8 KiB) and time (2 s).
//
// Threading: the endpoint runs its own loop on one thread (start() to stop()); it only reads the
// server's counters (Server::stats) and asks the workers for their client lists
// (Server::clients), so it shares nothing with them. The Server must outlive it.

#include <memory>
#include <string>
#include <string_view>

#include "parley/endpoint.hpp"
#include "parley/result.hpp"
#include "parley/server.hpp"

namespace parley {

class MetricsServer {
 public:
  // Binds host:port (numeric, or localhost). `service` names the server in the page's title.
  // Errors: bind errors, Errc::bad_endpoint.
  static Result<std::unique_ptr<MetricsServer>> open(std::string_view address, const Server& server,
                                                     std::string service);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const SocketAddress& local_address() const;
  void start();
  void stop();

  struct Impl;

 private:
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The Prometheus exposition of one set of counters. Pure; exposed for tests.
std::string prometheus_text(const ServerStats& stats);

}  // namespace parley
