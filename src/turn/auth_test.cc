// Long-term credentials (RFC 8489 §9.2): credential store, nonces, SHA-256, USERHASH, stale nonces, rate
// limits.
#include <gtest/gtest.h>

#include "turn/credentials.h"
#include "turn/nonce.h"
#include "turn/server_test_util.h"

namespace tandem::turn {
namespace {

using stun::Method;
using stun::PasswordAlgorithm;
namespace attr = stun::attr;
namespace error = stun::error;

// ---- StaticCredentialStore ----

TEST(CredentialStoreTest, StaticUserKey) {
  testing::FakeWallClock wall;
  StaticCredentialStore store(wall);
  store.AddUser("alice", "secret");
  EXPECT_EQ(store.LookupKey("alice", "example.org", PasswordAlgorithm::kMd5),
            stun::LongTermKey("alice", "example.org", "secret", PasswordAlgorithm::kMd5));
  EXPECT_EQ(store.LookupKey("alice", "example.org", PasswordAlgorithm::kSha256),
            stun::LongTermKey("alice", "example.org", "secret", PasswordAlgorithm::kSha256));
  EXPECT_FALSE(store.LookupKey("bob", "example.org", PasswordAlgorithm::kMd5));
}

TEST(CredentialStoreTest, TimeLimitedPasswordMatchesCoturn) {
  // base64(HMAC-SHA1("north", "1700003600:alice")), computed independently.
  EXPECT_EQ(StaticCredentialStore::TimeLimitedPassword("north", "1700003600:alice"),
            "wjwSXO2ch1B6VaLTLMy2Avn5O9o=");
}

TEST(CredentialStoreTest, TimeLimitedCredentialsExpire) {
  testing::FakeWallClock wall(1'700'000'000);
  StaticCredentialStore store(wall);
  store.AddSharedSecret("north");
  const std::string user = "1700003600:alice";
  const auto expected = stun::LongTermKey(user, "r", "wjwSXO2ch1B6VaLTLMy2Avn5O9o=", PasswordAlgorithm::kMd5);
  EXPECT_EQ(store.LookupKey(user, "r", PasswordAlgorithm::kMd5), expected);
  EXPECT_TRUE(store.LookupKey("1700003600", "r", PasswordAlgorithm::kMd5));  // timestamp only
  wall.Set(1'700'003'600);
  EXPECT_TRUE(store.LookupKey(user, "r", PasswordAlgorithm::kMd5));  // valid through its expiry second
  wall.Set(1'700'003'601);
  EXPECT_FALSE(store.LookupKey(user, "r", PasswordAlgorithm::kMd5));
  EXPECT_FALSE(store.LookupKey("alice:1800000000", "r", PasswordAlgorithm::kMd5));  // timestamp comes first
  EXPECT_FALSE(store.LookupKey(":alice", "r", PasswordAlgorithm::kMd5));
  EXPECT_FALSE(store.LookupKey("12x:alice", "r", PasswordAlgorithm::kMd5));
}

TEST(CredentialStoreTest, RotatedSecretsAllYieldKeys) {
  testing::FakeWallClock wall(1'700'000'000);
  StaticCredentialStore store(wall);
  store.AddSharedSecret("old");
  store.AddSharedSecret("new");
  const std::string user = "1700003600:alice";
  const auto keys = store.LookupKeys(user, "r", PasswordAlgorithm::kMd5);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[1], stun::LongTermKey(user, "r", StaticCredentialStore::TimeLimitedPassword("new", user)));
}

TEST(CredentialStoreTest, UserHashLookup) {
  testing::FakeWallClock wall;
  StaticCredentialStore store(wall);
  store.AddUser("alice", "secret");
  const auto hash = stun::UserHash("alice", "example.org");
  EXPECT_EQ(store.LookupUserHash(hash, "example.org"), "alice");
  EXPECT_FALSE(store.LookupUserHash(hash, "other.org"));
  store.AddUser("bob", "pw");
  EXPECT_EQ(store.LookupUserHash(stun::UserHash("bob", "example.org"), "example.org"), "bob");
  EXPECT_FALSE(store.LookupUserHash(ByteSpan(hash).first(8), "example.org"));
}

// ---- Nonces ----

TEST(NonceTest, ValidUntilLifetimeBoundToIp) {
  SeededRng rng(7);
  NonceManager nonces(rng, TimeDelta::Seconds(600), kFeaturePasswordAlgorithms | kFeatureUsernameAnonymity);
  const IpAddress ip = *IpAddress::Parse("198.51.100.1");
  const Timestamp t0 = Timestamp::Seconds(100);
  const std::string n = nonces.Make(t0, ip);
  EXPECT_EQ(n.substr(0, 13), "obMatJos2wAAA");  // both feature bits (RFC 8489 §18.1 bits 0 and 1)
  EXPECT_LT(n.size(), 128u);                    // RFC 8489 §14.10
  EXPECT_EQ(NonceManager::Features(n), kFeaturePasswordAlgorithms | kFeatureUsernameAnonymity);
  EXPECT_EQ(nonces.Check(n, t0 + TimeDelta::Seconds(599), ip), NonceManager::Validity::kValid);
  EXPECT_EQ(nonces.Check(n, t0 + TimeDelta::Seconds(600), ip), NonceManager::Validity::kStale);
  EXPECT_EQ(nonces.Check(n, t0, *IpAddress::Parse("198.51.100.2")), NonceManager::Validity::kStale);
  std::string tampered = n;
  tampered[20] = tampered[20] == '0' ? '1' : '0';  // move the expiry
  EXPECT_EQ(nonces.Check(tampered, t0, ip), NonceManager::Validity::kStale);
  // Another server instance (another secret) does not accept it.
  SeededRng rng2(8);
  NonceManager other(rng2, TimeDelta::Seconds(600), kFeaturePasswordAlgorithms | kFeatureUsernameAnonymity);
  EXPECT_EQ(other.Check(n, t0, ip), NonceManager::Validity::kStale);
}

TEST(NonceTest, NoCookieWithoutFeatures) {
  SeededRng rng(7);
  NonceManager nonces(rng, TimeDelta::Seconds(600), 0);
  const std::string n = nonces.Make(Timestamp::Seconds(1), IpAddress::LoopbackV4());
  EXPECT_NE(n.substr(0, 9), "obMatJos2");
  EXPECT_EQ(NonceManager::Features(n), 0u);
  EXPECT_EQ(nonces.Check(n, Timestamp::Seconds(2), IpAddress::LoopbackV4()), NonceManager::Validity::kValid);
}

// ---- Server-side authentication ----

TEST_F(TurnServerTest, StaleNonceIs438ThenRetrySucceeds) {
  Start();
  auto& c = Allocated();
  const std::string old_nonce = c.nonce();
  Advance(TimeDelta::Seconds(599));
  EXPECT_TRUE(c.Refresh(now(), 600)->is_success());
  Advance(TimeDelta::Seconds(1));  // the nonce is now nonce_lifetime old
  auto stale = c.Refresh(now(), 600);
  ASSERT_TRUE(stale && stale->ok());
  EXPECT_EQ(stale->error_code(), error::kStaleNonce);
  EXPECT_EQ(stale->view().GetString(attr::kRealm), "example.org");
  ASSERT_TRUE(stale->view().GetString(attr::kNonce));
  EXPECT_NE(c.nonce(), old_nonce);  // learned the fresh nonce
  EXPECT_EQ(server_->stats().stale_nonces, 1u);
  EXPECT_TRUE(c.Refresh(now(), 600)->is_success());
}

TEST_F(TurnServerTest, StaleNonceOnlyForCorrectKey) {
  Start();
  auto& c = Allocated();
  Advance(TimeDelta::Seconds(700));
  c.options().password = "wrong";
  auto reply = c.Refresh(now(), 600);
  EXPECT_EQ(reply->error_code(), error::kUnauthorized);
  EXPECT_EQ(server_->stats().stale_nonces, 0u);
}

TEST_F(TurnServerTest, NonceFromAnotherIpIsStale) {
  Start();
  auto& a = Client(UdpFlow("198.51.100.20:1"));
  a.Request(
      now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false);
  auto& b2 = Client(UdpFlow("198.51.100.99:1"));
  b2.Request(
      now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false);
  b2.set_nonce(a.nonce());
  auto reply =
      b2.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); });
  EXPECT_EQ(reply->error_code(), error::kStaleNonce);
}

TEST_F(TurnServerTest, TimeLimitedCredentialsValidAndExpired) {
  credentials_.AddSharedSecret("north");
  Start();
  const std::string user = std::to_string(wall_.Now().seconds + 3600) + ":carol";
  auto& c = Client(UdpFlow("198.51.100.20:1"));
  c.options().username = user;
  c.options().password = StaticCredentialStore::TimeLimitedPassword("north", user);
  EXPECT_TRUE(c.Allocate(now())->is_success());

  const std::string expired = std::to_string(wall_.Now().seconds - 1) + ":carol";
  auto& d = Client(UdpFlow("198.51.100.20:2"));
  d.options().username = expired;
  d.options().password = StaticCredentialStore::TimeLimitedPassword("north", expired);
  EXPECT_EQ(d.Allocate(now())->error_code(), error::kUnauthorized);

  auto& e = Client(UdpFlow("198.51.100.20:3"));
  e.options().username = user;
  e.options().password = StaticCredentialStore::TimeLimitedPassword("south", user);
  EXPECT_EQ(e.Allocate(now())->error_code(), error::kUnauthorized);
}

TEST_F(TurnServerTest, Sha256WithUserhash) {
  Start();
  auto& c = Client();
  c.options().algorithm = PasswordAlgorithm::kSha256;
  c.options().send_password_algorithms = true;
  c.options().use_userhash = true;
  c.options().sha256_integrity = true;
  auto reply = c.Allocate(now());
  ASSERT_TRUE(reply && reply->ok());
  ASSERT_TRUE(reply->is_success()) << reply->error_code();
  const auto v = reply->view();
  EXPECT_TRUE(v.VerifyMessageIntegritySha256(
      stun::LongTermKey("alice", "example.org", "secret", PasswordAlgorithm::kSha256)));
  EXPECT_FALSE(v.Has(attr::kMessageIntegrity));
  // The cached key serves the next requests (USERHASH matched against the allocation's user).
  auto refresh = c.Refresh(now(), 600);
  ASSERT_TRUE(refresh && refresh->is_success()) << refresh->error_code();
  EXPECT_TRUE(refresh->view().VerifyMessageIntegritySha256(c.Key()));
}

TEST_F(TurnServerTest, Sha256KeyWithSha1Integrity) {
  Start();
  auto& c = Client();
  c.options().algorithm = PasswordAlgorithm::kSha256;
  c.options().send_password_algorithms = true;
  auto reply = c.Allocate(now());
  ASSERT_TRUE(reply && reply->is_success()) << reply->error_code();
  EXPECT_TRUE(reply->view().VerifyMessageIntegrity(c.Key()));
}

TEST_F(TurnServerTest, PasswordAlgorithmsMustEchoTheOffer) {
  Start();
  auto& c = Client();
  c.Request(
      now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false);
  // PASSWORD-ALGORITHM without PASSWORD-ALGORITHMS: 400 (RFC 8489 §9.2.4).
  c.options().algorithm = PasswordAlgorithm::kSha256;
  auto reply = c.Request(now(), Method::kAllocate, [](auto& b) {
    b.AddRequestedTransport(stun::kTransportUdp);
    b.AddPasswordAlgorithm(PasswordAlgorithm::kSha256);
  });
  EXPECT_EQ(reply->error_code(), error::kBadRequest);
  // A bid-down: PASSWORD-ALGORITHMS stripped to MD5 only.
  c.options().algorithm = PasswordAlgorithm::kMd5;
  const PasswordAlgorithm md5_only[] = {PasswordAlgorithm::kMd5};
  reply = c.Request(now(), Method::kAllocate, [&](auto& b) {
    b.AddRequestedTransport(stun::kTransportUdp);
    b.AddPasswordAlgorithms(md5_only);
    b.AddPasswordAlgorithm(PasswordAlgorithm::kMd5);
  });
  EXPECT_EQ(reply->error_code(), error::kBadRequest);
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TurnServerTest, UserhashOfUnknownUserIs401) {
  Start();
  auto& c = Client();
  c.options().username = "nobody";
  c.options().use_userhash = true;
  EXPECT_EQ(c.Allocate(now())->error_code(), error::kUnauthorized);
}

TEST_F(TurnServerTest, MissingNonceOrRealmIs400) {
  Start();
  auto& c = Client();
  const auto key = stun::LongTermKey("alice", "example.org", "secret");
  auto reply = c.SendRaw(now(), c.Build(
                                    Method::kAllocate,
                                    [&](auto& b) {
                                      b.AddRequestedTransport(stun::kTransportUdp);
                                      b.AddString(attr::kUsername, "alice");
                                      b.AddMessageIntegrity(key);
                                    },
                                    false));
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kBadRequest);
}

TEST_F(TurnServerTest, UnauthenticatedRequestsAreRateLimitedPerIp) {
  ServerConfig config = DefaultConfig();
  config.unauthenticated_requests_per_second_per_ip = 5;
  Start(config);
  auto& c = Client(UdpFlow("198.51.100.20:1"));
  int answered = 0;
  for (int i = 0; i < 10; ++i) {
    if (c.Request(
            now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false)) {
      ++answered;
    }
  }
  EXPECT_EQ(answered, 5);
  EXPECT_EQ(server_->stats().dropped_rate_limited, 5u);
  // Another IP has its own bucket; another port of the same IP does not.
  auto& other = Client(UdpFlow("198.51.100.21:1"));
  EXPECT_TRUE(other.Request(now(), Method::kAllocate, {}, false));
  auto& same_ip = Client(UdpFlow("198.51.100.20:2"));
  EXPECT_FALSE(same_ip.Request(now(), Method::kAllocate, {}, false));
  // Tokens come back with time.
  clock_.Advance(TimeDelta::Millis(400));
  EXPECT_TRUE(c.Request(now(), Method::kAllocate, {}, false));
  // Binding requests are not limited.
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(c.Request(now(), Method::kBinding, {}, false));
}

TEST_F(TurnServerTest, ChallengeIsSmall) {
  Start();
  auto& c = Client();
  const auto request = c.Build(
      Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false);
  auto reply = c.SendRaw(now(), request);
  ASSERT_TRUE(reply);
  // A 401 carries only ERROR-CODE, REALM, NONCE and PASSWORD-ALGORITHMS: bounded, no SOFTWARE.
  EXPECT_FALSE(reply->view().Has(attr::kSoftware));
  EXPECT_LE(reply->bytes.size(), 150u);
}

}  // namespace
}  // namespace tandem::turn
