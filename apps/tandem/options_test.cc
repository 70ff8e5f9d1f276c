#include "options.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace tandem::cli {
namespace {

TEST(OptionParser, ParsesFlagsValuesAndInlineValues) {
  OptionParser p("x", "test");
  bool flag = false;
  std::string a, b;
  p.Flag("flag", "", &flag);
  p.String("alpha", "A", "", &a);
  p.String("beta", "B", "", &b);
  ASSERT_TRUE(p.Parse({"--flag", "--alpha", "1", "--beta=two"}));
  EXPECT_TRUE(flag);
  EXPECT_EQ(a, "1");
  EXPECT_EQ(b, "two");
}

TEST(OptionParser, RejectsUnknownAndMissingValues) {
  OptionParser p("x", "test");
  std::string a;
  p.String("alpha", "A", "", &a);
  EXPECT_THROW(p.Parse({"--nope"}), UsageError);
  EXPECT_THROW(p.Parse({"--alpha"}), UsageError);
  EXPECT_THROW(p.Parse({"stray"}), UsageError);
}

TEST(OptionParser, ReadsTurnserverConfStyleFiles) {
  std::string path = ::testing::TempDir() + "/tandem_options_test.conf";
  {
    std::ofstream out(path);
    out << "# comment\nalpha=hello\nbeta = \"quoted value\"  # trailing\nflag\n\n";
  }
  OptionParser p("x", "test");
  bool flag = false;
  std::string a, b;
  p.Flag("flag", "", &flag);
  p.String("alpha", "A", "", &a);
  p.String("beta", "B", "", &b);
  ASSERT_TRUE(p.Parse({"--config", path}));
  EXPECT_EQ(a, "hello");
  EXPECT_EQ(b, "quoted value");
  EXPECT_TRUE(flag);
  std::remove(path.c_str());
}

TEST(OptionParser, ConfigFileErrorsNameTheLine) {
  std::string path = ::testing::TempDir() + "/tandem_options_bad.conf";
  {
    std::ofstream out(path);
    out << "alpha=1\nbogus=2\n";
  }
  OptionParser p("x", "test");
  std::string a;
  p.String("alpha", "A", "", &a);
  try {
    p.Parse({"--config", path});
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(":2:"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(OptionParser, AliasesResolve) {
  OptionParser p("x", "test");
  std::string a;
  p.String("threads", "N", "", &a);
  p.Alias("relay-threads", "threads");
  ASSERT_TRUE(p.Parse({"--relay-threads", "4"}));
  EXPECT_EQ(a, "4");
}

TEST(ParseUnsigned, Bounds) {
  EXPECT_EQ(ParseUnsigned("p", "65535", 65535), 65535u);
  EXPECT_THROW(ParseUnsigned("p", "65536", 65535), UsageError);
  EXPECT_THROW(ParseUnsigned("p", "-1", 65535), UsageError);
  EXPECT_THROW(ParseUnsigned("p", "", 65535), UsageError);
}

}  // namespace
}  // namespace tandem::cli
