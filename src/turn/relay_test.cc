// TurnServer relaying: permissions (RFC 8656 §9, §10), Send/Data indications (§11), channels (§12), peer
// policy, limits.
#include <gtest/gtest.h>

#include "turn/server_test_util.h"

namespace tandem::turn {
namespace {

using stun::MessageClass;
using stun::Method;
namespace attr = stun::attr;
namespace error = stun::error;

const std::vector<uint8_t> kPayload = {'h', 'e', 'l', 'l', 'o'};

class RelayTest : public TurnServerTest {
 protected:
  // An allocation for the default client, with its relay id.
  testing::TurnTestClient& StartWithAllocation(ServerConfig config = DefaultConfig(),
                                               const ClientFlow& flow = UdpFlow()) {
    Start(std::move(config));
    auto& c = Client(flow);
    auto reply = c.Allocate(now());
    EXPECT_TRUE(reply && reply->is_success());
    relay_ = RelayIdOf(*reply);
    return c;
  }
  void FromPeer(const char* peer, ByteSpan payload = kPayload) {
    server_->HandlePeerPacket(now(), relay_, Addr(peer), payload);
  }
  RelayId relay_ = 0;
};

// ---- Permissions and indications ----

TEST_F(RelayTest, SendIndicationNeedsPermission) {
  auto& c = StartWithAllocation();
  c.SendIndication(now(), Addr(kPeer), kPayload);
  EXPECT_TRUE(out_.to_peer.empty());
  EXPECT_EQ(server_->stats().dropped_no_permission, 1u);

  auto reply = c.CreatePermission(now(), Addr(kPeer));
  ASSERT_TRUE(reply && reply->is_success()) << reply->error_code();
  EXPECT_TRUE(reply->view().VerifyMessageIntegrity(c.Key()));
  c.SendIndication(now(), Addr("93.184.216.34:9999"), kPayload,
                   /*dont_fragment=*/true);  // any port of the IP
  ASSERT_EQ(out_.to_peer.size(), 1u);
  EXPECT_EQ(out_.to_peer[0].relay, relay_);
  EXPECT_EQ(out_.to_peer[0].peer, Addr("93.184.216.34:9999"));
  EXPECT_EQ(out_.to_peer[0].payload, kPayload);
  EXPECT_TRUE(out_.to_peer[0].dont_fragment);
  c.SendIndication(now(), Addr(kPeer), kPayload);
  EXPECT_FALSE(out_.to_peer[1].dont_fragment);
  EXPECT_EQ(server_->stats().packets_client_to_peer, 2u);
  EXPECT_EQ(server_->stats().bytes_client_to_peer, 10u);
}

TEST_F(RelayTest, PeerDataBecomesDataIndication) {
  auto& c = StartWithAllocation();
  FromPeer(kPeer);
  EXPECT_EQ(server_->stats().dropped_no_permission, 1u);
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  out_.Clear();
  FromPeer("93.184.216.34:7000");
  ASSERT_EQ(out_.to_client.size(), 1u);
  const auto& sent = out_.to_client[0];
  EXPECT_EQ(sent.flow, c.flow());
  EXPECT_EQ(sent.payload_size, kPayload.size());
  EXPECT_EQ(sent.tail_size, 3u);  // DATA padded to 4 bytes
  auto view = stun::MessageView::Parse(sent.bytes);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->method(), Method::kData);
  EXPECT_EQ(view->message_class(), MessageClass::kIndication);
  EXPECT_EQ(view->GetXorAddress(attr::kXorPeerAddress), Addr("93.184.216.34:7000"));
  auto data = view->GetBytes(attr::kData);
  ASSERT_TRUE(data);
  EXPECT_EQ(std::vector<uint8_t>(data->begin(), data->end()), kPayload);
  EXPECT_EQ(server_->stats().packets_peer_to_client, 1u);
}

TEST_F(RelayTest, RelayedPayloadIsNotCopied) {
  auto& c = StartWithAllocation();
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  ASSERT_TRUE(c.CreatePermission(now(), Addr("93.184.216.35:1"))->is_success());
  out_.Clear();
  server_->HandlePeerPacket(now(), relay_, Addr(kPeer), kPayload);
  server_->HandlePeerPacket(now(), relay_, Addr("93.184.216.35:1"), kPayload);
  ASSERT_EQ(out_.to_client.size(), 2u);
  EXPECT_EQ(out_.to_client[0].payload_data, kPayload.data());
  EXPECT_EQ(out_.to_client[1].payload_data, kPayload.data());
}

TEST_F(RelayTest, PermissionExpiresAfter300Seconds) {
  auto& c = StartWithAllocation();
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  EXPECT_EQ(server_->stats().permissions_active, 1u);
  Advance(TimeDelta::Seconds(299));
  size_t before = out_.to_client.size();
  FromPeer(kPeer);
  EXPECT_EQ(out_.to_client.size(), before + 1);
  Advance(TimeDelta::Seconds(1));
  EXPECT_EQ(server_->stats().permissions_active, 0u);
  before = out_.to_client.size();
  FromPeer(kPeer);
  EXPECT_EQ(out_.to_client.size(), before);
  EXPECT_EQ(server_->stats().dropped_no_permission, 1u);
  c.SendIndication(now(), Addr(kPeer), kPayload);
  EXPECT_TRUE(out_.to_peer.empty());
}

TEST_F(RelayTest, PermissionRefreshExtends) {
  auto& c = StartWithAllocation();
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  Advance(TimeDelta::Seconds(200));
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  Advance(TimeDelta::Seconds(200));
  const size_t before = out_.to_client.size();
  FromPeer(kPeer);
  EXPECT_EQ(out_.to_client.size(), before + 1);
  EXPECT_EQ(server_->stats().permissions_active, 1u);
}

TEST_F(RelayTest, CreatePermissionWithSeveralPeersIsAllOrNothing) {
  auto& c = StartWithAllocation();
  auto reply = c.Request(now(), Method::kCreatePermission, [](auto& b) {
    b.AddXorAddress(attr::kXorPeerAddress, Addr("93.184.216.34:1"));
    b.AddXorAddress(attr::kXorPeerAddress, Addr("93.184.216.40:1"));
    b.AddXorAddress(attr::kXorPeerAddress, Addr("10.0.0.1:1"));  // refused by policy
  });
  EXPECT_EQ(reply->error_code(), error::kForbidden);
  EXPECT_EQ(server_->stats().permissions_active, 0u);
  reply = c.Request(now(), Method::kCreatePermission, [](auto& b) {
    b.AddXorAddress(attr::kXorPeerAddress, Addr("93.184.216.34:1"));
    b.AddXorAddress(attr::kXorPeerAddress, Addr("93.184.216.40:1"));
  });
  EXPECT_TRUE(reply->is_success());
  EXPECT_EQ(server_->stats().permissions_active, 2u);
  reply = c.Request(now(), Method::kCreatePermission, [](auto& b) {
    b.AddXorAddress(attr::kXorPeerAddress, Addr("93.184.216.50:1"));
    b.AddXorAddress(attr::kXorPeerAddress, Addr("[2606:4700::1]:1"));  // IPv6 peer on an IPv4 allocation
  });
  EXPECT_EQ(reply->error_code(), error::kPeerAddressFamilyMismatch);
  EXPECT_EQ(server_->stats().permissions_active, 2u);
  reply = c.Request(now(), Method::kCreatePermission, [](auto&) {});
  EXPECT_EQ(reply->error_code(), error::kBadRequest);
}

TEST_F(RelayTest, PeerPolicyRefusesNonPublicAddressesByDefault) {
  auto& c = StartWithAllocation();
  for (const char* peer : {"127.0.0.1:1", "10.1.2.3:1", "192.168.1.1:1", "172.16.0.1:1", "100.64.0.1:1",
                           "169.254.1.1:1", "224.0.0.1:1", "255.255.255.255:1", "0.0.0.0:1"}) {
    auto reply = c.CreatePermission(now(), Addr(peer));
    ASSERT_TRUE(reply && reply->ok());
    EXPECT_EQ(reply->error_code(), error::kForbidden) << peer;
  }
  EXPECT_EQ(server_->stats().peer_refused, 9u);
  EXPECT_EQ(c.ChannelBind(now(), 0x4001, Addr("127.0.0.1:9"))->error_code(), error::kForbidden);
  EXPECT_EQ(server_->stats().permissions_active, 0u);
}

TEST_F(RelayTest, PeerPolicyAllowFlagsAndAllowList) {
  ServerConfig config = DefaultConfig();
  config.peer_policy.allow_loopback = true;
  config.peer_policy.allow_private = true;
  config.peer_policy.allow_link_local = true;
  auto& c = StartWithAllocation(config);
  for (const char* peer : {"127.0.0.1:1", "10.1.2.3:1", "169.254.1.1:1"}) {
    EXPECT_TRUE(c.CreatePermission(now(), Addr(peer))->is_success()) << peer;
  }
  EXPECT_EQ(c.CreatePermission(now(), Addr("224.0.0.1:1"))->error_code(), error::kForbidden);

  ServerConfig listed = DefaultConfig();
  listed.peer_policy.allowed.push_back({*IpAddress::Parse("10.5.0.0"), 16});
  listed.peer_policy.denied.push_back({*IpAddress::Parse("93.184.0.0"), 16});
  auto& d = StartWithAllocation(listed, UdpFlow("198.51.100.20:2"));
  EXPECT_TRUE(d.CreatePermission(now(), Addr("10.5.1.1:1"))->is_success());
  EXPECT_EQ(d.CreatePermission(now(), Addr("10.6.1.1:1"))->error_code(), error::kForbidden);
  EXPECT_EQ(d.CreatePermission(now(), Addr(kPeer))->error_code(), error::kForbidden);
}

TEST_F(RelayTest, MaxPermissionsIs508) {
  ServerConfig config = DefaultConfig();
  config.max_permissions_per_allocation = 2;
  auto& c = StartWithAllocation(config);
  EXPECT_TRUE(c.CreatePermission(now(), Addr("93.184.216.1:1"))->is_success());
  EXPECT_TRUE(c.CreatePermission(now(), Addr("93.184.216.2:1"))->is_success());
  EXPECT_TRUE(c.CreatePermission(now(), Addr("93.184.216.2:2"))->is_success());  // refresh: same IP
  EXPECT_EQ(c.CreatePermission(now(), Addr("93.184.216.3:1"))->error_code(), error::kInsufficientCapacity);
  EXPECT_EQ(c.ChannelBind(now(), 0x4000, Addr("93.184.216.3:1"))->error_code(), error::kInsufficientCapacity);
}

// ---- Channels ----

TEST_F(RelayTest, ChannelBindAndChannelDataBothDirections) {
  auto& c = StartWithAllocation();
  auto reply = c.ChannelBind(now(), 0x4001, Addr(kPeer));
  ASSERT_TRUE(reply && reply->is_success()) << reply->error_code();
  EXPECT_EQ(server_->stats().channels_active, 1u);
  EXPECT_EQ(server_->stats().permissions_active, 1u);  // ChannelBind installs the permission

  c.SendChannelData(now(), 0x4001, kPayload, /*padding=*/3);  // UDP may carry padding
  ASSERT_EQ(out_.to_peer.size(), 1u);
  EXPECT_EQ(out_.to_peer[0].peer, Addr(kPeer));
  EXPECT_EQ(out_.to_peer[0].payload, kPayload);
  EXPECT_EQ(out_.to_peer[0].relay, relay_);

  out_.Clear();
  FromPeer(kPeer);
  ASSERT_EQ(out_.to_client.size(), 1u);
  const auto& sent = out_.to_client[0];
  EXPECT_EQ(sent.head_size, 4u);
  EXPECT_EQ(sent.tail_size, 0u);  // no padding over UDP
  EXPECT_EQ(sent.bytes, (std::vector<uint8_t>{0x40, 0x01, 0x00, 0x05, 'h', 'e', 'l', 'l', 'o'}));

  // Another port of the same IP has no channel: Data indication.
  out_.Clear();
  FromPeer("93.184.216.34:5001");
  ASSERT_EQ(out_.to_client.size(), 1u);
  EXPECT_EQ(out_.to_client[0].bytes[0], 0x00);

  // Unbound channel number: dropped.
  c.SendChannelData(now(), 0x4002, kPayload);
  EXPECT_EQ(server_->stats().dropped_unknown_channel, 1u);
}

TEST_F(RelayTest, Rfc5766ChannelNumbersFromLegacyClientsWork) {
  // coturn's turnutils_uclient picks channels in RFC 5766's 0x4000-0x7FFF; RFC 8656 narrowed the range.
  auto& c = StartWithAllocation();
  auto reply = c.ChannelBind(now(), 0x66F7, Addr(kPeer));
  ASSERT_TRUE(reply && reply->is_success()) << reply->error_code();
  c.SendChannelData(now(), 0x66F7, kPayload);
  ASSERT_EQ(out_.to_peer.size(), 1u);
  EXPECT_EQ(out_.to_peer[0].payload, kPayload);
  out_.Clear();
  FromPeer(kPeer);
  ASSERT_EQ(out_.to_client.size(), 1u);
  EXPECT_EQ(out_.to_client[0].bytes[0], 0x66);
  EXPECT_EQ(out_.to_client[0].bytes[1], 0xF7);
}

TEST_F(RelayTest, ChannelDataOverTcpIsPadded) {
  auto& c = StartWithAllocation(DefaultConfig(), TcpFlow(9));
  ASSERT_TRUE(c.ChannelBind(now(), 0x4ABC, Addr(kPeer))->is_success());
  out_.Clear();
  FromPeer(kPeer);
  ASSERT_EQ(out_.to_client.size(), 1u);
  EXPECT_EQ(out_.to_client[0].bytes.size(), 12u);  // 4 + 5 + 3 padding (RFC 8656 §12.5)
  EXPECT_EQ(out_.to_client[0].tail_size, 3u);
  EXPECT_EQ(out_.to_client[0].flow.connection_id, 9u);
}

TEST_F(RelayTest, ChannelBindRules) {
  auto& c = StartWithAllocation();
  EXPECT_EQ(c.ChannelBind(now(), 0x3FFF, Addr(kPeer))->error_code(), error::kBadRequest);
  EXPECT_EQ(c.ChannelBind(now(), 0x8000, Addr(kPeer))->error_code(), error::kBadRequest);
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  EXPECT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());  // refresh
  // Channel bound to another peer / peer bound to another channel.
  EXPECT_EQ(c.ChannelBind(now(), 0x4000, Addr("93.184.216.35:5000"))->error_code(), error::kBadRequest);
  EXPECT_EQ(c.ChannelBind(now(), 0x4001, Addr(kPeer))->error_code(), error::kBadRequest);
  // Same IP, other port: a different transport address, fine.
  EXPECT_TRUE(c.ChannelBind(now(), 0x4001, Addr("93.184.216.34:5001"))->is_success());
  EXPECT_EQ(server_->stats().channels_active, 2u);
  EXPECT_EQ(c.ChannelBind(now(), 0x4002, Addr("[2606:4700::1]:1"))->error_code(),
            error::kPeerAddressFamilyMismatch);
}

