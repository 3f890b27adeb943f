#pragma once
// What `parley conns` keeps of each socket while it lists: a fixed 64-byte row, and only for the
// sockets that have them (and only when the view shows them), a Unix name, timer, TCP info and
// socket memory packed into one shared byte arena (varints: a TCP info of mostly small or zero
// fields takes ~60 bytes, not 440). Rows live in fixed chunks, so growing the table never copies
// it; 20,000 sockets cost 1.3 MB.
//
// Single-threaded; rows are plain values.

#include <array>
#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <vector>

#include "parley/socket_table.hpp"

namespace parley::cmd {

struct ConnRow {
  std::array<std::uint8_t, 16> local{}, peer{};
  std::uint32_t inode = 0;  // Socket inodes are 32-bit (the kernel's get_next_ino()).
  std::uint32_t recv_q = 0, send_q = 0, uid = 0, unix_peer = 0;
  std::uint32_t extra = kNoExtra;  // Offset into ConnTable's arena, or kNoExtra.
  std::uint16_t local_port = 0, peer_port = 0;
  Proto proto = Proto::tcp;
  std::uint8_t state = 0, family = 0;
  std::int8_t v6only = -1;
  static constexpr std::uint32_t kNoExtra = 0xffffffff;
};

// The packed extras of one row, unpacked.
struct ConnExtras {
  std::string_view name;        // Unix path ("@..." abstract), empty if none.
  std::string_view congestion;  // With TCP info.
  bool has_info = false, has_memory = false;
  Timer timer = Timer::off;  // With timers kept (-o).
  std::uint8_t retrans = 0;
  std::uint32_t expires_ms = 0;
  TcpInfo info;
  SkMem memory;
};

class ConnTable {
 public:
  // Keeps r; its timer, TCP info and memory only if asked (the arena grows only for those).
  struct Keep {
    bool timer = false, info = false, memory = false;
  };
  void add(const SocketRecord& r, Keep keep);
  // Copies row i of another table, extras included (--watch keeps sockets that went away).
  void add_copy(const ConnTable& from, std::size_t i);
  std::size_t size() const { return size_; }
  const ConnRow& operator[](std::size_t i) const { return chunks_[i / kChunk].get()[i % kChunk]; }
  ConnExtras extras(const ConnRow& row) const;
  std::string_view name(const ConnRow& row) const;  // Cheaper than extras() for the name.
  void clear();

 private:
  static constexpr std::size_t kChunk = 2048;
  // Chunks are raw memory: rows are constructed as they are added, so the pages of a chunk's
  // unused tail are never touched.
  struct Free {
    void operator()(ConnRow* p) const { ::operator delete(p); }
  };
  ConnRow& push();
  std::vector<std::unique_ptr<ConnRow, Free>> chunks_;
  std::size_t size_ = 0;
  std::string arena_;
};

// A stable identity of a socket across listings (for --watch): a hash of protocol, addresses,
// ports and inode.
std::uint64_t identity(const ConnRow& row, std::string_view name);

}  // namespace parley::cmd
