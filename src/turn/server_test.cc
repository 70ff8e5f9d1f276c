// TurnServer: Binding (RFC 8489 / RFC 5780) and the allocation lifecycle (RFC 8656 §7, §8).
#include "turn/server.h"

#include <gtest/gtest.h>

#include "core/crypto.h"
#include "turn/server_test_util.h"

namespace tandem::turn {
namespace {

using stun::MessageClass;
using stun::Method;
namespace attr = stun::attr;
namespace error = stun::error;

std::vector<uint8_t> BindingRequest(testing::TurnTestClient& c, bool fingerprint,
                                    const testing::TurnTestClient::Adder& add = {}) {
  c.options().fingerprint = fingerprint;
  return c.Build(Method::kBinding, add, false);
}

// ---- Binding ----

TEST_F(TurnServerTest, BindingIpv4ReturnsXorMappedAddressAndSoftware) {
  Start();
  auto& c = Client();
  auto reply = c.SendRaw(now(), BindingRequest(c, false));
  ASSERT_TRUE(reply && reply->ok());
  const auto v = reply->view();
  EXPECT_EQ(v.message_class(), MessageClass::kSuccessResponse);
  EXPECT_EQ(v.GetXorAddress(attr::kXorMappedAddress), c.flow().client);
  EXPECT_EQ(v.GetString(attr::kSoftware), "Tandem");
  EXPECT_FALSE(v.Has(attr::kFingerprint));
  EXPECT_FALSE(v.Has(attr::kOtherAddress));  // RFC 5780 not configured
  EXPECT_EQ(server_->stats().binding_requests, 1u);
  EXPECT_EQ(out_.to_client.back().flow, c.flow());
}

TEST_F(TurnServerTest, BindingIpv6WithFingerprint) {
  Start();
  auto& c = Client(UdpFlow("[2001:db8:1::5]:6000", "[2001:db8::1]:3478"));
  auto reply = c.SendRaw(now(), BindingRequest(c, true));
  ASSERT_TRUE(reply && reply->ok());
  const auto v = reply->view();
  EXPECT_EQ(v.GetXorAddress(attr::kXorMappedAddress), Addr("[2001:db8:1::5]:6000"));
  EXPECT_TRUE(v.HasValidFingerprint());
}

TEST_F(TurnServerTest, BindingWithBadFingerprintIsDropped) {
  Start();
  auto& c = Client();
  auto bytes = BindingRequest(c, true);
  bytes.back() ^= 1;
  EXPECT_FALSE(c.SendRaw(now(), bytes));
  EXPECT_EQ(server_->stats().dropped_malformed, 1u);
}

TEST_F(TurnServerTest, Rfc5780OtherAddressAndChangeRequest) {
  ServerConfig config = DefaultConfig();
  config.primary_address = Addr("192.0.2.1:3478");
  config.alternate_address = Addr("192.0.2.2:3479");
  Start(config);
  auto& c = Client();

  auto plain = c.SendRaw(now(), BindingRequest(c, false));
  ASSERT_TRUE(plain && plain->is_success());
  EXPECT_EQ(plain->view().GetAddress(attr::kOtherAddress), Addr("192.0.2.2:3479"));
  EXPECT_EQ(plain->view().GetAddress(attr::kResponseOrigin), Addr("192.0.2.1:3478"));
  // MAPPED-ADDRESS too, for behaviour-discovery clients that read it (RFC 8489 §14.1).
  EXPECT_EQ(plain->view().GetAddress(attr::kMappedAddress), plain->view().GetXorAddress(attr::kXorMappedAddress));
  EXPECT_EQ(out_.to_client.back().flow.local, Addr("192.0.2.1:3478"));

  auto both = c.SendRaw(now(), BindingRequest(c, false, [](auto& b) { b.AddChangeRequest(true, true); }));
  ASSERT_TRUE(both && both->is_success());
  EXPECT_EQ(out_.to_client.back().flow.local, Addr("192.0.2.2:3479"));
  EXPECT_EQ(out_.to_client.back().flow.client, c.flow().client);
  EXPECT_EQ(both->view().GetAddress(attr::kResponseOrigin), Addr("192.0.2.2:3479"));
  EXPECT_EQ(both->view().GetXorAddress(attr::kXorMappedAddress), c.flow().client);

  c.SendRaw(now(), BindingRequest(c, false, [](auto& b) { b.AddChangeRequest(false, true); }));
  EXPECT_EQ(out_.to_client.back().flow.local, Addr("192.0.2.1:3479"));
  c.SendRaw(now(), BindingRequest(c, false, [](auto& b) { b.AddChangeRequest(true, false); }));
  EXPECT_EQ(out_.to_client.back().flow.local, Addr("192.0.2.2:3478"));

  // RESPONSE-PORT (RFC 5780 §7.5): answer to another port of the same IP.
  c.SendRaw(now(), BindingRequest(c, false, [](auto& b) { b.AddU32(attr::kResponsePort, 7777u << 16); }));
  EXPECT_EQ(out_.to_client.back().flow.client, Addr("198.51.100.20:7777"));
}

TEST_F(TurnServerTest, ChangeRequestWithoutAlternateAddressIs420) {
  Start();
  auto& c = Client();
  auto reply = c.SendRaw(now(), BindingRequest(c, false, [](auto& b) { b.AddChangeRequest(true, true); }));
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kUnknownAttribute);
  EXPECT_EQ(reply->view().GetUnknownAttributes(), std::vector<uint16_t>{attr::kChangeRequest});
}

TEST_F(TurnServerTest, UnknownComprehensionRequiredAttributeIs420) {
  Start();
  auto& c = Client();
  auto reply = c.SendRaw(now(), c.Build(
                                    Method::kAllocate,
                                    [](auto& b) {
                                      b.AddRequestedTransport(stun::kTransportUdp);
                                      b.AddU32(0x7F01, 1);
                                      b.AddU32(0xC001, 1);  // comprehension-optional: ignored
                                    },
                                    false));
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kUnknownAttribute);
  EXPECT_EQ(reply->view().GetUnknownAttributes(), std::vector<uint16_t>{0x7F01});
}

