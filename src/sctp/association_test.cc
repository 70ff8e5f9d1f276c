// Two associations (a, z) over a simulated link with a simulated clock and seeded randomness, in the style of
// dcSCTP's socket tests: handshake (incl. simultaneous open and targeted loss), data in every mode under
// loss, reordering and duplication, partial reliability, stream reset, buffered amounts, shutdown, abort,
// timers, fairness, interleaving and throughput.
#include "sctp/association.h"

#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include "sctp/sim_link.h"

namespace tandem::sctp {
namespace {

using testing::ChunkTypes;
using testing::HasChunk;
using testing::Side;
using testing::SimLink;

// Deterministic content: message `index` of `size` bytes.
std::vector<uint8_t> Content(uint32_t index, size_t size) {
  std::vector<uint8_t> p(size);
  uint32_t x = index * 2654435761u + 1;
  for (size_t i = 0; i < size; ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = static_cast<uint8_t>(x >> 16);
  }
  if (size >= 4) StoreBe32(p.data(), index);
  return p;
}
uint32_t IndexOf(const Message& m) { return LoadBe32(m.payload.data()); }
bool ContentOk(const Message& m) { return m.payload == Content(IndexOf(m), m.payload.size()); }

Options BigMessages() {
  Options o;
  o.max_message_size = 2 << 20;
  o.max_receive_buffer = 4 << 20;
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------------------------------

TEST(AssociationHandshakeTest, ActiveToPassive) {
  SimLink link;
  ASSERT_TRUE(link.Connect(/*simultaneous=*/false));
  EXPECT_EQ(link.a.state(), State::kEstablished);
  EXPECT_EQ(link.z.state(), State::kEstablished);
  EXPECT_TRUE(link.a.peer_supports_interleaving());
  EXPECT_TRUE(link.z.peer_supports_partial_reliability());
  EXPECT_EQ(link.a.negotiated_outbound_streams(), 65535);
  // INIT, INIT-ACK, COOKIE-ECHO, COOKIE-ACK: 2 RTTs of 20 ms.
  EXPECT_LE(link.now(), Timestamp::Seconds(1000) + TimeDelta::Millis(41));
  EXPECT_EQ(link.Count<ConnectedEvent>(Side::kA), 1);
  EXPECT_EQ(link.Count<ConnectedEvent>(Side::kZ), 1);
}

TEST(AssociationHandshakeTest, SimultaneousOpenAsWebRtcDoes) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SimLink link(Options{}, seed);
    // Skew the two directions so that every interleaving of the crossing handshakes shows up across seeds.
    link.a_to_z.delay = TimeDelta::Millis(5 + seed % 7);
    link.z_to_a.delay = TimeDelta::Millis(5 + (seed * 3) % 11);
    ASSERT_TRUE(link.Connect(/*simultaneous=*/true)) << "seed " << seed;
    EXPECT_EQ(link.Count<ConnectedEvent>(Side::kA), 1);
    EXPECT_EQ(link.Count<ConnectedEvent>(Side::kZ), 1);
    EXPECT_EQ(link.Count<AbortedEvent>(Side::kA), 0);
    // Data flows both ways afterwards (the tags and TSNs agree).
    ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 3000)).ok());
    ASSERT_TRUE(link.z.Send(link.now(), 1, 51, Content(2, 3000)).ok());
    ASSERT_TRUE(link.RunUntil([&] { return link.a_messages.size() == 1 && link.z_messages.size() == 1; }));
    EXPECT_TRUE(ContentOk(link.a_messages[0]));
    EXPECT_TRUE(ContentOk(link.z_messages[0]));
  }
}

TEST(AssociationHandshakeTest, SimultaneousOpenWithOneSideLate) {
  // z calls Connect after a's INIT reached it (z already answered from CLOSED) but before the COOKIE ECHO.
  SimLink link;
  link.a.Connect(link.now());
  link.RunFor(TimeDelta::Millis(15));
  link.z.Connect(link.now());
  ASSERT_TRUE(link.RunUntil([&] { return link.Connected(Side::kA) && link.Connected(Side::kZ); }));
  ASSERT_TRUE(link.a.Send(link.now(), 0, 51, Content(1, 10)).ok());
  ASSERT_TRUE(link.z.Send(link.now(), 0, 51, Content(2, 10)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.a_messages.size() == 1 && link.z_messages.size() == 1; }));
}

// Drops the first `count` packets carrying `type` (from either side).
std::function<bool(Side, ByteSpan)> DropFirst(uint8_t type, int count = 1) {
  auto remaining = std::make_shared<int>(count);
  return [=](Side, ByteSpan p) {
    if (*remaining > 0 && HasChunk(p, type)) {
      --*remaining;
      return true;
    }
    return false;
  };
}

class HandshakeLossTest : public ::testing::TestWithParam<std::tuple<uint8_t, bool>> {};

TEST_P(HandshakeLossTest, RecoversFromALostHandshakeChunk) {
  const auto [type, simultaneous] = GetParam();
  SimLink link;
  link.drop_filter = DropFirst(type, 2);
  ASSERT_TRUE(link.Connect(simultaneous)) << ChunkTypeName(type);
  // Retransmitted after T1 (RTO.Initial 500 ms, doubled): within a few seconds.
  EXPECT_LE(link.now(), Timestamp::Seconds(1000) + TimeDelta::Seconds(5));
  ASSERT_TRUE(link.a.Send(link.now(), 0, 51, Content(1, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 1; }));
}

INSTANTIATE_TEST_SUITE_P(AllHandshakeChunks, HandshakeLossTest,
                         ::testing::Combine(::testing::Values(chunk_type::kInit, chunk_type::kInitAck,
                                                              chunk_type::kCookieEcho,
                                                              chunk_type::kCookieAck),
                                            ::testing::Bool()));

TEST(AssociationHandshakeTest, GivesUpAfterMaxInitRetransmits) {
  Options o;
  o.max_init_retransmits = 3;
  SimLink link(o);
  link.drop_filter = [](Side, ByteSpan) { return true; };
  link.a.Connect(link.now());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<AbortedEvent>(Side::kA) == 1; }));
  EXPECT_EQ(link.a.state(), State::kClosed);
  EXPECT_NE(link.Last<AbortedEvent>(Side::kA)->reason.find("INIT"), std::string::npos);
  // 0.5 + 1 + 2 + 4 s of back-off.
  EXPECT_GE(link.now(), Timestamp::Seconds(1000) + TimeDelta::Millis(7500));
  EXPECT_FALSE(link.a.Send(link.now(), 0, 51, Content(1, 10)).ok());
}

