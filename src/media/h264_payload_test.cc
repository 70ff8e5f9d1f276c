#include "media/h264_payload.h"

#include <gtest/gtest.h>

#include "core/rng.h"

namespace tandem::media {
namespace {

// Handcrafted NAL units. The SPS/PPS are those of a Constrained Baseline 640x480 stream; slice bodies are
// random bytes without zeros (so that no start code can appear inside, as emulation prevention guarantees in
// real streams). The byte after a slice's NAL header has its top bit set when first_mb_in_slice is 0.
const std::vector<uint8_t> kSps = {0x67, 0x42, 0xc0, 0x1e, 0xd9, 0x00, 0xa0, 0x3d, 0xa1, 0x00,
                                   0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x8f};
const std::vector<uint8_t> kPps = {0x68, 0xcb, 0x83, 0xcb, 0x20};

std::vector<uint8_t> Slice(uint8_t nal_header, bool first_in_picture, size_t size, uint64_t seed) {
  std::vector<uint8_t> n(size);
  SeededRng rng(seed);
  rng.Fill(n);
  for (auto& b : n) b = b == 0 ? 1 : b;
  n[0] = nal_header;
  if (size > 1) n[1] = first_in_picture ? (n[1] | 0x80) : (n[1] & 0x7F);
  if (size > 1 && n[1] == 0) n[1] = 1;
  return n;
}

std::vector<uint8_t> AnnexB(const std::vector<std::vector<uint8_t>>& nalus, bool four_byte = true) {
  std::vector<uint8_t> out;
  for (const auto& n : nalus) {
    if (four_byte) out.push_back(0);
    out.insert(out.end(), {0, 0, 1});
    out.insert(out.end(), n.begin(), n.end());
  }
  return out;
}

struct Packets {
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<bool> markers;
};

Packets Packetize(H264Packetizer& p, const std::vector<uint8_t>& au, uint32_t ts) {
  Packets out;
  EXPECT_TRUE(p.Packetize(au, ts).ok());
  while (auto payload = p.NextPayload()) {
    EXPECT_EQ(payload->rtp_timestamp, ts);
    out.payloads.emplace_back(payload->payload.begin(), payload->payload.end());
    out.markers.push_back(payload->marker);
  }
  return out;
}

std::vector<uint8_t> Depacketize(const Packets& packets) {
  std::vector<uint8_t> out;
  for (const auto& p : packets.payloads) {
    auto r = DepacketizeH264(p, out);
    EXPECT_TRUE(r.ok());
  }
  return out;
}

TEST(H264AnnexB, SplitsOnThreeAndFourByteStartCodes) {
  const std::vector<uint8_t> stream = {0xAA, 0xBB,  // junk before the first start code
                                       0,    0,    0, 1,    0x67, 0x42,
                                       0x00,                       // SPS with a trailing zero byte
                                       0,    0,    1, 0x68, 0xCE,  // PPS after a 3-byte start code
                                       0,    0,    0, 1,           // empty NAL
                                       0,    0,    1, 0x65, 0x88, 0x84};
  std::vector<ByteSpan> nalus;
  SplitAnnexB(stream, nalus);
  ASSERT_EQ(nalus.size(), 3u);
  EXPECT_EQ(std::vector<uint8_t>(nalus[0].begin(), nalus[0].end()), (std::vector<uint8_t>{0x67, 0x42}));
  EXPECT_EQ(std::vector<uint8_t>(nalus[1].begin(), nalus[1].end()), (std::vector<uint8_t>{0x68, 0xCE}));
  EXPECT_EQ(std::vector<uint8_t>(nalus[2].begin(), nalus[2].end()), (std::vector<uint8_t>{0x65, 0x88, 0x84}));
  nalus.clear();
  const uint8_t no_start_code[] = {1, 2, 3, 0, 0};
  SplitAnnexB(no_start_code, nalus);
  EXPECT_TRUE(nalus.empty());
}

TEST(H264Packetizer, KeyFrameUsesStapAForParameterSetsAndFuAForIdr) {
  const auto idr = Slice(0x65, true, 5000, 1);
  const auto au = AnnexB({kSps, kPps, idr});
  H264Packetizer p(1200);
  auto packets = Packetize(p, au, 90000);
  // STAP-A(SPS, PPS), then ceil(4999 / 1198) = 5 FU-A fragments.
  ASSERT_EQ(packets.payloads.size(), 6u);
  EXPECT_EQ(h264::NalType(packets.payloads[0][0]), h264::kStapA);
  EXPECT_EQ(packets.payloads[0][0] & h264::kNriMask, 0x60) << "STAP-A NRI is the maximum of its NAL units";
  for (size_t i = 1; i < 6; ++i) {
    const auto& fu = packets.payloads[i];
    EXPECT_LE(fu.size(), 1200u);
    EXPECT_EQ(h264::NalType(fu[0]), h264::kFuA);
    EXPECT_EQ(fu[0] & 0xE0, idr[0] & 0xE0) << "FU indicator keeps F and NRI";
    EXPECT_EQ(h264::NalType(fu[1]), h264::kIdr);
    EXPECT_EQ((fu[1] & 0x80) != 0, i == 1) << "S bit on the first fragment";
    EXPECT_EQ((fu[1] & 0x40) != 0, i == 5) << "E bit on the last fragment";
  }
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(packets.markers[i], i == 5);
  EXPECT_EQ(Depacketize(packets), AnnexB({kSps, kPps, idr}));

  // What the depacketizer says about each packet.
  std::vector<uint8_t> out;
  auto stap = DepacketizeH264(packets.payloads[0], out);
  ASSERT_TRUE(stap.ok());
  EXPECT_TRUE(stap->has_sps);
  EXPECT_TRUE(stap->has_pps);
  EXPECT_FALSE(stap->has_idr);
  EXPECT_EQ(stap->nal_units, 2u);
  EXPECT_TRUE(stap->access_unit_start);
  auto first_fu = DepacketizeH264(packets.payloads[1], out);
  ASSERT_TRUE(first_fu.ok());
  EXPECT_TRUE(first_fu->has_idr);
  EXPECT_TRUE(first_fu->fu_start);
  auto middle_fu = DepacketizeH264(packets.payloads[2], out);
  ASSERT_TRUE(middle_fu.ok());
  EXPECT_FALSE(middle_fu->has_idr) << "only the start fragment announces its NAL type";
  EXPECT_FALSE(middle_fu->access_unit_start);
}

TEST(H264Packetizer, SmallNalUnitsAggregateAndLargeOnesStandAlone) {
  const auto a = Slice(0x41, true, 300, 2);
  const auto b = Slice(0x41, false, 300, 3);
  const auto c = Slice(0x41, false, 1000, 4);  // fits alone, not with others
  const auto d = Slice(0x01, false, 100, 5);   // NRI 0
  H264Packetizer p(1200);
  auto packets = Packetize(p, AnnexB({a, b, c, d}, false), 1);
  // STAP-A(a, b) = 1 + 302 + 302 bytes; c cannot join (605 + 1002 > 1200): STAP-A(c, d)? 1 + 1002 + 102 =
  // 1105.
  ASSERT_EQ(packets.payloads.size(), 2u);
  EXPECT_EQ(h264::NalType(packets.payloads[0][0]), h264::kStapA);
  EXPECT_EQ(packets.payloads[0].size(), 1u + 302 + 302);
  EXPECT_EQ(h264::NalType(packets.payloads[1][0]), h264::kStapA);
  EXPECT_EQ(Depacketize(packets), AnnexB({a, b, c, d}));

  auto single = Packetize(p, AnnexB({c}), 2);
  ASSERT_EQ(single.payloads.size(), 1u);
  EXPECT_EQ(single.payloads[0], c) << "a single NAL unit packet is the NAL unit itself";
  EXPECT_TRUE(single.markers[0]);
  std::vector<uint8_t> out;
  auto info = DepacketizeH264(single.payloads[0], out);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info->access_unit_start) << "c is not the first slice of its picture";
  EXPECT_FALSE(info->has_idr);
  auto first_slice = DepacketizeH264(a, out);
  ASSERT_TRUE(first_slice.ok());
  EXPECT_TRUE(first_slice->access_unit_start) << "first_mb_in_slice == 0";
  auto second_slice = DepacketizeH264(b, out);
  ASSERT_TRUE(second_slice.ok());
  EXPECT_FALSE(second_slice->access_unit_start);
}

TEST(H264Packetizer, RoundTripsManySizes) {
  SeededRng rng(9);
  for (size_t max_payload : {100, 500, 1200}) {
    H264Packetizer p(max_payload);
    for (int round = 0; round < 30; ++round) {
      std::vector<std::vector<uint8_t>> nalus;
      const int count = 1 + static_cast<int>(rng.Uniform(0, 6));
      for (int i = 0; i < count; ++i) {
        nalus.push_back(Slice(i == 0 ? 0x65 : 0x41, i == 0, 1 + rng.Uniform(1, 4000), rng.NextU64()));
      }
      auto packets = Packetize(p, AnnexB(nalus), 3);
      for (const auto& payload : packets.payloads) EXPECT_LE(payload.size(), max_payload);
      EXPECT_EQ(Depacketize(packets), AnnexB(nalus)) << max_payload << " " << round;
    }
  }
}

TEST(H264Packetizer, RefusesBadInput) {
  H264Packetizer p(1200);
  const uint8_t junk[] = {1, 2, 3};
  EXPECT_EQ(p.Packetize(junk, 0).error().code, ErrorCode::kInvalidArgument);
  const std::vector<uint8_t> rtp_only_type = {0x7A, 1,
                                              2};  // type 26 (MTAP16) cannot be a NAL unit of the stream
  EXPECT_EQ(p.Packetize(AnnexB({kSps, rtp_only_type}), 0).error().code, ErrorCode::kInvalidArgument);
  H264Packetizer tiny(2);
  EXPECT_EQ(tiny.Packetize(AnnexB({kSps}), 0).error().code, ErrorCode::kInvalidArgument);
}

TEST(H264Depacketizer, RefusesMalformedPayloads) {
  std::vector<uint8_t> out = {0xEE};
  const std::vector<std::vector<uint8_t>> malformed = {
      {24, 0x00, 0x05, 0x67},        // STAP-A NAL size past the end
      {24, 0x00, 0x00},              // STAP-A zero-length NAL unit
      {24, 0x00, 0x01},              // STAP-A size without the unit
      {24, 0x00, 0x02, 0x78, 0x00},  // STAP-A carrying a STAP-A? (type 24 inside)
      {28, 0xC5, 0x01},              // FU-A with S and E
      {28, 0x98, 0x01},              // FU-A carrying type 24
  };
  for (const auto& m : malformed) {
    auto r = DepacketizeH264(m, out);
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(out.size(), 1u) << "nothing appended on error";
  }
  const std::vector<std::vector<uint8_t>> unsupported = {{25, 1, 2}, {26, 1, 2}, {27, 1, 2}, {29, 1, 2},
                                                         {0, 1},     {30, 1},    {31, 1}};
  for (const auto& u : unsupported) {
    auto r = DepacketizeH264(u, out);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kUnsupported);
  }
  EXPECT_EQ(DepacketizeH264({}, out).error().code, ErrorCode::kTruncated);
  const uint8_t short_fu[] = {28, 0x85};
  EXPECT_EQ(DepacketizeH264(short_fu, out).error().code, ErrorCode::kTruncated);
}

