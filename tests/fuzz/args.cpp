// normalize_args, find_unknown_option and closest (apps/parley/args.hpp). Input: the arguments
// after the program name, separated by NUL. The options are a stand-in for connect's: flags that
// cluster (-lvk4), options with values (-p 1, -w2s, --proxy=X), and a vector option.

#include <algorithm>

#include <CLI/CLI.hpp>

#include "args.hpp"
#include "fuzz.hpp"

using namespace parley;

namespace {

const std::vector<std::string> kCommands = {"connect", "listen", "echo",   "conns", "talk",
                                            "bench",   "chat",   "doctor", "scan",  "forward"};

struct Command {
  CLI::App app{"fuzz", "connect"};
  bool flag = false;
  int count = 0;
  std::string value;
  std::vector<std::string> positionals, binds;
  Command() {
    for (const char* f : {"-4", "-6", "-n", "-u", "-l,--listen", "-k,--keep-open", "-z", "-t",
                          "-C,--crlf", "--send-only", "--no-shutdown"})
      app.add_flag(f, flag);
    app.add_flag("-v,--verbose", count);
    for (const char* o : {"-p,--source-port", "-s,--source", "-w,--wait", "-i,--idle-timeout",
                          "--proxy", "--proxy-type", "-x", "-X", "-o,--output"})
      app.add_option(o, value);
    app.add_option("--bind", binds);
    app.add_option("target", positionals)->expected(0, 2);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Command command;
  auto args = fuzz::split(fuzz::bytes(data, size));
  if (size == 0) args.clear();

  std::string unknown;
  auto out = normalize_args(args, kCommands, &unknown);
  if (!unknown.empty()) {
    // Only a first word is ever called a mistyped command, and then nothing is rewritten.
    FUZZ_CHECK(!args.empty() && unknown == args.front() && out == args);
  } else if (out != args) {
    // Otherwise a command is put in front (netcat habits) and nothing else changes.
    FUZZ_CHECK(out.size() == args.size() + 1 && (out[0] == "listen" || out[0] == "connect"));
    FUZZ_CHECK(std::equal(args.begin(), args.end(), out.begin() + 1));
  }

  for (const auto& word : args) {
    std::string guess = closest(word, kCommands);
    FUZZ_CHECK(guess.empty() ||
               std::find(kCommands.begin(), kCommands.end(), guess) != kCommands.end());
  }

  std::vector<std::string> rest(out.empty() ? out.begin() : out.begin() + 1, out.end());
  std::string bad = find_unknown_option(command.app, rest);
  if (!bad.empty()) {
    FUZZ_CHECK(bad.size() >= 2 && bad[0] == '-');
    FUZZ_CHECK(command.app.get_option_no_throw(bad) == nullptr);
    std::string guess = closest(bad, option_names(command.app));
    FUZZ_CHECK(guess.empty() || command.app.get_option_no_throw(guess) != nullptr);
  }
  return 0;
}