TEST(AssociationHandshakeTest, MessagesQueuedBeforeConnectAreSent) {
  SimLink link;
  ASSERT_TRUE(link.a.Send(link.now(), 3, 51, Content(7, 5000)).ok());
  EXPECT_EQ(link.a.buffered_amount(3), 5000u);
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 1; }));
  EXPECT_TRUE(ContentOk(link.z_messages[0]));
  EXPECT_EQ(link.z_messages[0].stream, 3);
}

TEST(AssociationHandshakeTest, NegotiatesStreamsAndFeatures) {
  Options a;
  a.announced_streams = 16;
  a.enable_interleaving = false;
  Options z;
  z.announced_streams = 1024;
  SimLink link(a, z);
  ASSERT_TRUE(link.Connect());
  EXPECT_EQ(link.a.negotiated_outbound_streams(), 16);
  EXPECT_EQ(link.z.negotiated_outbound_streams(), 16);
  EXPECT_FALSE(link.a.peer_supports_interleaving());
  EXPECT_FALSE(link.z.peer_supports_interleaving());  // used only when both announce it
  EXPECT_EQ(link.a.Send(link.now(), 16, 51, Content(1, 10)).error().code, ErrorCode::kInvalidArgument);
  bool saw_idata = false;
  link.observer = [&](Side, ByteSpan p) { saw_idata |= HasChunk(p, chunk_type::kIData); };
  ASSERT_TRUE(link.z.Send(link.now(), 15, 51, Content(1, 5000)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.a_messages.size() == 1; }));
  EXPECT_FALSE(saw_idata);
}

TEST(AssociationHandshakeTest, StaleCookieIsRefusedAndRetried) {
  Options o;
  o.cookie_lifetime = TimeDelta::Millis(5);  // shorter than the 10 ms one-way delay
  SimLink link(o);
  link.a.Connect(link.now());
  ASSERT_FALSE(link.RunUntil([&] { return link.Connected(Side::kA); }, TimeDelta::Seconds(3)));
  EXPECT_EQ(link.z.state(), State::kClosed);
}

TEST(AssociationHandshakeTest, ForgedCookieAndBadChecksumsAreDropped) {
  SimLink link;
  link.a.Connect(link.now());
  // Corrupt every COOKIE ECHO's cookie (and fix up the CRC, so the MAC check is what rejects it).
  link.drop_filter = [&](Side from, ByteSpan p) {
    if (!HasChunk(p, chunk_type::kCookieEcho)) return false;
    std::vector<uint8_t> forged(p.begin(), p.end());
    forged[30] ^= 0xff;
    WritePacketChecksum(forged);
    link.z.HandleReceive(link.now(), forged);
    std::vector<uint8_t> bad_crc(p.begin(), p.end());
    bad_crc[9] ^= 1;
    link.z.HandleReceive(link.now(), bad_crc);
    return true;
  };
  EXPECT_FALSE(link.RunUntil([&] { return link.Connected(Side::kZ); }, TimeDelta::Seconds(2)));
  EXPECT_GE(link.z.stats().bad_checksum_packets, 1u);
  EXPECT_GE(link.z.stats().dropped_packets, 1u);
  EXPECT_EQ(link.z.state(), State::kClosed);
}

// ---------------------------------------------------------------------------------------------------------------
// Data transfer
// ---------------------------------------------------------------------------------------------------------------

struct ModeParam {
  bool interleaving;
  bool unordered;
  double loss;
};

class MessageSizesTest : public ::testing::TestWithParam<ModeParam> {};

TEST_P(MessageSizesTest, EverySizeArrivesIntact) {
  const ModeParam m = GetParam();
  Options o = BigMessages();
  o.enable_interleaving = m.interleaving;
  SimLink link(o, 7);
  link.a_to_z.loss = link.z_to_a.loss = m.loss;
  link.a_to_z.jitter = link.z_to_a.jitter = TimeDelta::Millis(m.loss > 0 ? 5 : 0);
  ASSERT_TRUE(link.Connect());
  const std::vector<size_t> sizes = {1,     2,      3,      4,      1000,    1151, 1152,  1153,
                                     1168,  1169,   1200,   2303,   2304,    4096, 65535, 65536,
                                     65537, 100000, 262144, 262145, 1 << 20, 1,    17};
  SendOptions so;
  so.unordered = m.unordered;
  for (uint32_t i = 0; i < sizes.size(); ++i)
    ASSERT_TRUE(link.a.Send(link.now(), 1, 53, Content(i, sizes[i]), so).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == sizes.size(); }, TimeDelta::Seconds(120)));
  std::set<uint32_t> seen;
  for (size_t k = 0; k < link.z_messages.size(); ++k) {
    const Message& msg = link.z_messages[k];
    const uint32_t index = msg.payload.size() >= 4 ? IndexOf(msg) : static_cast<uint32_t>(k);
    if (msg.payload.size() >= 4) {
      EXPECT_TRUE(ContentOk(msg)) << "message " << index;
      seen.insert(index);
      if (!m.unordered) {
        EXPECT_EQ(index, k);
      }  // ordered: in sending order
    }
    EXPECT_EQ(msg.ppid, 53u);
    EXPECT_EQ(msg.unordered, m.unordered);
  }
  EXPECT_EQ(seen.size(), std::count_if(sizes.begin(), sizes.end(), [](size_t s) { return s >= 4; }));
  EXPECT_LE(link.max_packet_seen, o.mtu);
  EXPECT_EQ(link.a.stats().abandoned_messages, 0u);
  EXPECT_EQ(link.z.stats().reassembly_bytes, 0u);
  if (m.loss > 0) {
    EXPECT_GT(link.a.stats().retransmissions_fast + link.a.stats().retransmissions_t3, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, MessageSizesTest,
                         ::testing::Values(ModeParam{false, false, 0}, ModeParam{false, true, 0},
                                           ModeParam{true, false, 0}, ModeParam{true, true, 0},
                                           ModeParam{false, false, 0.05}, ModeParam{false, true, 0.05},
                                           ModeParam{true, false, 0.05}, ModeParam{true, true, 0.05}));

TEST(AssociationDataTest, EmptyMessageIsRefused) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  EXPECT_EQ(link.a.Send(link.now(), 1, 51, {}).error().code, ErrorCode::kInvalidArgument);
}

class OrderUnderImpairmentTest : public ::testing::TestWithParam<bool> {};

