// End-to-end tests of the TURN service over real loopback sockets: the sans-IO core, the IO layer and the driver
// together, with our own STUN client. (Interop with coturn's clients lives in tests/interop.)
#include "server/turn/turn_service.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "testing/stun_test_client.h"
#include "turn/channel_data.h"

namespace tandem::server {
namespace {

using testing::StunTestClient;
using testing::UdpPeer;

class RunningService {
 public:
  explicit RunningService(TurnServiceConfig config) : service_(std::move(config)) {
    thread_ = std::thread([this] { service_.Run(); });
  }
  ~RunningService() {
    service_.Stop();
    thread_.join();
  }
  TurnService& service() { return service_; }
  SocketAddress udp() const { return SocketAddress(IpAddress::LoopbackV4(), service_.udp_port()); }
  SocketAddress tcp() const { return SocketAddress(IpAddress::LoopbackV4(), service_.tcp_port()); }

 private:
  TurnService service_;
  std::thread thread_;
};

TurnServiceConfig LoopbackConfig(size_t threads = 2) {
  TurnServiceConfig c;
  c.listening_ips = {IpAddress::LoopbackV4()};
  c.listening_port = 0;
  c.tls = false;
  c.threads = threads;
  c.users = {{"alice", "secret"}};
  c.core.realm = "test";
  c.core.peer_policy.allow_loopback = true;
  return c;
}

ByteSpan Bytes(const std::string& s) { return AsBytes(s); }

TEST(TurnService, ListensOnEphemeralPortsAndReportsThem) {
  RunningService s(LoopbackConfig());
  EXPECT_NE(s.service().udp_port(), 0);
  EXPECT_EQ(s.service().tcp_port(), s.service().udp_port());
  EXPECT_NE(s.service().ListeningSummary().find("udp=127.0.0.1:"), std::string::npos);
}

TEST(TurnService, AnswersBindingOverUdpAndTcp) {
  RunningService s(LoopbackConfig());
  for (auto transport : {StunTestClient::Transport::kUdp, StunTestClient::Transport::kTcp}) {
    StunTestClient client(transport, transport == StunTestClient::Transport::kUdp ? s.udp() : s.tcp());
    ASSERT_TRUE(client.connected());
    auto r = client.Request(stun::Method::kBinding, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->cls(), stun::MessageClass::kSuccessResponse);
    auto mapped = r->view().GetXorAddress(stun::attr::kXorMappedAddress);
    ASSERT_TRUE(mapped);
    EXPECT_EQ(*mapped, client.local_address());
  }
}

TEST(TurnService, RelaysChannelDataAndIndicationsBothWaysOverUdp) {
  RunningService s(LoopbackConfig());
  StunTestClient client(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
  auto relayed = client.Allocate();
  ASSERT_TRUE(relayed);
  EXPECT_TRUE(relayed->ip().IsLoopback());
  UdpPeer peer;
  ASSERT_TRUE(client.ChannelBind(0x4001, peer.address()));

  client.SendChannelData(0x4001, Bytes("to-peer"));
  auto at_peer = peer.Receive();
  ASSERT_TRUE(at_peer);
  EXPECT_EQ(at_peer->first, *relayed);
  EXPECT_EQ(std::string(at_peer->second.begin(), at_peer->second.end()), "to-peer");

  peer.SendTo(*relayed, Bytes("to-client"));
  auto at_client = client.ReceiveRaw();
  ASSERT_TRUE(at_client);
  auto cd = turn::ParseChannelData(*at_client);
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->channel, 0x4001);
  EXPECT_EQ(AsStringView(cd->data), "to-client");

  // Send indication to a second peer with a permission.
  UdpPeer peer2;
  ASSERT_TRUE(client.CreatePermission(peer2.address()));
  client.SendIndication(peer2.address(), Bytes("indicated"));
  auto at_peer2 = peer2.Receive();
  ASSERT_TRUE(at_peer2);
  EXPECT_EQ(std::string(at_peer2->second.begin(), at_peer2->second.end()), "indicated");
  peer2.SendTo(*relayed, Bytes("data-ind"));
  auto data_ind = client.ReceiveRaw();
  ASSERT_TRUE(data_ind);
  auto view = stun::MessageView::Parse(*data_ind);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->method(), stun::Method::kData);
  EXPECT_EQ(AsStringView(*view->GetBytes(stun::attr::kData)), "data-ind");
}

TEST(TurnService, RelaysOverTcpWithPaddedChannelData) {
  RunningService s(LoopbackConfig());
  StunTestClient client(StunTestClient::Transport::kTcp, s.tcp(), "alice", "secret");
  auto relayed = client.Allocate();
  ASSERT_TRUE(relayed);
  UdpPeer peer;
  ASSERT_TRUE(client.ChannelBind(0x4002, peer.address()));
  client.SendChannelData(0x4002, Bytes("abcde"));  // 5 bytes: padded to 8 on the stream
  auto at_peer = peer.Receive();
  ASSERT_TRUE(at_peer);
  EXPECT_EQ(std::string(at_peer->second.begin(), at_peer->second.end()), "abcde");
  peer.SendTo(*relayed, Bytes("xyz"));
  auto frame = client.ReceiveRaw();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->size() % 4, 0u) << "ChannelData over TCP must be padded (RFC 8656 §12.5)";
  auto cd = turn::ParseChannelData(*frame);
  ASSERT_TRUE(cd);
  EXPECT_EQ(AsStringView(cd->data), "xyz");
}