TEST_F(TurnServerTest, UnknownAttributeInIndicationIsDropped) {
  Start();
  auto& c = Allocated();
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  std::vector<uint8_t> bytes;
  stun::MessageBuilder b(bytes, Method::kSend, MessageClass::kIndication, c.NewTid());
  b.AddXorAddress(attr::kXorPeerAddress, Addr(kPeer));
  b.AddBytes(attr::kData, AsBytes("x"));
  b.AddU32(0x7F02, 0);
  b.Finish();
  const size_t before = out_.to_client.size();
  server_->HandleClientPacket(now(), c.flow(), bytes);
  EXPECT_TRUE(out_.to_peer.empty());
  EXPECT_EQ(out_.to_client.size(), before);
  EXPECT_EQ(server_->stats().dropped_malformed, 1u);
}

TEST_F(TurnServerTest, ResponsesAndMalformedPacketsAreCountedNotAnswered) {
  Start();
  auto& c = Client();
  const uint8_t garbage[] = {0xff, 0x00, 0x12};
  c.SendRaw(now(), garbage);
  c.SendRaw(now(), {});
  auto request = BindingRequest(c, false);
  c.SendRaw(now(), ByteSpan(request).first(request.size() - 4));  // truncated
  std::vector<uint8_t> response;
  stun::MessageBuilder(response, Method::kBinding, MessageClass::kSuccessResponse, c.NewTid()).Finish();
  c.SendRaw(now(), response);
  const uint8_t short_channel_data[] = {0x40, 0x00, 0x00, 0x10, 1, 2};
  c.SendRaw(now(), short_channel_data);
  EXPECT_TRUE(out_.to_client.empty());
  EXPECT_EQ(server_->stats().dropped_malformed, 5u);
}

// ---- Long-term authentication and Allocate ----