TEST_F(RelayTest, MaxChannelsIs508) {
  ServerConfig config = DefaultConfig();
  config.max_channels_per_allocation = 1;
  auto& c = StartWithAllocation(config);
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  EXPECT_EQ(c.ChannelBind(now(), 0x4001, Addr("93.184.216.35:1"))->error_code(),
            error::kInsufficientCapacity);
}

TEST_F(RelayTest, ChannelExpiresAndNumberIsHeldFiveMinutes) {
  auto& c = StartWithAllocation();
  const Timestamp t0 = now();
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  // A nonce lasts 600 s too: retry once on 438 as a client does.
  auto retry = [&](auto request) {
    auto r = request();
    if (r && r->error_code() == error::kStaleNonce) r = request();
    return r;
  };
  // Keep the permission (300 s) and the allocation alive; only the channel (600 s) lapses.
  for (int i = 1; i <= 3; ++i) {
    clock_.AdvanceTo(t0 + TimeDelta::Seconds(250 * i));
    server_->HandleTimeout(now());
    ASSERT_TRUE(retry([&] { return c.CreatePermission(now(), Addr(kPeer)); })->is_success());
    ASSERT_TRUE(c.Refresh(now(), 600)->is_success());
    if (i == 2) {  // t0 + 500: still bound
      c.SendChannelData(now(), 0x4000, kPayload);
      EXPECT_EQ(out_.to_peer.size(), 1u);
    }
  }
  // t0 + 750: the channel expired at t0 + 600.
  EXPECT_EQ(server_->stats().channels_active, 0u);
  c.SendChannelData(now(), 0x4000, kPayload);
  EXPECT_EQ(out_.to_peer.size(), 1u);
  EXPECT_EQ(server_->stats().dropped_unknown_channel, 1u);
  out_.Clear();
  FromPeer(kPeer);
  ASSERT_EQ(out_.to_client.size(), 1u);
  EXPECT_EQ(out_.to_client[0].bytes[0], 0x00);  // a Data indication now
  // Within 5 minutes of expiry the number cannot go to another peer, nor the peer to another number.
  EXPECT_EQ(c.ChannelBind(now(), 0x4000, Addr("93.184.216.35:1"))->error_code(), error::kBadRequest);
  EXPECT_EQ(c.ChannelBind(now(), 0x4001, Addr(kPeer))->error_code(), error::kBadRequest);
  // After the 5 minutes (t0 + 900) it can.
  clock_.AdvanceTo(t0 + TimeDelta::Seconds(900));
  server_->HandleTimeout(now());
  ASSERT_TRUE(c.Refresh(now(), 600)->is_success());
  EXPECT_TRUE(c.ChannelBind(now(), 0x4000, Addr("93.184.216.35:1"))->is_success());
}

