// Token codec: mint/verify round trip, expiry and skew, tampering, algorithm confusion (alg none, HS512), wrong
// secret, malformed claims; base64url strictness.
#include "signal/token.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "signal/base64url.h"
#include "signal/json.h"
#include "signal/names.h"

namespace tandem::signaling {
namespace {

constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

TokenClaims Claims() {
  TokenClaims c;
  c.identity = "alice";
  c.room = "demo";
  c.perms = kPermJoin | kPermSend;
  c.issued_at = kNow;
  c.expires_at = kNow + 3600;
  c.jti = "j1";
  return c;
}

std::string B64(std::string_view s) { return Base64UrlEncode(AsBytes(s)); }

// A token with arbitrary header and payload JSON, signed HS256 with `secret`.
std::string Forge(std::string_view header, std::string_view payload, std::string_view secret) {
  std::string input = B64(header) + "." + B64(payload);
  auto mac = crypto::HmacSha256(AsBytes(secret), AsBytes(input));
  return input + "." + Base64UrlEncode(mac);
}

constexpr char kHeader[] = R"({"alg":"HS256","typ":"JWT"})";

std::string Payload(const std::string& patch_key = "", const Json& patch_value = nullptr, bool erase = false) {
  Json p = {{"iss", "tandem"}, {"sub", "alice"}, {"room", "demo"}, {"perms", {"join", "send"}},
            {"iat", kNow},     {"exp", kNow + 3600}, {"jti", "x"}};
  if (!patch_key.empty()) {
    if (erase) {
      p.erase(patch_key);
    } else {
      p[patch_key] = patch_value;
    }
  }
  return p.dump();
}

TEST(Base64Url, RoundTripsAndIsStrict) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\xfd"}) {
    auto enc = Base64UrlEncode(AsBytes(s));
    EXPECT_EQ(enc.find('='), std::string::npos);
    auto dec = Base64UrlDecode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(*dec, s);
  }
  EXPECT_EQ(Base64UrlEncode(AsBytes("\xfb\xff")), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v="));  // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v"));   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z"));      // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh"));     // non-zero trailing bits ("Zg" is canonical)
  EXPECT_TRUE(Base64UrlDecode("Zg"));
}

TEST(Token, MintThenVerifyRoundTrips) {
  TokenCodec codec("secret");
  std::string token = codec.Mint(Claims());
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
  auto claims = codec.Verify(token, UnixTime{kNow + 10});
  ASSERT_TRUE(claims) << claims.failure().message;
  EXPECT_EQ(claims->identity, "alice");
  EXPECT_EQ(claims->room, "demo");
  EXPECT_TRUE(claims->can_join());
  EXPECT_TRUE(claims->can_send());
  EXPECT_EQ(claims->expires_at, kNow + 3600);
  EXPECT_EQ(claims->jti, "j1");
}

TEST(Token, HeaderIsStandardHs256) {
  TokenCodec codec("secret");
  std::string token = codec.Mint(Claims());
  auto header = Base64UrlDecode(token.substr(0, token.find('.')));
  ASSERT_TRUE(header);
  auto json = ParseJson(*header);
  ASSERT_TRUE(json);
  EXPECT_EQ((*json)["alg"], "HS256");
  EXPECT_EQ((*json)["typ"], "JWT");
}

TEST(Token, PermissionsAreCarried) {
  TokenCodec codec("secret");
  TokenClaims c = Claims();
  c.perms = kPermSend;
  auto claims = codec.Verify(codec.Mint(c), UnixTime{kNow});
  ASSERT_TRUE(claims);
  EXPECT_FALSE(claims->can_join());
  EXPECT_TRUE(claims->can_send());
}

TEST(Token, ExpiryHonoursThirtySecondsOfSkewOnly) {
  TokenCodec codec("secret");
  std::string token = codec.Mint(Claims());
  EXPECT_TRUE(codec.Verify(token, UnixTime{kNow + 3600 + 29}));
  auto late = codec.Verify(token, UnixTime{kNow + 3600 + 30});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.failure().code, Code::kTokenExpired);
}

TEST(Token, IssuedInTheFutureIsRefused) {
  TokenCodec codec("secret");
  EXPECT_TRUE(codec.Verify(codec.Mint(Claims()), UnixTime{kNow - 30}));
  auto early = codec.Verify(codec.Mint(Claims()), UnixTime{kNow - 31});
  ASSERT_FALSE(early);
  EXPECT_EQ(early.failure().code, Code::kBadToken);
}

TEST(Token, WrongSecretIsRefused) {
  std::string token = TokenCodec("secret").Mint(Claims());
  auto r = TokenCodec("other").Verify(token, UnixTime{kNow});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.failure().code, Code::kBadToken);
}

TEST(Token, AnyTamperingIsRefused) {
  TokenCodec codec("secret");
  const std::string token = codec.Mint(Claims());
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '.') continue;
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(codec.Verify(t, UnixTime{kNow})) << "byte " << i;
  }
  // Claims swapped in from another valid token (same secret, other room): the signature no longer matches.
  TokenClaims other = Claims();
  other.room = "other";
  const std::string token2 = codec.Mint(other);
  std::string spliced = token.substr(0, token.find('.')) + token2.substr(token2.find('.'), token2.rfind('.') -
                                                                            token2.find('.')) +
                        token.substr(token.rfind('.'));
  EXPECT_FALSE(codec.Verify(spliced, UnixTime{kNow}));
  EXPECT_FALSE(codec.Verify(token + ".", UnixTime{kNow}));
  EXPECT_FALSE(codec.Verify(token + "A", UnixTime{kNow}));
}