TEST_P(OrderUnderImpairmentTest, OrderedStreamsKeepOrderUnderLossReorderingAndDuplication) {
  Options o;
  o.enable_interleaving = GetParam();
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    SimLink link(o, seed);
    for (auto* cfg : {&link.a_to_z, &link.z_to_a}) {
      cfg->loss = 0.1;
      cfg->duplicate = 0.05;
      cfg->jitter = TimeDelta::Millis(15);
    }
    ASSERT_TRUE(link.Connect());
    SeededRng sizes(seed);
    const uint32_t n = 300;
    for (uint32_t i = 0; i < n; ++i) {
      const uint16_t stream = static_cast<uint16_t>(i % 3);
      ASSERT_TRUE(link.a.Send(link.now(), stream, 51, Content(i, 4 + sizes.Uniform(0, 5000))).ok());
    }
    ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == n; }, TimeDelta::Seconds(300)))
        << link.z_messages.size();
    std::map<uint16_t, uint32_t> last;
    for (const Message& m : link.z_messages) {
      ASSERT_TRUE(ContentOk(m));
      const uint32_t index = IndexOf(m);
      EXPECT_EQ(index % 3, m.stream);
      if (last.count(m.stream)) {
        EXPECT_GT(index, last[m.stream]);
      }
      last[m.stream] = index;
    }
    EXPECT_GT(link.z.stats().duplicate_tsns_received, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(DataAndIData, OrderUnderImpairmentTest, ::testing::Bool());

TEST(AssociationDataTest, BidirectionalTrafficWithSackPiggybacking) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  bool piggybacked = false;
  link.observer = [&](Side, ByteSpan p) {
    const auto t = ChunkTypes(p);
    piggybacked |= t.size() >= 2 && t[0] == chunk_type::kSack && t[1] == chunk_type::kIData;
  };
  for (uint32_t i = 0; i < 200; ++i) {
    ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 3000)).ok());
    ASSERT_TRUE(link.z.Send(link.now(), 1, 51, Content(i, 3000)).ok());
  }
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 200 && link.a_messages.size() == 200; }));
  EXPECT_TRUE(piggybacked);
}

TEST(AssociationDataTest, FastRetransmitRepairsASingleLossWithoutTimeout) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  int data_packets = 0;
  link.drop_filter = [&](Side from, ByteSpan p) {
    return from == Side::kA && HasChunk(p, chunk_type::kIData) && ++data_packets == 3;  // the 3rd DATA packet
  };
  for (uint32_t i = 0; i < 50; ++i) ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 1000)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 50; }));
  EXPECT_EQ(link.a.stats().retransmissions_fast, 1u);
  EXPECT_EQ(link.a.stats().t3_expirations, 0u);
  for (uint32_t i = 0; i < 50; ++i) EXPECT_EQ(IndexOf(link.z_messages[i]), i);
}

TEST(AssociationDataTest, LostTailIsRepairedByT3) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  bool dropped = false;
  link.drop_filter = [&](Side from, ByteSpan p) {
    if (from == Side::kA && !dropped && HasChunk(p, chunk_type::kIData)) return dropped = true;
    return false;
  };
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 1; }));
  EXPECT_EQ(link.a.stats().t3_expirations, 1u);
  EXPECT_EQ(link.a.stats().retransmissions_t3, 1u);
}

TEST(AssociationDataTest, LostSacksAreCoveredByLaterOnes) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  int sacks = 0;
  link.drop_filter = [&](Side from, ByteSpan p) {
    return from == Side::kZ && HasChunk(p, chunk_type::kSack) && (++sacks % 2) == 0;
  };
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 2000)).ok());
  ASSERT_TRUE(
      link.RunUntil([&] { return link.z_messages.size() == 100 && link.a.stats().outstanding_bytes == 0; }));
  EXPECT_EQ(link.a.stats().t3_expirations, 0u);
}

TEST(AssociationDataTest, DelayedSackEverySecondPacketOrAfterTimeout) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  std::vector<Timestamp> sack_times;
  link.observer = [&](Side from, ByteSpan p) {
    if (from == Side::kZ && HasChunk(p, chunk_type::kSack)) sack_times.push_back(link.now());
  };
  // One small message: the I bit asks for an immediate SACK (RFC 7053), so it comes back after one RTT.
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 10)).ok());
  const Timestamp start = link.now();
  ASSERT_TRUE(link.RunUntil([&] { return link.a.stats().outstanding_bytes == 0; }));
  ASSERT_EQ(sack_times.size(), 1u);
  EXPECT_EQ(sack_times[0] - start, TimeDelta::Millis(10));
  // Four full packets from one Send: SACKs for packets 2 and 4 only.
  sack_times.clear();
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(2, 4 * 1100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 2; }));
  link.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(sack_times.size(), 2u);
  EXPECT_EQ(link.z.stats().sacks_sent, 3u);
}

TEST(AssociationDataTest, GapTriggersImmediateSack) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  int n = 0;
  link.drop_filter = [&](Side from, ByteSpan p) {
    return from == Side::kA && HasChunk(p, chunk_type::kIData) && ++n == 1;
  };
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 1100)).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(2, 1100)).ok());
  const uint64_t before = link.z.stats().sacks_sent;
  link.RunFor(TimeDelta::Millis(15));  // one packet (the second) arrived: out of order
  EXPECT_EQ(link.z.stats().sacks_sent, before + 1);
}

TEST(AssociationDataTest, ZeroWindowProbingResumesWhenTheAppReads) {
  Options z;
  z.max_receive_buffer = 64 * 1024;
  z.max_message_size = 64 * 1024;
  Options a;
  a.max_retransmissions = 3;  // window probes must not count as failures while z keeps answering
  SimLink link(a, z);
  ASSERT_TRUE(link.Connect());
  link.deliver_events_z = false;  // z's application is not reading
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 8000)).ok());
  link.RunFor(TimeDelta::Seconds(120));
  EXPECT_GT(link.a.stats().t3_expirations, 3u);
  // z holds about a window's worth and the sender stalls, probing (without giving up: the probes are acked).
  const Stats zs = link.z.stats();
  EXPECT_EQ(link.a.state(), State::kEstablished);
  EXPECT_LT(link.a.total_buffered_amount(), 100u * 8000);
  EXPECT_GT(link.a.total_buffered_amount(),
            100u * 8000 - 2 * 64 * 1024 - 2 * 1200);  // + the chunks in flight
  EXPECT_LE(zs.reassembly_bytes, 2u * 64 * 1024);
  link.deliver_events_z = true;
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 100; }, TimeDelta::Seconds(60)));
  for (uint32_t i = 0; i < 100; ++i) ASSERT_EQ(IndexOf(link.z_messages[i]), i);
}