TEST_F(TurnServerTest, AllocateChallengedThenSucceeds) {
  Start();
  auto& c = Client();
  c.options().fingerprint = true;
  auto challenge =
      c.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); });
  ASSERT_TRUE(challenge && challenge->ok());
  EXPECT_EQ(challenge->error_code(), error::kUnauthorized);
  const auto cv = challenge->view();
  EXPECT_EQ(cv.GetString(attr::kRealm), "example.org");
  ASSERT_TRUE(cv.GetString(attr::kNonce));
  EXPECT_EQ(cv.GetString(attr::kNonce)->substr(0, 9), "obMatJos2");
  EXPECT_EQ(cv.GetPasswordAlgorithms(),
            (std::vector<stun::PasswordAlgorithm>{stun::PasswordAlgorithm::kSha256,
                                                  stun::PasswordAlgorithm::kMd5}));
  EXPECT_FALSE(cv.Has(attr::kMessageIntegrity));
  EXPECT_TRUE(cv.HasValidFingerprint());

  auto reply =
      c.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); });
  ASSERT_TRUE(reply && reply->ok());
  ASSERT_TRUE(reply->is_success()) << reply->error_code();
  const auto v = reply->view();
  EXPECT_EQ(v.GetXorAddress(attr::kXorRelayedAddress)->ip(), relays_.v4_ip);
  EXPECT_EQ(v.GetU32(attr::kLifetime), 600u);
  EXPECT_EQ(v.GetXorAddress(attr::kXorMappedAddress), c.flow().client);
  EXPECT_TRUE(v.VerifyMessageIntegrity(c.Key()));
  EXPECT_FALSE(v.Has(attr::kMessageIntegritySha256));
  EXPECT_TRUE(v.HasValidFingerprint());
  EXPECT_EQ(server_->stats().allocations_created, 1u);
  EXPECT_EQ(server_->stats().allocations_active, 1u);
  EXPECT_EQ(server_->allocation_count(), 1u);
  EXPECT_EQ(relays_.open.size(), 1u);
}

TEST_F(TurnServerTest, WrongPasswordIs401) {
  Start();
  auto& c = Client();
  c.options().password = "wrong";
  auto reply = c.Allocate(now());
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kUnauthorized);
  EXPECT_TRUE(reply->view().Has(attr::kNonce));
  EXPECT_GE(server_->stats().auth_failures, 1u);
  EXPECT_EQ(server_->allocation_count(), 0u);
  EXPECT_TRUE(relays_.open.empty());
}

TEST_F(TurnServerTest, UnknownUserIs401) {
  Start();
  auto& c = Client();
  c.options().username = "mallory";
  auto reply = c.Allocate(now());
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kUnauthorized);
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TurnServerTest, MissingRequestedTransportIs400AndUnknownTransportIs442) {
  Start();
  auto& c = Client();
  auto r1 = c.RequestWithRetry(now(), Method::kAllocate, {});
  ASSERT_TRUE(r1 && r1->ok());
  EXPECT_EQ(r1->error_code(), error::kBadRequest);
  EXPECT_TRUE(r1->view().VerifyMessageIntegrity(c.Key()));  // errors to authenticated requests are signed
  auto r2 = c.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(132); });  // SCTP
  ASSERT_TRUE(r2 && r2->ok());
  EXPECT_EQ(r2->error_code(), error::kUnsupportedTransportProtocol);
  // TCP over a UDP flow: 400 (RFC 6062 §5.1; TCP allocations are in tcp_relay_test.cc).
  auto r3 =
      c.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportTcp); });
  ASSERT_TRUE(r3 && r3->ok());
  EXPECT_EQ(r3->error_code(), error::kBadRequest);
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TurnServerTest, AllocationMismatch437) {
  Start();
  auto& c = Allocated();
  auto again = c.Allocate(now());  // new transaction on the same 5-tuple
  ASSERT_TRUE(again && again->ok());
  EXPECT_EQ(again->error_code(), error::kAllocationMismatch);

  auto& other = Client(UdpFlow("198.51.100.21:40000"));
  auto refresh = other.RequestWithRetry(now(), Method::kRefresh, {});
  ASSERT_TRUE(refresh && refresh->ok());
  EXPECT_EQ(refresh->error_code(), error::kAllocationMismatch);
  EXPECT_EQ(server_->allocation_count(), 1u);
}