TEST_F(RelayTest, RebindingTheSamePeerDuringHoldRestoresChannel) {
  auto& c = StartWithAllocation();
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  Advance(TimeDelta::Seconds(299));
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());  // refresh: channel now lasts to 899
  Advance(TimeDelta::Seconds(299));
  ASSERT_TRUE(c.Refresh(now(), 600)->is_success());
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  Advance(TimeDelta::Seconds(100));  // 698: the first binding would have expired at 600
  EXPECT_EQ(server_->stats().channels_active, 1u);
  c.SendChannelData(now(), 0x4000, kPayload);
  EXPECT_EQ(out_.to_peer.size(), 1u);
}

// ---- Limits ----

TEST_F(RelayTest, BandwidthCapDropsExcess) {
  ServerConfig config = DefaultConfig();
  config.bandwidth_bytes_per_second_per_allocation = 1000;
  auto& c = StartWithAllocation(config);
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  const std::vector<uint8_t> big(400, 0xAB);
  c.SendChannelData(now(), 0x4000, big);
  c.SendChannelData(now(), 0x4000, big);
  FromPeer(kPeer, big);  // the cap covers both directions
  EXPECT_EQ(out_.to_peer.size(), 2u);
  EXPECT_EQ(server_->stats().dropped_bandwidth, 1u);
  clock_.Advance(TimeDelta::Millis(400));  // 400 bytes of tokens back
  c.SendChannelData(now(), 0x4000, big);
  EXPECT_EQ(out_.to_peer.size(), 3u);
  c.SendChannelData(now(), 0x4000, big);
  EXPECT_EQ(server_->stats().dropped_bandwidth, 2u);
}

