// RFC 6062 (TCP allocations) in the sans-IO core: Allocate with REQUESTED-TRANSPORT=TCP, Connect, ConnectionBind,
// incoming connections and ConnectionAttempt, timers, and clean-up — with fakes and a fake clock. The IO layer's
// side (sockets, splicing, moving a connection between workers) is tested in src/server/turn/turn_service_test.cc.
#include <gtest/gtest.h>

#include <map>

#include "turn/server_test_util.h"
#include "turn/tcp_relay.h"

namespace tandem::turn {
namespace {

using stun::Method;
namespace attr = stun::attr;
namespace error = stun::error;

constexpr const char* kTcpPeer = "93.184.216.34:443";

class TcpRelayTest : public TurnServerTest {
 protected:
  // A client with a TCP allocation over TCP connection `conn`.
  testing::TurnTestClient& TcpAllocated(uint64_t conn = 1) {
    auto& c = Client(TcpFlow(conn));
    auto reply = c.AllocateTcp(now());
    EXPECT_TRUE(reply && reply->is_success()) << (reply ? reply->error_code() : 0);
    if (reply && reply->is_success()) relay_ = RelayedAddress(*reply);
    return c;
  }

  // Connect to `peer` and let the IO layer report `ok`; returns the Connect response.
  std::optional<testing::StunReply> ConnectAndComplete(testing::TurnTestClient& c, const SocketAddress& peer,
                                                       bool ok = true) {
    const size_t before = out_.connects.size();
    auto immediate = c.Connect(now(), peer);
    if (immediate) return immediate;  // an error at once
    EXPECT_EQ(out_.connects.size(), before + 1);
    if (out_.connects.size() != before + 1) return std::nullopt;
    const size_t sent = out_.to_client.size();
    server_->HandlePeerConnectResult(now(), out_.connects.back().id, ok);
    if (out_.to_client.size() == sent) return std::nullopt;
    return LastToClient();
  }

  static std::optional<uint32_t> ConnectionIdOf(const testing::StunReply& r) {
    return r.view().GetU32(attr::kConnectionId);
  }

  SocketAddress relay_;
};

// --- Allocate (RFC 6062 §5.1) ----------------------------------------------------------------------------------

TEST_F(TcpRelayTest, AllocateTcpOnTcpFlowOpensATcpRelay) {
  Start();
  auto& c = Client(TcpFlow(1));
  auto r = c.AllocateTcp(now());
  ASSERT_TRUE(r && r->is_success()) << r->error_code();
  const RelayId id = RelayIdOf(*r);
  EXPECT_TRUE(relays_.tcp_open.count(id));
  EXPECT_TRUE(r->view().Has(attr::kLifetime));
  EXPECT_FALSE(r->view().Has(attr::kReservationToken));  // §5.1 step 5
  EXPECT_TRUE(r->view().VerifyMessageIntegrity(c.Key()));
  EXPECT_EQ(server_->allocation_count(), 1u);
}

TEST_F(TcpRelayTest, AllocateTcpOverTlsAndIpv6) {
  Start();
  ClientFlow tls = TcpFlow(2);
  tls.transport = ClientTransport::kTls;
  auto& c = Client(tls);
  auto r = c.AllocateTcp(now(), [](stun::MessageBuilder& b) {
    b.AddAddressFamily(attr::kRequestedAddressFamily, stun::kFamilyIPv6);
  });
  ASSERT_TRUE(r && r->is_success()) << r->error_code();
  EXPECT_TRUE(RelayedAddress(*r).ip().is_v6());
}

TEST_F(TcpRelayTest, AllocateTcpOnUdpFlowIs400) {
  Start();
  auto& c = Client(UdpFlow());
  auto r = c.AllocateTcp(now());
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);  // §5.1 step 2
  EXPECT_TRUE(relays_.open.empty());
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TcpRelayTest, AllocateTcpWithUdpOnlyAttributesIs400) {
  Start();
  // §5.1 step 3: DONT-FRAGMENT, EVEN-PORT or RESERVATION-TOKEN; and no dual allocation for TCP.
  const std::vector<testing::TurnTestClient::Adder> extras = {
      [](stun::MessageBuilder& b) { b.AddEmpty(attr::kDontFragment); },
      [](stun::MessageBuilder& b) { b.AddEvenPort(false); },
      [](stun::MessageBuilder& b) { b.AddU64(attr::kReservationToken, 1234); },
      [](stun::MessageBuilder& b) { b.AddAddressFamily(attr::kAdditionalAddressFamily, stun::kFamilyIPv6); },
  };
  uint64_t conn = 10;
  for (const auto& extra : extras) {
    auto& c = Client(TcpFlow(conn++));
    auto r = c.AllocateTcp(now(), extra);
    ASSERT_TRUE(r && r->ok());
    EXPECT_EQ(r->error_code(), error::kBadRequest);
  }
  EXPECT_TRUE(relays_.open.empty());
}

TEST_F(TcpRelayTest, OtherTransportsAndDisabledTcpAre442) {
  auto config = DefaultConfig();
  config.enable_tcp_relay = false;
  Start(config);
  auto& c = Client(TcpFlow(1));
  auto r = c.AllocateTcp(now());
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kUnsupportedTransportProtocol);
  auto sctp = c.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(132); });
  ASSERT_TRUE(sctp && sctp->ok());
  EXPECT_EQ(sctp->error_code(), error::kUnsupportedTransportProtocol);
}

