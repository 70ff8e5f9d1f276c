// Typed header extensions and the extmap id <-> URI map.
#include "rtp/header_extensions.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::rtp {
namespace {

TEST(ExtensionMapTest, RegisterByUriAndConflicts) {
  ExtensionMap map;
  EXPECT_TRUE(map.RegisterUri(1, uri::kMid));
  EXPECT_TRUE(
      map.RegisterUri(3, "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"));
  EXPECT_FALSE(map.RegisterUri(4, "urn:ietf:params:rtp-hdrext:toffset"));  // not implemented: ignored
  EXPECT_EQ(map.IdOf(ExtensionType::kMid), 1);
  EXPECT_EQ(map.TypeOf(3), ExtensionType::kTransportSequenceNumber);
  EXPECT_EQ(map.TypeOf(4), ExtensionType::kNone);
  EXPECT_FALSE(map.Register(1, ExtensionType::kAudioLevel));  // id taken by another type
  EXPECT_FALSE(map.Register(0, ExtensionType::kAudioLevel));
  EXPECT_TRUE(map.Register(1, ExtensionType::kMid));  // same binding again is fine
  EXPECT_TRUE(map.Register(7, ExtensionType::kMid));  // moving a type frees its old id
  EXPECT_EQ(map.TypeOf(1), ExtensionType::kNone);
  EXPECT_EQ(map.IdOf(ExtensionType::kMid), 7);
  EXPECT_TRUE(map.Register(200, ExtensionType::kRtpStreamId));  // two-byte ids
  map.Unregister(ExtensionType::kRtpStreamId);
  EXPECT_FALSE(map.IsRegistered(ExtensionType::kRtpStreamId));
  EXPECT_EQ(map.TypeOf(200), ExtensionType::kNone);
  for (size_t i = 1; i < kExtensionTypeCount; ++i) {
    const auto type = static_cast<ExtensionType>(i);
    EXPECT_EQ(ExtensionTypeFromUri(UriOf(type)), type) << ToString(type);
  }
}

TEST(HeaderExtensionTest, SdesStrings) {
  EXPECT_EQ(*MidExtension::Parse(AsBytes("audio0")), "audio0");
  // Trailing NULs some senders pad with are stripped; empty and control characters are refused.
  const uint8_t padded[] = {'v', '1', 0, 0};
  EXPECT_EQ(*RtpStreamIdExtension::Parse(padded), "v1");
  const uint8_t zeros[] = {0, 0};
  EXPECT_FALSE(MidExtension::Parse(zeros));
  const uint8_t ctl[] = {'a', 0x01};
  EXPECT_FALSE(MidExtension::Parse(ctl));
  uint8_t out[2];
  EXPECT_TRUE(MidExtension::Write(out, "ab"));
  EXPECT_EQ(out[0], 'a');
  EXPECT_FALSE(MidExtension::Write(out, "abc"));  // size must match
}

TEST(HeaderExtensionTest, AbsSendTime) {
  // 6.18 fixed point: 1.5 s = 0x060000; wraps every 64 s.
  EXPECT_EQ(AbsSendTimeExtension::FromTimestamp(Timestamp::Millis(1500)), 0x060000u);
  EXPECT_EQ(AbsSendTimeExtension::FromTimestamp(Timestamp::Seconds(64)), 0u);
  EXPECT_EQ(AbsSendTimeExtension::FromTimestamp(Timestamp::Micros(3815)),
            1000u);  // 1000 / 2^18 s ≈ 3.8147 ms
  uint8_t b[3];
  ASSERT_TRUE(AbsSendTimeExtension::Write(b, 0x123456));
  EXPECT_EQ(b[0], 0x12);
  EXPECT_EQ(*AbsSendTimeExtension::Parse(b), 0x123456u);
  EXPECT_FALSE(AbsSendTimeExtension::Write(b, 0x1000000));
  EXPECT_FALSE(AbsSendTimeExtension::Parse(ByteSpan(b, 2)));
  EXPECT_EQ(AbsSendTimeExtension::ToMicros(1 << 18), 1000000);
}

TEST(HeaderExtensionTest, TransportSequenceNumber) {
  uint8_t b[2];
  ASSERT_TRUE(TransportSequenceNumberExtension::Write(b, 0xABCD));
  EXPECT_EQ(b[0], 0xAB);
  EXPECT_EQ(*TransportSequenceNumberExtension::Parse(b), 0xABCD);
  const uint8_t four[] = {1, 2, 3, 4};  // the -02 variant with a feedback request is another URI
  EXPECT_FALSE(TransportSequenceNumberExtension::Parse(four));
}

TEST(HeaderExtensionTest, AudioLevelRfc6464) {
  // RFC 6464 §3: V=1, level 42 -> 0xAA.
  const uint8_t b[] = {0xAA};
  auto v = AudioLevelExtension::Parse(b);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->voice_activity);
  EXPECT_EQ(v->level, 42);
  uint8_t out[1];
  ASSERT_TRUE(AudioLevelExtension::Write(out, {false, 127}));
  EXPECT_EQ(out[0], 0x7F);
  EXPECT_FALSE(AudioLevelExtension::Write(out, {false, 128}));
}

