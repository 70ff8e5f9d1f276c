#include "media/vp8_payload.h"

#include <gtest/gtest.h>

#include "media/media_test_util.h"

namespace tandem::media {
namespace {

using test::FakeVp8Frame;

std::vector<uint8_t> Serialize(const Vp8PayloadDescriptor& d) {
  std::vector<uint8_t> out(d.Size());
  d.SerializeTo(out.data());
  return out;
}

TEST(Vp8Descriptor, ParsesKnownBytes) {
  // X=1 S=1 PID=0; I=1; M=1 PictureID 0x1234 & 0x7FFF; then one byte of VP8 data.
  const uint8_t bytes[] = {0x90, 0x80, 0x92, 0x34, 0xAB};
  size_t size = 0;
  auto d = Vp8PayloadDescriptor::Parse(bytes, &size);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(size, 4u);
  EXPECT_TRUE(d->start_of_partition);
  EXPECT_EQ(d->partition_id, 0);
  ASSERT_TRUE(d->picture_id.has_value());
  EXPECT_EQ(*d->picture_id, 0x1234);
  EXPECT_TRUE(d->picture_id_15bit);
  EXPECT_FALSE(d->tl0_pic_idx.has_value());
  EXPECT_FALSE(d->temporal_id.has_value());
}

TEST(Vp8Descriptor, AllFieldsRoundTrip) {
  std::vector<Vp8PayloadDescriptor> cases;
  Vp8PayloadDescriptor d;
  cases.push_back(d);  // just the required byte
  d.start_of_partition = true;
  d.partition_id = 5;
  d.non_reference = true;
  cases.push_back(d);
  d.picture_id = 0x55;
  d.picture_id_15bit = false;
  cases.push_back(d);
  d.picture_id = 0x7ABC;
  d.picture_id_15bit = true;
  cases.push_back(d);
  d.tl0_pic_idx = 200;
  cases.push_back(d);
  d.temporal_id = 2;
  d.layer_sync = true;
  cases.push_back(d);
  d.key_idx = 17;
  cases.push_back(d);
  d.temporal_id.reset();
  d.layer_sync = false;
  cases.push_back(d);  // K without T
  size_t expected_sizes[] = {1, 1, 3, 4, 5, 6, 6, 6};
  for (size_t i = 0; i < cases.size(); ++i) {
    auto bytes = Serialize(cases[i]);
    EXPECT_EQ(bytes.size(), expected_sizes[i]) << i;
    bytes.push_back(0x42);  // some payload
    size_t size = 0;
    auto parsed = Vp8PayloadDescriptor::Parse(bytes, &size);
    ASSERT_TRUE(parsed.ok()) << i;
    EXPECT_EQ(size, expected_sizes[i]) << i;
    EXPECT_EQ(*parsed, cases[i]) << i;
  }
}

TEST(Vp8Descriptor, IgnoresReservedBits) {
  // R bits set in the required byte (0x40, 0x08) and the extension byte's RSV (0x0F).
  const uint8_t bytes[] = {0x80 | 0x40 | 0x08 | 0x10, 0x0F, 0x00};
  size_t size = 0;
  auto d = Vp8PayloadDescriptor::Parse(bytes, &size);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(size, 2u);
  EXPECT_TRUE(d->start_of_partition);
  EXPECT_FALSE(d->picture_id.has_value());
}

TEST(Vp8Descriptor, TruncatedFieldsAreErrors) {
  const std::vector<std::vector<uint8_t>> bad = {
      {},                  // empty
      {0x80},              // X without extension byte
      {0x80, 0x80},        // I without PictureID
      {0x80, 0x80, 0x80},  // M without the second byte
      {0x80, 0x40},        // L without TL0PICIDX
      {0x80, 0x20},        // T without T/K byte
      {0x80, 0x10},        // K without T/K byte
  };
  for (const auto& b : bad) {
    size_t size = 0;
    auto d = Vp8PayloadDescriptor::Parse(b, &size);
    EXPECT_FALSE(d.ok());
    if (!d.ok()) {
      EXPECT_EQ(d.error().code, ErrorCode::kTruncated);
    }
  }
}

TEST(Vp8FrameHeader, KeyAndDeltaFrames) {
  auto key = FakeVp8Frame(true, 100, 1, 1280, 720);
  auto h = Vp8FrameHeader::Parse(key);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(h->key_frame);
  EXPECT_TRUE(h->show_frame);
  EXPECT_EQ(h->width, 1280);
  EXPECT_EQ(h->height, 720);
  auto delta = FakeVp8Frame(false, 100, 2);
  h = Vp8FrameHeader::Parse(delta);
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(h->key_frame);
  EXPECT_EQ(h->width, 0);
  // A key frame without the start code is not a key frame header.
  key[3] = 0;
  EXPECT_FALSE(Vp8FrameHeader::Parse(key).has_value());
  // The first partition size spans the three tag bytes (RFC 6386 §9.1).
  const uint8_t tag[] = {0x11 | (5 << 5), 0x02, 0x01};
  h = Vp8FrameHeader::Parse(tag);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->first_partition_size, 5u + (2u << 3) + (1u << 11));
}

// Packetize a frame and check the RFC 7741 invariants, returning the payloads.
std::vector<std::vector<uint8_t>> PacketizeAndCheck(Vp8Packetizer& p, const std::vector<uint8_t>& frame,
                                                    uint32_t ts, uint16_t expected_picture_id) {
  EXPECT_TRUE(p.Packetize(frame, ts).ok());
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<uint8_t> rebuilt;
  size_t min_size = SIZE_MAX, max_size = 0;
  while (auto out = p.NextPayload()) {
    EXPECT_LE(out->payload.size(), p.max_payload_size());
    EXPECT_EQ(out->rtp_timestamp, ts);
    EXPECT_EQ(out->marker, p.pending_payloads() == 0);
    auto d = DepacketizeVp8(out->payload);
    EXPECT_TRUE(d.ok());
    if (!d.ok()) break;
    EXPECT_EQ(d->descriptor.start_of_partition, payloads.empty());
    EXPECT_EQ(d->descriptor.partition_id, 0);
    EXPECT_EQ(d->descriptor.picture_id, expected_picture_id);
    EXPECT_TRUE(d->descriptor.picture_id_15bit);
    rebuilt.insert(rebuilt.end(), d->payload.begin(), d->payload.end());
    min_size = std::min(min_size, out->payload.size());
    max_size = std::max(max_size, out->payload.size());
    payloads.emplace_back(out->payload.begin(), out->payload.end());
  }
  EXPECT_EQ(rebuilt, frame);
  EXPECT_LE(max_size - min_size, 1u) << "payload sizes are balanced";
  return payloads;
}

TEST(Vp8Packetizer, SplitsFramesOfManySizes) {
  Vp8Packetizer p(1200, 100);
  uint16_t pid = 100;
  const size_t sizes[] = {1, 2, 100, 1195, 1196, 1197, 2392, 2393, 5000, 50000, 250000};
  for (size_t size : sizes) {
    auto frame = FakeVp8Frame(size % 2 == 0, size, size);
    auto payloads = PacketizeAndCheck(p, frame, static_cast<uint32_t>(size * 3000), pid);
    // 4-byte descriptor (X, I/M, two PictureID bytes): 1196 bytes of data per payload.
    EXPECT_EQ(payloads.size(), (size + 1195) / 1196) << size;
    pid = static_cast<uint16_t>((pid + 1) & 0x7FFF);
    EXPECT_EQ(p.next_picture_id(), pid);
  }
}

TEST(Vp8Packetizer, PictureIdWrapsAt15Bits) {
  Vp8Packetizer p(1200, 0x7FFE);
  auto frame = FakeVp8Frame(false, 3000, 7);
  PacketizeAndCheck(p, frame, 0, 0x7FFE);
  PacketizeAndCheck(p, frame, 3000, 0x7FFF);
  PacketizeAndCheck(p, frame, 6000, 0);
  PacketizeAndCheck(p, frame, 9000, 1);
}

TEST(Vp8Packetizer, KeyFrameDetectedOnFirstPacketOnly) {
  Vp8Packetizer p(300);
  auto frame = FakeVp8Frame(true, 1000, 3, 320, 240);
  ASSERT_TRUE(p.Packetize(frame, 0).ok());
  bool first = true;
  while (auto out = p.NextPayload()) {
    auto d = DepacketizeVp8(out->payload);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->frame_begin, first);
    EXPECT_EQ(d->key_frame, first);
    if (first) {
      EXPECT_EQ(d->width, 320);
      EXPECT_EQ(d->height, 240);
    }
    first = false;
  }
}

TEST(Vp8Packetizer, RefusesBadInput) {
  Vp8Packetizer p(4);  // the 4-byte descriptor leaves no room
  auto frame = FakeVp8Frame(true, 10, 1);
  EXPECT_EQ(p.Packetize(frame, 0).error().code, ErrorCode::kInvalidArgument);
  Vp8Packetizer q(1200);
  EXPECT_EQ(q.Packetize({}, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(q.NextPayload().has_value());
  std::vector<uint8_t> huge(Vp8Packetizer::kMaxFrameSize + 1);
  EXPECT_EQ(q.Packetize(huge, 0).error().code, ErrorCode::kLimitExceeded);
}

TEST(Vp8Depacketizer, RefusesDescriptorWithoutData) {
  const uint8_t only_descriptor[] = {0x90, 0x80, 0x81, 0x02};
  EXPECT_EQ(DepacketizeVp8(only_descriptor).error().code, ErrorCode::kMalformed);
  const uint8_t non_first_partition[] = {0x11, 0x00};  // S=1 but PID=1: not a frame start
  auto d = DepacketizeVp8(non_first_partition);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->frame_begin);
  EXPECT_FALSE(d->key_frame);
}

}  // namespace
}  // namespace tandem::media