TEST_F(TcpRelayTest, ChannelBindAndSendAreNotForTcpAllocations) {
  Start();
  auto& c = TcpAllocated();
  auto r = c.ChannelBind(now(), 0x4000, Addr(kTcpPeer));
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  ASSERT_TRUE(c.CreatePermission(now(), Addr(kTcpPeer))->is_success());
  c.SendIndication(now(), Addr(kTcpPeer), AsBytes("x"));
  EXPECT_TRUE(out_.to_peer.empty());
}

// --- Connect (§5.2) --------------------------------------------------------------------------------------------

TEST_F(TcpRelayTest, ConnectSucceedsWithConnectionIdOnceConnected) {
  Start();
  auto& c = TcpAllocated();
  const size_t before = out_.to_client.size();
  EXPECT_FALSE(c.Connect(now(), Addr(kTcpPeer)));  // no answer until the connection is up
  EXPECT_EQ(out_.to_client.size(), before);
  ASSERT_EQ(out_.connects.size(), 1u);
  const auto connect = out_.connects[0];
  EXPECT_EQ(connect.peer, Addr(kTcpPeer));
  EXPECT_EQ(connect.relay, relays_.IdOf(relay_));
  EXPECT_NE(connect.id, 0u);
  EXPECT_EQ(server_->stats().tcp_connections_active, 1u);

  server_->HandlePeerConnectResult(now(), connect.id, true);
  auto r = LastToClient();
  EXPECT_EQ(out_.to_client.back().flow, c.flow());
  ASSERT_TRUE(r.is_success());
  EXPECT_EQ(r.view().method(), Method::kConnect);
  EXPECT_EQ(ConnectionIdOf(r), connect.id);
  EXPECT_TRUE(r.view().VerifyMessageIntegrity(c.Key()));
  // No permission is installed by a Connect (RFC 6062 §5.2 has none): an incoming connection from the peer's IP
  // is still refused.
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), Addr("93.184.216.34:5555")));
}

TEST_F(TcpRelayTest, ConnectionIdsAreRandomAndDistinct) {
  Start();
  auto& c = TcpAllocated();
  std::set<uint32_t> ids;
  for (int i = 0; i < 20; ++i) {
    const SocketAddress peer(Addr(kTcpPeer).ip(), static_cast<uint16_t>(1000 + i));
    auto r = ConnectAndComplete(c, peer);
    ASSERT_TRUE(r && r->is_success());
    ids.insert(*ConnectionIdOf(*r));
  }
  EXPECT_EQ(ids.size(), 20u);
  EXPECT_GT(*ids.rbegin() - *ids.begin(), 1000u);  // not a counter
}