TEST_F(TurnServerTest, RetransmittedAllocateGetsTheSameResponse) {
  Start();
  auto& d = Client();
  // A challenge first, to learn REALM and NONCE.
  d.Request(
      now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false);
  const auto tid = d.NewTid();
  const auto request = d.Build(
      Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, true, tid);
  auto first = d.SendRaw(now(), request);
  ASSERT_TRUE(first && first->is_success()) << first->error_code();
  clock_.Advance(TimeDelta::Seconds(1));
  auto second = d.SendRaw(now(), request);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->bytes, second->bytes);
  EXPECT_EQ(server_->stats().allocations_created, 1u);
  EXPECT_EQ(relays_.open.size(), 1u);
  // After 40 s the cached answer is gone: the same transaction now conflicts with the allocation.
  clock_.Advance(TimeDelta::Seconds(40));
  auto third = d.SendRaw(now(), request);
  ASSERT_TRUE(third && third->ok());
  EXPECT_EQ(third->error_code(), error::kAllocationMismatch);
}

TEST_F(TurnServerTest, WrongCredentialsOnExistingAllocationIs441) {
  credentials_.AddUser("bob", "hunter2");
  Start();
  auto& c = Allocated();
  c.options().username = "bob";
  c.options().password = "hunter2";
  auto reply = c.Refresh(now(), 600);
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kWrongCredentials);
}

TEST_F(TurnServerTest, LifetimeNegotiation) {
  ServerConfig config = DefaultConfig();
  config.max_lifetime = TimeDelta::Seconds(1200);
  Start(config);
  auto& a = Client(UdpFlow("198.51.100.20:1"));
  auto ra = a.Allocate(now(), [](auto& b) { b.AddU32(attr::kLifetime, 5000); });
  EXPECT_EQ(ra->view().GetU32(attr::kLifetime), 1200u);  // capped at the maximum
  auto& b2 = Client(UdpFlow("198.51.100.20:2"));
  auto rb = b2.Allocate(now(), [](auto& b) { b.AddU32(attr::kLifetime, 30); });
  EXPECT_EQ(rb->view().GetU32(attr::kLifetime), 600u);  // never below the default
}

TEST_F(TurnServerTest, AllocationExpiresExactlyAtLifetime) {
  Start();
  const Timestamp t0 = now();
  auto& c = Client();
  auto reply = c.Allocate(t0);
  ASSERT_TRUE(reply && reply->is_success());
  const RelayId relay = RelayIdOf(*reply);
  EXPECT_EQ(server_->NextTimeout(), t0 + TimeDelta::Seconds(600));

  Advance(TimeDelta::Seconds(600) - TimeDelta::Micros(1));
  EXPECT_EQ(server_->allocation_count(), 1u);
  EXPECT_TRUE(relays_.IsOpen(relay));

  Advance(TimeDelta::Micros(1));
  EXPECT_EQ(server_->allocation_count(), 0u);
  EXPECT_FALSE(relays_.IsOpen(relay));
  EXPECT_EQ(server_->stats().allocations_expired, 1u);
  EXPECT_EQ(server_->stats().allocations_active, 0u);
  EXPECT_EQ(server_->NextTimeout(), Timestamp::Infinity());
}

