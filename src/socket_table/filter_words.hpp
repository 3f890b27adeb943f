#pragma once
// (internal) The words of ss's filter language: splitting arguments as ss does, operator
// aliases, and the number, address, family prefix and cgroup forms ss accepts.

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::detail {

// ss's lexer: words separated by spaces or tabs; a backslash escapes the next character.
std::vector<std::string> split_words(const std::vector<std::string>& args);

bool is_one_of(const std::string& w, std::initializer_list<const char*> names);
// Comparison words after sport/dport (and = after src/dst): ss's aliases.
enum class Cmp { eq, ne, lt, le, gt, ge, none };
Cmp comparison(const std::string& w);
bool is_and(const std::string& w);
bool is_or(const std::string& w);
bool is_not(const std::string& w);
bool is_predicate(const std::string& w);

// strtol with base 0 (ss's get_integer): "22", "0x16" and "026" are the same port.
std::optional<long> integer(const std::string& text);
// ss's get_addr_ipv4: one to four numbers, missing ones zero ("193.233.7" is 193.233.7.0).
bool parse_ipv4(const std::string& text, std::uint8_t* out);
// Strips "inet:", "inet6:" or "unix:" and sets *family (-1 for families parley does not list).
std::string_view strip_family(std::string_view text, int* family);
// The id of a cgroup v2 directory (as INET_DIAG_CGROUP_ID reports it), path relative to the
// cgroup2 mount.
std::optional<std::uint64_t> cgroup_id_of(const std::string& path);

}  // namespace parley::detail
