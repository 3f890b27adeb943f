#include "conns_store.hpp"

#include <cstring>
#include <type_traits>

namespace parley::cmd {
namespace {

// Extras layout at ConnRow::extra: flags byte, then [name], [congestion], [info], [memory].
enum : std::uint8_t { kName = 1, kCongestion = 2, kInfo = 4, kMemory = 8, kTimer = 16 };

void put_varint(std::string* out, std::uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

std::uint64_t get_varint(const char** p) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    auto b = static_cast<std::uint8_t>(*(*p)++);
    v |= std::uint64_t{b & 0x7fu} << shift;
    if (!(b & 0x80)) break;
  }
  return v;
}

void put_bytes(std::string* out, std::string_view s) {
  put_varint(out, s.size());
  out->append(s);
}

std::string_view get_bytes(const char** p) {
  auto n = static_cast<std::size_t>(get_varint(p));
  std::string_view s(*p, n);
  *p += n;
  return s;
}

}  // namespace

ConnRow& ConnTable::push() {
  static_assert(std::is_trivially_destructible_v<ConnRow>);
  if (size_ % kChunk == 0 && size_ / kChunk == chunks_.size())
    chunks_.emplace_back(static_cast<ConnRow*>(::operator new(kChunk * sizeof(ConnRow))));
  ConnRow* row = new (chunks_[size_ / kChunk].get() + size_ % kChunk) ConnRow();
  ++size_;
  return *row;
}

void ConnTable::add(const SocketRecord& r, Keep keep) {
  ConnRow& row = push();
  row.local = r.local;
  row.peer = r.peer;
  row.inode = static_cast<std::uint32_t>(r.inode);
  row.recv_q = r.recv_q;
  row.send_q = r.send_q;
  row.uid = r.uid;
  row.unix_peer = r.unix_peer;
  row.local_port = r.local_port;
  row.peer_port = r.peer_port;
  row.proto = r.proto;
  row.state = static_cast<std::uint8_t>(r.state);
  row.family = static_cast<std::uint8_t>(r.family);
  row.v6only = r.v6only;
  std::uint8_t flags = 0;
  if (!r.unix_name.empty()) flags |= kName;
  if (keep.info && r.info) flags |= kInfo | (r.congestion.empty() ? 0 : kCongestion);
  if (keep.memory && r.memory) flags |= kMemory;
  if (keep.timer && r.timer != Timer::off) flags |= kTimer;
  if (flags == 0) return;
  row.extra = static_cast<std::uint32_t>(arena_.size());
  arena_.push_back(static_cast<char>(flags));
  if (flags & kName) put_bytes(&arena_, r.unix_name);
  if (flags & kCongestion) put_bytes(&arena_, r.congestion);
  if (flags & kInfo) {
    std::uint64_t present = 0;
    for (std::size_t i = 0; i < kTcpInfoFieldCount; ++i)
      if ((*r.info).*kTcpInfoFields[i] != 0) present |= std::uint64_t{1} << i;
    put_varint(&arena_, present);
    for (std::size_t i = 0; i < kTcpInfoFieldCount; ++i)
      if (present >> i & 1) put_varint(&arena_, (*r.info).*kTcpInfoFields[i]);
  }
  if (flags & kMemory) {
    arena_.push_back(static_cast<char>(r.memory->count));
    for (std::size_t i = 0; i < r.memory->count; ++i) put_varint(&arena_, r.memory->v[i]);
  }
  if (flags & kTimer) {
    arena_.push_back(static_cast<char>(r.timer));
    arena_.push_back(static_cast<char>(r.retrans));
    put_varint(&arena_, r.expires_ms);
  }
}

void ConnTable::add_copy(const ConnTable& from, std::size_t i) {
  const ConnRow& src = from[i];
  ConnRow& row = push();
  row = src;
  if (src.extra == ConnRow::kNoExtra) return;
  // The extras are self-delimiting: find their end by decoding, then copy the bytes.
  const char* begin = from.arena_.data() + src.extra;
  const char* p = begin;
  auto flags = static_cast<std::uint8_t>(*p++);
  if (flags & kName) get_bytes(&p);
  if (flags & kCongestion) get_bytes(&p);
  if (flags & kInfo) {
    std::uint64_t present = get_varint(&p);
    for (std::size_t f = 0; f < kTcpInfoFieldCount; ++f)
      if (present >> f & 1) get_varint(&p);
  }
  if (flags & kMemory) {
    auto n = static_cast<std::uint8_t>(*p++);
    for (std::size_t f = 0; f < n; ++f) get_varint(&p);
  }
  if (flags & kTimer) {
    p += 2;
    get_varint(&p);
  }
  row.extra = static_cast<std::uint32_t>(arena_.size());
  arena_.append(begin, static_cast<std::size_t>(p - begin));
}

std::string_view ConnTable::name(const ConnRow& row) const {
  if (row.extra == ConnRow::kNoExtra) return {};
  const char* p = arena_.data() + row.extra;
  auto flags = static_cast<std::uint8_t>(*p++);
  return (flags & kName) ? get_bytes(&p) : std::string_view();
}

ConnExtras ConnTable::extras(const ConnRow& row) const {
  ConnExtras e;
  if (row.extra == ConnRow::kNoExtra) return e;
  const char* p = arena_.data() + row.extra;
  auto flags = static_cast<std::uint8_t>(*p++);
  if (flags & kName) e.name = get_bytes(&p);
  if (flags & kCongestion) e.congestion = get_bytes(&p);
  if (flags & kInfo) {
    e.has_info = true;
    std::uint64_t present = get_varint(&p);
    for (std::size_t i = 0; i < kTcpInfoFieldCount; ++i)
      if (present >> i & 1) e.info.*kTcpInfoFields[i] = get_varint(&p);
  }
  if (flags & kMemory) {
    e.has_memory = true;
    e.memory.count = static_cast<std::uint8_t>(*p++);
    for (std::size_t i = 0; i < e.memory.count && i < e.memory.v.size(); ++i)
      e.memory.v[i] = static_cast<std::uint32_t>(get_varint(&p));
  }
  if (flags & kTimer) {
    e.timer = static_cast<Timer>(*p++);
    e.retrans = static_cast<std::uint8_t>(*p++);
    e.expires_ms = static_cast<std::uint32_t>(get_varint(&p));
  }
  return e;
}

void ConnTable::clear() {
  chunks_.clear();
  size_ = 0;
  arena_.clear();
  arena_.shrink_to_fit();
}

std::uint64_t identity(const ConnRow& row, std::string_view name) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&](const void* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
      h = (h ^ static_cast<const unsigned char*>(p)[i]) * 1099511628211ull;
  };
  mix(&row.proto, 1);
  mix(&row.family, 1);
  mix(row.local.data(), 16);
  mix(row.peer.data(), 16);
  mix(&row.local_port, 2);
  mix(&row.peer_port, 2);
  mix(&row.inode, 4);
  mix(name.data(), name.size());
  return h;
}

}  // namespace parley::cmd
