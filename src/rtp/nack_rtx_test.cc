// NACK generation on a fake clock, the sender's packet history, RTX packetization and restoration (RFC 4585
// §6.2.1, RFC 4588 §4), and the whole loop over a lossy simulated link.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <vector>

#include "core/rng.h"
#include "rtp/header_extensions.h"
#include "rtp/nack_generator.h"
#include "rtp/packet_history.h"
#include "rtp/rtcp_compound.h"
#include "rtp/rtx.h"
#include "testing/fake_clock.h"

namespace tandem::rtp {
namespace {

using tandem::testing::FakeClock;
using Seqs = std::vector<uint16_t>;

Seqs Poll(NackGenerator& n) {
  Seqs out;
  n.PollNack(out);
  return out;
}

TEST(NackGeneratorTest, RequestsGapsAtOnceAndRetriesPerRtt) {
  FakeClock clock;
  NackGenerator nack({.max_retries = 3, .default_rtt = TimeDelta::Millis(100)});
  nack.OnPacket(clock.now(), 10);
  nack.OnPacket(clock.now(), 11);
  EXPECT_TRUE(Poll(nack).empty());
  EXPECT_TRUE(nack.PollTimeout().IsInfinite());
  nack.OnPacket(clock.now(), 14);  // 12 and 13 missing
  EXPECT_EQ(Poll(nack), (Seqs{12, 13}));
  EXPECT_EQ(nack.missing_count(), 2u);
  EXPECT_EQ(nack.PollTimeout(), clock.now() + TimeDelta::Millis(100));
  // Nothing again before one RTT.
  clock.Advance(TimeDelta::Millis(99));
  nack.HandleTimeout(clock.now());
  EXPECT_TRUE(Poll(nack).empty());
  clock.Advance(TimeDelta::Millis(1));
  nack.HandleTimeout(clock.now());
  EXPECT_EQ(Poll(nack), (Seqs{12, 13}));
  // 12 arrives (retransmitted): only 13 remains.
  nack.OnPacket(clock.now(), 12, false, true);
  EXPECT_EQ(nack.stats().recovered, 1u);
  clock.Advance(TimeDelta::Millis(100));
  nack.HandleTimeout(clock.now());
  EXPECT_EQ(Poll(nack), (Seqs{13}));  // third request
  EXPECT_FALSE(nack.PollKeyFrameRequest());
  // After max_retries requests, the next due time gives up and asks for a key frame.
  clock.Advance(TimeDelta::Millis(100));
  nack.HandleTimeout(clock.now());
  EXPECT_TRUE(Poll(nack).empty());
  EXPECT_EQ(nack.stats().given_up, 1u);
  EXPECT_TRUE(nack.PollKeyFrameRequest());
  EXPECT_FALSE(nack.PollKeyFrameRequest());
  EXPECT_EQ(nack.missing_count(), 0u);
  EXPECT_TRUE(nack.PollTimeout().IsInfinite());
  EXPECT_EQ(nack.stats().nacks_requested, 2u + 2u + 1u);
}

TEST(NackGeneratorTest, RttUpdateChangesSpacingAndMinimumApplies) {
  FakeClock clock;
  NackGenerator nack({.min_retry_interval = TimeDelta::Millis(20)});
  nack.UpdateRtt(TimeDelta::Millis(40));
  nack.OnPacket(clock.now(), 1);
  nack.OnPacket(clock.now(), 3);
  EXPECT_EQ(Poll(nack), (Seqs{2}));
  EXPECT_EQ(nack.PollTimeout(), clock.now() + TimeDelta::Millis(40));
  nack.UpdateRtt(TimeDelta::Millis(1));  // a LAN: still at least 20 ms apart
  clock.Advance(TimeDelta::Millis(40));
  nack.HandleTimeout(clock.now());
  EXPECT_EQ(Poll(nack), (Seqs{2}));
  EXPECT_EQ(nack.PollTimeout(), clock.now() + TimeDelta::Millis(20));
}

TEST(NackGeneratorTest, ReorderingDelayAvoidsSpuriousRequests) {
  FakeClock clock;
  NackGenerator nack({.initial_delay = TimeDelta::Millis(10)});
  nack.OnPacket(clock.now(), 100);
  nack.OnPacket(clock.now(), 102);
  EXPECT_TRUE(Poll(nack).empty());
  clock.Advance(TimeDelta::Millis(3));
  nack.OnPacket(clock.now(), 101);  // just reordered
  clock.Advance(TimeDelta::Millis(20));
  nack.HandleTimeout(clock.now());
  EXPECT_TRUE(Poll(nack).empty());
  EXPECT_EQ(nack.stats().nacks_requested, 0u);
  EXPECT_EQ(nack.stats().recovered, 1u);
}

TEST(NackGeneratorTest, WrapAroundAndAgeLimit) {
  FakeClock clock;
  NackGenerator nack({.max_packet_age = 100});
  nack.OnPacket(clock.now(), 65533);
  nack.OnPacket(clock.now(), 2);  // 65534, 65535, 0, 1 missing across the wrap
  EXPECT_EQ(Poll(nack), (Seqs{65534, 65535, 0, 1}));
  nack.OnPacket(clock.now(), 3);
  // 105 arrives: 4..104 go missing, and everything more than 100 behind 105 is dropped (the four old ones,
  // and 4).
  nack.OnPacket(clock.now(), 105);
  EXPECT_EQ(nack.stats().dropped_too_old, 5u);
  const Seqs recent = Poll(nack);
  ASSERT_EQ(recent.size(), 100u);
  EXPECT_EQ(recent.front(), 5);
  EXPECT_EQ(recent.back(), 104);
}

TEST(NackGeneratorTest, OverflowTrimsToKeyFrameOrAsksForOne) {
  FakeClock clock;
  NackGenerator nack({.max_nack_list = 50});
  nack.OnPacket(clock.now(), 0);
  nack.OnPacket(clock.now(), 41);  // 40 missing: fine
  EXPECT_EQ(Poll(nack).size(), 40u);
  nack.OnPacket(clock.now(), 42, /*is_key_frame=*/true);
  nack.OnPacket(clock.now(), 60);  // 17 more: 57 > 50, but those before the key frame can go
  EXPECT_EQ(nack.missing_count(), 17u);
  EXPECT_FALSE(nack.PollKeyFrameRequest());
  EXPECT_EQ(Poll(nack).size(), 17u);
  // A gap larger than the whole list: give up on retransmission, ask for a key frame.
  nack.OnPacket(clock.now(), 200);
  EXPECT_EQ(nack.missing_count(), 0u);
  EXPECT_TRUE(nack.PollKeyFrameRequest());
  EXPECT_EQ(nack.stats().list_overflows, 1u);
  // Requests inside min_key_frame_request_interval merge...
  nack.OnPacket(clock.now(), 400);
  EXPECT_FALSE(nack.PollKeyFrameRequest());
  // ...but a key frame resets that.
  nack.OnPacket(clock.now(), 401, true);
  nack.OnPacket(clock.now(), 600);
  EXPECT_TRUE(nack.PollKeyFrameRequest());
}

TEST(PacketHistoryTest, StoresRetransmitsAndExpires) {
  RtpPacketHistory history(100, TimeDelta::Millis(500));
  EXPECT_EQ(history.capacity(), 128u);
  FakeClock clock;
  std::vector<uint8_t> buf(100);
  for (uint16_t seq = 0; seq < 10; ++seq) {
    RtpPacketBuilder b;
    b.SetSequenceNumber(seq).SetSsrc(1);
    const size_t n = *b.Build(buf, AsBytes("payload"));
    ASSERT_TRUE(history.Put(clock.now(), ByteSpan(buf).first(n)));
  }
  auto p = history.GetForRetransmission(clock.now(), 3, TimeDelta::Millis(50));
  ASSERT_TRUE(p);
  EXPECT_EQ(RtpPacketView::Parse(*p)->sequence_number(), 3);
  // A second NACK for it within the interval is ignored; after it, served again.
  EXPECT_FALSE(history.GetForRetransmission(clock.now() + TimeDelta::Millis(10), 3, TimeDelta::Millis(50)));
  EXPECT_TRUE(history.GetForRetransmission(clock.now() + TimeDelta::Millis(60), 3, TimeDelta::Millis(50)));
  EXPECT_FALSE(history.GetForRetransmission(clock.now(), 50));         // never sent
  EXPECT_FALSE(history.Get(clock.now() + TimeDelta::Millis(501), 4));  // too old
  EXPECT_TRUE(history.Get(clock.now() + TimeDelta::Millis(500), 4));
  // Sequence number 3 + 128 overwrites slot 3.
  RtpPacketBuilder b;
  b.SetSequenceNumber(131).SetSsrc(1);
  history.Put(clock.now(), ByteSpan(buf).first(*b.Build(buf, {})));
  EXPECT_FALSE(history.Get(clock.now(), 3));
  EXPECT_TRUE(history.Get(clock.now(), 131));
  const uint8_t junk[] = {1, 2, 3};
  EXPECT_FALSE(history.Put(clock.now(), junk));
  std::vector<uint8_t> big(2000, 0x80);
  EXPECT_FALSE(history.Put(clock.now(), big));
  EXPECT_EQ(history.stats().rejected, 2u);
  EXPECT_EQ(history.stats().too_soon, 1u);
}

std::vector<uint8_t> MediaPacket(uint16_t seq, const ExtensionMap& map, bool padding = false) {
  RtpPacketBuilder b;
  b.SetMarker(true).SetPayloadType(96).SetSequenceNumber(seq).SetTimestamp(90000).SetSsrc(0x1111);
  SetExtension<MidExtension>(b, map, "v");
  SetExtension<RtpStreamIdExtension>(b, map, "hi");
  SetExtension<TransportSequenceNumberExtension>(b, map, 77);
  std::vector<uint8_t> out(300);
  out.resize(*b.Build(out, AsBytes("frame data"), padding ? 8 : 0));
  return out;
}

TEST(RtxTest, PacketizeAndRestoreRfc4588) {
  ExtensionMap map;
  map.Register(1, ExtensionType::kMid);
  map.Register(2, ExtensionType::kRtpStreamId);
  map.Register(3, ExtensionType::kRepairedRtpStreamId);
  map.Register(4, ExtensionType::kTransportSequenceNumber);
  const auto original = MediaPacket(5000, map, /*padding=*/true);
  const auto view = *RtpPacketView::Parse(original);

  std::vector<uint8_t> rtx(400);
  auto n = BuildRtxPacket(view, {0x2222, 97, 300}, rtx, &map);
  ASSERT_TRUE(n.ok());
  rtx.resize(*n);
  auto r = RtpPacketView::Parse(rtx);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ssrc(), 0x2222u);
  EXPECT_EQ(r->payload_type(), 97);
  EXPECT_EQ(r->sequence_number(), 300);
  EXPECT_EQ(r->timestamp(), 90000u);  // RFC 4588 §4: same timestamp
  EXPECT_TRUE(r->marker());
  EXPECT_FALSE(r->has_padding());
  EXPECT_EQ(LoadBe16(r->payload().data()), 5000);  // OSN
  EXPECT_EQ(AsStringView(r->payload().subspan(2)), "frame data");
  // The RID became a repaired RID; the other extensions stay.
  EXPECT_FALSE(GetExtension<RtpStreamIdExtension>(*r, map));
  EXPECT_EQ(GetExtension<RepairedRtpStreamIdExtension>(*r, map), "hi");
  EXPECT_EQ(GetExtension<MidExtension>(*r, map), "v");

