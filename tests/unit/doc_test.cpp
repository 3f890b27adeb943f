// The command-line description and its renderers (apps/parley/doc): what CLI11 knows about an
// option comes out right, undocumented options are found, footers are read into their parts, and
// roff and shell syntax are escaped.

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "doc/footer.hpp"
#include "doc/help.hpp"
#include "doc/model.hpp"
#include "doc/render.hpp"

namespace parley::doc {
namespace {

struct Fixture {
  CLI::App root{"parley: test tool", "parley"};
  CLI::App* cmd = nullptr;
  std::string type, file, dir, text;
  int port = 0, count = 0;
  bool a = false, b = false;
  std::vector<std::string> target;

  Fixture() {
    use_help_formatter(root);
    cmd = root.add_subcommand("probe", "Probe things");
    cmd->footer(
        "Some prose that\n"
        "wraps.\n"
        "Modes:\n"
        "  fast    quick\n"
        "  slow    careful and\n"
        "          thorough\n"
        "Examples:\n"
        "  parley probe x 1          a comment\n"
        "  parley probe -a y   parley probe --type http z\n"
        "Exit status: 0 found, 1 none (or refused, reset), 2 usage.");
    cmd->add_option("target", target, "HOST PORT")->expected(0, 2);
    cmd->add_option("--type", type, "Proxy type")->check(CLI::IsMember({"http", "socks5"}));
    cmd->add_option("-p,--port", port, "Port")->check(CLI::Range(0, 65535));
    cmd->add_option("-o,--output", file, "Write here")->type_name("FILE");
    cmd->add_option("--record", dir, "Save into DIR")->check(CLI::ExistingDirectory);
    cmd->add_flag("-v", count, "More (repeat for more)");
    auto* fa = cmd->add_flag("-a", a, "Flag a")->group("Special");
    cmd->add_flag("-b", b, "Flag b")->excludes(fa);
  }
};

const OptionDoc* option(const CommandDoc& c, const std::string& name) {
  for (const auto& o : c.options)
    for (const auto& n : o.names())
      if (n == name) return &o;
  return nullptr;
}

TEST(DocModel, ReadsNamesValuesAndValidators) {
  Fixture f;
  CommandDoc root = describe(f.root);
  const CommandDoc* c = root.find("probe");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->path, "parley probe");
  const auto* type = option(*c, "--type");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->value, "http|socks5");
  EXPECT_EQ(type->choices, (std::vector<std::string>{"http", "socks5"}));
  const auto* port = option(*c, "--port");
  EXPECT_EQ(port->label(), "-p, --port");
  EXPECT_EQ(port->value, "N");
  EXPECT_EQ(port->range, "0 to 65535");
  EXPECT_TRUE(option(*c, "-o")->takes_file());
  EXPECT_TRUE(option(*c, "--record")->takes_directory());
  EXPECT_TRUE(option(*c, "-v")->repeatable);
  EXPECT_TRUE(option(*c, "-v")->notes().empty());  // "repeat" is in its description already.
  EXPECT_EQ(option(*c, "-b")->notes(), std::vector<std::string>{"not with -a"});
  EXPECT_EQ(option(*c, "-a")->group, "Special");
  EXPECT_EQ(c->groups, (std::vector<std::string>{"Options", "Special"}));
  ASSERT_EQ(c->positionals.size(), 1u);
  EXPECT_EQ(c->positionals[0].value, "[TARGET...]");
  EXPECT_EQ(c->synopsis(), "[OPTIONS] [TARGET...]");
}

TEST(DocModel, FindsOptionsWithoutDescription) {
  Fixture f;
  EXPECT_TRUE(undocumented(describe(f.root)).empty());
  bool silent = false;
  f.cmd->add_flag("--silent", silent);
  EXPECT_EQ(undocumented(describe(f.root)), std::vector<std::string>{"probe: --silent"});
}

TEST(DocHelp, UsageLineHasNoCli11Counts) {
  Fixture f;
  std::string help = f.cmd->help("parley");
  EXPECT_NE(help.find("Usage: parley probe [OPTIONS] [TARGET...]\n"), std::string::npos) << help;
  EXPECT_EQ(help.find("(0x)"), std::string::npos);
  EXPECT_NE(help.find("  -p, --port N"), std::string::npos) << help;
  EXPECT_NE(help.find("[0 to 65535]"), std::string::npos) << help;
}

TEST(DocFooter, SplitsProseTablesExamplesAndExitStatus) {
  Fixture f;
  Footer footer = parse_footer(f.cmd->get_footer());
  ASSERT_EQ(footer.blocks.size(), 3u);
  EXPECT_EQ(footer.blocks[0].text, "Some prose that wraps.");
  EXPECT_EQ(footer.blocks[1].text, "Modes:");
  ASSERT_EQ(footer.blocks[2].kind, Block::Kind::table);
  EXPECT_EQ(footer.blocks[2].rows[1].second, "careful and thorough");
  ASSERT_EQ(footer.examples.size(), 3u);
  EXPECT_EQ(footer.examples[0].command, "parley probe x 1");
  EXPECT_EQ(footer.examples[0].comment, "a comment");
  EXPECT_EQ(footer.examples[2].command, "parley probe --type http z");
  ASSERT_EQ(footer.exit_codes.size(), 3u);
  EXPECT_EQ(footer.exit_codes[1].meaning, "none (or refused, reset)");
  EXPECT_EQ(footer.exit_codes[2].code, "2");
}

TEST(DocMan, EscapesRoff) {
  Fixture f;
  f.cmd->footer("Examples:\n  parley probe --type 'a\\b' .x   uses \xc3\xa9\n");
  CommandDoc root = describe(f.root);
  std::string page = man_page(root, root.find("probe"), "1.0", "2025-01-01");
  EXPECT_NE(page.find(".TH PARLEY\\-PROBE 1 \"2025-01-01\" \"parley 1.0\""), std::string::npos);
  EXPECT_NE(page.find("\\fBparley probe \\-\\-type \\(aqa\\eb\\(aq .x\\fR"), std::string::npos)
      << page;
  EXPECT_NE(page.find("\\[u00E9]"), std::string::npos);
  EXPECT_NE(page.find(".SH \"EXIT STATUS\""), std::string::npos);
}

TEST(DocCompletion, OffersValuesOfFixedSets) {
  Fixture f;
  CommandDoc root = describe(f.root);
  EXPECT_NE(bash_completion(root).find("'probe --type') COMPREPLY=($(compgen -W 'http socks5'"),
            std::string::npos);
  EXPECT_NE(zsh_completion(root).find("'(--type)--type=[Proxy type]:http|socks5:(http socks5)'"),
            std::string::npos)
      << zsh_completion(root);
  EXPECT_NE(fish_completion(root).find("-l type -x -a 'http socks5' -d 'Proxy type'"),
            std::string::npos);
}

}  // namespace
}  // namespace parley::doc