TEST(AssociationDataTest, OversizedMessageAbortsTheAssociation) {
  Options a = BigMessages();
  Options z;
  z.max_message_size = 64 * 1024;
  SimLink link(a, z);
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 100000)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<AbortedEvent>(Side::kA) == 1; }));
  EXPECT_EQ(link.Count<AbortedEvent>(Side::kZ), 1);
  EXPECT_FALSE(link.Last<AbortedEvent>(Side::kZ)->by_peer);
  EXPECT_TRUE(link.Last<AbortedEvent>(Side::kA)->by_peer);
  EXPECT_NE(link.Last<AbortedEvent>(Side::kA)->reason.find("max-message-size"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------------------------
// Partial reliability (RFC 3758)
// ---------------------------------------------------------------------------------------------------------------

class PartialReliabilityTest : public ::testing::TestWithParam<bool> {};

// Mixed reliable, max_retransmits 0/1, ordered and unordered messages on four streams over a lossy link.
void RunUnreliableTraffic(bool interleaving, uint64_t seed);

TEST_P(PartialReliabilityTest, MaxRetransmitsZeroGivesUpOnALostFragmentAndTheStreamGoesOn) {
  Options o;
  o.enable_interleaving = GetParam();
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  int data = 0;
  link.drop_filter = [&](Side from, ByteSpan p) {
    return from == Side::kA && (HasChunk(p, chunk_type::kData) || HasChunk(p, chunk_type::kIData)) &&
           ++data == 3;
  };
  SendOptions once;
  once.max_retransmits = 0;
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(0, 1000), once).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 5000), once).ok());  // 3rd DATA is its 2nd fragment
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(2, 1000), once).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(3, 1000)).ok());  // reliable
  ASSERT_TRUE(
      link.RunUntil([&] { return link.z_messages.size() == 3 && link.a.stats().outstanding_chunks == 0; }));
  EXPECT_EQ(IndexOf(link.z_messages[0]), 0u);
  EXPECT_EQ(IndexOf(link.z_messages[1]), 2u);
  EXPECT_EQ(IndexOf(link.z_messages[2]), 3u);
  EXPECT_EQ(link.a.stats().abandoned_messages, 1u);
  EXPECT_GE(link.a.stats().forward_tsns_sent, 1u);
  EXPECT_EQ(link.z.stats().reassembly_bytes, 0u);
  // The stream keeps working, in order.
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(4, 3000)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 4; }));
  EXPECT_EQ(IndexOf(link.z_messages[3]), 4u);
}

TEST_P(PartialReliabilityTest, MaxRetransmitsTwoSurvivesTwoLossesNotThree) {
  Options o;
  o.enable_interleaving = GetParam();
  for (int losses : {2, 3}) {
    SimLink link(o);
    ASSERT_TRUE(link.Connect());
    int dropped = 0;
    link.drop_filter = [&](Side from, ByteSpan p) {
      const bool data = HasChunk(p, chunk_type::kData) || HasChunk(p, chunk_type::kIData);
      return from == Side::kA && data && dropped < losses && ++dropped;
    };
    SendOptions so;
    so.max_retransmits = 2;
    ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(0, 500), so).ok());
    link.RunFor(TimeDelta::Seconds(10));
    ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 500)).ok());
    ASSERT_TRUE(
        link.RunUntil([&] { return !link.z_messages.empty() && IndexOf(link.z_messages.back()) == 1; }));
    EXPECT_EQ(link.z_messages.size(), losses == 2 ? 2u : 1u) << losses;
    EXPECT_EQ(link.a.stats().abandoned_messages, losses == 2 ? 0u : 1u);
  }
}

TEST_P(PartialReliabilityTest, UnreliableTrafficUnderRandomLossNeverStalls) {
  for (uint64_t seed : {11, 12, 13, 14}) {
    SCOPED_TRACE(seed);
    RunUnreliableTraffic(GetParam(), seed);
  }
}

void RunUnreliableTraffic(bool interleaving, uint64_t seed) {
  Options o;
  o.enable_interleaving = interleaving;
  SimLink link(o, seed);
  link.a_to_z.loss = link.z_to_a.loss = 0.2;
  ASSERT_TRUE(link.Connect());
  const uint32_t n = 300;
  for (uint32_t i = 0; i < n; ++i) {
    SendOptions so;
    so.max_retransmits = static_cast<uint16_t>(i % 2);
    so.unordered = i % 3 == 0;
    ASSERT_TRUE(
        link.a.Send(link.now(), static_cast<uint16_t>(i % 4), 51, Content(i, 100 + (i * 37) % 3000), so)
            .ok());
  }
  ASSERT_TRUE(link.a.Send(link.now(), 0, 51, Content(n, 100)).ok());  // reliable, ordered: the end marker
  ASSERT_TRUE(link.RunUntil(
      [&] {
        return link.a.stats().outstanding_chunks == 0 && link.a.total_buffered_amount() == 0 &&
               std::any_of(link.z_messages.begin(), link.z_messages.end(),
                           [&](const Message& m) { return IndexOf(m) == n; });
      },
      TimeDelta::Seconds(300)));
  EXPECT_GT(link.a.stats().abandoned_messages, 0u);
  // Each message was delivered or abandoned (some both: delivered, but the SACK was lost before the sender
  // gave up).
  EXPECT_GE(link.z_messages.size() + link.a.stats().abandoned_messages, n + 1);
  std::map<uint16_t, uint32_t> last;
  for (const Message& m : link.z_messages) {
    ASSERT_TRUE(ContentOk(m));
    if (m.unordered) continue;
    if (last.count(m.stream)) {
      EXPECT_GT(IndexOf(m), last[m.stream]);
    }
    last[m.stream] = IndexOf(m);
  }
  link.RunFor(TimeDelta::Seconds(2));
  EXPECT_EQ(link.z.stats().reassembly_bytes, 0u);
}

TEST_P(PartialReliabilityTest, LifetimeExpiresWhileThePathIsDown) {
  Options o;
  o.enable_interleaving = GetParam();
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  bool down = true;
  link.drop_filter = [&](Side from, ByteSpan) { return down && from == Side::kA; };
  SendOptions so;
  so.lifetime = TimeDelta::Millis(300);
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(i, 2000), so).ok());
  link.RunFor(TimeDelta::Seconds(2));
  down = false;
  ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(99, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return !link.z_messages.empty(); }, TimeDelta::Seconds(30)));
  ASSERT_EQ(link.z_messages.size(), 1u);
  EXPECT_EQ(IndexOf(link.z_messages[0]), 99u);
  EXPECT_EQ(link.a.stats().abandoned_messages, 5u);
}