TEST_F(TcpRelayTest, ConnectFailureIs447AndFreesThePeer) {
  Start();
  auto& c = TcpAllocated();
  auto r = ConnectAndComplete(c, Addr(kTcpPeer), /*ok=*/false);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), error::kConnectionTimeoutOrFailure);
  EXPECT_TRUE(r->view().VerifyMessageIntegrity(c.Key()));
  EXPECT_EQ(server_->stats().tcp_connect_failures, 1u);
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
  EXPECT_TRUE(out_.closed_peers.empty());  // the IO layer reported the failure: it holds nothing
  // A late second report is ignored; a new attempt to the same peer is allowed.
  server_->HandlePeerConnectResult(now(), out_.connects.back().id, true);
  auto again = ConnectAndComplete(c, Addr(kTcpPeer));
  ASSERT_TRUE(again && again->is_success());
}

TEST_F(TcpRelayTest, ConnectTimeoutIs447AfterTheConfiguredTime) {
  auto config = DefaultConfig();
  config.tcp_connect_timeout = TimeDelta::Seconds(45);
  Start(config);
  auto& c = TcpAllocated();
  EXPECT_FALSE(c.Connect(now(), Addr(kTcpPeer)));
  const ConnectionId id = out_.connects.back().id;
  const size_t before = out_.to_client.size();
  Advance(TimeDelta::Seconds(44));
  EXPECT_EQ(out_.to_client.size(), before);
  EXPECT_TRUE(out_.closed_peers.empty());
  Advance(TimeDelta::Seconds(1));
  ASSERT_EQ(out_.to_client.size(), before + 1);
  EXPECT_EQ(LastToClient().error_code(), error::kConnectionTimeoutOrFailure);
  EXPECT_EQ(LastToClient().view().transaction_id(), LastToClient().view().transaction_id());
  ASSERT_EQ(out_.closed_peers.size(), 1u);
  EXPECT_EQ(out_.closed_peers[0], id);  // the IO layer gives the attempt up
  // A result arriving after the timeout changes nothing.
  server_->HandlePeerConnectResult(now(), id, true);
  EXPECT_EQ(out_.to_client.size(), before + 1);
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
}

TEST_F(TcpRelayTest, DefaultConnectTimeoutIs30Seconds) {
  Start();
  auto& c = TcpAllocated();
  EXPECT_FALSE(c.Connect(now(), Addr(kTcpPeer)));
  Advance(TimeDelta::Millis(29999));
  EXPECT_TRUE(out_.closed_peers.empty());
  Advance(TimeDelta::Millis(1));
  EXPECT_EQ(LastToClient().error_code(), error::kConnectionTimeoutOrFailure);
}

TEST_F(TcpRelayTest, SecondConnectToTheSamePeerIs446) {
  Start();
  auto& c = TcpAllocated();
  EXPECT_FALSE(c.Connect(now(), Addr(kTcpPeer)));
  auto while_connecting = c.Connect(now(), Addr(kTcpPeer));
  ASSERT_TRUE(while_connecting);
  EXPECT_EQ(while_connecting->error_code(), error::kConnectionAlreadyExists);
  server_->HandlePeerConnectResult(now(), out_.connects.back().id, true);
  auto while_pending = c.Connect(now(), Addr(kTcpPeer));
  ASSERT_TRUE(while_pending);
  EXPECT_EQ(while_pending->error_code(), error::kConnectionAlreadyExists);
  // Another port of the same host is another peer.
  EXPECT_FALSE(c.Connect(now(), Addr("93.184.216.34:444")));
  EXPECT_EQ(out_.connects.size(), 2u);
}

