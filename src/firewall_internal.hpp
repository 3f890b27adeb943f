#pragma once
// Shared between the firewall evaluator and the ruleset reader (not part of the public API).

#include <map>
#include <string>

namespace parley::firewall_detail {

// "family table chain handle" -> the rule as `nft -a list ruleset` prints it, without the
// "# handle N" comment. Lines that are not rules (tables, chains, sets, comments) are skipped.
std::map<std::string, std::string> index_rule_texts(const std::string& text);

inline std::string rule_key(const std::string& family, const std::string& table,
                            const std::string& chain, unsigned long long handle) {
  return family + ' ' + table + ' ' + chain + ' ' + std::to_string(handle);
}

}  // namespace parley::firewall_detail
