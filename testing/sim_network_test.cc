// The simulated network itself: routing, NAT mapping and filtering behaviours (RFC 4787), mapping timeouts,
// hairpinning, link conditions and streams.
#include "testing/sim_network.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "stun/message.h"
#include "testing/sim_servers.h"

namespace tandem::sim {
namespace {

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

struct Received {
  Timestamp at;
  SocketAddress from;
  std::vector<uint8_t> data;
};

class SimNetworkTest : public ::testing::Test {
 protected:
  SocketId Bind(NodeId host, uint16_t port, std::vector<Received>* log) {
    return net_.BindUdp(host, port, [log](Timestamp now, const SocketAddress& from, ByteSpan data) {
      log->push_back(Received{now, from, std::vector<uint8_t>(data.begin(), data.end())});
    });
  }
  void Send(SocketId s, const SocketAddress& to, uint8_t byte = 1) {
    const uint8_t d[] = {byte};
    net_.SendUdp(s, to, d);
  }
  Network net_{42};
};

TEST_F(SimNetworkTest, DeliversWithLatencyOnTheInternet) {
  const NodeId a = net_.AddHost(Ip("203.0.113.1"));
  const NodeId b = net_.AddHost(Ip("203.0.113.2"));
  net_.SetLink(a, LinkConditions{TimeDelta::Millis(10)});
  net_.SetLink(b, LinkConditions{TimeDelta::Millis(15)});
  std::vector<Received> at_a, at_b;
  const SocketId sa = Bind(a, 1000, &at_a);
  Bind(b, 2000, &at_b);
  const Timestamp start = net_.now();
  Send(sa, *SocketAddress::Parse("203.0.113.2:2000"));
  net_.RunFor(TimeDelta::Seconds(1));
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_b[0].at - start, TimeDelta::Millis(25));  // a's uplink + b's downlink
  EXPECT_EQ(at_b[0].from, *SocketAddress::Parse("203.0.113.1:1000"));
  // No socket, no route.
  Send(sa, *SocketAddress::Parse("203.0.113.2:2001"));
  Send(sa, *SocketAddress::Parse("192.168.1.1:2000"));
  net_.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(net_.stats().dropped_no_socket, 1u);
  EXPECT_EQ(net_.stats().dropped_no_route, 1u);
}

// A host behind a NAT of each type talks to server S1; who else can reach its mapping?
struct NatCase {
  NatType type;
  bool same_mapping_for_other_server;  // endpoint-independent mapping
  bool other_ip_gets_in;               // endpoint-independent filtering
  bool other_port_same_ip_gets_in;     // address-dependent (or independent) filtering
};

class NatBehaviourTest : public SimNetworkTest, public ::testing::WithParamInterface<NatCase> {};

TEST_P(NatBehaviourTest, MappingAndFiltering) {
  const NatCase c = GetParam();
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), c.type);
  const NodeId inside = net_.AddHost(Ip("192.168.1.2"), nat);
  const NodeId s1 = net_.AddHost(Ip("203.0.113.1"));
  const NodeId s2 = net_.AddHost(Ip("203.0.113.2"));
  std::vector<Received> in, at_s1, at_s1b, at_s2;
  const SocketId h = Bind(inside, 5000, &in);
  const SocketId p1 = Bind(s1, 3478, &at_s1);
  const SocketId p1b = Bind(s1, 3479, &at_s1b);
  const SocketId p2 = Bind(s2, 3478, &at_s2);
  Send(h, net_.LocalAddress(p1));
  Send(h, net_.LocalAddress(p2));
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_EQ(at_s1.size(), 1u);
  ASSERT_EQ(at_s2.size(), 1u);
  const SocketAddress mapped1 = at_s1[0].from;
  EXPECT_EQ(mapped1.ip(), Ip("198.51.100.1"));
  EXPECT_EQ(at_s2[0].from == mapped1, c.same_mapping_for_other_server);
  // The server answers from the address it was sent to: always allowed.
  Send(p1, mapped1, 10);
  // Same IP, another port.
  Send(p1b, mapped1, 11);
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_GE(in.size(), 1u);
  EXPECT_EQ(in[0].data[0], 10);
  EXPECT_EQ(in.size() == 2, c.other_port_same_ip_gets_in);
  // A stranger sends to the first mapping.
  const NodeId stranger = net_.AddHost(Ip("203.0.113.9"));
  std::vector<Received> unused;
  const SocketId x = Bind(stranger, 4000, &unused);
  const size_t before = in.size();
  Send(x, mapped1, 12);
  net_.RunFor(TimeDelta::Millis(100));
  EXPECT_EQ(in.size() == before + 1, c.other_ip_gets_in);
}

INSTANTIATE_TEST_SUITE_P(Types, NatBehaviourTest,
                         ::testing::Values(NatCase{NatType::kFullCone, true, true, true},
                                           NatCase{NatType::kRestrictedCone, true, false, true},
                                           NatCase{NatType::kPortRestricted, true, false, false},
                                           NatCase{NatType::kSymmetric, false, false, false}),
                         [](const auto& info) {
                           std::string n = ToString(info.param.type);
                           std::erase(n, '-');
                           return n;
                         });