TEST(TurnService, RefusesLoopbackPeersByDefault) {
  auto config = LoopbackConfig(1);
  config.core.peer_policy.allow_loopback = false;
  RunningService s(config);
  StunTestClient client(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
  ASSERT_TRUE(client.Allocate());
  UdpPeer peer;
  auto r = client.Request(stun::Method::kCreatePermission, [&](stun::MessageBuilder& b) {
    b.AddXorAddress(stun::attr::kXorPeerAddress, peer.address());
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), stun::error::kForbidden);
}

TEST(TurnService, RejectsWrongPassword) {
  RunningService s(LoopbackConfig(1));
  StunTestClient client(StunTestClient::Transport::kUdp, s.udp(), "alice", "wrong");
  auto r = client.Request(stun::Method::kAllocate,
                          [](stun::MessageBuilder& b) { b.AddRequestedTransport(stun::kTransportUdp); });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), stun::error::kUnauthorized);
}

TEST(TurnService, ManyClientsAcrossWorkersAllGetDistinctRelays) {
  RunningService s(LoopbackConfig(2));
  std::vector<std::unique_ptr<StunTestClient>> clients;
  std::set<SocketAddress, bool (*)(const SocketAddress&, const SocketAddress&)> relays(
      [](const SocketAddress& a, const SocketAddress& b) { return a.ToString() < b.ToString(); });
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<StunTestClient>(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret"));
    auto relayed = clients.back()->Allocate();
    ASSERT_TRUE(relayed) << "allocation " << i;
    relays.insert(*relayed);
  }
  EXPECT_EQ(relays.size(), 40u);
}

TEST(TurnService, ReservationTokenWorksFromAnotherSocketOnAnyWorker) {
  // RTP/RTCP clients (coturn's uclient among them) allocate with EVEN-PORT R=1 on one socket and redeem the
  // RESERVATION-TOKEN from another, which SO_REUSEPORT may hash to the other worker.
  RunningService s(LoopbackConfig(2));
  for (int i = 0; i < 12; ++i) {
    StunTestClient rtp(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
    auto first = rtp.Request(stun::Method::kAllocate, [](stun::MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportUdp);
      b.AddEvenPort(true);
    });
    ASSERT_TRUE(first);
    ASSERT_EQ(first->cls(), stun::MessageClass::kSuccessResponse) << first->error_code();
    auto relayed = first->view().GetXorAddress(stun::attr::kXorRelayedAddress);
    auto token = first->view().GetU64(stun::attr::kReservationToken);
    ASSERT_TRUE(relayed && token);
    EXPECT_EQ(relayed->port() % 2, 0);

    StunTestClient rtcp(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
    auto second = rtcp.Request(stun::Method::kAllocate, [&](stun::MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportUdp);
      b.AddU64(stun::attr::kReservationToken, *token);
    });
    ASSERT_TRUE(second);
    ASSERT_EQ(second->cls(), stun::MessageClass::kSuccessResponse) << "iteration " << i << ": "
                                                                   << second->error_code();
    auto relayed2 = second->view().GetXorAddress(stun::attr::kXorRelayedAddress);
    ASSERT_TRUE(relayed2);
    EXPECT_EQ(relayed2->port(), relayed->port() + 1);

    // The adopted relay carries traffic.
    UdpPeer peer;
    ASSERT_TRUE(rtcp.CreatePermission(peer.address()));
    peer.SendTo(*relayed2, AsBytes("rtcp"));
    auto data = rtcp.ReceiveRaw();
    ASSERT_TRUE(data);
    auto view = stun::MessageView::Parse(*data);
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(AsStringView(*view->GetBytes(stun::attr::kData)), "rtcp");
  }
}

TEST(TurnService, RefusesToStartWithoutCredentials) {
  auto config = LoopbackConfig(1);
  config.users.clear();
  EXPECT_THROW(TurnService{config}, std::runtime_error);
}

}  // namespace
}  // namespace tandem::server