TEST_F(TurnServerTest, RefreshExtendsLifetime) {
  Start();
  const Timestamp t0 = now();
  auto& c = Allocated();
  Advance(TimeDelta::Seconds(500));
  auto reply = c.Refresh(now(), 600);
  ASSERT_TRUE(reply && reply->is_success()) << reply->error_code();
  EXPECT_EQ(reply->view().GetU32(attr::kLifetime), 600u);
  EXPECT_TRUE(reply->view().VerifyMessageIntegrity(c.Key()));

  clock_.AdvanceTo(t0 + TimeDelta::Seconds(600));
  server_->HandleTimeout(now());
  EXPECT_EQ(server_->allocation_count(), 1u);
  clock_.AdvanceTo(t0 + TimeDelta::Seconds(1100) - TimeDelta::Micros(1));
  server_->HandleTimeout(now());
  EXPECT_EQ(server_->allocation_count(), 1u);
  clock_.AdvanceTo(t0 + TimeDelta::Seconds(1100));
  server_->HandleTimeout(now());
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TurnServerTest, RefreshWithShorterLifetimeExpiresEarlier) {
  ServerConfig config = DefaultConfig();
  config.default_lifetime = TimeDelta::Seconds(60);
  Start(config);
  const Timestamp t0 = now();
  auto& c = Client();
  c.Allocate(t0, [](auto& b) { b.AddU32(attr::kLifetime, 3000); });
  ASSERT_EQ(server_->allocation_count(), 1u);
  ASSERT_TRUE(c.Refresh(now(), 60)->is_success());
  clock_.AdvanceTo(t0 + TimeDelta::Seconds(60));
  server_->HandleTimeout(now());
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TurnServerTest, RefreshZeroDeletesAndClosesRelay) {
  Start();
  auto& c = Client();
  auto alloc = c.Allocate(now());
  const RelayId relay = RelayIdOf(*alloc);
  auto reply = c.Refresh(now(), 0);
  ASSERT_TRUE(reply && reply->is_success());
  EXPECT_EQ(reply->view().GetU32(attr::kLifetime), 0u);
  EXPECT_TRUE(reply->view().VerifyMessageIntegrity(c.Key()));
  EXPECT_FALSE(relays_.IsOpen(relay));
  EXPECT_EQ(server_->allocation_count(), 0u);
  EXPECT_EQ(server_->stats().allocations_deleted, 1u);
  // The flow can allocate again.
  EXPECT_TRUE(c.Allocate(now())->is_success());
}

TEST_F(TurnServerTest, RefreshFamilyMismatchIs443) {
  Start();
  auto& c = Allocated();
  auto reply = c.Request(now(), Method::kRefresh, [](auto& b) {
    b.AddAddressFamily(attr::kRequestedAddressFamily, stun::kFamilyIPv6);
  });
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kPeerAddressFamilyMismatch);
}

TEST_F(TurnServerTest, QuotaPerUserAndTotal) {
  quota_ = MakeLocalQuota(3, 2);
  credentials_.AddUser("bob", "pw");
  Start();
  EXPECT_TRUE(Client(UdpFlow("198.51.100.20:1")).Allocate(now())->is_success());
  EXPECT_TRUE(Client(UdpFlow("198.51.100.20:2")).Allocate(now())->is_success());
  auto third = Client(UdpFlow("198.51.100.20:3")).Allocate(now());
  EXPECT_EQ(third->error_code(), error::kAllocationQuotaReached);

  auto& bob = Client(UdpFlow("198.51.100.20:4"));
  bob.options().username = "bob";
  bob.options().password = "pw";
  EXPECT_TRUE(bob.Allocate(now())->is_success());
  auto& bob2 = Client(UdpFlow("198.51.100.20:5"));
  bob2.options().username = "bob";
  bob2.options().password = "pw";
  EXPECT_EQ(bob2.Allocate(now())->error_code(), error::kAllocationQuotaReached);  // total of 3 reached

  // Deleting one frees quota.
  ASSERT_TRUE(clients_[0]->Refresh(now(), 0)->is_success());
  EXPECT_TRUE(bob2.Allocate(now())->is_success());
}

TEST_F(TurnServerTest, PerWorkerLimitAndPortExhaustionAre508) {
  ServerConfig config = DefaultConfig();
  config.max_allocations_per_worker = 1;
  Start(config);
  EXPECT_TRUE(Client(UdpFlow("198.51.100.20:1")).Allocate(now())->is_success());
  EXPECT_EQ(Client(UdpFlow("198.51.100.20:2")).Allocate(now())->error_code(), error::kInsufficientCapacity);

  Start();
  relays_.capacity = relays_.open.size();
  auto reply = Client(UdpFlow("198.51.100.20:3")).Allocate(now());
  EXPECT_EQ(reply->error_code(), error::kInsufficientCapacity);
}

