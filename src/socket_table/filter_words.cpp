#include "filter_words.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "parley/socket_filter.hpp"

namespace parley {
namespace detail {

std::vector<std::string> split_words(const std::vector<std::string>& args) {
  std::vector<std::string> words;
  for (const auto& arg : args) {
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < arg.size(); ++i) {
      char c = arg[i];
      if (c == ' ' || c == '\t') {
        if (in_word) words.push_back(std::move(word));
        word.clear();
        in_word = false;
        continue;
      }
      if (c == '\\' && i + 1 < arg.size()) c = arg[++i];
      word += c;
      in_word = true;
    }
    if (in_word) words.push_back(std::move(word));
  }
  return words;
}

bool is_one_of(const std::string& w, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (w == n) return true;
  return false;
}

Cmp comparison(const std::string& w) {
  if (is_one_of(w, {"=", "==", "eq"})) return Cmp::eq;
  if (is_one_of(w, {"!=", "ne", "neq"})) return Cmp::ne;
  if (is_one_of(w, {"<", "lt"})) return Cmp::lt;
  if (is_one_of(w, {"<=", "le", "leq"})) return Cmp::le;
  if (is_one_of(w, {">", "gt"})) return Cmp::gt;
  if (is_one_of(w, {">=", "ge", "geq"})) return Cmp::ge;
  return Cmp::none;
}

bool is_and(const std::string& w) {
  return is_one_of(w, {"and", "&", "&&"});
}
bool is_or(const std::string& w) {
  return is_one_of(w, {"or", "|", "||"});
}
bool is_not(const std::string& w) {
  return is_one_of(w, {"not", "!"});
}
bool is_predicate(const std::string& w) {
  return is_one_of(w, {"src", "dst", "sport", "dport", "dev", "fwmark", "cgroup", "autobound"});
}

std::optional<long> integer(const std::string& text) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0') return std::nullopt;
  return v;
}

bool parse_ipv4(const std::string& text, std::uint8_t* out) {
  std::size_t at = 0;
  for (int i = 0; i < 4; ++i) {
    std::size_t dot = text.find('.', at);
    auto n = integer(text.substr(at, dot == std::string::npos ? std::string::npos : dot - at));
    if (!n || *n > 255) return false;
    out[i] = static_cast<std::uint8_t>(*n);
    if (dot == std::string::npos) return true;
    at = dot + 1;
  }
  return false;  // A fifth part.
}

std::string_view strip_family(std::string_view text, int* family) {
  static const std::pair<const char*, int> prefixes[] = {
      {"inet6:", AF_INET6}, {"inet:", AF_INET}, {"unix:", AF_UNIX}};
  for (const auto& [prefix, fam] : prefixes) {
    if (text.substr(0, std::strlen(prefix)) == prefix) {
      *family = fam;
      return text.substr(std::strlen(prefix));
    }
  }
  for (const char* other : {"link:", "netlink:", "vsock:", "tipc:", "xdp:"})
    if (text.substr(0, std::strlen(other)) == other) *family = -1;
  return text;
}

std::optional<std::uint64_t> cgroup_id_of(const std::string& path) {
  // ss takes a path on a cgroup2 file system as it is, and anything else as relative to the
  // cgroup2 mount ("/" is the root cgroup, as ss -tan --cgroup shows it).
  std::string full = path;
  struct statfs fs {};
  if (statfs(path.c_str(), &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
    std::ifstream mounts("/proc/self/mounts");
    std::string dev, dir, type, rest, root;
    while (mounts >> dev >> dir >> type && std::getline(mounts, rest)) {
      if (type == "cgroup2") {
        root = dir;
        break;
      }
    }
    if (root.empty()) return std::nullopt;
    full = root + "/" + path.substr(std::min(path.find_first_not_of('/'), path.size()));
  }
  // A cgroup2 directory's file handle is its 64-bit id (what INET_DIAG_CGROUP_ID reports).
  alignas(file_handle) unsigned char storage[sizeof(file_handle) + 8] = {};
  auto* handle = reinterpret_cast<file_handle*>(storage);
  handle->handle_bytes = 8;
  int mount_id = 0;
  if (name_to_handle_at(AT_FDCWD, full.c_str(), handle, &mount_id, 0) != 0 ||
      handle->handle_bytes != 8)
    return std::nullopt;
  std::uint64_t id;
  std::memcpy(&id, storage + sizeof(file_handle), 8);
  return id;
}

}  // namespace detail

std::pair<std::uint16_t, std::uint16_t> ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0, high = 0;
  if (in >> low >> high && low <= high && high <= 65535)
    return {static_cast<std::uint16_t>(low), static_cast<std::uint16_t>(high)};
  return {32768, 60999};
}

}  // namespace parley
