// rtcp-mux classification (RFC 5761 §4) and BUNDLE routing (RFC 8843 §9.2, RFC 8852 RIDs).
#include "rtp/bundle_demuxer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::rtp {
namespace {

constexpr uint8_t kMidId = 1;
constexpr uint8_t kRidId = 2;
constexpr uint8_t kRepairedRidId = 3;

ExtensionMap Map() {
  ExtensionMap map;
  map.Register(kMidId, ExtensionType::kMid);
  map.Register(kRidId, ExtensionType::kRtpStreamId);
  map.Register(kRepairedRidId, ExtensionType::kRepairedRtpStreamId);
  return map;
}

// Builds packets and keeps them alive for the views.
struct Packets {
  std::vector<std::vector<uint8_t>> store;
  RtpPacketView Make(uint32_t ssrc, uint8_t pt, std::string mid = "", std::string rid = "",
                     std::string repaired = "") {
    RtpPacketBuilder b;
    b.SetSsrc(ssrc).SetPayloadType(pt).SetSequenceNumber(static_cast<uint16_t>(store.size()));
    const ExtensionMap map = Map();
    if (!mid.empty()) SetExtension<MidExtension>(b, map, mid);
    if (!rid.empty()) SetExtension<RtpStreamIdExtension>(b, map, rid);
    if (!repaired.empty()) SetExtension<RepairedRtpStreamIdExtension>(b, map, repaired);
    store.emplace_back(200);
    const size_t n = *b.Build(store.back(), AsBytes("x"));
    store.back().resize(n);
    return *RtpPacketView::Parse(store.back());
  }
};

TEST(RtcpMuxTest, ClassifiesByPayloadTypeRange) {
  // RTCP SR/RR/SDES/BYE/APP/RTPFB/PSFB: PT 200..206 read as marker + 72..78.
  for (int type = 200; type <= 207; ++type) {
    const uint8_t p[] = {0x80, static_cast<uint8_t>(type), 0, 1, 0, 0, 0, 1};
    EXPECT_TRUE(IsRtcpPacket(p)) << type;
    EXPECT_FALSE(IsRtpPacket(p)) << type;
  }
  // RTP with marker and dynamic payload types stays RTP, including 63 and 96 on either side of the range.
  for (int pt : {0, 8, 63, 96, 111, 127}) {
    for (int marker : {0, 0x80}) {
      const uint8_t p[] = {0x80, static_cast<uint8_t>(marker | pt), 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
      EXPECT_FALSE(IsRtcpPacket(p)) << pt;
      EXPECT_TRUE(IsRtpPacket(p)) << pt;
    }
  }
  const uint8_t v1[] = {0x40, 0xC8, 0, 1};
  EXPECT_FALSE(IsRtcpPacket(v1));
  const uint8_t one[] = {0x80};
  EXPECT_FALSE(IsRtcpPacket(one));
}

TEST(BundleDemuxerTest, MidThenLearnedSsrc) {
  BundleDemuxer d;
  d.SetExtensionMap(Map());
  ASSERT_TRUE(d.AddSink(1, {.mid = "0", .payload_types = {111}}));
  ASSERT_TRUE(d.AddSink(2, {.mid = "1", .payload_types = {96, 97}}));
  EXPECT_FALSE(d.AddSink(2, {.mid = "2"}));
  EXPECT_FALSE(d.AddSink(kUnknownSink, {.mid = "3"}));
  Packets p;
  auto r = d.Route(p.Make(1111, 111, "0"));
  EXPECT_EQ(r.sink, 1u);
  EXPECT_EQ(r.reason, RouteReason::kMid);
  // Later packets of the SSRC drop the MID (senders stop sending it once acknowledged).
  r = d.Route(p.Make(1111, 111));
  EXPECT_EQ(r.sink, 1u);
  EXPECT_EQ(r.reason, RouteReason::kSsrc);
  EXPECT_EQ(d.SinkForSsrc(1111), 1u);
  // RFC 8843 §9.2: a MID naming another m-section moves the binding.
  r = d.Route(p.Make(1111, 96, "1"));
  EXPECT_EQ(r.sink, 2u);
  EXPECT_EQ(d.SinkForSsrc(1111), 2u);
  EXPECT_EQ(d.stats().by_mid, 2u);
  EXPECT_EQ(d.stats().by_ssrc, 1u);
}

TEST(BundleDemuxerTest, UnknownMidIsDroppedNotGuessed) {
  BundleDemuxer d;
  d.SetExtensionMap(Map());
  d.AddSink(1, {.mid = "0", .payload_types = {111}, .ssrcs = {5}});
  Packets p;
  // Even though SSRC 5 is known and PT 111 unique, a MID of no m-section means: not ours.
  auto r = d.Route(p.Make(5, 111, "9"));
  EXPECT_EQ(r.sink, kUnknownSink);
  EXPECT_EQ(d.stats().unknown, 1u);
  EXPECT_EQ(d.stats().unknown_mid, 1u);
}

TEST(BundleDemuxerTest, SignaledSsrcAndUniquePayloadType) {
  BundleDemuxer d;
  d.SetExtensionMap(Map());
  d.AddSink(1, {.mid = "a", .payload_types = {111, 0}, .ssrcs = {42}});
  d.AddSink(2, {.mid = "v", .payload_types = {96, 0}});
  Packets p;
  EXPECT_EQ(d.Route(p.Make(42, 96)).reason, RouteReason::kSsrc);  // signaled SSRC wins over the PT
  auto r = d.Route(p.Make(77, 96));
  EXPECT_EQ(r.sink, 2u);
  EXPECT_EQ(r.reason, RouteReason::kPayloadType);
  EXPECT_EQ(d.Route(p.Make(77, 111)).sink, 2u);  // now bound by SSRC
  // PT 0 is shared: no guess.
  EXPECT_EQ(d.Route(p.Make(78, 0)).sink, kUnknownSink);
  EXPECT_EQ(d.Route(p.Make(79, 55)).sink, kUnknownSink);
  EXPECT_EQ(d.stats().by_payload_type, 1u);
  EXPECT_EQ(d.stats().unknown, 2u);
}

TEST(BundleDemuxerTest, SimulcastLayersByRidAndRepairedRid) {
  BundleDemuxer d;
  d.SetExtensionMap(Map());
  d.AddSink(10, {.mid = "v", .rids = {"q"}, .payload_types = {96, 97}});
  d.AddSink(11, {.mid = "v", .rids = {"h"}, .payload_types = {96, 97}});
  d.AddSink(12, {.mid = "v", .rids = {"f"}, .payload_types = {96, 97}});
  Packets p;
  auto r = d.Route(p.Make(100, 96, "v", "h"));
  EXPECT_EQ(r.sink, 11u);
  EXPECT_EQ(r.reason, RouteReason::kRid);
  EXPECT_EQ(r.rid, "h");
  EXPECT_FALSE(r.repaired);
  // The RTX stream of layer "f" names it with repaired-rid.
  r = d.Route(p.Make(200, 97, "v", "", "f"));
  EXPECT_EQ(r.sink, 12u);
  EXPECT_TRUE(r.repaired);
  EXPECT_EQ(r.rid, "f");
  // Without a RID, several layers share the MID: the SSRC's binding decides.
  r = d.Route(p.Make(100, 96, "v"));
  EXPECT_EQ(r.sink, 11u);
  EXPECT_EQ(d.Route(p.Make(300, 96, "v")).sink, kUnknownSink);       // new SSRC, no RID: ambiguous
  EXPECT_EQ(d.Route(p.Make(301, 96, "v", "x")).sink, kUnknownSink);  // a RID no layer lists
  // A catch-all sink (no rids) takes unknown RIDs.
  d.AddSink(13, {.mid = "v"});
  EXPECT_EQ(d.Route(p.Make(301, 96, "v", "x")).sink, 13u);
}

TEST(BundleDemuxerTest, RemoveSinkDropsBindingsAndLearningIsBounded) {
  BundleDemuxer d(3);
  d.SetExtensionMap(Map());
  d.AddSink(1, {.mid = "0"});
  d.AddSink(2, {.mid = "1"});
  Packets p;
  for (uint32_t ssrc = 1; ssrc <= 5; ++ssrc) EXPECT_EQ(d.Route(p.Make(ssrc, 96, "0")).sink, 1u);
  EXPECT_EQ(d.binding_count(), 3u);
  EXPECT_EQ(d.stats().bindings_refused, 2u);
  d.Route(p.Make(9, 96, "1"));  // rebinding an existing SSRC is not refused
  d.Route(p.Make(1, 96, "1"));
  EXPECT_EQ(d.SinkForSsrc(1), 2u);
  d.RemoveSink(1);
  EXPECT_EQ(d.SinkForSsrc(2), kUnknownSink);
  EXPECT_EQ(d.SinkForSsrc(1), 2u);
  EXPECT_EQ(d.Route(p.Make(2, 96)).sink, kUnknownSink);
}

}  // namespace
}  // namespace tandem::rtp