TEST(PartialReliabilityTest, ExpiredBeforeFirstTransmissionIsDroppedSilently) {
  SimLink link;
  SendOptions so;
  so.lifetime = TimeDelta::Millis(1);
  ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(1, 100), so).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(2, 100)).ok());
  ASSERT_TRUE(link.Connect());  // takes 40 ms: the first message expires in the queue
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 1; }));
  EXPECT_EQ(IndexOf(link.z_messages[0]), 2u);
  EXPECT_EQ(link.a.stats().forward_tsns_sent, 0u);  // it never took a TSN or SSN
}

INSTANTIATE_TEST_SUITE_P(DataAndIData, PartialReliabilityTest, ::testing::Bool());

// ---------------------------------------------------------------------------------------------------------------
// Stream reset (RFC 6525, RFC 8831 §6.7)
// ---------------------------------------------------------------------------------------------------------------

class StreamResetTest : public ::testing::TestWithParam<bool> {};

TEST_P(StreamResetTest, DataChannelCloseBothDirections) {
  Options o;
  o.enable_interleaving = GetParam();
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.a.Send(link.now(), 5, 51, Content(1, 100)).ok());
  ASSERT_TRUE(link.z.Send(link.now(), 5, 51, Content(2, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.a_messages.size() == 1 && link.z_messages.size() == 1; }));
  // a closes its data channel: resets its outgoing stream 5.
  const uint16_t five[] = {5};
  ASSERT_TRUE(link.a.ResetStreams(five).ok());
  EXPECT_EQ(link.a.Send(link.now(), 5, 51, Content(3, 10)).error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<IncomingStreamsResetEvent>(Side::kZ) == 1; }));
  EXPECT_EQ(link.Last<IncomingStreamsResetEvent>(Side::kZ)->streams, std::vector<uint16_t>{5});
  // z sees the remote close and resets its own outgoing stream 5.
  ASSERT_TRUE(link.z.ResetStreams(five).ok());
  ASSERT_TRUE(link.RunUntil([&] {
    return link.Count<IncomingStreamsResetEvent>(Side::kA) == 1 &&
           link.Count<OutgoingStreamsResetEvent>(Side::kA) == 1 &&
           link.Count<OutgoingStreamsResetEvent>(Side::kZ) == 1;
  }));
  // The stream is reusable and its sequence restarted at 0.
  std::vector<uint32_t> ids;
  link.observer = [&](Side from, ByteSpan p) {
    auto v = PacketView::Parse(p, false);
    for (const ChunkView& c : *v) {
      if (c.type == chunk_type::kData) ids.push_back(DataChunk::Parse(c.raw)->ssn);
      if (c.type == chunk_type::kIData) ids.push_back(IDataChunk::Parse(c.raw)->mid);
    }
  };
  ASSERT_TRUE(link.a.Send(link.now(), 5, 51, Content(4, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 2; }));
  EXPECT_EQ(IndexOf(link.z_messages[1]), 4u);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(ids[0], 0u);
}

TEST_P(StreamResetTest, ResetWaitsForOutstandingData) {
  Options o = BigMessages();
  o.enable_interleaving = GetParam();
  SimLink link(o, 3);
  link.a_to_z.loss = 0.1;
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 300000)).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(2, 1000)).ok());
  const uint16_t one[] = {1};
  ASSERT_TRUE(link.a.ResetStreams(one).ok());
  bool reset_before_data = false;
  ASSERT_TRUE(link.RunUntil(
      [&] {
        if (link.Count<IncomingStreamsResetEvent>(Side::kZ) == 1 && link.z_messages.size() < 2)
          reset_before_data = true;
        return link.Count<OutgoingStreamsResetEvent>(Side::kA) == 1;
      },
      TimeDelta::Seconds(60)));
  EXPECT_FALSE(reset_before_data);
  ASSERT_EQ(link.z_messages.size(), 2u);
  EXPECT_TRUE(ContentOk(link.z_messages[0]));
  EXPECT_EQ(IndexOf(link.z_messages[1]), 2u);
}

TEST_P(StreamResetTest, LostReconfigIsRetransmittedAndSeveralStreamsReset) {
  Options o;
  o.enable_interleaving = GetParam();
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  link.drop_filter = DropFirst(chunk_type::kReConfig, 2);  // the request, then its retransmission
  const uint16_t streams[] = {1, 2, 3};
  ASSERT_TRUE(link.a.ResetStreams(streams).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<OutgoingStreamsResetEvent>(Side::kA) == 1; }));
  EXPECT_EQ(link.Last<OutgoingStreamsResetEvent>(Side::kA)->streams, (std::vector<uint16_t>{1, 2, 3}));
  EXPECT_EQ(link.Count<IncomingStreamsResetEvent>(Side::kZ), 1);  // the retransmission was not applied twice
}

TEST_P(StreamResetTest, InProgressWhenDataIsStillMissingThenRetried) {
  Options o;
  o.enable_interleaving = GetParam();
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  // Let z see the reset request before the stream's data: drop a's first DATA packet.
  link.drop_filter = [&, n = 0](Side from, ByteSpan p) mutable {
    return from == Side::kA && (HasChunk(p, chunk_type::kData) || HasChunk(p, chunk_type::kIData)) &&
           ++n == 1;
  };
  ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(1, 100)).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 3, 51, Content(2, 100)).ok());
  link.Flush();
  // The message on stream 2 is outstanding: the request waits; a request for stream 3 only goes out but z
  // still misses TSNs below a's last assigned TSN and answers "In progress".
  const uint16_t three[] = {3};
  link.RunFor(TimeDelta::Millis(30));  // stream 3's data acked (gap), stream 2's lost
  ASSERT_TRUE(link.a.ResetStreams(three).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<OutgoingStreamsResetEvent>(Side::kA) == 1; }));
  EXPECT_EQ(link.Count<IncomingStreamsResetEvent>(Side::kZ), 1);
  EXPECT_EQ(link.z_messages.size(), 2u);
}

TEST_P(StreamResetTest, ResetOnAnIdleAssociationGoesOutWithTheNextPoll) {
  // The data channel close of RFC 8831 §6.7 usually comes when everything is acknowledged and nothing is due:
  // the request must not wait for the next packet or timer (the heartbeat, 30 s away).
  Options o;
  o.enable_interleaving = GetParam();
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.a.Send(link.now(), 4, 51, Content(1, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 1; }));
  link.RunFor(TimeDelta::Seconds(1));  // the SACK is in; the association is idle
  const uint16_t four[] = {4};
  ASSERT_TRUE(link.a.ResetStreams(four).ok());
  const Timestamp asked = link.now();
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<OutgoingStreamsResetEvent>(Side::kA) == 1; },
                            TimeDelta::Seconds(60)));
  EXPECT_LT(link.now() - asked, TimeDelta::Millis(500));
}