TEST_F(TcpRelayTest, ConnectToAForbiddenPeerIs403) {
  Start();
  auto& c = TcpAllocated();
  for (const char* peer : {"10.0.0.1:80", "127.0.0.1:80", "169.254.1.1:80", "224.0.0.1:80"}) {
    auto r = c.Connect(now(), Addr(peer));
    ASSERT_TRUE(r) << peer;
    EXPECT_EQ(r->error_code(), error::kForbidden) << peer;
  }
  EXPECT_TRUE(out_.connects.empty());
  EXPECT_EQ(server_->stats().peer_refused, 4u);
}

TEST_F(TcpRelayTest, ConnectErrors) {
  Start();
  // No allocation on this connection: 437.
  auto& none = Client(TcpFlow(7));
  ASSERT_TRUE(none.RequestWithRetry(now(), Method::kBinding, {}));
  auto r = none.RequestWithRetry(now(), Method::kConnect,
                                 [](auto& b) { b.AddXorAddress(attr::kXorPeerAddress, Addr(kTcpPeer)); });
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kAllocationMismatch);
  // On a UDP allocation: 400.
  auto& udp = Allocated(UdpFlow());
  r = udp.Connect(now(), Addr(kTcpPeer));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  // No XOR-PEER-ADDRESS: 400; port 0: 400; an IPv6 peer on an IPv4 relay: 443.
  auto& c = TcpAllocated();
  r = c.Request(now(), Method::kConnect, {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  r = c.Connect(now(), Addr("93.184.216.34:0"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  r = c.Connect(now(), Addr("[2606:4700::1]:443"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), error::kPeerAddressFamilyMismatch);
  EXPECT_TRUE(out_.connects.empty());
}

TEST_F(TcpRelayTest, ConnectionLimitPerAllocationIs508) {
  auto config = DefaultConfig();
  config.max_tcp_connections_per_allocation = 2;
  Start(config);
  auto& c = TcpAllocated();
  EXPECT_FALSE(c.Connect(now(), Addr("93.184.216.34:1")));
  EXPECT_FALSE(c.Connect(now(), Addr("93.184.216.34:2")));
  auto r = c.Connect(now(), Addr("93.184.216.34:3"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), error::kInsufficientCapacity);
  ASSERT_TRUE(c.CreatePermission(now(), Addr("198.51.100.99:1"))->is_success());
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), Addr("198.51.100.99:1")));
}

// --- ConnectionBind (§5.4) -------------------------------------------------------------------------------------

TEST_F(TcpRelayTest, ConnectionBindOnANewConnectionBindsIt) {
  Start();
  auto& c = TcpAllocated(1);
  auto connected = ConnectAndComplete(c, Addr(kTcpPeer));
  ASSERT_TRUE(connected && connected->is_success());
  const uint32_t id = *ConnectionIdOf(*connected);

  auto& data = Client(TcpFlow(2, "198.51.100.30:50001"));
  auto r = data.ConnectionBind(now(), id);
  ASSERT_TRUE(r && r->is_success()) << r->error_code();
  EXPECT_EQ(r->view().method(), Method::kConnectionBind);
  EXPECT_TRUE(r->view().VerifyMessageIntegrity(data.Key()));
  ASSERT_EQ(out_.binds.size(), 1u);
  EXPECT_EQ(out_.binds[0].flow, data.flow());
  EXPECT_EQ(out_.binds[0].id, id);
  EXPECT_EQ(server_->stats().tcp_connections_bound, 1u);

  // Bound: the 30 s bind timer no longer applies; the connection lives until the IO layer reports its end.
  Advance(TimeDelta::Seconds(60));
  EXPECT_TRUE(out_.closed_peers.empty());
  EXPECT_EQ(server_->stats().tcp_connections_active, 1u);
  // Still one connection per peer while it is active.
  auto dup = c.Connect(now(), Addr(kTcpPeer));
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->error_code(), error::kConnectionAlreadyExists);
  // A second bind of the same id fails.
  auto& data2 = Client(TcpFlow(3, "198.51.100.30:50002"));
  auto again = data2.ConnectionBind(now(), id);
  ASSERT_TRUE(again && again->ok());
  EXPECT_EQ(again->error_code(), error::kBadRequest);

  server_->HandlePeerConnectionClosed(now(), id);
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
  EXPECT_TRUE(out_.closed_peers.empty());  // the IO layer reported it: nothing to close
  auto fresh = ConnectAndComplete(c, Addr(kTcpPeer));
  ASSERT_TRUE(fresh && fresh->is_success());
}

