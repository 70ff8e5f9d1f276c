// RTP packet view, builder and rewriting (RFC 3550 §5.1, RFC 8285 §4.2/§4.3), and the sequence/timestamp
// unwrapping helpers.
#include "rtp/rtp_packet.h"

#include <gtest/gtest.h>

#include <vector>

#include "rtp/sequence.h"

namespace tandem::rtp {
namespace {

std::vector<uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int b : v) out.push_back(static_cast<uint8_t>(b));
  return out;
}

TEST(RtpPacketViewTest, ParsesFixedHeader) {
  // V=2, M=1, PT=111, seq 0x1234, ts 0xDEADBEEF, SSRC 0x01020304, 3 payload bytes.
  const auto p =
      Bytes({0x80, 0xEF, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0x02, 0x03, 0x04, 0xAA, 0xBB, 0xCC});
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_TRUE(v->marker());
  EXPECT_EQ(v->payload_type(), 111);
  EXPECT_EQ(v->sequence_number(), 0x1234);
  EXPECT_EQ(v->timestamp(), 0xDEADBEEFu);
  EXPECT_EQ(v->ssrc(), 0x01020304u);
  EXPECT_EQ(v->csrc_count(), 0u);
  EXPECT_EQ(v->extension_form(), ExtensionForm::kNone);
  EXPECT_EQ(v->header_size(), 12u);
  ASSERT_EQ(v->payload_size(), 3u);
  EXPECT_EQ(v->payload()[0], 0xAA);
  EXPECT_EQ(v->padding_size(), 0u);
}

TEST(RtpPacketViewTest, CsrcsAndPadding) {
  // CC=2, P=1 with 3 padding bytes (the last holds the count, RFC 3550 §5.1).
  const auto p = Bytes({0xA2, 0x60, 0x00, 0x01, 0,    0,    0,    1,    0,    0,    0,    9,
                        0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x22, 0x22, 0x55, 0x00, 0x00, 0x03});
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->csrc_count(), 2u);
  EXPECT_EQ(v->csrc(0), 0x11111111u);
  EXPECT_EQ(v->csrc(1), 0x22222222u);
  EXPECT_EQ(v->header_size(), 20u);
  EXPECT_EQ(v->padding_size(), 3u);
  ASSERT_EQ(v->payload_size(), 1u);
  EXPECT_EQ(v->payload()[0], 0x55);
}

TEST(RtpPacketViewTest, PaddingOnlyPacket) {
  // A probe: payload entirely padding (count includes itself).
  auto p = Bytes({0xA0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 4});
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->payload_size(), 0u);
  EXPECT_EQ(v->padding_size(), 4u);
}

TEST(RtpPacketViewTest, RejectsMalformedHeaders) {
  EXPECT_EQ(RtpPacketView::Parse(Bytes({0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0})).error().code,
            ErrorCode::kTruncated);
  // Version 1.
  EXPECT_EQ(RtpPacketView::Parse(Bytes({0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9})).error().code,
            ErrorCode::kMalformed);
  // CC=1 but no CSRC.
  EXPECT_FALSE(RtpPacketView::Parse(Bytes({0x81, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9})).ok());
  // X=1 without the extension header, and with a length past the end.
  EXPECT_FALSE(RtpPacketView::Parse(Bytes({0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xBE})).ok());
  EXPECT_FALSE(RtpPacketView::Parse(Bytes({0x90, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xBE, 0xDE, 0, 1})).ok());
  // Padding count 0, and padding reaching into the header.
  EXPECT_FALSE(RtpPacketView::Parse(Bytes({0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0x55, 0})).ok());
  EXPECT_FALSE(RtpPacketView::Parse(Bytes({0xA0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0x55, 3})).ok());
  // Too large for UDP.
  std::vector<uint8_t> huge(kMaxPacketSize + 1, 0);
  huge[0] = 0x80;
  EXPECT_EQ(RtpPacketView::Parse(huge).error().code, ErrorCode::kLimitExceeded);
}