TEST_F(SimNetworkTest, MappingsExpireWithoutOutboundTraffic) {
  NatConfig config = NatConfig::Of(NatType::kFullCone);
  config.mapping_lifetime = TimeDelta::Seconds(30);
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), config);
  const NodeId inside = net_.AddHost(Ip("10.0.0.2"), nat);
  const NodeId server = net_.AddHost(Ip("203.0.113.1"));
  std::vector<Received> in, at_server;
  const SocketId h = Bind(inside, 5000, &in);
  const SocketId s = Bind(server, 3478, &at_server);
  Send(h, net_.LocalAddress(s));
  net_.RunFor(TimeDelta::Seconds(1));
  ASSERT_EQ(at_server.size(), 1u);
  EXPECT_EQ(net_.NatMappingCount(nat), 1u);
  net_.RunFor(TimeDelta::Seconds(20));
  Send(s, at_server[0].from);  // inbound does not refresh (RFC 4787 REQ-6 default)
  net_.RunFor(TimeDelta::Seconds(20));
  EXPECT_EQ(in.size(), 1u);
  EXPECT_EQ(net_.NatMappingCount(nat), 0u);
  Send(s, at_server[0].from);
  net_.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(in.size(), 1u);
  EXPECT_GE(net_.stats().dropped_nat_filter, 1u);
}

TEST_F(SimNetworkTest, HairpinningAndLanRouting) {
  NatConfig config = NatConfig::Of(NatType::kPortRestricted);
  config.hairpinning = true;
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), config);
  const NodeId a = net_.AddHost(Ip("192.168.1.2"), nat);
  const NodeId b = net_.AddHost(Ip("192.168.1.3"), nat);
  const NodeId server = net_.AddHost(Ip("203.0.113.1"));
  std::vector<Received> at_a, at_b, at_server;
  const SocketId sa = Bind(a, 5000, &at_a);
  const SocketId sb = Bind(b, 5000, &at_b);
  const SocketId ss = Bind(server, 3478, &at_server);
  // On the LAN, private addresses route directly.
  Send(sa, net_.LocalAddress(sb));
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_b[0].from, net_.LocalAddress(sa));
  // Through the NAT's public address (hairpin), with external source addresses.
  Send(sa, net_.LocalAddress(ss));
  Send(sb, net_.LocalAddress(ss));
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_EQ(at_server.size(), 2u);
  const SocketAddress mapped_a = at_server[0].from, mapped_b = at_server[1].from;
  Send(sa, mapped_b);  // opens a's filter towards mapped_b... and b's mapping towards mapped_a is needed too
  Send(sb, mapped_a);
  net_.RunFor(TimeDelta::Millis(100));
  Send(sa, mapped_b, 7);
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_FALSE(at_b.empty());
  EXPECT_EQ(at_b.back().data[0], 7);
  EXPECT_EQ(at_b.back().from, mapped_a);
}

TEST_F(SimNetworkTest, NestedNatsTranslateTwice) {
  const NodeId cgn = net_.AddNat(Ip("198.51.100.1"), NatType::kFullCone);
  const NodeId home = net_.AddNat(Ip("100.64.0.2"), NatType::kFullCone, cgn);
  const NodeId inside = net_.AddHost(Ip("192.168.1.2"), home);
  const NodeId server = net_.AddHost(Ip("203.0.113.1"));
  std::vector<Received> in, at_server;
  const SocketId h = Bind(inside, 5000, &in);
  const SocketId s = Bind(server, 3478, &at_server);
  Send(h, net_.LocalAddress(s));
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_EQ(at_server.size(), 1u);
  EXPECT_EQ(at_server[0].from.ip(), Ip("198.51.100.1"));
  Send(s, at_server[0].from);
  net_.RunFor(TimeDelta::Millis(100));
  EXPECT_EQ(in.size(), 1u);
}

TEST_F(SimNetworkTest, LossDuplicationReorderingAndCuts) {
  const NodeId a = net_.AddHost(Ip("203.0.113.1"));
  const NodeId b = net_.AddHost(Ip("203.0.113.2"));
  LinkConditions lossy;
  lossy.latency = TimeDelta::Millis(20);
  lossy.jitter = TimeDelta::Millis(10);
  lossy.loss = 0.3;
  lossy.duplicate = 0.1;
  lossy.reorder = 0.1;
  net_.SetLink(a, lossy, LinkConditions{});
  std::vector<Received> at_a, at_b;
  const SocketId sa = Bind(a, 1000, &at_a);
  Bind(b, 2000, &at_b);
  for (int i = 0; i < 1000; ++i) {
    Send(sa, *SocketAddress::Parse("203.0.113.2:2000"), static_cast<uint8_t>(i));
    net_.RunFor(TimeDelta::Millis(1));
  }
  net_.RunFor(TimeDelta::Seconds(1));
  // About 70% arrive, ~10% of those twice, and some out of order.
  EXPECT_GT(at_b.size(), 650u);
  EXPECT_LT(at_b.size(), 900u);
  EXPECT_GT(net_.stats().duplicated, 50u);
  int inversions = 0;
  for (size_t i = 1; i < at_b.size(); ++i) {
    if (static_cast<uint8_t>(at_b[i].data[0] - at_b[i - 1].data[0]) > 128) ++inversions;
  }
  EXPECT_GT(inversions, 10);
  // A cut link drops everything; restored, it delivers again.
  net_.SetLinkDown(a, true);
  const size_t before = at_b.size();
  Send(sa, *SocketAddress::Parse("203.0.113.2:2000"));
  net_.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(at_b.size(), before);
  net_.SetLinkDown(a, false);
  net_.uplink(a).loss = 0;
  Send(sa, *SocketAddress::Parse("203.0.113.2:2000"));
  net_.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(at_b.size(), before + 1);
}