TEST_F(TurnServerTest, EvenPortWithReservationToken) {
  Start();
  auto& c = Client(UdpFlow("198.51.100.20:1"));
  auto first = c.Allocate(now(), [](auto& b) { b.AddEvenPort(true); });
  ASSERT_TRUE(first && first->is_success()) << first->error_code();
  const SocketAddress relayed = RelayedAddress(*first);
  EXPECT_EQ(relayed.port() % 2, 0);
  const auto token = first->view().GetU64(attr::kReservationToken);
  ASSERT_TRUE(token);
  EXPECT_EQ(relays_.open.size(), 2u);  // the allocation's port and the reserved one

  auto& d = Client(UdpFlow("198.51.100.20:2"));
  auto second = d.Allocate(now(), [&](auto& b) { b.AddU64(attr::kReservationToken, *token); });
  ASSERT_TRUE(second && second->is_success()) << second->error_code();
  EXPECT_EQ(RelayedAddress(*second), SocketAddress(relayed.ip(), static_cast<uint16_t>(relayed.port() + 1)));
  EXPECT_EQ(relays_.open.size(), 2u);

  // A token can be used once.
  auto& e = Client(UdpFlow("198.51.100.20:3"));
  auto third = e.Allocate(now(), [&](auto& b) { b.AddU64(attr::kReservationToken, *token); });
  EXPECT_EQ(third->error_code(), error::kInsufficientCapacity);

  // EVEN-PORT together with RESERVATION-TOKEN is a bad request.
  auto both = e.Allocate(now(), [&](auto& b) {
    b.AddEvenPort(false);
    b.AddU64(attr::kReservationToken, *token);
  });
  EXPECT_EQ(both->error_code(), error::kBadRequest);
}

TEST_F(TurnServerTest, ReservationExpires) {
  Start();
  auto& c = Client(UdpFlow("198.51.100.20:1"));
  auto first = c.Allocate(now(), [](auto& b) { b.AddEvenPort(true); });
  const auto token = first->view().GetU64(attr::kReservationToken);
  ASSERT_TRUE(token);
  ASSERT_EQ(relays_.open.size(), 2u);
  Advance(TimeDelta::Seconds(30));
  // The provider owns reservations (so that another worker can redeem them); an expired token is refused
  // with 508 and its held port released.
  auto& d = Client(UdpFlow("198.51.100.20:2"));
  auto second = d.Allocate(now(), [&](auto& b) { b.AddU64(attr::kReservationToken, *token); });
  EXPECT_EQ(second->error_code(), error::kInsufficientCapacity);
  EXPECT_EQ(relays_.open.size(), 1u);
  EXPECT_EQ(server_->stats().allocations_active, 1u);
}

TEST_F(TurnServerTest, DualStackAdditionalAddressFamily) {
  Start();
  auto& c = Client(UdpFlow("198.51.100.20:1"));
  auto reply = c.Allocate(
      now(), [](auto& b) { b.AddAddressFamily(attr::kAdditionalAddressFamily, stun::kFamilyIPv6); });
  ASSERT_TRUE(reply && reply->is_success()) << reply->error_code();
  std::array<SocketAddress, 4> relayed;
  const size_t n = reply->view().GetAllXorAddresses(attr::kXorRelayedAddress, relayed);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(relayed[0].ip(), relays_.v4_ip);
  EXPECT_EQ(relayed[1].ip(), relays_.v6_ip);
  EXPECT_FALSE(reply->view().Has(attr::kAddressErrorCode));

  // Both families usable for permissions.
  EXPECT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  EXPECT_TRUE(c.CreatePermission(now(), Addr("[2606:4700::1111]:443"))->is_success());

  // Without IPv6 relays: success with the IPv4 relay and ADDRESS-ERROR-CODE 440 for IPv6.
  relays_.ipv6 = false;
  auto& d = Client(UdpFlow("198.51.100.20:2"));
  auto partial = d.Allocate(
      now(), [](auto& b) { b.AddAddressFamily(attr::kAdditionalAddressFamily, stun::kFamilyIPv6); });
  ASSERT_TRUE(partial && partial->is_success());
  EXPECT_EQ(partial->view().GetAllXorAddresses(attr::kXorRelayedAddress, relayed), 1u);
  auto address_error = partial->view().GetAddressErrorCode();
  ASSERT_TRUE(address_error);
  EXPECT_EQ(address_error->family, stun::kFamilyIPv6);
  EXPECT_EQ(address_error->code, error::kAddressFamilyNotSupported);

  // ADDITIONAL-ADDRESS-FAMILY must be IPv6.
  auto& e = Client(UdpFlow("198.51.100.20:3"));
  auto bad = e.Allocate(
      now(), [](auto& b) { b.AddAddressFamily(attr::kAdditionalAddressFamily, stun::kFamilyIPv4); });
  EXPECT_EQ(bad->error_code(), error::kBadRequest);
}