INSTANTIATE_TEST_SUITE_P(DataAndIData, StreamResetTest, ::testing::Bool());

TEST(StreamResetTest, RefusedBeforeEstablished) {
  SimLink link;
  const uint16_t one[] = {1};
  EXPECT_EQ(link.a.ResetStreams(one).error().code, ErrorCode::kUnavailable);
}

// ---------------------------------------------------------------------------------------------------------------
// Buffered amount and send buffer
// ---------------------------------------------------------------------------------------------------------------

TEST(BufferedAmountTest, LowThresholdEventsAndCounts) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  link.a.SetBufferedAmountLowThreshold(1, 20000);
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 10000)).ok());
  ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(100, 5000)).ok());
  EXPECT_EQ(link.a.buffered_amount(1), 100000u);
  EXPECT_EQ(link.a.buffered_amount(2), 5000u);
  EXPECT_EQ(link.a.total_buffered_amount(), 105000u);
  int crossings_seen_at_or_below = 0;
  ASSERT_TRUE(link.RunUntil([&] {
    for (const Event& e : link.a_events) {
      if (auto* low = std::get_if<BufferedAmountLowEvent>(&e); low && low->stream == 1) {
        ++crossings_seen_at_or_below;
        EXPECT_LE(link.a.buffered_amount(1), 20000u);
      }
    }
    return link.z_messages.size() == 11;
  }));
  int low1 = 0, low2 = 0;
  for (const Event& e : link.a_events) {
    if (auto* low = std::get_if<BufferedAmountLowEvent>(&e)) (low->stream == 1 ? low1 : low2)++;
  }
  EXPECT_EQ(low1, 1);  // crossed 20000 once
  EXPECT_EQ(low2, 1);  // the default threshold 0: fires when the stream drains
  EXPECT_EQ(link.a.total_buffered_amount(), 0u);
  // Refill above the threshold: fires again.
  for (uint32_t i = 0; i < 5; ++i) ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 10000)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 16; }));
  low1 = 0;
  for (const Event& e : link.a_events) {
    if (auto* low = std::get_if<BufferedAmountLowEvent>(&e); low && low->stream == 1) ++low1;
  }
  EXPECT_EQ(low1, 2);
}

TEST(BufferedAmountTest, SendBufferCapRefusesWithLimitExceeded) {
  Options o;
  o.max_send_buffer = 100000;
  SimLink link(o);
  int accepted = 0;
  Status s = OkStatus();
  while ((s = link.a.Send(link.now(), 0, 51, Content(accepted, 30000))).ok()) ++accepted;
  EXPECT_EQ(accepted, 3);
  EXPECT_EQ(s.error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(link.a.Send(link.now(), 1, 51, Content(9, 10000)).ok());  // fits exactly
  EXPECT_FALSE(link.a.Send(link.now(), 1, 51, Content(9, 1)).ok());
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.RunUntil([&] { return link.a.total_buffered_amount() == 0; }));
  EXPECT_TRUE(link.a.Send(link.now(), 0, 51, Content(10, 100000)).ok());  // room again
}

// ---------------------------------------------------------------------------------------------------------------
// Shutdown, abort, failures
// ---------------------------------------------------------------------------------------------------------------

TEST(ShutdownTest, GracefulShutdownDeliversQueuedDataFirst) {
  SimLink link;
  link.a_to_z.loss = 0.05;
  ASSERT_TRUE(link.Connect());
  for (uint32_t i = 0; i < 20; ++i) ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 20000)).ok());
  link.a.Shutdown(link.now());
  EXPECT_EQ(link.a.state(), State::kShutdownPending);
  EXPECT_EQ(link.a.Send(link.now(), 1, 51, Content(99, 10)).error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE(link.RunUntil(
      [&] { return link.Count<ClosedEvent>(Side::kA) == 1 && link.Count<ClosedEvent>(Side::kZ) == 1; }));
  EXPECT_EQ(link.z_messages.size(), 20u);
  EXPECT_EQ(link.a.state(), State::kClosed);
  EXPECT_EQ(link.z.state(), State::kClosed);
  EXPECT_EQ(link.Count<AbortedEvent>(Side::kA) + link.Count<AbortedEvent>(Side::kZ), 0);
}

class ShutdownLossTest : public ::testing::TestWithParam<uint8_t> {};

TEST_P(ShutdownLossTest, SurvivesLossOfEachShutdownChunk) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  link.drop_filter = DropFirst(GetParam(), 2);
  link.a.Shutdown(link.now());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<ClosedEvent>(Side::kA) == 1; }, TimeDelta::Seconds(30)));
  link.RunFor(TimeDelta::Seconds(10));
  EXPECT_EQ(link.z.state(), State::kClosed);
  EXPECT_EQ(link.Count<AbortedEvent>(Side::kA), 0);
}

INSTANTIATE_TEST_SUITE_P(ShutdownChunks, ShutdownLossTest,
                         ::testing::Values(chunk_type::kShutdown, chunk_type::kShutdownAck,
                                           chunk_type::kShutdownComplete));

TEST(ShutdownTest, SimultaneousShutdown) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  link.a.Shutdown(link.now());
  link.z.Shutdown(link.now());
  ASSERT_TRUE(link.RunUntil(
      [&] { return link.Count<ClosedEvent>(Side::kA) == 1 && link.Count<ClosedEvent>(Side::kZ) == 1; }));
}

TEST(ShutdownTest, PeerShutdownFlushesItsOwnQueue) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  for (uint32_t i = 0; i < 10; ++i) ASSERT_TRUE(link.z.Send(link.now(), 1, 51, Content(i, 20000)).ok());
  link.a.Shutdown(link.now());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<ClosedEvent>(Side::kZ) == 1; }));
  EXPECT_EQ(link.a_messages.size(), 10u);
}

TEST(AbortTest, UserAbortReachesThePeerWithItsReason) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  link.a.Abort("going away");
  EXPECT_EQ(link.a.state(), State::kClosed);
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<AbortedEvent>(Side::kZ) == 1; }));
  const AbortedEvent* z = link.Last<AbortedEvent>(Side::kZ);
  EXPECT_TRUE(z->by_peer);
  EXPECT_NE(z->reason.find("going away"), std::string::npos);
  EXPECT_FALSE(link.Last<AbortedEvent>(Side::kA)->by_peer);
  EXPECT_EQ(link.z.state(), State::kClosed);
  EXPECT_EQ(link.z.Send(link.now(), 1, 51, Content(1, 10)).error().code, ErrorCode::kUnavailable);
}