TEST_F(TcpRelayTest, ConnectionBindWithUnknownIdIs400) {
  Start();
  auto& c = TcpAllocated(1);
  auto connected = ConnectAndComplete(c, Addr(kTcpPeer));
  ASSERT_TRUE(connected && connected->is_success());
  const uint32_t id = *ConnectionIdOf(*connected);
  auto& data = Client(TcpFlow(2));
  auto r = data.ConnectionBind(now(), id ^ 0x5a5a5a5a);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  auto missing = data.RequestWithRetry(now(), Method::kConnectionBind, {});
  ASSERT_TRUE(missing && missing->ok());
  EXPECT_EQ(missing->error_code(), error::kBadRequest);
  EXPECT_TRUE(out_.binds.empty());
  // The real id still binds.
  auto ok = data.ConnectionBind(now(), id);
  ASSERT_TRUE(ok && ok->is_success());
}

TEST_F(TcpRelayTest, ConnectionBindNeedsTheSameUserAStreamAndNoAllocation) {
  credentials_.AddUser("bob", "hunter2");
  Start();
  auto& c = TcpAllocated(1);
  auto connected = ConnectAndComplete(c, Addr(kTcpPeer));
  const uint32_t id = *ConnectionIdOf(*connected);
  // Another user: 400.
  auto& bob = Client(TcpFlow(2));
  bob.options().username = "bob";
  bob.options().password = "hunter2";
  auto r = bob.ConnectionBind(now(), id);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  // Over UDP: 400.
  auto& udp = Client(UdpFlow("198.51.100.20:40001"));
  r = udp.ConnectionBind(now(), id);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  // On the control connection itself: 400.
  r = c.ConnectionBind(now(), id);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
  // Unauthenticated: challenged, nothing bound.
  auto& anon = Client(TcpFlow(3));
  r = anon.Request(now(), Method::kConnectionBind, [&](auto& b) { b.AddU32(attr::kConnectionId, id); }, false);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kUnauthorized);
  EXPECT_TRUE(out_.binds.empty());
  // The rightful owner, on a fresh connection, still can.
  auto& data = Client(TcpFlow(4));
  ASSERT_TRUE(data.ConnectionBind(now(), id)->is_success());
}

TEST_F(TcpRelayTest, ConnectionBindBeforeTheConnectionIsUpIs400) {
  Start();
  auto& c = TcpAllocated(1);
  EXPECT_FALSE(c.Connect(now(), Addr(kTcpPeer)));
  auto& data = Client(TcpFlow(2));
  auto r = data.ConnectionBind(now(), out_.connects.back().id);  // an id the client could only have guessed
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
}

TEST_F(TcpRelayTest, UnboundConnectionClosesAfter30SecondsAndThenBindIs400) {
  Start();
  auto& c = TcpAllocated(1);
  auto connected = ConnectAndComplete(c, Addr(kTcpPeer));
  const uint32_t id = *ConnectionIdOf(*connected);
  Advance(TimeDelta::Millis(29999));
  EXPECT_TRUE(out_.closed_peers.empty());
  Advance(TimeDelta::Millis(1));
  ASSERT_EQ(out_.closed_peers.size(), 1u);
  EXPECT_EQ(out_.closed_peers[0], id);
  EXPECT_EQ(server_->stats().tcp_bind_timeouts, 1u);
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
  auto& data = Client(TcpFlow(2));
  auto r = data.ConnectionBind(now(), id);
  ASSERT_TRUE(r && r->ok());
  EXPECT_EQ(r->error_code(), error::kBadRequest);
}