TEST(HeaderExtensionTest, VideoOrientationCvo) {
  // 0 0 0 0 C F R1 R0: back camera, flipped, 270 degrees = 0b1111.
  const uint8_t b[] = {0x0F};
  auto v = VideoOrientationExtension::Parse(b);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->back_camera);
  EXPECT_TRUE(v->horizontal_flip);
  EXPECT_EQ(v->rotation, 270);
  uint8_t out[1];
  ASSERT_TRUE(VideoOrientationExtension::Write(out, {false, false, 90}));
  EXPECT_EQ(out[0], 0x01);
  EXPECT_FALSE(VideoOrientationExtension::Write(out, {false, false, 45}));
}

TEST(HeaderExtensionTest, TypedGetSetThroughBuilderAndRewrite) {
  ExtensionMap map;
  map.Register(1, ExtensionType::kMid);
  map.Register(2, ExtensionType::kAbsSendTime);
  map.Register(3, ExtensionType::kTransportSequenceNumber);
  map.Register(4, ExtensionType::kAudioLevel);
  map.Register(5, ExtensionType::kRtpStreamId);
  map.Register(13, ExtensionType::kVideoOrientation);
  RtpPacketBuilder b;
  b.SetSsrc(1234).SetSequenceNumber(7);
  ASSERT_TRUE(SetExtension<MidExtension>(b, map, "video"));
  ASSERT_TRUE(SetExtension<AbsSendTimeExtension>(b, map, 0xABCDEF));
  ASSERT_TRUE(SetExtension<TransportSequenceNumberExtension>(b, map, 4242));
  ASSERT_TRUE(SetExtension<AudioLevelExtension>(b, map, {true, 30}));
  ASSERT_TRUE(SetExtension<VideoOrientationExtension>(b, map, {true, false, 180}));
  EXPECT_FALSE(SetExtension<RepairedRtpStreamIdExtension>(b, map, "r"));  // not in the map
  std::vector<uint8_t> buf(200);
  const size_t n = *b.Build(buf, AsBytes("payload"));
  auto v = RtpPacketView::Parse(ByteSpan(buf).first(n));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(GetExtension<MidExtension>(*v, map), "video");
  EXPECT_EQ(GetExtension<AbsSendTimeExtension>(*v, map), 0xABCDEFu);
  EXPECT_EQ(GetExtension<TransportSequenceNumberExtension>(*v, map), 4242);
  EXPECT_EQ(GetExtension<AudioLevelExtension>(*v, map), (AudioLevel{true, 30}));
  EXPECT_EQ(GetExtension<VideoOrientationExtension>(*v, map), (VideoOrientation{true, false, 180}));
  EXPECT_FALSE(GetExtension<RtpStreamIdExtension>(*v, map));  // registered but absent
  // The pacer stamps the transport sequence number at send time, in place.
  MutableByteSpan packet(buf.data(), n);
  ASSERT_TRUE(RewriteExtension<TransportSequenceNumberExtension>(packet, *v, map, 9999));
  EXPECT_FALSE(RewriteExtension<RtpStreamIdExtension>(packet, *v, map, "x"));
  EXPECT_EQ(GetExtension<TransportSequenceNumberExtension>(*RtpPacketView::Parse(packet), map), 9999);
}

}  // namespace
}  // namespace tandem::rtp