TEST(Token, AlgNoneIsRefused) {
  TokenCodec codec("secret");
  std::string unsigned_token = B64(R"({"alg":"none","typ":"JWT"})") + "." + B64(Payload()) + ".";
  auto r = codec.Verify(unsigned_token, UnixTime{kNow});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.failure().code, Code::kBadToken);
  // Even correctly MACed with our secret, a header naming another algorithm is refused.
  for (const char* header : {R"({"alg":"none"})", R"({"alg":"HS512"})", R"({"alg":"hs256"})", R"({"typ":"JWT"})",
                             R"({"alg":"HS256","typ":"JWE"})", R"({"alg":"HS256","crit":["exp"]})",
                             R"(["HS256"])", "not json"}) {
    EXPECT_FALSE(codec.Verify(Forge(header, Payload(), "secret"), UnixTime{kNow})) << header;
  }
  EXPECT_TRUE(codec.Verify(Forge(R"({"alg":"HS256"})", Payload(), "secret"), UnixTime{kNow}));
}

TEST(Token, MalformedClaimsAreRefused) {
  TokenCodec codec("secret");
  auto verify = [&](const std::string& payload) { return codec.Verify(Forge(kHeader, payload, "secret"),
                                                                      UnixTime{kNow}); };
  ASSERT_TRUE(verify(Payload()));
  for (const char* claim : {"iss", "sub", "room", "perms", "iat", "exp", "jti"})
    EXPECT_FALSE(verify(Payload(claim, nullptr, /*erase=*/true))) << "missing " << claim;
  EXPECT_FALSE(verify(Payload("iss", "someone")));
  EXPECT_FALSE(verify(Payload("sub", "")));
  EXPECT_FALSE(verify(Payload("sub", "bad\nname")));
  EXPECT_FALSE(verify(Payload("sub", std::string(65, 'a'))));
  EXPECT_FALSE(verify(Payload("room", "no spaces")));
  EXPECT_FALSE(verify(Payload("room", 7)));
  EXPECT_FALSE(verify(Payload("perms", Json::array())));
  EXPECT_FALSE(verify(Payload("perms", {"join", "admin"})));
  EXPECT_FALSE(verify(Payload("perms", {"join", "join"})));
  EXPECT_FALSE(verify(Payload("perms", "join")));
  EXPECT_FALSE(verify(Payload("iat", 1.5)));
  EXPECT_FALSE(verify(Payload("exp", "tomorrow")));
  EXPECT_FALSE(verify(Payload("exp", kNow)));                  // exp <= iat
  EXPECT_FALSE(verify(Payload("exp", kNow + 24 * 3600 + 1)));  // lifetime above 24 h
  EXPECT_TRUE(verify(Payload("exp", kNow + 24 * 3600)));
  EXPECT_FALSE(verify(Payload("jti", "")));
  EXPECT_FALSE(codec.Verify(Forge(kHeader, "[1,2]", "secret"), UnixTime{kNow}));
  EXPECT_FALSE(codec.Verify(Forge(kHeader, "{\"a\":[[[[1]]]]}", "secret"), UnixTime{kNow}));
}

TEST(Token, GarbageIsRefusedWithoutThrowing) {
  TokenCodec codec("secret");
  for (const char* t : {"", ".", "..", "...", "a.b.c", "a.b", "é.é.é", "eyJ.eyJ.xxx"}) {
    auto r = codec.Verify(t, UnixTime{kNow});
    ASSERT_FALSE(r) << t;
    EXPECT_EQ(r.failure().code, Code::kBadToken);
  }
  EXPECT_FALSE(codec.Verify(std::string(5000, 'a'), UnixTime{kNow}));
}

TEST(Token, EmptySecretIsAStartupError) { EXPECT_THROW(TokenCodec(""), std::invalid_argument); }

TEST(Names, RoomsAndIdentities) {
  EXPECT_TRUE(IsValidRoomName("demo"));
  EXPECT_TRUE(IsValidRoomName("A-z_0.9"));
  EXPECT_FALSE(IsValidRoomName(""));
  EXPECT_FALSE(IsValidRoomName(std::string(65, 'a')));
  EXPECT_TRUE(IsValidRoomName(std::string(64, 'a')));
  EXPECT_FALSE(IsValidRoomName("a/b"));
  EXPECT_FALSE(IsValidRoomName("a%20"));
  EXPECT_TRUE(IsValidIdentity("Alice Smith"));
  EXPECT_TRUE(IsValidIdentity("Zoë 🙂"));
  EXPECT_TRUE(IsValidIdentity(std::string(64 * 4 / 4, 'x')));
  std::string sixty_four_emoji;
  for (int i = 0; i < 64; ++i) sixty_four_emoji += "🙂";
  EXPECT_TRUE(IsValidIdentity(sixty_four_emoji));
  EXPECT_FALSE(IsValidIdentity(sixty_four_emoji + "a"));
  EXPECT_FALSE(IsValidIdentity(""));
  EXPECT_FALSE(IsValidIdentity("tab\there"));
  EXPECT_FALSE(IsValidIdentity("del\x7f"));
  EXPECT_FALSE(IsValidIdentity("c1\xc2\x85"));     // U+0085
  EXPECT_FALSE(IsValidIdentity("\xc0\xaf"));       // overlong '/'
  EXPECT_FALSE(IsValidIdentity("\xed\xa0\x80"));   // surrogate
  EXPECT_FALSE(IsValidIdentity("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidIdentity("\xe2\x82"));       // truncated
}

}  // namespace
}  // namespace tandem::signaling