TEST(H264ProfileLevelId, ParsesCommonProfiles) {
  struct Case {
    const char* hex;
    H264Profile profile;
    int level_idc;
    bool level_1b;
  } cases[] = {
      {"42e01f", H264Profile::kConstrainedBaseline, 31, false},
      {"42001f", H264Profile::kBaseline, 31, false},
      {"4d001f", H264Profile::kMain, 31, false},
      {"4d801f", H264Profile::kConstrainedBaseline, 31, false},
      {"58c01e", H264Profile::kConstrainedBaseline, 30, false},
      {"58801e", H264Profile::kBaseline, 30, false},
      {"58001e", H264Profile::kExtended, 30, false},
      {"640c1f", H264Profile::kConstrainedHigh, 31, false},
      {"64001f", H264Profile::kHigh, 31, false},
      {"6e0028", H264Profile::kHigh10, 40, false},
      {"7a0028", H264Profile::kHigh422, 40, false},
      {"f40033", H264Profile::kHigh444, 51, false},
      {"42f00b", H264Profile::kConstrainedBaseline, 11, true},
      {"42e00b", H264Profile::kConstrainedBaseline, 11, false},
      {"640009", H264Profile::kHigh, 9, true},
      {"42E01F", H264Profile::kConstrainedBaseline, 31, false},
  };
  for (const Case& c : cases) {
    auto id = H264ProfileLevelId::Parse(c.hex);
    ASSERT_TRUE(id.has_value()) << c.hex;
    EXPECT_EQ(id->profile, c.profile) << c.hex;
    EXPECT_EQ(id->level_idc, c.level_idc) << c.hex;
    EXPECT_EQ(id->level_1b, c.level_1b) << c.hex;
  }
  EXPECT_EQ(H264ProfileLevelId::Parse("42e01f")->ToString(), "42e01f");
  for (const char* bad : {"", "42e01", "42e01f0", "zze01f", "ff001f", "42e000"}) {
    EXPECT_FALSE(H264ProfileLevelId::Parse(bad).has_value()) << bad;
  }
}