TEST(AbortTest, OutOfTheBlueDataGetsAbortWithTBit) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  // z forgets the association (a fresh endpoint) while a keeps sending.
  link.z.Abort("");
  link.drop_filter = [](Side from, ByteSpan p) {
    return from == Side::kZ && HasChunk(p, chunk_type::kAbort) &&
           !(PacketView::Parse(p, false)->begin()->flags & 1);
  };
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 10)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<AbortedEvent>(Side::kA) == 1; }));
  EXPECT_TRUE(link.Last<AbortedEvent>(Side::kA)->by_peer);
}

TEST(FailureTest, RetransmissionLimitAbortsWithReason) {
  Options o;
  o.max_retransmissions = 4;
  o.rto_max = TimeDelta::Seconds(2);
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  link.drop_filter = [](Side from, ByteSpan) { return from == Side::kA; };
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 100)).ok());
  const Timestamp start = link.now();
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<AbortedEvent>(Side::kA) == 1; }));
  EXPECT_NE(link.Last<AbortedEvent>(Side::kA)->reason.find("too many retransmissions"), std::string::npos);
  // RTO 0.5, 1, 2, 2, 2 s: five expirations (the fifth exceeds 4).
  EXPECT_GE(link.now() - start, TimeDelta::Millis(7400));
  EXPECT_LE(link.now() - start, TimeDelta::Millis(7600));
  EXPECT_EQ(link.a.stats().t3_expirations, 5u);
}

TEST(FailureTest, HeartbeatsMeasureRttAndDetectADeadPeer) {
  Options o;
  o.heartbeat_interval = TimeDelta::Seconds(1);
  o.max_retransmissions = 3;
  SimLink link(o);
  link.a_to_z.delay = TimeDelta::Millis(30);
  link.z_to_a.delay = TimeDelta::Millis(30);
  ASSERT_TRUE(link.Connect());
  link.RunFor(TimeDelta::Seconds(10));
  EXPECT_GE(link.a.stats().heartbeats_sent, 5u);
  EXPECT_EQ(link.a.stats().rtt_us, 60000u);
  EXPECT_EQ(link.a.state(), State::kEstablished);
  // The peer goes silent: heartbeats time out and the association is declared dead.
  link.drop_filter = [](Side from, ByteSpan) { return from == Side::kZ; };
  ASSERT_TRUE(link.RunUntil([&] { return link.Count<AbortedEvent>(Side::kA) == 1; }, TimeDelta::Seconds(60)));
  EXPECT_NE(link.Last<AbortedEvent>(Side::kA)->reason.find("heartbeat"), std::string::npos);
}

TEST(FailureTest, GarbageIsCountedAndIgnored) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  const Stats before = link.z.stats();
  const uint8_t junk[] = {1, 2, 3};
  link.z.HandleReceive(link.now(), junk);
  std::vector<uint8_t> wrong_tag;
  {
    PacketBuilder b(wrong_tag, 5000, 5000, 0x12345678, 1200);
    b.Add(CookieAckChunk{});
    b.Finish();
  }
  link.z.HandleReceive(link.now(), wrong_tag);
  std::vector<uint8_t> wrong_port;
  {
    PacketBuilder b(wrong_port, 5001, 5000, 0, 1200);
    b.Add(CookieAckChunk{});
    b.Finish();
  }
  link.z.HandleReceive(link.now(), wrong_port);
  const Stats after = link.z.stats();
  EXPECT_EQ(after.malformed_packets, before.malformed_packets + 1);
  EXPECT_EQ(after.dropped_packets, before.dropped_packets + 2);
  EXPECT_EQ(link.z.state(), State::kEstablished);
}

TEST(FailureTest, UnknownChunksFollowTheirTypeBits) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  link.Flush();
  // Forge a packet from a to z: an unknown 0x7f chunk (stop, report) followed by a HEARTBEAT that must be
  // ignored.
  auto forge = [&](uint8_t unknown_type) {
    std::vector<uint8_t> chunks = {unknown_type, 0, 0, 4};
    HeartbeatChunk hb;
    hb.info = {1, 2, 3, 4};
    ByteWriter w(chunks);
    hb.SerializeTo(w);
    return chunks;
  };
  // Capture a's tag as z expects it from a real packet.
  uint32_t tag_a_to_z = 0;
  link.observer = [&](Side from, ByteSpan p) {
    if (from == Side::kA) tag_a_to_z = LoadBe32(p.data() + 4);
  };
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 10)).ok());
  link.RunUntil([&] { return link.z_messages.size() == 1; });
  int errors = 0, hb_acks = 0;
  link.observer = [&](Side from, ByteSpan p) {
    if (from != Side::kZ) return;
    errors += HasChunk(p, chunk_type::kError);
    hb_acks += HasChunk(p, chunk_type::kHeartbeatAck);
  };
  for (uint8_t type : {0x3f, 0x7f, 0xbf, 0xff}) {
    std::vector<uint8_t> packet;
    PacketBuilder b(packet, 5000, 5000, tag_a_to_z, 1200);
    b.AddRaw(forge(type));
    b.Finish();
    link.z.HandleReceive(link.now(), packet);
    link.RunFor(TimeDelta::Millis(50));
  }
  // RFC 9260 §3.2: 00 stop; 01 stop and report; 10 skip; 11 skip and report.
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(hb_acks, 2);
  EXPECT_EQ(link.z.state(), State::kEstablished);
}