TEST_F(TurnServerTest, RequestedAddressFamily) {
  Start();
  auto& c = Client(UdpFlow("198.51.100.20:1"));
  auto v6 = c.Allocate(now(),
                       [](auto& b) { b.AddAddressFamily(attr::kRequestedAddressFamily, stun::kFamilyIPv6); });
  ASSERT_TRUE(v6 && v6->is_success());
  EXPECT_EQ(RelayedAddress(*v6).ip(), relays_.v6_ip);
  // An IPv4 peer on an IPv6 allocation: 443.
  EXPECT_EQ(c.CreatePermission(now(), Addr(kPeer))->error_code(), error::kPeerAddressFamilyMismatch);

  relays_.ipv6 = false;
  auto& d = Client(UdpFlow("198.51.100.20:2"));
  auto refused = d.Allocate(
      now(), [](auto& b) { b.AddAddressFamily(attr::kRequestedAddressFamily, stun::kFamilyIPv6); });
  EXPECT_EQ(refused->error_code(), error::kAddressFamilyNotSupported);
  auto unknown = d.Allocate(now(), [](auto& b) { b.AddAddressFamily(attr::kRequestedAddressFamily, 0x07); });
  EXPECT_EQ(unknown->error_code(), error::kAddressFamilyNotSupported);
}

TEST_F(TurnServerTest, TcpCloseDeletesAllocation) {
  Start();
  auto& c = Client(TcpFlow(17));
  auto reply = c.Allocate(now());
  ASSERT_TRUE(reply && reply->is_success());
  const RelayId relay = RelayIdOf(*reply);
  EXPECT_EQ(out_.to_client.back().flow.connection_id, 17u);
  // Another connection from the same address is another flow.
  EXPECT_TRUE(Client(TcpFlow(18)).Allocate(now())->is_success());
  server_->HandleClientClosed(now(), TcpFlow(17));
  EXPECT_FALSE(relays_.IsOpen(relay));
  EXPECT_EQ(server_->allocation_count(), 1u);
  EXPECT_EQ(server_->stats().allocations_deleted, 1u);
  // UDP "close" is meaningless and ignored.
  server_->HandleClientClosed(now(), UdpFlow());
  EXPECT_EQ(server_->allocation_count(), 1u);
}

TEST_F(TurnServerTest, TcpAllocationExpiryClosesConnection) {
  Start();
  auto& c = Client(TcpFlow(5));
  ASSERT_TRUE(c.Allocate(now())->is_success());
  Advance(TimeDelta::Seconds(600));
  ASSERT_EQ(out_.closed.size(), 1u);
  EXPECT_EQ(out_.closed[0].connection_id, 5u);
}

TEST_F(TurnServerTest, StunOnlyModeRefusesTurn) {
  ServerConfig config = DefaultConfig();
  config.enable_turn = false;
  Start(config);
  auto& c = Client();
  auto reply = c.Allocate(now());
  ASSERT_TRUE(reply && reply->ok());
  EXPECT_EQ(reply->error_code(), error::kForbidden);
  EXPECT_TRUE(c.SendRaw(now(), BindingRequest(c, false))->is_success());
}

TEST_F(TurnServerTest, NoAuthModeAllocatesWithoutCredentials) {
  ServerConfig config = DefaultConfig();
  config.require_auth = false;
  Start(config);
  auto& c = Client();
  auto reply = c.Request(
      now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportUdp); }, false);
  ASSERT_TRUE(reply && reply->is_success());
  EXPECT_FALSE(reply->view().Has(attr::kMessageIntegrity));
}

}  // namespace
}  // namespace tandem::turn