TEST_F(TcpRelayTest, BindJustBeforeTheTimeoutWins) {
  Start();
  auto& c = TcpAllocated(1);
  auto connected = ConnectAndComplete(c, Addr(kTcpPeer));
  const uint32_t id = *ConnectionIdOf(*connected);
  Advance(TimeDelta::Millis(29999));
  auto& data = Client(TcpFlow(2));
  ASSERT_TRUE(data.ConnectionBind(now(), id)->is_success());
  Advance(TimeDelta::Seconds(5));
  EXPECT_TRUE(out_.closed_peers.empty());
}

// --- Incoming connections (§5.3) -------------------------------------------------------------------------------

TEST_F(TcpRelayTest, PermittedIncomingConnectionGetsAConnectionAttempt) {
  Start();
  auto& c = TcpAllocated(1);
  const SocketAddress peer = Addr("198.51.100.77:40123");
  ASSERT_TRUE(c.CreatePermission(now(), SocketAddress(peer.ip(), 1))->is_success());  // port ignored
  const size_t before = out_.to_client.size();
  auto id = server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), peer);
  ASSERT_TRUE(id);
  ASSERT_EQ(out_.to_client.size(), before + 1);
  EXPECT_EQ(out_.to_client.back().flow, c.flow());
  auto ind = LastToClient();
  EXPECT_EQ(ind.view().method(), Method::kConnectionAttempt);
  EXPECT_EQ(ind.cls(), stun::MessageClass::kIndication);
  EXPECT_EQ(ind.view().GetU32(attr::kConnectionId), *id);
  EXPECT_EQ(ind.view().GetXorAddress(attr::kXorPeerAddress), peer);
  EXPECT_EQ(server_->stats().tcp_connections_accepted, 1u);

  auto& data = Client(TcpFlow(2));
  ASSERT_TRUE(data.ConnectionBind(now(), *id)->is_success());
  ASSERT_EQ(out_.binds.size(), 1u);
  EXPECT_EQ(out_.binds[0].id, *id);
  // A second connection from the same peer transport address while this one lives is refused.
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), peer));
}

TEST_F(TcpRelayTest, IncomingConnectionWithoutPermissionIsRefused) {
  Start();
  auto& c = TcpAllocated(1);
  const size_t before = out_.to_client.size();
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), Addr("198.51.100.77:40123")));
  // A permission for another IP does not help; an expired one neither.
  ASSERT_TRUE(c.CreatePermission(now(), Addr("198.51.100.78:1"))->is_success());
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), Addr("198.51.100.77:40123")));
  Advance(TimeDelta::Seconds(301));
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), Addr("198.51.100.78:1")));
  // An unknown relay.
  EXPECT_FALSE(server_->HandlePeerConnectionAccepted(now(), 999, Addr("198.51.100.78:1")));
  EXPECT_EQ(out_.to_client.size(), before + 1);  // only the CreatePermission response: no ConnectionAttempt
  EXPECT_EQ(server_->stats().tcp_connections_refused, 4u);
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
}

TEST_F(TcpRelayTest, UnboundIncomingConnectionClosesAfter30Seconds) {
  Start();
  auto& c = TcpAllocated(1);
  ASSERT_TRUE(c.CreatePermission(now(), Addr("198.51.100.77:1"))->is_success());
  auto id = server_->HandlePeerConnectionAccepted(now(), relays_.IdOf(relay_), Addr("198.51.100.77:2"));
  ASSERT_TRUE(id);
  Advance(TimeDelta::Seconds(30));
  ASSERT_EQ(out_.closed_peers.size(), 1u);
  EXPECT_EQ(out_.closed_peers[0], *id);
}

// --- Clean-up --------------------------------------------------------------------------------------------------

