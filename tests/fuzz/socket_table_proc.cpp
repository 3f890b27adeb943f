// The /proc/net parser (socket_table.hpp, make_proc_source with another root). Input: the files
// net/tcp, tcp6, udp, udp6 and unix, separated by NUL; they are written to a private directory.

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "fuzz.hpp"
#include "parley/socket_table.hpp"

using namespace parley;

namespace {

std::string root;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  char dir[] = "/tmp/parley-fuzz-proc.XXXXXX";
  FUZZ_CHECK(mkdtemp(dir) != nullptr);
  root = dir;
  FUZZ_CHECK(mkdir((root + "/net").c_str(), 0700) == 0);
  std::atexit([] {
    for (const char* f : {"tcp", "tcp6", "udp", "udp6", "unix"})
      unlink((root + "/net/" + f).c_str());
    rmdir((root + "/net").c_str());
    rmdir(root.c_str());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto files = fuzz::split(fuzz::bytes(data, size));
  files.resize(5);
  const char* names[] = {"tcp", "tcp6", "udp", "udp6", "unix"};
  for (int i = 0; i < 5; ++i)
    std::ofstream(root + "/net/" + names[i], std::ios::binary | std::ios::trunc) << files[i];

  DiagQuery query;
  query.protos = proto_bit(Proto::tcp) | proto_bit(Proto::udp) | kUnixProtos;
  // A malformed file is an error, never a crash; every record handed out can be shown.
  (void)make_proc_source(root)->list(query, [](const SocketRecord& r) {
    FUZZ_CHECK(state_name(r.state) != nullptr);
    FUZZ_CHECK(r.local_address().to_string().size() < 4096);
    FUZZ_CHECK(r.peer_address().to_string().size() < 4096);
    return true;
  });
  return 0;
}