TEST(RtpPacketViewTest, OneByteExtensionsRfc8285Example) {
  // RFC 8285 §4.2 figure: ID 1 (1 byte), ID 2 (2 bytes), two padding bytes, ID 3 (4 bytes); length = 3 words.
  const auto p = Bytes({0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,    0,    9,  // header, X=1
                        0xBE, 0xDE, 0x00, 0x03,  // profile, length 3
                        0x10, 0xA1, 0x21, 0xB1, 0xB2, 0x00, 0x00, 0x33, 0xC1, 0xC2, 0xC3, 0xC4,  // elements
                        0x99});                                                                  // payload
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_EQ(v->extension_form(), ExtensionForm::kOneByte);
  EXPECT_EQ(v->extension_profile(), kOneByteExtensionProfile);
  ASSERT_EQ(v->extensions().size(), 3u);
  EXPECT_FALSE(v->extensions_truncated());
  ASSERT_TRUE(v->GetExtension(1));
  EXPECT_EQ(v->GetExtension(1)->data(), &p[17]);
  EXPECT_EQ(v->GetExtension(1)->size(), 1u);
  auto e2 = v->GetExtension(2);
  ASSERT_TRUE(e2);
  ASSERT_EQ(e2->size(), 2u);
  EXPECT_EQ((*e2)[1], 0xB2);
  auto e3 = v->GetExtension(3);
  ASSERT_TRUE(e3);
  ASSERT_EQ(e3->size(), 4u);
  EXPECT_EQ((*e3)[3], 0xC4);
  EXPECT_FALSE(v->GetExtension(4));
  EXPECT_EQ(v->header_size(), 28u);
  ASSERT_EQ(v->payload_size(), 1u);
  EXPECT_EQ(v->payload()[0], 0x99);
}

TEST(RtpPacketViewTest, TwoByteExtensionsRfc8285Example) {
  // RFC 8285 §4.3 figure: ID 1 with L=0, ID 2 with 1 byte, a padding byte, ID 3 with 4 bytes.
  const auto p = Bytes({0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,    0,    9,  //
                        0x10, 0x00, 0x00, 0x03,                                               //
                        0x01, 0x00, 0x02, 0x01, 0xD1, 0x00, 0x03, 0x04, 0xE1, 0xE2, 0xE3, 0xE4});
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok()) << v.error().ToString();
  EXPECT_EQ(v->extension_form(), ExtensionForm::kTwoByte);
  ASSERT_EQ(v->extensions().size(), 3u);
  EXPECT_EQ(v->GetExtension(1)->size(), 0u);  // zero-length values exist in the two-byte form
  EXPECT_EQ((*v->GetExtension(2))[0], 0xD1);
  EXPECT_EQ((*v->GetExtension(3))[0], 0xE1);
  EXPECT_EQ(v->payload_size(), 0u);
}

TEST(RtpPacketViewTest, OneByteId15StopsAndOverrunTruncates) {
  // RFC 8285 §4.2: ID 15 ends processing; the element after it is not indexed.
  auto p = Bytes({0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0xF0, 0x20});
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->extensions().size(), 1u);
  EXPECT_FALSE(v->GetExtension(2));
  // An element claiming 16 bytes in a 4-byte block: the packet stays, the element is dropped and flagged.
  p = Bytes({0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x2F, 0x00});
  v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->extensions().size(), 1u);
  EXPECT_TRUE(v->extensions_truncated());
}

TEST(RtpPacketViewTest, UnknownProfileKeptRaw) {
  const auto p = Bytes({0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0x12, 0x34, 0x00, 0x01, 1, 2, 3, 4, 0x77});
  auto v = RtpPacketView::Parse(p);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->extension_form(), ExtensionForm::kOther);
  EXPECT_EQ(v->extension_profile(), 0x1234);
  EXPECT_EQ(v->extension_block().size(), 4u);
  EXPECT_TRUE(v->extensions().empty());
  EXPECT_EQ(v->payload()[0], 0x77);
}

TEST(RtpPacketViewTest, TooManyElementsRefused) {
  // 33 one-byte elements of 1 byte in a two-byte-form block: past kMaxExtensionElements.
  std::vector<uint8_t> p = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0x10, 0x00, 0x00, 0x00};
  for (int i = 0; i < 33; ++i) {
    p.push_back(static_cast<uint8_t>(i + 1));
    p.push_back(1);
    p.push_back(0xAB);
  }
  while ((p.size() - 16) % 4 != 0) p.push_back(0);
  StoreBe16(&p[14], static_cast<uint16_t>((p.size() - 16) / 4));
  EXPECT_EQ(RtpPacketView::Parse(p).error().code, ErrorCode::kLimitExceeded);
}