  std::vector<uint8_t> restored(400);
  auto m = RestoreFromRtx(*r, 0x1111, 96, restored, &map);
  ASSERT_TRUE(m.ok());
  restored.resize(*m);
  // Identical to the original minus its padding.
  const auto unpadded = MediaPacket(5000, map, /*padding=*/false);
  EXPECT_EQ(restored, unpadded);

  // A padding-only RTX packet (a bandwidth probe) carries no OSN.
  RtpPacketBuilder probe;
  probe.SetSsrc(0x2222).SetPayloadType(97);
  std::vector<uint8_t> pbuf(100);
  pbuf.resize(*probe.Build(pbuf, {}, 20));
  EXPECT_EQ(RestoreFromRtx(*RtpPacketView::Parse(pbuf), 0x1111, 96, restored).error().code,
            ErrorCode::kTruncated);
  // Output buffer too small.
  std::vector<uint8_t> tiny(10);
  EXPECT_FALSE(BuildRtxPacket(view, {1, 2, 3}, tiny).ok());
}

TEST(RtxTest, SenderMapsPayloadTypesAndCountsSequenceNumbers) {
  ExtensionMap map;
  map.Register(1, ExtensionType::kMid);
  map.Register(2, ExtensionType::kRtpStreamId);
  map.Register(4, ExtensionType::kTransportSequenceNumber);
  RtxSender sender(0x2222, 65535);
  std::vector<uint8_t> out(400);
  const auto original = MediaPacket(1, map);
  EXPECT_EQ(sender.Packetize(original, out).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(sender.next_sequence_number(), 65535);
  sender.SetPayloadTypeMapping(96, 97);
  auto n = sender.Packetize(original, out);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(RtpPacketView::Parse(ByteSpan(out).first(*n))->sequence_number(), 65535);
  n = sender.Packetize(original, out);
  EXPECT_EQ(RtpPacketView::Parse(ByteSpan(out).first(*n))->sequence_number(), 0);  // wraps
  const uint8_t junk[] = {0, 1};
  EXPECT_FALSE(sender.Packetize(junk, out).ok());
}

// The whole loop: a sender keeps history, a receiver NACKs over RTCP (serialized and parsed), the sender
// answers with RTX, the receiver restores; 10 % loss each way, 30 ms one-way delay, a fake clock. Every
// packet arrives.
TEST(NackRtxLoopTest, RecoversEveryPacketOverLossyLink) {
  FakeClock clock;
  SeededRng rng(1234);
  const TimeDelta delay = TimeDelta::Millis(30);
  struct InFlight {
    Timestamp at;
    std::vector<uint8_t> bytes;
    bool rtcp;
  };
  std::deque<InFlight> to_receiver, to_sender;
  auto lossy_send = [&](std::deque<InFlight>& q, ByteSpan bytes, bool rtcp, bool lossless = false) {
    if (!lossless && rng.Uniform(0, 99) < 10) return;
    q.push_back({clock.now() + delay, std::vector<uint8_t>(bytes.begin(), bytes.end()), rtcp});
  };

  RtpPacketHistory history(1024, TimeDelta::Seconds(2));
  RtxSender rtx(0x2222, 1000);
  rtx.SetPayloadTypeMapping(96, 97);
  NackGenerator nack({.max_retries = 15});
  nack.UpdateRtt(delay * 2);
  std::map<uint16_t, bool> delivered;
  std::vector<uint8_t> buf(1500), rtcp_buf;
  Seqs requested;
  constexpr int kPackets = 500;

  for (int step = 0; step < 7000; ++step) {
    // Sender: one packet every 10 ms, sequence numbers wrapping; the first and last always arrive (NACK
    // cannot know of losses before the first packet or after the last).
    if (step % 10 == 0 && step / 10 < kPackets) {
      RtpPacketBuilder b;
      b.SetSsrc(0x1111).SetPayloadType(96).SetSequenceNumber(static_cast<uint16_t>(65300 + step / 10));
      const size_t n = *b.Build(buf, AsBytes("media"));
      history.Put(clock.now(), ByteSpan(buf).first(n));
      lossy_send(to_receiver, ByteSpan(buf).first(n), false, step == 0 || step / 10 == kPackets - 1);
    }
    // Deliveries.
    while (!to_receiver.empty() && to_receiver.front().at <= clock.now()) {
      auto v = *RtpPacketView::Parse(to_receiver.front().bytes);
      uint16_t seq = v.sequence_number();
      bool retransmission = false;
      if (v.ssrc() == 0x2222) {
        std::vector<uint8_t> restored(1500);
        const size_t n = *RestoreFromRtx(v, 0x1111, 96, restored);
        seq = RtpPacketView::Parse(ByteSpan(restored).first(n))->sequence_number();
        retransmission = true;
      }
      delivered[seq] = true;
      nack.OnPacket(clock.now(), seq, false, retransmission);
      to_receiver.pop_front();
    }
    while (!to_sender.empty() && to_sender.front().at <= clock.now()) {
      auto compound = ParseRtcpCompound(to_sender.front().bytes);
      ASSERT_TRUE(compound.ok());
      for (const auto& p : compound->packets) {
        for (uint16_t seq : std::get<Nack>(p).packet_ids) {
          auto original = history.GetForRetransmission(clock.now(), seq, delay);
          if (!original) continue;
          auto n = rtx.Packetize(*original, buf);
          ASSERT_TRUE(n.ok());
          lossy_send(to_receiver, ByteSpan(buf).first(*n), false);
        }
      }
      to_sender.pop_front();
    }
    // Receiver: NACKs due now.
    if (nack.PollTimeout() <= clock.now()) nack.HandleTimeout(clock.now());
    if (nack.PollNack(requested)) {
      RtcpCompoundBuilder builder(rtcp_buf);
      ASSERT_TRUE(builder.Add(Nack{0x3333, 0x1111, requested}));
      lossy_send(to_sender, builder.bytes(), true);
    }
    clock.Advance(TimeDelta::Millis(1));
  }
  EXPECT_EQ(delivered.size(), static_cast<size_t>(kPackets));
  EXPECT_EQ(nack.missing_count(), 0u);
  EXPECT_GT(nack.stats().packets_missing, 20u);
  EXPECT_EQ(nack.stats().given_up, 0u);
  EXPECT_GT(history.stats().retransmitted, 20u);
}

}  // namespace
}  // namespace tandem::rtp
