#include "fanout.hpp"

#include <climits>

namespace parley::server {

void Fanout::add(std::string_view data, const Conn* except, const Conn* only) {
  if (data.empty()) return;
  parts_.push_back({bytes_.size(), data.size(), except, only});
  bytes_.append(data);
}

void Fanout::flush(Worker& w, std::size_t limit, std::vector<Conn*>* over) {
  sending_.swap(bytes_);
  sending_parts_.swap(parts_);
  bytes_.clear();
  parts_.clear();
  clients_.assign(w.conns().begin(), w.conns().end());
  for (Conn* c : clients_) {
    iov_.clear();
    for (const Part& p : sending_parts_) {
      if (p.only != nullptr ? p.only != c : p.except == c) continue;
      iov_.push_back({sending_.data() + p.offset, p.size});
      if (iov_.size() == IOV_MAX) {
        w.send(*c, iov_.data(), static_cast<int>(iov_.size()));
        iov_.clear();
      }
    }
    if (!iov_.empty()) w.send(*c, iov_.data(), static_cast<int>(iov_.size()));
    if (!c->closed && c->pending_size() > limit) over->push_back(c);
  }
  sending_.clear();
  sending_parts_.clear();
  if (sending_.capacity() > (1 << 20)) sending_.shrink_to_fit();  // A burst is not kept.
}

}  // namespace parley::server
