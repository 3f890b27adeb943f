#include "args.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

const std::vector<std::string> kKnown = {"connect", "listen"};

std::vector<std::string> norm(std::vector<std::string> a, std::string* unknown = nullptr) {
  std::string u;
  auto out = normalize_args(std::move(a), kKnown, &u);
  if (unknown) *unknown = u;
  return out;
}

TEST(NormalizeArgs, NetcatHabits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(norm({"-l", "12345"}), (V{"listen", "-l", "12345"}));
  EXPECT_EQ(norm({"-lvk", "12345"}), (V{"listen", "-lvk", "12345"}));
  EXPECT_EQ(norm({"-v", "-l", "-p", "1"}), (V{"listen", "-v", "-l", "-p", "1"}));
  EXPECT_EQ(norm({"example.org", "80"}), (V{"connect", "example.org", "80"}));
  EXPECT_EQ(norm({"-v", "localhost:80"}), (V{"connect", "-v", "localhost:80"}));
  EXPECT_EQ(norm({"listen", "-k", "1"}), (V{"listen", "-k", "1"}));
  EXPECT_EQ(norm({"--help"}), (V{"--help"}));
  EXPECT_EQ(norm({"--send-only", "h", "1"}), (V{"connect", "--send-only", "h", "1"}));
}

TEST(NormalizeArgs, TypoIsUnknownCommand) {
  std::string unknown;
  norm({"lisen"}, &unknown);
  EXPECT_EQ(unknown, "lisen");
  norm({"localhost:80"}, &unknown);
  EXPECT_EQ(unknown, "");
}

}  // namespace
}  // namespace parley
