#pragma once
// The live page of --metrics (internal): static HTML whose script fetches /clients.json every
// second and draws the totals, the rates and one row per client.

#include <string>

namespace parley {

std::string metrics_page(const std::string& service);

}  // namespace parley