TEST(RestartTest, PeerRestartIsDetectedViaTieTags) {
  SimLink link;
  ASSERT_TRUE(link.Connect());
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(1, 100)).ok());
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 1; }));
  // z's process restarts: a fresh association with the same ports connects to a (RFC 9260 §5.2.2 / §5.2.4 A).
  SeededRng rng(99);
  Association z2(Options{}, rng);
  Timestamp now = link.now();
  z2.Connect(now);
  bool restarted = false;
  for (int round = 0; round < 20 && !(restarted && z2.state() == State::kEstablished); ++round) {
    std::vector<std::vector<uint8_t>> to_a, to_z2;
    while (auto p = z2.PollTransmit(now)) to_a.emplace_back(p->begin(), p->end());
    for (auto& p : to_a) link.a.HandleReceive(now, p);
    while (auto p = link.a.PollTransmit(now)) to_z2.emplace_back(p->begin(), p->end());
    for (auto& p : to_z2) z2.HandleReceive(now, p);
    while (auto e = link.a.PollEvent()) restarted |= std::holds_alternative<RestartedEvent>(*e);
    while (z2.PollEvent()) {
    }
    now = now + TimeDelta::Millis(1);
  }
  EXPECT_TRUE(restarted);
  EXPECT_EQ(link.a.state(), State::kEstablished);
  EXPECT_EQ(z2.state(), State::kEstablished);
  // The restarted association carries data with fresh sequence numbers.
  ASSERT_TRUE(link.a.Send(now, 1, 51, Content(2, 3000)).ok());
  std::vector<Message> got;
  for (int round = 0; round < 20 && got.empty(); ++round) {
    while (auto p = link.a.PollTransmit(now)) z2.HandleReceive(now, *p);
    while (auto p = z2.PollTransmit(now)) link.a.HandleReceive(now, *p);
    while (auto e = z2.PollEvent()) {
      if (auto* m = std::get_if<MessageReceivedEvent>(&*e)) got.push_back(std::move(m->message));
    }
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(ContentOk(got[0]));
}

TEST(NagleTest, SmallMessagesWaitForTheAckAndGoOutTogether) {
  Options o;
  o.nagle = true;
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  int data_packets = 0;
  link.observer = [&](Side from, ByteSpan p) {
    data_packets += from == Side::kA && HasChunk(p, chunk_type::kIData);
  };
  ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(0, 50)).ok());
  link.Flush();  // the first small message leaves at once (nothing in flight)
  for (uint32_t i = 1; i <= 10; ++i) {
    ASSERT_TRUE(link.a.Send(link.now(), 1, 51, Content(i, 50)).ok());
    link.Flush();  // held back while the first is unacknowledged
  }
  EXPECT_EQ(data_packets, 1);
  ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 11; }));
  EXPECT_EQ(data_packets, 2);  // the other ten were bundled into one packet after the SACK
  // Without Nagle each Flush sends a packet.
  SimLink eager;
  ASSERT_TRUE(eager.Connect());
  int eager_packets = 0;
  eager.observer = [&](Side from, ByteSpan p) {
    eager_packets += from == Side::kA && HasChunk(p, chunk_type::kIData);
  };
  for (uint32_t i = 0; i <= 10; ++i) {
    ASSERT_TRUE(eager.a.Send(eager.now(), 1, 51, Content(i, 50)).ok());
    eager.Flush();
  }
  EXPECT_EQ(eager_packets, 11);
}

// ---------------------------------------------------------------------------------------------------------------
// Scheduling, interleaving, throughput
// ---------------------------------------------------------------------------------------------------------------

class FairnessTest : public ::testing::TestWithParam<bool> {};

TEST_P(FairnessTest, BulkTransferDoesNotStarveChat) {
  Options o;
  o.enable_interleaving = GetParam();
  o.max_send_buffer = 64 << 20;
  SimLink link(o);
  ASSERT_TRUE(link.Connect());
  const uint32_t bulk_messages = 50 * 16;  // 50 MiB in 64 KiB messages
  for (uint32_t i = 0; i < bulk_messages; ++i)
    ASSERT_TRUE(link.a.Send(link.now(), 1, 53, Content(i, 65536)).ok());
  link.RunFor(TimeDelta::Millis(100));
  ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(1000000, 20)).ok());
  const size_t bulk_before = link.z_messages.size();
  ASSERT_TRUE(link.RunUntil([&] {
    return std::any_of(link.z_messages.begin(), link.z_messages.end(),
                       [](const Message& m) { return m.stream == 2; });
  }));
  // The chat message waited for at most a few bulk messages (those already in flight), not for the 50 MiB.
  EXPECT_LE(link.z_messages.size() - bulk_before, 100u);
  EXPECT_LT(link.z_messages.size(), bulk_messages / 2);
}

INSTANTIATE_TEST_SUITE_P(DataAndIData, FairnessTest, ::testing::Bool());

TEST(InterleavingTest, SmallMessageOvertakesALargeOneOnlyWithIData) {
  for (bool interleaving : {false, true}) {
    Options o = BigMessages();
    o.enable_interleaving = interleaving;
    SimLink link(o);
    ASSERT_TRUE(link.Connect());
    ASSERT_TRUE(link.a.Send(link.now(), 1, 53, Content(1, 1 << 20)).ok());
    ASSERT_TRUE(link.a.Send(link.now(), 2, 51, Content(2, 50)).ok());
    ASSERT_TRUE(link.RunUntil([&] { return link.z_messages.size() == 2; }));
    EXPECT_EQ(link.z_messages[0].stream, interleaving ? 2 : 1) << interleaving;
    EXPECT_TRUE(ContentOk(link.z_messages[0]));
    EXPECT_TRUE(ContentOk(link.z_messages[1]));
  }
}

TEST(ThroughputTest, SixtyFourMebibytesFinishInBoundedSimulatedTime) {
  Options o;
  o.max_send_buffer = 80 << 20;
  SimLink link(o);
  link.a_to_z.delay = link.z_to_a.delay = TimeDelta::Millis(5);
  ASSERT_TRUE(link.Connect());
  const uint32_t n = 1024;  // 64 MiB in 64 KiB messages
  size_t received = 0;
  std::vector<uint8_t> message = Content(0, 65536);
  for (uint32_t i = 0; i < n; ++i) {
    StoreBe32(message.data(), i);
    ASSERT_TRUE(link.a.Send(link.now(), 1, 53, message).ok());
  }
  const Timestamp start = link.now();
  ASSERT_TRUE(link.RunUntil(
      [&] {
        for (Message& m : link.z_messages) {
          EXPECT_EQ(IndexOf(m), received);
          EXPECT_TRUE(std::equal(m.payload.begin() + 4, m.payload.end(), message.begin() + 4, message.end()));
          ++received;
        }
        link.z_messages.clear();  // keep the test's memory flat
        return received == n;
      },
      TimeDelta::Seconds(60)));
  const TimeDelta elapsed = link.now() - start;
  // A 4 MiB window over a 10 ms RTT allows ~400 MB/s; slow start costs a few RTTs. Demand better than 100
  // MB/s.
  EXPECT_LT(elapsed, TimeDelta::Millis(700)) << elapsed.ms() << " ms";
  EXPECT_EQ(link.a.stats().retransmissions_fast + link.a.stats().retransmissions_t3, 0u);
  EXPECT_LE(link.max_packet_seen, 1200u);
}

}  // namespace
}  // namespace tandem::sctp