TEST(RtpPacketBuilderTest, RoundTripWithOneByteExtensions) {
  RtpPacketBuilder b;
  b.SetMarker(true).SetPayloadType(96).SetSequenceNumber(65535).SetTimestamp(90000).SetSsrc(0xCAFEBABE);
  ASSERT_TRUE(b.AddCsrc(7));
  const uint8_t tcc[] = {0x01, 0x02};
  const uint8_t mid[] = {'0'};
  ASSERT_TRUE(b.SetExtension(5, tcc));
  ASSERT_TRUE(b.SetExtension(9, mid));
  EXPECT_EQ(b.extension_form(), ExtensionForm::kOneByte);
  // 12 + 4 (CSRC) + 4 (ext header) + (1+2 + 1+1 = 5, padded to 8).
  EXPECT_EQ(b.HeaderSize(), 28u);
  const uint8_t payload[] = {1, 2, 3, 4, 5};
  std::vector<uint8_t> buf(1500);
  auto n = b.Build(buf, payload);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 33u);
  auto v = RtpPacketView::Parse(ByteSpan(buf).first(*n));
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->marker());
  EXPECT_EQ(v->payload_type(), 96);
  EXPECT_EQ(v->sequence_number(), 65535);
  EXPECT_EQ(v->timestamp(), 90000u);
  EXPECT_EQ(v->ssrc(), 0xCAFEBABEu);
  EXPECT_EQ(v->csrc(0), 7u);
  EXPECT_EQ(LoadBe16(v->GetExtension(5)->data()), 0x0102);
  EXPECT_EQ((*v->GetExtension(9))[0], '0');
  EXPECT_EQ(v->payload_size(), 5u);
  EXPECT_EQ(v->payload()[4], 5);
  // One-byte element headers: ID 5 with L = 1 (2 bytes), as RFC 8285 §4.2 encodes length - 1.
  EXPECT_EQ(buf[20], 0x51);
}

TEST(RtpPacketBuilderTest, TwoByteFormWhenNeededOrForced) {
  RtpPacketBuilder b;
  b.SetSsrc(1);
  const uint8_t empty[1] = {0};
  ASSERT_TRUE(b.SetExtension(20, ByteSpan(empty, 0)));  // id > 14 and zero length: two-byte only
  EXPECT_EQ(b.extension_form(), ExtensionForm::kTwoByte);
  std::vector<uint8_t> buf(100);
  auto n = b.Build(buf, {});
  ASSERT_TRUE(n.ok());
  auto v = RtpPacketView::Parse(ByteSpan(buf).first(*n));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->extension_form(), ExtensionForm::kTwoByte);
  ASSERT_TRUE(v->GetExtension(20));
  EXPECT_EQ(v->GetExtension(20)->size(), 0u);

  RtpPacketBuilder c;
  const uint8_t x[] = {0x42};
  ASSERT_TRUE(c.SetExtension(1, x));
  c.UseTwoByteExtensions(true);
  n = c.Build(buf, {});
  ASSERT_TRUE(n.ok());
  v = RtpPacketView::Parse(ByteSpan(buf).first(*n));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->extension_form(), ExtensionForm::kTwoByte);
  EXPECT_EQ((*v->GetExtension(1))[0], 0x42);
}

TEST(RtpPacketBuilderTest, ReplaceRemoveLimitsAndPadding) {
  RtpPacketBuilder b;
  const uint8_t a[] = {1, 2, 3};
  const uint8_t c[] = {9};
  ASSERT_TRUE(b.SetExtension(3, a));
  ASSERT_TRUE(b.SetExtension(4, c));
  ASSERT_TRUE(b.SetExtension(3, c));  // replace: storage is compacted
  EXPECT_TRUE(b.RemoveExtension(4));
  EXPECT_FALSE(b.RemoveExtension(4));
  EXPECT_FALSE(b.SetExtension(0, a));  // id 0 is padding
  std::vector<uint8_t> big(256, 1);
  EXPECT_FALSE(b.SetExtension(7, big));
  for (int i = 0; i < 15; ++i) b.AddCsrc(static_cast<uint32_t>(i));
  EXPECT_FALSE(b.AddCsrc(99));

  std::vector<uint8_t> buf(200);
  const uint8_t payload[] = {7, 7};
  auto n = b.Build(buf, payload, 4);
  ASSERT_TRUE(n.ok());
  auto v = RtpPacketView::Parse(ByteSpan(buf).first(*n));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->csrc_count(), 15u);
  EXPECT_EQ((*v->GetExtension(3))[0], 9);
  EXPECT_FALSE(v->GetExtension(4));
  EXPECT_EQ(v->padding_size(), 4u);
  EXPECT_EQ(v->payload_size(), 2u);
  // A buffer too small is refused.
  std::vector<uint8_t> tiny(20);
  EXPECT_EQ(b.Build(tiny, payload).error().code, ErrorCode::kLimitExceeded);
}