TEST_F(SimNetworkTest, SameSeedSameRun) {
  auto run = [](uint64_t seed) {
    Network net(seed);
    const NodeId a = net.AddHost(Ip("203.0.113.1"));
    const NodeId b = net.AddHost(Ip("203.0.113.2"));
    LinkConditions l;
    l.loss = 0.5;
    l.jitter = TimeDelta::Millis(50);
    net.SetLink(a, l);
    std::vector<int64_t> times;
    const SocketId sa = net.BindUdp(a, 1, [](Timestamp, const SocketAddress&, ByteSpan) {});
    net.BindUdp(b, 2, [&times](Timestamp now, const SocketAddress&, ByteSpan) { times.push_back(now.us()); });
    const uint8_t d[] = {1};
    for (int i = 0; i < 100; ++i) net.SendUdp(sa, *SocketAddress::Parse("203.0.113.2:2"), d);
    net.RunFor(TimeDelta::Seconds(1));
    return times;
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}

TEST_F(SimNetworkTest, StreamsThroughNatsAreOrderedAndResetByCuts) {
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), NatType::kSymmetric);
  const NodeId client = net_.AddHost(Ip("192.168.1.2"), nat);
  const NodeId server = net_.AddHost(Ip("203.0.113.1"));
  SocketAddress seen_remote;
  std::vector<uint8_t> at_server;
  bool server_closed = false;
  net_.ListenStream(server, 443, [&](Timestamp, StreamId, const SocketAddress& remote) {
    seen_remote = remote;
    StreamHandlers h;
    h.on_data = [&](Timestamp, ByteSpan d) { at_server.insert(at_server.end(), d.begin(), d.end()); };
    h.on_closed = [&](Timestamp) { server_closed = true; };
    return h;
  });
  bool connected = false, client_closed = false;
  StreamHandlers h;
  h.on_connected = [&](Timestamp, const SocketAddress&) { connected = true; };
  h.on_closed = [&](Timestamp) { client_closed = true; };
  const StreamId s = net_.ConnectStream(client, *SocketAddress::Parse("203.0.113.1:443"), h);
  ASSERT_TRUE(net_.RunUntil([&] { return connected; }, TimeDelta::Seconds(1)));
  EXPECT_EQ(seen_remote.ip(), Ip("198.51.100.1"));
  for (uint8_t i = 0; i < 50; ++i) {
    const uint8_t d[] = {i};
    net_.StreamSend(s, d);
  }
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_EQ(at_server.size(), 50u);
  for (uint8_t i = 0; i < 50; ++i) EXPECT_EQ(at_server[i], i);
  net_.SetLinkDown(nat, true);
  const uint8_t d[] = {99};
  net_.StreamSend(s, d);
  net_.RunFor(TimeDelta::Millis(100));
  EXPECT_TRUE(client_closed);
  EXPECT_TRUE(server_closed);
  // Nobody listening: the connect fails.
  bool refused = false;
  StreamHandlers h2;
  h2.on_closed = [&](Timestamp) { refused = true; };
  net_.SetLinkDown(nat, false);
  net_.ConnectStream(client, *SocketAddress::Parse("203.0.113.1:444"), h2);
  net_.RunFor(TimeDelta::Millis(100));
  EXPECT_TRUE(refused);
}

TEST_F(SimNetworkTest, StunServerReportsTheMappedAddress) {
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), NatType::kPortRestricted);
  const NodeId client = net_.AddHost(Ip("192.168.1.2"), nat);
  const NodeId host = net_.AddHost(Ip("203.0.113.1"));
  SimStunServer stun(net_, host);
  std::vector<Received> in;
  const SocketId c = Bind(client, 5000, &in);
  std::vector<uint8_t> request;
  stun::TransactionId tid{};
  tid[0] = 1;
  stun::MessageBuilder(request, stun::Method::kBinding, stun::MessageClass::kRequest, tid).Finish();
  net_.SendUdp(c, stun.address(), request);
  net_.RunFor(TimeDelta::Millis(100));
  ASSERT_EQ(in.size(), 1u);
  auto m = stun::MessageView::Parse(in[0].data);
  ASSERT_TRUE(m.ok());
  auto mapped = m->GetXorAddress(stun::attr::kXorMappedAddress);
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ(mapped->ip(), Ip("198.51.100.1"));
  EXPECT_EQ(stun.requests(), 1u);
}

}  // namespace
}  // namespace tandem::sim
