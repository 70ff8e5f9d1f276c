#include "turn_client/long_term_credentials.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "turn/nonce.h"

namespace tandem::turn_client {
namespace {

using stun::MessageBuilder;
using stun::MessageClass;
using stun::Method;
using stun::PasswordAlgorithm;
namespace attr = stun::attr;

const stun::TransactionId kTid{1};

std::vector<uint8_t> Challenge(const std::function<void(MessageBuilder&)>& add) {
  std::vector<uint8_t> out;
  MessageBuilder b(out, Method::kAllocate, MessageClass::kErrorResponse, kTid);
  b.AddErrorCode(401);
  add(b);
  b.Finish();
  return out;
}

// A nonce with RFC 8489 §9.2's cookie advertising the given security feature bits.
std::string CookieNonce(uint32_t features) {
  const uint8_t bits[3] = {static_cast<uint8_t>(features >> 16), static_cast<uint8_t>(features >> 8),
                           static_cast<uint8_t>(features)};
  return std::string(turn::kNonceCookie) + crypto::Base64Encode(ByteSpan(bits, 3)) + "abcdef";
}

std::vector<uint8_t> SignedRequest(const LongTermCredentials& c) {
  std::vector<uint8_t> out;
  MessageBuilder b(out, Method::kRefresh, MessageClass::kRequest, kTid);
  b.AddU32(attr::kLifetime, 600);
  c.Sign(b);
  b.Finish();
  return out;
}

TEST(LongTermCredentialsTest, PlainChallengeMeansMd5AndMessageIntegrity) {
  LongTermCredentials c("user", "pass");
  EXPECT_FALSE(c.has_key());
  const auto ch = Challenge([](MessageBuilder& b) {
    b.AddString(attr::kRealm, "realm");
    b.AddString(attr::kNonce, "n1");
  });
  ASSERT_EQ(c.LearnChallenge(*stun::MessageView::Parse(ch)), LongTermCredentials::ChallengeResult::kUsable);
  EXPECT_TRUE(c.has_key());
  EXPECT_EQ(c.algorithm(), PasswordAlgorithm::kMd5);
  EXPECT_FALSE(c.uses_sha256_integrity());
  const auto req = SignedRequest(c);
  const auto v = *stun::MessageView::Parse(req);
  EXPECT_EQ(v.GetString(attr::kUsername), "user");
  EXPECT_EQ(v.GetString(attr::kRealm), "realm");
  EXPECT_EQ(v.GetString(attr::kNonce), "n1");
  EXPECT_FALSE(v.Has(attr::kPasswordAlgorithms));
  // RFC 8489 §9.2.2: key = MD5(username ":" realm ":" password).
  const auto md5 = crypto::Md5(AsBytes("user:realm:pass"));
  EXPECT_TRUE(v.VerifyMessageIntegrity(md5));
}

TEST(LongTermCredentialsTest, CookieWithPasswordAlgorithmsSelectsFirstSupported) {
  LongTermCredentials c("user", "pass");
  const auto nonce = CookieNonce(turn::kFeaturePasswordAlgorithms);
  const auto ch = Challenge([&](MessageBuilder& b) {
    b.AddString(attr::kRealm, "realm");
    b.AddString(attr::kNonce, nonce);
    const PasswordAlgorithm offered[] = {static_cast<PasswordAlgorithm>(9), PasswordAlgorithm::kSha256,
                                         PasswordAlgorithm::kMd5};
    b.AddPasswordAlgorithms(offered);
  });
  ASSERT_EQ(c.LearnChallenge(*stun::MessageView::Parse(ch)), LongTermCredentials::ChallengeResult::kUsable);
  EXPECT_EQ(c.algorithm(), PasswordAlgorithm::kSha256);
  EXPECT_TRUE(c.uses_sha256_integrity());
  const auto req = SignedRequest(c);
  const auto v = *stun::MessageView::Parse(req);
  EXPECT_EQ(v.GetPasswordAlgorithm(), PasswordAlgorithm::kSha256);
  EXPECT_EQ(v.GetPasswordAlgorithms().size(), 3u);  // echoed as received (§9.2.4 bid-down check)
  EXPECT_TRUE(
      v.VerifyMessageIntegritySha256(stun::LongTermKey("user", "realm", "pass", PasswordAlgorithm::kSha256)));
  EXPECT_FALSE(v.Has(attr::kMessageIntegrity));
}

TEST(LongTermCredentialsTest, PasswordAlgorithmsWithoutTheCookieAreIgnored) {
  LongTermCredentials c("user", "pass");
  const auto ch = Challenge([&](MessageBuilder& b) {
    b.AddString(attr::kRealm, "realm");
    b.AddString(attr::kNonce, "plain-nonce");
    const PasswordAlgorithm offered[] = {PasswordAlgorithm::kSha256};
    b.AddPasswordAlgorithms(offered);
  });
  ASSERT_EQ(c.LearnChallenge(*stun::MessageView::Parse(ch)), LongTermCredentials::ChallengeResult::kUsable);
  EXPECT_EQ(c.algorithm(), PasswordAlgorithm::kMd5);
}

TEST(LongTermCredentialsTest, RejectsUnusableChallenges) {
  struct Case {
    const char* name;
    std::function<void(MessageBuilder&)> add;
    LongTermCredentials::ChallengeResult result;
  };
  const auto nonce = CookieNonce(turn::kFeaturePasswordAlgorithms);
  const std::vector<Case> cases = {
      {"no nonce", [](MessageBuilder& b) { b.AddString(attr::kRealm, "r"); },
       LongTermCredentials::ChallengeResult::kMalformed},
      {"no realm", [](MessageBuilder& b) { b.AddString(attr::kNonce, "n"); },
       LongTermCredentials::ChallengeResult::kMalformed},
      {"only unknown algorithms",
       [&](MessageBuilder& b) {
         b.AddString(attr::kRealm, "r");
         b.AddString(attr::kNonce, nonce);
         const PasswordAlgorithm offered[] = {static_cast<PasswordAlgorithm>(7)};
         b.AddPasswordAlgorithms(offered);
       },
       LongTermCredentials::ChallengeResult::kNoCommonAlgorithm},
      {"absurdly many algorithms",
       [&](MessageBuilder& b) {
         b.AddString(attr::kRealm, "r");
         b.AddString(attr::kNonce, nonce);
         const std::vector<PasswordAlgorithm> offered(100, PasswordAlgorithm::kMd5);
         b.AddPasswordAlgorithms(offered);
       },
       LongTermCredentials::ChallengeResult::kMalformed},
  };
  for (const auto& k : cases) {
    SCOPED_TRACE(k.name);
    LongTermCredentials c("user", "pass");
    const auto ch = Challenge(k.add);
    EXPECT_EQ(c.LearnChallenge(*stun::MessageView::Parse(ch)), k.result);
    EXPECT_FALSE(c.has_key());
  }
}

TEST(LongTermCredentialsTest, StaleNonceKeepsRealmAndKeyAndVerifiesResponses) {
  LongTermCredentials c("user", "pass");
  ASSERT_EQ(c.LearnChallenge(*stun::MessageView::Parse(Challenge([](MessageBuilder& b) {
    b.AddString(attr::kRealm, "realm");
    b.AddString(attr::kNonce, "n1");
  }))),
            LongTermCredentials::ChallengeResult::kUsable);
  // A 438 that carries only the new nonce.
  ASSERT_EQ(c.LearnChallenge(*stun::MessageView::Parse(
                Challenge([](MessageBuilder& b) { b.AddString(attr::kNonce, "n2"); }))),
            LongTermCredentials::ChallengeResult::kUsable);
  EXPECT_EQ(c.realm(), "realm");
  EXPECT_EQ(c.nonce(), "n2");

  const auto key = stun::LongTermKey("user", "realm", "pass");
  auto response = [&](ByteSpan k, bool sha256) {
    std::vector<uint8_t> out;
    MessageBuilder b(out, Method::kRefresh, MessageClass::kSuccessResponse, kTid);
    b.AddU32(attr::kLifetime, 600);
    if (sha256) {
      b.AddMessageIntegritySha256(k);
    } else {
      b.AddMessageIntegrity(k);
    }
    b.Finish();
    return out;
  };
  const auto good = response(key, false);
  const auto good256 = response(key, true);
  const auto wrong_key = stun::LongTermKey("user", "realm", "other");
  const auto bad = response(wrong_key, false);
  std::vector<uint8_t> none;
  MessageBuilder(none, Method::kRefresh, MessageClass::kSuccessResponse, kTid).Finish();
  EXPECT_TRUE(c.VerifyResponse(*stun::MessageView::Parse(good)));
  EXPECT_TRUE(c.VerifyResponse(*stun::MessageView::Parse(good256)));
  EXPECT_FALSE(c.VerifyResponse(*stun::MessageView::Parse(bad)));
  EXPECT_FALSE(c.VerifyResponse(*stun::MessageView::Parse(none)));
}

}  // namespace
}  // namespace tandem::turn_client