TEST(H264ProfileLevelId, NegotiatesTheLowerLevelOfTheSameProfile) {
  auto offer = *H264ProfileLevelId::Parse("42e01f");  // CB 3.1
  auto local = *H264ProfileLevelId::Parse("42e015");  // CB 2.1
  auto answer = H264NegotiateProfileLevelId(offer, local);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->ToString(), "42e015");
  answer = H264NegotiateProfileLevelId(local, offer);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->ToString(), "42e015");
  // Main with constraint_set0 is Constrained Baseline too: the same profile.
  auto main_cb = *H264ProfileLevelId::Parse("4d801f");
  EXPECT_TRUE(H264SameProfile(offer, main_cb));
  EXPECT_FALSE(H264NegotiateProfileLevelId(offer, *H264ProfileLevelId::Parse("64001f")).has_value());
  // Level 1b sits between 1 and 1.1 and is written the way the offer's profile family writes it.
  auto lb = *H264ProfileLevelId::Parse("42f00b");
  auto l11 = *H264ProfileLevelId::Parse("42e00b");
  EXPECT_LT(lb.LevelOrder(), l11.LevelOrder());
  EXPECT_EQ(H264NegotiateProfileLevelId(offer, lb)->ToString(), "42f00b");
  EXPECT_EQ(H264NegotiateProfileLevelId(lb, l11)->ToString(), "42f00b");
}

}  // namespace
}  // namespace tandem::media