TEST(RtpPacketRewriteTest, HeaderFieldsAndExtensionInPlace) {
  RtpPacketBuilder b;
  b.SetPayloadType(100).SetSequenceNumber(1).SetTimestamp(2).SetSsrc(3).SetMarker(false);
  const uint8_t tcc[] = {0, 0};
  b.SetExtension(3, tcc);
  std::vector<uint8_t> buf(64);
  const size_t n = *b.Build(buf, AsBytes("hi"));
  MutableByteSpan packet(buf.data(), n);
  WriteMarker(packet, true);
  WritePayloadType(packet, 101);
  WriteSequenceNumber(packet, 0xBEEF);
  WriteTimestamp(packet, 0x01020304);
  WriteSsrc(packet, 0x0A0B0C0D);
  auto v = RtpPacketView::Parse(packet);
  ASSERT_TRUE(v.ok());
  MutableByteSpan ext = MutableExtension(packet, *v, 3);
  ASSERT_EQ(ext.size(), 2u);
  StoreBe16(ext.data(), 777);
  EXPECT_TRUE(MutableExtension(packet, *v, 4).empty());
  v = RtpPacketView::Parse(packet);
  EXPECT_TRUE(v->marker());
  EXPECT_EQ(v->payload_type(), 101);
  EXPECT_EQ(v->sequence_number(), 0xBEEF);
  EXPECT_EQ(v->timestamp(), 0x01020304u);
  EXPECT_EQ(v->ssrc(), 0x0A0B0C0Du);
  EXPECT_EQ(LoadBe16(v->GetExtension(3)->data()), 777);
  EXPECT_EQ(AsStringView(v->payload()), "hi");
}

TEST(SequenceTest, IsNewerAndForwardDiff) {
  EXPECT_TRUE(IsNewerSequenceNumber(1, 0));
  EXPECT_TRUE(IsNewerSequenceNumber(0, 65535));  // wrapped
  EXPECT_FALSE(IsNewerSequenceNumber(65535, 0));
  EXPECT_FALSE(IsNewerSequenceNumber(5, 5));
  // Exactly half apart: the larger value is newer, and the relation stays antisymmetric.
  EXPECT_TRUE(IsNewerSequenceNumber(0x8000, 0));
  EXPECT_FALSE(IsNewerSequenceNumber(0, 0x8000));
  EXPECT_EQ(ForwardDiff<uint16_t>(2, 65534), 4);
  EXPECT_EQ(ForwardDiff<uint16_t>(65534, 2), -4);
  EXPECT_TRUE(IsNewerTimestamp(10, 0xFFFFFFF0u));
}

TEST(SequenceTest, UnwrapperForwardBackwardAndAcrossWraps) {
  SeqNumUnwrapper u;
  EXPECT_EQ(u.Unwrap(65530), 65530);
  EXPECT_EQ(u.Unwrap(65535), 65535);
  EXPECT_EQ(u.Unwrap(3), 65539);       // wrapped forward
  EXPECT_EQ(u.Unwrap(65534), 65534);   // reordered back across the wrap
  EXPECT_EQ(u.PeekUnwrap(10), 65546);  // peek does not move the reference
  EXPECT_EQ(u.Unwrap(10), 65546);
  // Many cycles: 100 wraps forward in steps of 30000.
  SeqNumUnwrapper v;
  int64_t expected = v.Unwrap(0);
  for (int i = 0; i < 1000; ++i) {
    expected += 30000;
    EXPECT_EQ(v.Unwrap(static_cast<uint16_t>(expected)), expected);
  }
  RtpTimestampUnwrapper t;
  EXPECT_EQ(t.Unwrap(0xFFFFFF00u), 0xFFFFFF00ll);
  EXPECT_EQ(t.Unwrap(0x100u), 0x100000100ll);
}

}  // namespace
}  // namespace tandem::rtp