TEST_F(TcpRelayTest, AllocationExpiryClosesListenerAndAllConnections) {
  Start();
  auto& c = TcpAllocated(1);
  const RelayId relay = relays_.IdOf(relay_);
  // One connecting, one pending, one bound, one incoming pending.
  EXPECT_FALSE(c.Connect(now(), Addr("93.184.216.34:1")));
  const ConnectionId connecting = out_.connects.back().id;
  auto pending = ConnectAndComplete(c, Addr("93.184.216.34:2"));
  auto bound = ConnectAndComplete(c, Addr("93.184.216.34:3"));
  ASSERT_TRUE(Client(TcpFlow(2)).ConnectionBind(now(), *ConnectionIdOf(*bound))->is_success());
  ASSERT_TRUE(c.CreatePermission(now(), Addr("198.51.100.77:1"))->is_success());
  auto incoming = server_->HandlePeerConnectionAccepted(now(), relay, Addr("198.51.100.77:2"));
  ASSERT_TRUE(incoming);
  // Keep the allocation alive past the first timeouts with refreshes? No: let it expire with all four open.
  ASSERT_TRUE(c.Refresh(now(), 600)->is_success());
  Advance(TimeDelta::Seconds(20));
  EXPECT_EQ(server_->stats().tcp_connections_active, 4u);
  out_.closed_peers.clear();
  server_->HandleClientClosed(now(), c.flow());  // the control connection ends: the allocation goes (RFC 8656 §3.1)
  std::set<ConnectionId> closed(out_.closed_peers.begin(), out_.closed_peers.end());
  EXPECT_EQ(closed, (std::set<ConnectionId>{connecting, *ConnectionIdOf(*pending), *ConnectionIdOf(*bound),
                                             *incoming}));
  EXPECT_EQ(out_.closed_peers.size(), 4u);
  EXPECT_FALSE(relays_.IsOpen(relay));
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
  // Nothing more happens at the old deadlines; the pending ids cannot be bound any more; late reports are ignored.
  Advance(TimeDelta::Seconds(60));
  EXPECT_EQ(out_.closed_peers.size(), 4u);
  auto late = Client(TcpFlow(3)).ConnectionBind(now(), *ConnectionIdOf(*pending));
  ASSERT_TRUE(late && late->ok());
  EXPECT_EQ(late->error_code(), error::kBadRequest);
  server_->HandlePeerConnectResult(now(), connecting, true);
  server_->HandlePeerConnectionClosed(now(), *ConnectionIdOf(*bound));
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
}

TEST_F(TcpRelayTest, AllocationLifetimeExpiryClosesEverything) {
  Start();
  auto& c = TcpAllocated(1);
  const RelayId relay = relays_.IdOf(relay_);
  auto bound = ConnectAndComplete(c, Addr(kTcpPeer));
  ASSERT_TRUE(Client(TcpFlow(2)).ConnectionBind(now(), *ConnectionIdOf(*bound))->is_success());
  Advance(TimeDelta::Seconds(600));
  ASSERT_EQ(out_.closed_peers.size(), 1u);
  EXPECT_EQ(out_.closed_peers[0], *ConnectionIdOf(*bound));
  EXPECT_FALSE(relays_.IsOpen(relay));
  ASSERT_FALSE(out_.closed.empty());
  EXPECT_EQ(out_.closed.back(), c.flow());  // the control connection too
  EXPECT_EQ(server_->allocation_count(), 0u);
}

TEST_F(TcpRelayTest, RefreshZeroDeletesTheTcpAllocation) {
  Start();
  auto& c = TcpAllocated(1);
  auto pending = ConnectAndComplete(c, Addr(kTcpPeer));
  ASSERT_TRUE(c.Refresh(now(), 0)->is_success());
  ASSERT_EQ(out_.closed_peers.size(), 1u);
  EXPECT_TRUE(relays_.open.empty());
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
}

// --- Several workers ---------------------------------------------------------------------------------------------