TEST_F(RelayTest, DataWithoutAllocationIsCounted) {
  Start();
  auto& c = Client();
  c.SendChannelData(now(), 0x4000, kPayload);
  c.SendIndication(now(), Addr(kPeer), kPayload);
  server_->HandlePeerPacket(now(), 12345, Addr(kPeer), kPayload);
  EXPECT_EQ(server_->stats().dropped_no_allocation, 3u);
  EXPECT_TRUE(out_.to_client.empty());
  EXPECT_TRUE(out_.to_peer.empty());
}

TEST_F(RelayTest, DontFragmentInAllocateAppliesToChannelData) {
  Start();
  auto& c = Client();
  auto reply = c.Allocate(now(), [](auto& b) { b.AddEmpty(attr::kDontFragment); });
  ASSERT_TRUE(reply && reply->is_success());
  ASSERT_TRUE(c.ChannelBind(now(), 0x4000, Addr(kPeer))->is_success());
  c.SendChannelData(now(), 0x4000, kPayload);
  ASSERT_EQ(out_.to_peer.size(), 1u);
  EXPECT_TRUE(out_.to_peer[0].dont_fragment);
}

TEST_F(RelayTest, DeletedAllocationDropsPeerData) {
  auto& c = StartWithAllocation();
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kPeer))->is_success());
  ASSERT_TRUE(c.Refresh(now(), 0)->is_success());
  EXPECT_EQ(server_->stats().permissions_active, 0u);
  const size_t before = out_.to_client.size();
  FromPeer(kPeer);
  EXPECT_EQ(out_.to_client.size(), before);
  EXPECT_EQ(server_->stats().dropped_no_allocation, 1u);
}

}  // namespace
}  // namespace tandem::turn
