#include "media/opus_payload.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::media {
namespace {

uint8_t Toc(int config, bool stereo, int code) {
  return static_cast<uint8_t>((config << 3) | (stereo ? 4 : 0) | code);
}

TEST(OpusToc, FrameSizesFollowTable2) {
  EXPECT_EQ(OpusSamplesPerFrame(0), 480);    // SILK NB 10 ms
  EXPECT_EQ(OpusSamplesPerFrame(1), 960);    // SILK NB 20 ms
  EXPECT_EQ(OpusSamplesPerFrame(2), 1920);   // 40 ms
  EXPECT_EQ(OpusSamplesPerFrame(3), 2880);   // 60 ms
  EXPECT_EQ(OpusSamplesPerFrame(11), 2880);  // SILK WB 60 ms
  EXPECT_EQ(OpusSamplesPerFrame(12), 480);   // Hybrid SWB 10 ms
  EXPECT_EQ(OpusSamplesPerFrame(15), 960);   // Hybrid FB 20 ms
  EXPECT_EQ(OpusSamplesPerFrame(16), 120);   // CELT NB 2.5 ms
  EXPECT_EQ(OpusSamplesPerFrame(31), 960);   // CELT FB 20 ms
}

TEST(OpusPacket, ParsesEveryFrameCountCode) {
  std::vector<uint8_t> code0 = {Toc(31, true, 0), 1, 2, 3};
  auto p = OpusPacketInfo::Parse(code0);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->frame_count, 1);
  EXPECT_EQ(p->samples, 960);
  EXPECT_TRUE(p->stereo);
  EXPECT_FALSE(p->dtx);

  std::vector<uint8_t> code1 = {Toc(1, false, 1), 1, 2, 3, 4};
  p = OpusPacketInfo::Parse(code1);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->frame_count, 2);
  EXPECT_EQ(p->samples, 1920);
  code1.push_back(5);  // odd: two equal frames impossible (R3)
  EXPECT_FALSE(OpusPacketInfo::Parse(code1).ok());

  std::vector<uint8_t> code2 = {Toc(16, false, 2), 2, 0xA, 0xB, 0xC};  // first frame 2 bytes, second 1
  p = OpusPacketInfo::Parse(code2);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->samples, 240);
  std::vector<uint8_t> code2_bad = {Toc(16, false, 2), 9, 0xA};  // first frame longer than the packet (R4)
  EXPECT_FALSE(OpusPacketInfo::Parse(code2_bad).ok());
  std::vector<uint8_t> code2_two_byte = {Toc(16, false, 2), 252, 1};  // length 252 + 4*1 = 256 > remaining
  EXPECT_FALSE(OpusPacketInfo::Parse(code2_two_byte).ok());

  // Code 3 CBR: 3 frames of 2 bytes.
  std::vector<uint8_t> cbr = {Toc(31, false, 3), 3, 1, 1, 2, 2, 3, 3};
  p = OpusPacketInfo::Parse(cbr);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->frame_count, 3);
  EXPECT_EQ(p->samples, 2880);
  cbr.push_back(4);  // 7 bytes of data for 3 frames (R5)
  EXPECT_FALSE(OpusPacketInfo::Parse(cbr).ok());

  // Code 3 VBR with padding: 2 frames, padding 300 bytes coded as 255 (254) + 46.
  std::vector<uint8_t> vbr = {
      Toc(31, false, 3), 0x80 | 0x40 | 2, 255, 46, 1 /* frame 1 length */, 0xA, 0xB, 0xC};
  vbr.insert(vbr.end(), 300, 0);
  p = OpusPacketInfo::Parse(vbr);
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(p->frame_count, 2);
  std::vector<uint8_t> vbr_bad = {Toc(31, false, 3), 0x80 | 2, 5, 0xA};  // frame 1 longer than the data (R6)
  EXPECT_FALSE(OpusPacketInfo::Parse(vbr_bad).ok());

  // More than 120 ms (R5): 7 frames of 20 ms.
  std::vector<uint8_t> too_long = {Toc(31, false, 3), 7};
  EXPECT_FALSE(OpusPacketInfo::Parse(too_long).ok());
  // 6 x 20 ms = 120 ms is fine, also with no data (all frames empty: DTX-like).
  std::vector<uint8_t> max_len = {Toc(31, false, 3), 6};
  p = OpusPacketInfo::Parse(max_len);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->samples, kOpusMaxPacketSamples48k);
  std::vector<uint8_t> zero_frames = {Toc(31, false, 3), 0};
  EXPECT_FALSE(OpusPacketInfo::Parse(zero_frames).ok());
  EXPECT_FALSE(OpusPacketInfo::Parse({}).ok());
  std::vector<uint8_t> code3_no_count = {Toc(31, false, 3)};
  EXPECT_FALSE(OpusPacketInfo::Parse(code3_no_count).ok());
}

TEST(OpusPacket, TocOnlyPacketIsDtx) {
  const uint8_t toc_only[] = {Toc(31, false, 0)};
  auto p = OpusPacketInfo::Parse(toc_only);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->dtx);
  EXPECT_EQ(p->samples, 960);
}

TEST(OpusPacketizer, OnePacketPerPayloadAndDtxSuppressed) {
  OpusPacketizer p;
  std::vector<uint8_t> speech = {Toc(15, false, 0), 1, 2, 3, 4, 5};
  const uint8_t dtx[] = {Toc(15, false, 0), 0};

  auto first = p.Packetize(speech, 1000);
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->marker) << "the first packet starts a talkspurt";
  EXPECT_EQ(first->rtp_timestamp, 1000u);
  EXPECT_EQ(std::vector<uint8_t>(first->payload.begin(), first->payload.end()), speech);
  auto second = p.Packetize(speech, 1960);
  ASSERT_TRUE(second.has_value());
  EXPECT_FALSE(second->marker);
  EXPECT_FALSE(p.Packetize(dtx, 2920).has_value());
  EXPECT_FALSE(p.Packetize(dtx, 3880).has_value());
  EXPECT_EQ(p.suppressed_packets(), 2u);
  auto resumed = p.Packetize(speech, 4840);
  ASSERT_TRUE(resumed.has_value());
  EXPECT_TRUE(resumed->marker) << "RFC 7587 §4.1: marker on the first packet after DTX";

  OpusPacketizer keep_dtx(false);
  EXPECT_TRUE(keep_dtx.Packetize(dtx, 0).has_value());
  const uint8_t invalid[] = {Toc(31, false, 3)};
  EXPECT_FALSE(keep_dtx.Packetize(invalid, 0).has_value());
}

TEST(OpusDepacketizer, ReportsDurationAndDtx) {
  const uint8_t p40[] = {Toc(2, false, 0), 9, 9};  // SILK 40 ms
  auto info = DepacketizeOpus(p40);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->samples, 1920);
  EXPECT_FALSE(info->dtx);
}

}  // namespace
}  // namespace tandem::media
