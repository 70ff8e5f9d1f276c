// Fingerprint parsing and matching (RFC 8122 §5).
#include "dtls/fingerprint.h"

#include <gtest/gtest.h>

namespace tandem::dtls {
namespace {

const char kSha256[] =
    "D2:EE:C6:4D:78:2F:16:9A:FB:DB:7C:4D:86:A1:BA:EF:DC:E0:3B:69:F0:28:54:3A:F4:01:C8:6E:AC:75:24:CC";

TEST(FingerprintTest, ParsesSha256) {
  auto fp = Fingerprint::Parse("sha-256", kSha256);
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->algorithm, "sha-256");
  ASSERT_EQ(fp->value.size(), 32u);
  EXPECT_EQ(fp->value[0], 0xD2);
  EXPECT_EQ(fp->value[31], 0xCC);
  EXPECT_EQ(fp->ValueString(), kSha256);
  EXPECT_EQ(fp->ToString(), std::string("sha-256 ") + kSha256);
}

TEST(FingerprintTest, AlgorithmIsCaseInsensitiveAndLowerCasedHexIsAccepted) {
  std::string lower = kSha256;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto a = Fingerprint::Parse("SHA-256", kSha256);
  auto b = Fingerprint::Parse("sha-256", lower);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->algorithm, "sha-256");
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(b->ValueString(), kSha256);  // always printed upper case
}

TEST(FingerprintTest, EveryAlgorithmHasItsLength) {
  for (auto [name, length] : std::vector<std::pair<const char*, size_t>>{
           {"sha-1", 20}, {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}}) {
    EXPECT_EQ(Fingerprint::DigestLength(name), length);
    std::string hex;
    for (size_t i = 0; i < length; ++i) hex += i == 0 ? "0A" : ":0A";
    auto fp = Fingerprint::Parse(name, hex);
    ASSERT_TRUE(fp.has_value()) << name;
    EXPECT_EQ(fp->value.size(), length);
    EXPECT_FALSE(Fingerprint::Parse(name, hex + ":0A").has_value()) << name;
    EXPECT_FALSE(Fingerprint::Parse(name, hex.substr(3)).has_value()) << name;
  }
  EXPECT_EQ(Fingerprint::SupportedAlgorithms().front(), "sha-512");
}

TEST(FingerprintTest, RejectsMalformedValues) {
  std::string s = kSha256;
  EXPECT_FALSE(Fingerprint::Parse("md5", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"));  // RFC 8122 §5
  EXPECT_FALSE(Fingerprint::Parse("md2", "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"));
  EXPECT_FALSE(Fingerprint::Parse("sha-257", kSha256));
  EXPECT_FALSE(Fingerprint::Parse("", kSha256));
  EXPECT_FALSE(Fingerprint::Parse("sha-256", ""));
  std::string bad_sep = s;
  bad_sep[2] = '-';
  EXPECT_FALSE(Fingerprint::Parse("sha-256", bad_sep));
  std::string bad_hex = s;
  bad_hex[0] = 'G';
  EXPECT_FALSE(Fingerprint::Parse("sha-256", bad_hex));
  std::string no_sep = s;
  no_sep.erase(2, 1);
  no_sep += "0";
  EXPECT_FALSE(Fingerprint::Parse("sha-256", no_sep));
  EXPECT_FALSE(Fingerprint::Parse(std::string(100, 'a'), kSha256));
}

TEST(FingerprintTest, ParseAttribute) {
  auto fp = Fingerprint::ParseAttribute(std::string("  sha-256   ") + kSha256 + " \r\n");
  ASSERT_TRUE(fp.has_value());
  EXPECT_EQ(fp->ValueString(), kSha256);
  EXPECT_FALSE(Fingerprint::ParseAttribute("sha-256"));
  EXPECT_FALSE(Fingerprint::ParseAttribute(""));
  EXPECT_FALSE(Fingerprint::ParseAttribute(std::string("sha-256 ") + kSha256 + " extra"));
  auto round_trip = Fingerprint::ParseAttribute(fp->ToString());
  ASSERT_TRUE(round_trip.has_value());
  EXPECT_EQ(*round_trip, *fp);
}

TEST(FingerprintTest, ComputeAndMatch) {
  const std::vector<uint8_t> der_a = {0x30, 0x03, 0x02, 0x01, 0x01};
  const std::vector<uint8_t> der_b = {0x30, 0x03, 0x02, 0x01, 0x02};
  auto a256 = ComputeFingerprint("sha-256", der_a).value();
  // SHA-256 of 30 03 02 01 01, computed independently (sha256sum).
  EXPECT_EQ(
      a256.ValueString(),
      "1B:65:F6:8A:52:2C:85:87:15:F5:DD:95:1C:D0:40:2D:C1:66:91:77:88:14:BF:07:59:82:2B:7A:25:74:21:D0");
  auto b256 = ComputeFingerprint("sha-256", der_b).value();
  auto a1 = ComputeFingerprint("sha-1", der_a).value();
  auto b1 = ComputeFingerprint("sha-1", der_b).value();
  auto a512 = ComputeFingerprint("sha-512", der_a).value();
  EXPECT_EQ(ComputeFingerprint("md5", der_a).error().code, ErrorCode::kUnsupported);

  EXPECT_TRUE(MatchesAnyFingerprint(der_a, {a256}));
  EXPECT_FALSE(MatchesAnyFingerprint(der_a, {b256}));
  EXPECT_TRUE(MatchesAnyFingerprint(der_a, {b256, a256}));  // any of several
  EXPECT_FALSE(MatchesAnyFingerprint(der_a, {}));
  // RFC 8122 §5: the strongest offered algorithm decides; a weaker match does not rescue a stronger mismatch.
  EXPECT_FALSE(MatchesAnyFingerprint(der_a, {b256, a1}));
  EXPECT_TRUE(MatchesAnyFingerprint(der_a, {a256, b1}));
  EXPECT_TRUE(MatchesAnyFingerprint(der_a, {a1, a512}));
  Fingerprint unknown{"md5", std::vector<uint8_t>(16, 0)};
  EXPECT_FALSE(MatchesAnyFingerprint(der_a, {unknown}));
  EXPECT_TRUE(MatchesAnyFingerprint(der_a, {unknown, a1}));
}

}  // namespace
}  // namespace tandem::dtls