// A registry shared by two servers, naming each server's connections by the server's index (what the thread-safe
// one in the TURN service does per worker).
class TwoWorkerRegistry {
 public:
  class View final : public ConnectionRegistry {
   public:
    View(TwoWorkerRegistry& shared, uint32_t index) : shared_(shared), index_(index) {}
    bool Reserve(ConnectionId id, std::string_view user) override {
      return shared_.entries.try_emplace(id, Entry{std::string(user), false, index_}).second;
    }
    void Publish(ConnectionId id) override { shared_.entries.at(id).published = true; }
    std::optional<uint32_t> Claim(ConnectionId id, std::string_view user) override {
      auto it = shared_.entries.find(id);
      if (it == shared_.entries.end() || !it->second.published || it->second.user != user) return std::nullopt;
      const uint32_t owner = it->second.owner;
      shared_.entries.erase(it);
      return owner;
    }
    bool Withdraw(ConnectionId id) override { return shared_.entries.erase(id) != 0; }

   private:
    TwoWorkerRegistry& shared_;
    uint32_t index_;
  };
  struct Entry {
    std::string user;
    bool published = false;
    uint32_t owner = 0;
  };
  std::map<ConnectionId, Entry> entries;
};

TEST_F(TcpRelayTest, ConnectionBindOnAnotherWorkerClaimsTheConnection) {
  TwoWorkerRegistry shared;
  TwoWorkerRegistry::View view_a(shared, 0), view_b(shared, 1);
  auto config = DefaultConfig();
  config.nonce_secret = std::array<uint8_t, 32>{1, 2, 3};  // the workers accept each other's nonces
  server_ = std::make_unique<TurnServer>(config, credentials_, relays_, *quota_, view_a, wall_, rng_, out_);
  testing::RecordingOutput out_b;
  SeededRng rng_b(7);
  TurnServer server_b(config, credentials_, relays_, *quota_, view_b, wall_, rng_b, out_b);

  auto& c = TcpAllocated(1);  // on server A
  auto connected = ConnectAndComplete(c, Addr(kTcpPeer));
  const uint32_t id = *ConnectionIdOf(*connected);

  // The data connection lands on server B and reuses the control connection's nonce: no challenge.
  testing::TurnTestClient data(server_b, out_b, TcpFlow(2), 99);
  data.set_nonce(c.nonce());
  data.set_realm(c.realm());
  auto r = data.Request(now(), Method::kConnectionBind, [&](auto& b) { b.AddU32(attr::kConnectionId, id); });
  ASSERT_TRUE(r && r->is_success()) << r->error_code();
  ASSERT_EQ(out_b.binds.size(), 1u);
  EXPECT_EQ(out_b.binds[0].owner, 0u);  // server A holds the peer connection
  EXPECT_EQ(out_b.binds[0].id, id);

  // Server A's bind timer finds the id claimed: the connection is bound, not closed.
  Advance(TimeDelta::Seconds(30));
  EXPECT_TRUE(out_.closed_peers.empty());
  EXPECT_EQ(server_->stats().tcp_connections_active, 1u);
  EXPECT_EQ(server_->stats().tcp_bind_timeouts, 0u);
  // Its end is reported to A (by the IO layer); A's allocation deletion would close it otherwise.
  server_->HandlePeerConnectionClosed(now(), id);
  EXPECT_EQ(server_->stats().tcp_connections_active, 0u);
  EXPECT_TRUE(shared.entries.empty());
}

TEST_F(TcpRelayTest, SharedNonceSecretMakesNoncesValidOnEveryWorker) {
  auto config = DefaultConfig();
  config.nonce_secret = std::array<uint8_t, 32>{9};
  Start(config);
  testing::RecordingOutput out_b;
  SeededRng rng_b(7);
  TurnServer server_b(config, credentials_, relays_, *quota_, wall_, rng_b, out_b);
  auto& c = TcpAllocated(1);
  testing::TurnTestClient other(server_b, out_b, TcpFlow(2), 5);
  other.set_nonce(c.nonce());
  other.set_realm(c.realm());
  auto r = other.Request(now(), Method::kAllocate, [](auto& b) { b.AddRequestedTransport(stun::kTransportTcp); });
  ASSERT_TRUE(r && r->is_success()) << r->error_code();
  EXPECT_EQ(server_b.stats().stale_nonces, 0u);
}

}  // namespace
}  // namespace tandem::turn
