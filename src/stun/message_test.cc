#include "stun/message.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/crypto.h"

namespace tandem::stun {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Hex as the RFCs print it (spaces and line breaks ignored) to bytes.
int Nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::vector<uint8_t> Hex(std::string_view text) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : text) {
    const int v = Nibble(c);
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi << 4 | v));
      hi = -1;
    }
  }
  EXPECT_EQ(hi, -1) << "odd number of hex digits";
  return out;
}

TransactionId Tid(std::string_view hex) {
  auto b = Hex(hex);
  TransactionId t{};
  EXPECT_EQ(b.size(), t.size());
  std::memcpy(t.data(), b.data(), t.size());
  return t;
}

SocketAddress Addr(std::string_view text) {
  auto a = SocketAddress::Parse(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(SocketAddress());
}

MessageView ParseOk(ByteSpan bytes) {
  auto r = MessageView::Parse(bytes);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? *r : MessageView();
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 5769 test vectors.

// RFC 5769 §2.1. Note the USERNAME padding is three 0x20 bytes, not zeros: receivers must ignore padding but
// it is covered by MESSAGE-INTEGRITY and FINGERPRINT.
const std::vector<uint8_t> kSampleRequest = Hex(R"(
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf)");

// RFC 5769 §2.2.
const std::vector<uint8_t> kSampleIpv4Response = Hex(R"(
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96)");

// RFC 5769 §2.3.
const std::vector<uint8_t> kSampleIpv6Response = Hex(R"(
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c)");

// RFC 5769 §2.4.
const std::vector<uint8_t> kSampleLongTermRequest = Hex(R"(
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66)");

// RFC 8489 Appendix B.1 as corrected by verified erratum 6268. The published text has a wrong message length
// (0x9c), a PASSWORD-ALGORITHM value of 0x0002 with a bad layout and an HMAC that does not verify; the
// erratum fixes the length to 0x90 and the MESSAGE-INTEGRITY-SHA256 value. Every byte below is checked by the
// test: USERHASH against UserHash(), the HMAC against LongTermKey(SHA-256), and the whole message against our
// own builder.
const std::vector<uint8_t> kRfc8489B1 = Hex(R"(
  00 01 00 90 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 1e 00 20 4a 3c f3 8f ef 69 92 bd a9 52 c6 78 04 17 da 0f 24 81 94 15 56 9e 60 b2 05 c4 6e 41 40 7f 17 04
  00 15 00 29 6f 62 4d 61 74 4a 6f 73 32 41 41 41 43 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39
              46 53 54 76 79 36 34 73 41 00 00 00
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 1d 00 04 00 02 00 00
  00 1c 00 20 b5 c7 bf 00 5b 6c 52 a2 1c 51 c5 e8 92 f8 19 24 13 62 96 cb 92 7c 43 14 93 09 27 8c c6 51 8e 65)");

constexpr std::string_view kShortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt";
// "<U+30DE><U+30C8><U+30EA><U+30C3><U+30AF><U+30B9>" in UTF-8.
constexpr std::string_view kMatrixUser =
    "\xe3\x83\x9e\xe3\x83\x88\xe3\x83\xaa\xe3\x83\x83\xe3\x82\xaf\xe3\x82\xb9";
// "The<U+00AD>M<U+00AA>tr<U+2168>" after SASLprep / OpaqueString.
constexpr std::string_view kMatrixPassword = "TheMatrIX";

TEST(StunRfc5769, SampleRequest) {
  MessageView m = ParseOk(kSampleRequest);
  EXPECT_EQ(m.method(), Method::kBinding);
  EXPECT_EQ(m.message_class(), MessageClass::kRequest);
  EXPECT_EQ(m.transaction_id(), Tid("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"));
  EXPECT_EQ(m.GetString(attr::kSoftware), "STUN test client");
  EXPECT_EQ(m.GetU32(attr::kPriority), 0x6e0001ffu);
  EXPECT_EQ(m.GetU64(attr::kIceControlled), 0x932ff9b151263b36u);
  EXPECT_EQ(m.GetString(attr::kUsername), "evtj:h6vY");
  EXPECT_EQ(m.attributes().size(), 6u);
  EXPECT_TRUE(m.VerifyMessageIntegrity(AsBytes(kShortTermPassword)));
  EXPECT_FALSE(m.VerifyMessageIntegrity(AsBytes("VOkJxbRl1RmTxUk/WvJxBT")));
  EXPECT_FALSE(m.VerifyMessageIntegritySha256(AsBytes(kShortTermPassword)));  // absent
  EXPECT_TRUE(m.HasValidFingerprint());
}

TEST(StunRfc5769, SampleIpv4Response) {
  MessageView m = ParseOk(kSampleIpv4Response);
  EXPECT_EQ(m.method(), Method::kBinding);
  EXPECT_EQ(m.message_class(), MessageClass::kSuccessResponse);
  EXPECT_EQ(m.GetString(attr::kSoftware), "test vector");
  EXPECT_EQ(m.GetXorAddress(attr::kXorMappedAddress), Addr("192.0.2.1:32853"));
  EXPECT_TRUE(m.VerifyMessageIntegrity(AsBytes(kShortTermPassword)));
  EXPECT_TRUE(m.HasValidFingerprint());

  // Our encoding of the same address is the vector's, byte for byte.
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kSuccessResponse, m.transaction_id())
      .AddXorAddress(attr::kXorMappedAddress, Addr("192.0.2.1:32853"));
  EXPECT_EQ(out[0], 0x01);
  EXPECT_EQ(out[1], 0x01);
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 20, out.end()), Hex("00 20 00 08 00 01 a1 47 e1 12 a6 43"));
}

TEST(StunRfc5769, SampleIpv6Response) {
  MessageView m = ParseOk(kSampleIpv6Response);
  EXPECT_EQ(m.message_class(), MessageClass::kSuccessResponse);
  EXPECT_EQ(m.GetXorAddress(attr::kXorMappedAddress), Addr("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_TRUE(m.VerifyMessageIntegrity(AsBytes(kShortTermPassword)));
  EXPECT_TRUE(m.HasValidFingerprint());

  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kSuccessResponse, m.transaction_id())
      .AddXorAddress(attr::kXorMappedAddress, Addr("[2001:db8:1234:5678:11:2233:4455:6677]:32853"));
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 20, out.end()),
            Hex("00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9"));
}

TEST(StunRfc5769, SampleRequestWithLongTermAuthentication) {
  MessageView m = ParseOk(kSampleLongTermRequest);
  EXPECT_EQ(m.GetString(attr::kUsername), kMatrixUser);
  EXPECT_EQ(m.GetString(attr::kNonce), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m.GetString(attr::kRealm), "example.org");
  EXPECT_FALSE(m.HasValidFingerprint());  // this vector has none

  const std::vector<uint8_t> key = LongTermKey(kMatrixUser, "example.org", kMatrixPassword);
  ASSERT_EQ(key.size(), 16u);
  EXPECT_TRUE(m.VerifyMessageIntegrity(key));
  EXPECT_FALSE(m.VerifyMessageIntegrity(LongTermKey(kMatrixUser, "example.org", "thematrix")));
  EXPECT_FALSE(m.VerifyMessageIntegrity(
      LongTermKey(kMatrixUser, "example.org", kMatrixPassword, PasswordAlgorithm::kSha256)));

  // With zero padding throughout, this vector is exactly what our builder produces.
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kRequest, m.transaction_id())
      .AddString(attr::kUsername, kMatrixUser)
      .AddString(attr::kNonce, "f//499k954d6OL34oL9FSTvy64sA")
      .AddString(attr::kRealm, "example.org")
      .AddMessageIntegrity(key);
  EXPECT_EQ(out, kSampleLongTermRequest);
}

// Flipping any single bit must break MESSAGE-INTEGRITY for every byte it covers and FINGERPRINT for every
// byte of the message (CRC-32 detects all single-bit errors), or make the message unparseable.
void ExpectEveryBitFlipDetected(const std::vector<uint8_t>& message, ByteSpan key) {
  const MessageView original = ParseOk(message);
  const RawAttribute* mi = original.Find(attr::kMessageIntegrity);
  const RawAttribute* fp = original.Find(attr::kFingerprint);
  ASSERT_NE(mi, nullptr);
  for (size_t i = 0; i < message.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> copy = message;
      copy[i] ^= static_cast<uint8_t>(1 << bit);
      auto r = MessageView::Parse(copy);
      if (!r.ok()) continue;
      if (i < mi->offset + 4u + 20u) {
        EXPECT_FALSE(r->VerifyMessageIntegrity(key)) << "byte " << i << " bit " << bit;
      }
      if (fp != nullptr) {
        EXPECT_FALSE(r->HasValidFingerprint()) << "byte " << i << " bit " << bit;
      }
    }
  }
}

TEST(StunRfc5769, EverySingleBitFlipIsDetected) {
  ExpectEveryBitFlipDetected(kSampleRequest, AsBytes(kShortTermPassword));
  ExpectEveryBitFlipDetected(kSampleIpv4Response, AsBytes(kShortTermPassword));
  ExpectEveryBitFlipDetected(kSampleIpv6Response, AsBytes(kShortTermPassword));
  const auto key = LongTermKey(kMatrixUser, "example.org", kMatrixPassword);
  ExpectEveryBitFlipDetected(kSampleLongTermRequest, key);
}

TEST(StunRfc5769, OneFlippedByteFailsIntegrityAndFingerprint) {
  std::vector<uint8_t> copy = kSampleRequest;
  copy[30] ^= 0xff;  // inside SOFTWARE
  MessageView m = ParseOk(copy);
  EXPECT_EQ(m.GetString(attr::kSoftware).value_or("").size(), 16u);
  EXPECT_FALSE(m.VerifyMessageIntegrity(AsBytes(kShortTermPassword)));
  EXPECT_FALSE(m.HasValidFingerprint());
}

// ---------------------------------------------------------------------------------------------------------------
// RFC 8489 Appendix B.1 (with erratum 6268).

TEST(StunRfc8489, AppendixB1Sha256WithUserhash) {
  MessageView m = ParseOk(kRfc8489B1);
  EXPECT_EQ(m.method(), Method::kBinding);
  EXPECT_EQ(m.message_class(), MessageClass::kRequest);
  const auto userhash = UserHash(kMatrixUser, "example.org");
  ASSERT_TRUE(m.GetBytes(attr::kUserhash).has_value());
  EXPECT_TRUE(std::equal(userhash.begin(), userhash.end(), m.GetBytes(attr::kUserhash)->begin(),
                         m.GetBytes(attr::kUserhash)->end()));
  EXPECT_EQ(crypto::HexEncode(userhash), "4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704");
  EXPECT_EQ(m.GetString(attr::kNonce), "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m.GetString(attr::kRealm), "example.org");
  EXPECT_EQ(m.GetPasswordAlgorithm(), PasswordAlgorithm::kSha256);

  const auto key = LongTermKey(kMatrixUser, "example.org", kMatrixPassword, PasswordAlgorithm::kSha256);
  ASSERT_EQ(key.size(), 32u);
  EXPECT_TRUE(m.VerifyMessageIntegritySha256(key));
  EXPECT_FALSE(m.VerifyMessageIntegritySha256(LongTermKey(kMatrixUser, "example.org", kMatrixPassword)));
  EXPECT_FALSE(m.VerifyMessageIntegrity(key));  // no SHA-1 MESSAGE-INTEGRITY in this message

  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kRequest, m.transaction_id())
      .AddBytes(attr::kUserhash, userhash)
      .AddString(attr::kNonce, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
      .AddString(attr::kRealm, "example.org")
      .AddPasswordAlgorithm(PasswordAlgorithm::kSha256)
      .AddMessageIntegritySha256(key);
  EXPECT_EQ(out, kRfc8489B1);
}

// ---------------------------------------------------------------------------------------------------------------
// Integrity details.

// Appends MESSAGE-INTEGRITY-SHA256 truncated to `n` bytes, computed as a sender would (length counting it).
void AppendTruncatedSha256(std::vector<uint8_t>& out, ByteSpan key, size_t n) {
  std::vector<uint8_t> copy = out;
  StoreBe16(&copy[2], static_cast<uint16_t>(copy.size() - kHeaderSize + 4 + ((n + 3) & ~size_t{3})));
  const auto mac = crypto::HmacSha256(key, copy);
  const size_t tlv = out.size();
  out.push_back(0x00);
  out.push_back(0x1c);
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(n));
  for (size_t i = 0; i < n; ++i) out.push_back(i < mac.size() ? mac[i] : 0);
  while ((out.size() - tlv) % 4 != 0) out.push_back(0);
  StoreBe16(&out[2], static_cast<uint16_t>(out.size() - kHeaderSize));
}

TEST(StunIntegrity, TruncatedSha256) {
  const auto key = AsBytes("secret-key");
  const TransactionId tid = Tid("000102030405060708090a0b");
  for (size_t n : {16u, 20u, 24u, 28u, 32u}) {
    std::vector<uint8_t> out;
    MessageBuilder(out, Method::kBinding, MessageClass::kRequest, tid).AddString(attr::kUsername, "user");
    AppendTruncatedSha256(out, key, n);
    MessageView m = ParseOk(out);
    EXPECT_TRUE(m.VerifyMessageIntegritySha256(key)) << n;
    EXPECT_FALSE(m.VerifyMessageIntegritySha256(AsBytes("other-key"))) << n;
  }
  for (size_t n : {0u, 4u, 12u, 18u, 33u, 36u}) {
    std::vector<uint8_t> out;
    MessageBuilder(out, Method::kBinding, MessageClass::kRequest, tid).AddString(attr::kUsername, "user");
    AppendTruncatedSha256(out, key, n);
    MessageView m = ParseOk(out);
    EXPECT_FALSE(m.VerifyMessageIntegritySha256(key)) << n;
  }
}

TEST(StunIntegrity, BothIntegritiesAndFingerprint) {
  const auto key = AsBytes("k3y");
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kRequest, Tid("aabbccddeeff001122334455"))
      .AddRequestedTransport(kTransportUdp)
      .AddString(attr::kUsername, "alice")
      .AddMessageIntegrity(key)
      .AddMessageIntegritySha256(key)
      .AddFingerprint();
  MessageView m = ParseOk(out);
  EXPECT_TRUE(m.VerifyMessageIntegrity(key));
  EXPECT_TRUE(m.VerifyMessageIntegritySha256(key));
  EXPECT_TRUE(m.HasValidFingerprint());
  EXPECT_FALSE(m.VerifyMessageIntegrity(AsBytes("k3Y")));
  EXPECT_FALSE(m.VerifyMessageIntegritySha256(AsBytes("k3Y")));
}

TEST(StunIntegrity, EmptyKeyNeverVerifies) {
  std::vector<uint8_t> out;
  MessageBuilder b(out, Method::kBinding, MessageClass::kRequest, TransactionId{});
  EXPECT_THROW(b.AddMessageIntegrity({}), std::invalid_argument);
  EXPECT_THROW(b.AddMessageIntegritySha256({}), std::invalid_argument);
  // A message an attacker MACed with the empty key.
  std::vector<uint8_t> copy = out;
  StoreBe16(&copy[2], 24);
  const auto mac = crypto::HmacSha1(AsBytes("x").first(0), copy);
  b.AddBytes(attr::kMessageIntegrity, mac);
  MessageView m = ParseOk(out);
  EXPECT_FALSE(m.VerifyMessageIntegrity({}));
}

TEST(StunIntegrity, AttributesAfterIntegrityAreIgnored) {
  const auto key = AsBytes("key");
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kSend, MessageClass::kIndication, Tid("0102030405060708090a0b0c"))
      .AddU32(attr::kLifetime, 600)
      .AddMessageIntegrity(key)
      .AddString(attr::kSoftware, "injected")  // ignored: after MESSAGE-INTEGRITY
      .AddU32(attr::kLifetime, 0)              // ignored, so the first LIFETIME stays the only one
      .AddMessageIntegrity(AsBytes("other"))   // a second MESSAGE-INTEGRITY is ignored too
      .AddMessageIntegritySha256(key)          // kept
      .AddBytes(0x0031, AsBytes("unk"))        // ignored: after MESSAGE-INTEGRITY-SHA256
      .AddMessageIntegrity(key)                // ignored
      .AddFingerprint();                       // kept
  MessageView m = ParseOk(out);
  std::vector<uint16_t> types;
  for (const auto& a : m.attributes()) types.push_back(a.type);
  EXPECT_THAT(types, ElementsAre(attr::kLifetime, attr::kMessageIntegrity, attr::kMessageIntegritySha256,
                                 attr::kFingerprint));
  EXPECT_FALSE(m.Has(attr::kSoftware));
  EXPECT_EQ(m.GetU32(attr::kLifetime), 600u);
  // MESSAGE-INTEGRITY-SHA256's length adjustment covers the ignored attributes before it.
  EXPECT_TRUE(m.VerifyMessageIntegrity(key));
  EXPECT_TRUE(m.VerifyMessageIntegritySha256(key));
  EXPECT_TRUE(m.HasValidFingerprint());
  EXPECT_THAT(m.UnknownComprehensionRequired(std::vector<uint16_t>{attr::kLifetime}),
              ElementsAre(attr::kMessageIntegrity, attr::kMessageIntegritySha256));
  // 0x0031 follows MESSAGE-INTEGRITY-SHA256, so it is not even seen.
  EXPECT_THAT(m.UnknownComprehensionRequired(std::vector<uint16_t>{attr::kLifetime, attr::kMessageIntegrity,
                                                                   attr::kMessageIntegritySha256}),
              IsEmpty());
}

TEST(StunIntegrity, FingerprintMustBeLastAndWellFormed) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kRequest, TransactionId{})
      .AddBytes(attr::kFingerprint, Hex("00 00 00 00 00 00 00 00"));
  EXPECT_FALSE(ParseOk(out).HasValidFingerprint());

  std::vector<uint8_t> ok;
  MessageBuilder(ok, Method::kBinding, MessageClass::kRequest, TransactionId{}).AddFingerprint();
  EXPECT_TRUE(ParseOk(ok).HasValidFingerprint());
  // Fingerprint of an empty Binding request: CRC over the 20-byte header only.
  std::vector<uint8_t> header(ok.begin(), ok.begin() + 20);
  EXPECT_EQ(LoadBe32(&ok[24]), crypto::Crc32(header) ^ 0x5354554eu);
}

TEST(StunIntegrity, OffsetsBeyond64KiB) {
  // A TCP-framed message can be 65552 bytes; attributes past 65535 must still verify.
  const auto key = AsBytes("key");
  std::vector<uint8_t> data(65496, 0x5a);  // 4 + 65496 + 24 + 8 = 65532, the largest body
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kSend, MessageClass::kIndication, TransactionId{})
      .AddBytes(attr::kData, data)
      .AddMessageIntegrity(key)
      .AddFingerprint();
  ASSERT_GT(out.size(), 65535u);
  MessageView m = ParseOk(out);
  EXPECT_GT(m.Find(attr::kFingerprint)->offset, 65535u);
  EXPECT_TRUE(m.VerifyMessageIntegrity(key));
  EXPECT_TRUE(m.HasValidFingerprint());
}

// ---------------------------------------------------------------------------------------------------------------
// Header.

TEST(StunHeader, MethodAndClassInterleaving) {
  struct Case {
    Method method;
    MessageClass cls;
    uint16_t type;
  };
  // RFC 8489 §5 and §6 examples, RFC 8656 §17.
  const Case cases[] = {
      {Method::kBinding, MessageClass::kRequest, 0x0001},
      {Method::kBinding, MessageClass::kIndication, 0x0011},
      {Method::kBinding, MessageClass::kSuccessResponse, 0x0101},
      {Method::kBinding, MessageClass::kErrorResponse, 0x0111},
      {Method::kAllocate, MessageClass::kRequest, 0x0003},
      {Method::kAllocate, MessageClass::kErrorResponse, 0x0113},
      {Method::kRefresh, MessageClass::kSuccessResponse, 0x0104},
      {Method::kSend, MessageClass::kIndication, 0x0016},
      {Method::kData, MessageClass::kIndication, 0x0017},
      {Method::kCreatePermission, MessageClass::kRequest, 0x0008},
      {Method::kChannelBind, MessageClass::kSuccessResponse, 0x0109},
      {Method::kConnect, MessageClass::kRequest, 0x000a},
      {Method::kConnectionBind, MessageClass::kErrorResponse, 0x011b},
      {Method::kConnectionAttempt, MessageClass::kIndication, 0x001c},
      {static_cast<Method>(0x0FFF), MessageClass::kErrorResponse, 0x3FFF},
      {static_cast<Method>(0x0080), MessageClass::kRequest, 0x0200},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> out;
    const TransactionId tid = Tid("0102030405060708090a0b0c");
    MessageBuilder(out, c.method, c.cls, tid);
    ASSERT_EQ(out.size(), 20u);
    EXPECT_EQ(LoadBe16(&out[0]), c.type) << ToString(c.method);
    EXPECT_EQ(LoadBe16(&out[2]), 0);
    EXPECT_EQ(LoadBe32(&out[4]), kMagicCookie);
    MessageView m = ParseOk(out);
    EXPECT_EQ(m.method(), c.method);
    EXPECT_EQ(m.method_value(), static_cast<uint16_t>(c.method));
    EXPECT_EQ(m.message_class(), c.cls);
    EXPECT_EQ(m.transaction_id(), tid);
    EXPECT_TRUE(m.attributes().empty());
  }
  std::vector<uint8_t> out;
  EXPECT_THROW(MessageBuilder(out, static_cast<Method>(0x1000), MessageClass::kRequest, TransactionId{}),
               std::invalid_argument);
}

TEST(StunHeader, Names) {
  EXPECT_STREQ(ToString(Method::kBinding), "Binding");
  EXPECT_STREQ(ToString(Method::kChannelBind), "ChannelBind");
  EXPECT_STREQ(ToString(Method::kConnectionAttempt), "ConnectionAttempt");
  EXPECT_STREQ(ToString(static_cast<Method>(0x0123)), "unknown");
  EXPECT_STREQ(attr::Name(attr::kXorMappedAddress), "XOR-MAPPED-ADDRESS");
  EXPECT_STREQ(attr::Name(attr::kMessageIntegritySha256), "MESSAGE-INTEGRITY-SHA256");
  EXPECT_STREQ(attr::Name(attr::kOtherAddress), "OTHER-ADDRESS");
  EXPECT_STREQ(attr::Name(0x7777), "unknown");
  EXPECT_STREQ(error::DefaultReason(error::kStaleNonce), "Stale Nonce");
  EXPECT_STREQ(error::DefaultReason(error::kUnauthorized), "Unauthenticated");
  EXPECT_STREQ(error::DefaultReason(error::kAllocationQuotaReached), "Allocation Quota Reached");
  EXPECT_STREQ(error::DefaultReason(error::kInsufficientCapacity), "Insufficient Capacity");
  EXPECT_STREQ(error::DefaultReason(699), "Unknown Error");
  EXPECT_TRUE(attr::IsComprehensionRequired(attr::kXorPeerAddress));
  EXPECT_FALSE(attr::IsComprehensionRequired(attr::kSoftware));
}

TEST(StunHeader, LooksLikeStun) {
  EXPECT_TRUE(MessageView::LooksLikeStun(kSampleRequest));
  std::vector<uint8_t> b = kSampleRequest;
  b[0] |= 0x40;
  EXPECT_FALSE(MessageView::LooksLikeStun(b));
  b = kSampleRequest;
  b[7] ^= 1;
  EXPECT_FALSE(MessageView::LooksLikeStun(b));
  b = kSampleRequest;
  b[3] = 0x59;
  EXPECT_FALSE(MessageView::LooksLikeStun(b));
  EXPECT_FALSE(MessageView::LooksLikeStun(ByteSpan(kSampleRequest).first(19)));
  // A ChannelData message (RFC 8656 §12.4) starts with 0x40..0x4F.
  EXPECT_FALSE(
      MessageView::LooksLikeStun(Hex("40 00 00 04 21 12 a4 42 00 00 00 00 00 00 00 00 00 00 00 00")));
}

// ---------------------------------------------------------------------------------------------------------------
// Rejections.

std::vector<uint8_t> SmallMessage() {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kRequest, Tid("0102030405060708090a0b0c"))
      .AddString(attr::kSoftware, "abcde")
      .AddU32(attr::kPriority, 7);
  return out;
}

ErrorCode ParseError(ByteSpan bytes) {
  auto r = MessageView::Parse(bytes);
  EXPECT_FALSE(r.ok());
  return r.ok() ? ErrorCode::kInternal : r.error().code;
}

TEST(StunReject, ShortHeader) {
  const auto good = SmallMessage();
  EXPECT_EQ(ParseError({}), ErrorCode::kTruncated);
  EXPECT_EQ(ParseError(ByteSpan(good).first(19)), ErrorCode::kTruncated);
}

TEST(StunReject, BadCookie) {
  auto b = SmallMessage();
  b[4] = 0x21;
  b[5] = 0x13;
  EXPECT_EQ(ParseError(b), ErrorCode::kMalformed);
}

TEST(StunReject, TopBitsSet) {
  for (uint8_t bits : {0x80, 0x40, 0xC0}) {
    auto b = SmallMessage();
    b[0] |= bits;
    EXPECT_EQ(ParseError(b), ErrorCode::kMalformed) << int{bits};
  }
}

TEST(StunReject, BadLength) {
  auto b = SmallMessage();
  StoreBe16(&b[2], LoadBe16(&b[2]) + 2);  // not a multiple of 4
  EXPECT_EQ(ParseError(b), ErrorCode::kMalformed);
  b = SmallMessage();
  StoreBe16(&b[2], LoadBe16(&b[2]) + 4);  // longer than the buffer
  EXPECT_EQ(ParseError(b), ErrorCode::kTruncated);
  b = SmallMessage();
  StoreBe16(&b[2], LoadBe16(&b[2]) - 4);  // bytes after the message
  EXPECT_EQ(ParseError(b), ErrorCode::kMalformed);
  b = SmallMessage();
  b.insert(b.end(), {0, 0, 0, 0});  // trailing bytes in the datagram
  EXPECT_EQ(ParseError(b), ErrorCode::kMalformed);
}

TEST(StunReject, TruncatedAttribute) {
  // The message (and its length) ends inside SOFTWARE's value.
  auto b = SmallMessage();
  b.resize(20 + 4 + 4);
  StoreBe16(&b[2], 8);
  EXPECT_EQ(ParseError(b), ErrorCode::kTruncated);
}

TEST(StunReject, AttributePastEnd) {
  auto b = SmallMessage();
  StoreBe16(&b[20 + 12 + 2], 5);  // PRIORITY claims 5 bytes, only 4 remain
  EXPECT_EQ(ParseError(b), ErrorCode::kTruncated);
  b = SmallMessage();
  StoreBe16(&b[22], 0xFFFF);  // SOFTWARE claims far more than the message
  EXPECT_EQ(ParseError(b), ErrorCode::kTruncated);
}

TEST(StunReject, TooManyAttributes) {
  std::vector<uint8_t> out;
  MessageBuilder b(out, Method::kBinding, MessageClass::kIndication, TransactionId{});
  for (size_t i = 0; i < kMaxAttributes; ++i) b.AddEmpty(attr::kUseCandidate);
  EXPECT_EQ(ParseOk(out).attributes().size(), kMaxAttributes);
  b.AddEmpty(attr::kUseCandidate);
  EXPECT_EQ(ParseError(out), ErrorCode::kLimitExceeded);
}

TEST(StunReject, AttributeAfterFingerprint) {
  std::vector<uint8_t> out;
  MessageBuilder b(out, Method::kBinding, MessageClass::kRequest, TransactionId{});
  b.AddFingerprint();
  EXPECT_THROW(b.AddU32(attr::kPriority, 1), std::logic_error);
  // Append one by hand, as a peer might.
  out.insert(out.end(), {0x00, 0x24, 0x00, 0x04, 0, 0, 0, 1});
  StoreBe16(&out[2], static_cast<uint16_t>(out.size() - 20));
  EXPECT_EQ(ParseError(out), ErrorCode::kMalformed);
}

TEST(StunReject, UnknownComprehensionRequired) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kRequest, TransactionId{})
      .AddRequestedTransport(kTransportUdp)
      .AddBytes(0x0031, AsBytes("x"))   // unknown, comprehension-required
      .AddBytes(0x8031, AsBytes("y"))   // unknown, comprehension-optional: ignored
      .AddBytes(0x7FFF, AsBytes("z"))   // unknown, required
      .AddBytes(0x0031, AsBytes("x2"))  // reported once
      .AddString(attr::kUsername, "u");
  MessageView m = ParseOk(out);
  const uint16_t known[] = {attr::kRequestedTransport, attr::kUsername, attr::kLifetime};
  EXPECT_THAT(m.UnknownComprehensionRequired(known), ElementsAre(0x0031, 0x7FFF));
  const uint16_t all[] = {attr::kRequestedTransport, attr::kUsername, 0x0031, 0x7FFF};
  EXPECT_THAT(m.UnknownComprehensionRequired(all), IsEmpty());
}

// ---------------------------------------------------------------------------------------------------------------
// Round trips of every attribute.

const TransactionId kTid = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8};

TEST(StunRoundTrip, PlainAddresses) {
  for (uint16_t type :
       {attr::kMappedAddress, attr::kResponseAddress, attr::kSourceAddress, attr::kChangedAddress,
        attr::kAlternateServer, attr::kResponseOrigin, attr::kOtherAddress}) {
    for (std::string_view text :
         {"203.0.113.9:3478", "[2001:db8::7]:65535", "0.0.0.0:0", "[::ffff:1.2.3.4]:1"}) {
      const SocketAddress a = Addr(text);
      std::vector<uint8_t> out;
      MessageBuilder(out, Method::kBinding, MessageClass::kSuccessResponse, kTid).AddAddress(type, a);
      MessageView m = ParseOk(out);
      EXPECT_EQ(m.GetAddress(type), a) << attr::Name(type) << " " << text;
      EXPECT_EQ(m.Find(type)->value.size(), a.ip().is_v4() ? 8u : 20u);
      EXPECT_EQ(m.Find(type)->value[0], 0);
    }
  }
}

TEST(StunRoundTrip, XorAddresses) {
  for (uint16_t type : {attr::kXorMappedAddress, attr::kXorPeerAddress, attr::kXorRelayedAddress}) {
    for (std::string_view text :
         {"192.0.2.1:32853", "[2001:db8:1234:5678:11:2233:4455:6677]:32853", "10.0.0.1:1"}) {
      const SocketAddress a = Addr(text);
      std::vector<uint8_t> out;
      MessageBuilder(out, Method::kAllocate, MessageClass::kSuccessResponse, kTid).AddXorAddress(type, a);
      MessageView m = ParseOk(out);
      EXPECT_EQ(m.GetXorAddress(type), a) << attr::Name(type) << " " << text;
      // On the wire it is XORed, and XorAddress is its own inverse.
      EXPECT_EQ(m.GetAddress(type), XorAddress(a, kTid));
      EXPECT_NE(m.GetAddress(type), a);
      EXPECT_EQ(XorAddress(XorAddress(a, kTid), kTid), a);
    }
  }
}

TEST(StunRoundTrip, AllXorPeerAddresses) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kCreatePermission, MessageClass::kRequest, kTid)
      .AddXorAddress(attr::kXorPeerAddress, Addr("192.0.2.1:1"))
      .AddBytes(attr::kXorPeerAddress, Hex("00 03 00 01 01 02 03 04"))  // unknown family
      .AddXorAddress(attr::kXorPeerAddress, Addr("[2001:db8::1]:2"))
      .AddXorAddress(attr::kXorPeerAddress, Addr("192.0.2.3:3"));
  MessageView m = ParseOk(out);
  std::array<SocketAddress, 8> all;
  bool malformed = false;
  ASSERT_EQ(m.GetAllXorAddresses(attr::kXorPeerAddress, all, &malformed), 3u);
  EXPECT_TRUE(malformed);
  EXPECT_EQ(all[0], Addr("192.0.2.1:1"));
  EXPECT_EQ(all[1], Addr("[2001:db8::1]:2"));
  EXPECT_EQ(all[2], Addr("192.0.2.3:3"));
  std::array<SocketAddress, 2> two;
  EXPECT_EQ(m.GetAllXorAddresses(attr::kXorPeerAddress, two), 2u);
  EXPECT_EQ(two[1], Addr("[2001:db8::1]:2"));
  EXPECT_EQ(m.GetAllXorAddresses(attr::kXorRelayedAddress, all, &malformed), 0u);
  EXPECT_FALSE(malformed);
}

TEST(StunRoundTrip, Integers) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kSuccessResponse, kTid)
      .AddU32(attr::kLifetime, 600)
      .AddU32(attr::kPriority, 0x6e0001ff)
      .AddU32(attr::kConnectionId, 0xfeedface)
      .AddU32(attr::kResponsePort, 3479u << 16)
      .AddU32(attr::kCacheTimeout, 60)
      .AddU32(attr::kTransactionTransmitCounter, 0x0102)
      .AddU64(attr::kIceControlled, 0x932ff9b151263b36ull)
      .AddU64(attr::kIceControlling, 0xffffffffffffffffull)
      .AddU64(attr::kReservationToken, 0x0102030405060708ull)
      .AddU64(attr::kIcmp, 0x0000030100000000ull);
  MessageView m = ParseOk(out);
  EXPECT_EQ(m.GetU32(attr::kLifetime), 600u);
  EXPECT_EQ(m.GetU32(attr::kPriority), 0x6e0001ffu);
  EXPECT_EQ(m.GetU32(attr::kConnectionId), 0xfeedfaceu);
  EXPECT_EQ(m.GetU32(attr::kResponsePort), 3479u << 16);
  EXPECT_EQ(m.GetU32(attr::kCacheTimeout), 60u);
  EXPECT_EQ(m.GetU32(attr::kTransactionTransmitCounter), 0x0102u);
  EXPECT_EQ(m.GetU64(attr::kIceControlled), 0x932ff9b151263b36ull);
  EXPECT_EQ(m.GetU64(attr::kIceControlling), 0xffffffffffffffffull);
  EXPECT_EQ(m.GetU64(attr::kReservationToken), 0x0102030405060708ull);
  EXPECT_EQ(m.GetU64(attr::kIcmp), 0x0000030100000000ull);
  EXPECT_EQ(m.GetU32(attr::kIceControlled), std::nullopt);  // wrong width
  EXPECT_EQ(m.GetU64(attr::kLifetime), std::nullopt);
  EXPECT_EQ(m.GetU32(attr::kFingerprint), std::nullopt);  // absent
}

TEST(StunRoundTrip, StringsBytesAndEmpty) {
  std::vector<uint8_t> data = {0, 1, 2, 3, 4, 5, 6};
  std::vector<uint8_t> padding(17, 0);
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kSend, MessageClass::kIndication, kTid)
      .AddString(attr::kUsername, "evtj:h6vY")
      .AddString(attr::kRealm, "example.org")
      .AddString(attr::kNonce, "f//499k954d6OL34oL9FSTvy64sA")
      .AddString(attr::kSoftware, "tandem 0.1")
      .AddString(attr::kAlternateDomain, "turn.example.org")
      .AddBytes(attr::kData, data)
      .AddBytes(attr::kUserhash, UserHash("u", "r"))
      .AddBytes(attr::kPadding, padding)
      .AddEmpty(attr::kDontFragment)
      .AddEmpty(attr::kUseCandidate)
      .AddString(attr::kData, "");  // a second, empty DATA: Find returns the first
  MessageView m = ParseOk(out);
  EXPECT_EQ(m.GetString(attr::kUsername), "evtj:h6vY");
  EXPECT_EQ(m.GetString(attr::kRealm), "example.org");
  EXPECT_EQ(m.GetString(attr::kNonce), "f//499k954d6OL34oL9FSTvy64sA");
  EXPECT_EQ(m.GetString(attr::kSoftware), "tandem 0.1");
  EXPECT_EQ(m.GetString(attr::kAlternateDomain), "turn.example.org");
  ASSERT_TRUE(m.GetBytes(attr::kData));
  EXPECT_EQ(std::vector<uint8_t>(m.GetBytes(attr::kData)->begin(), m.GetBytes(attr::kData)->end()), data);
  const auto uh = UserHash("u", "r");
  EXPECT_TRUE(std::equal(uh.begin(), uh.end(), m.GetBytes(attr::kUserhash)->begin()));
  EXPECT_EQ(m.GetBytes(attr::kPadding)->size(), 17u);
  EXPECT_TRUE(m.Has(attr::kDontFragment));
  EXPECT_EQ(m.GetBytes(attr::kUseCandidate)->size(), 0u);
  EXPECT_FALSE(m.Has(attr::kEvenPort));
  // Every attribute is padded to 4 with zeros and the header length covers it all.
  EXPECT_EQ(out.size() % 4, 0u);
  EXPECT_EQ(LoadBe16(&out[2]), out.size() - 20);
  const RawAttribute* d = m.Find(attr::kData);
  EXPECT_EQ(out[d->offset + 4 + 7], 0);
}

TEST(StunRoundTrip, StringLimits) {
  const std::string long_ok(763, 'a');
  const std::string too_long(764, 'a');
  for (uint16_t type : {attr::kUsername, attr::kRealm, attr::kNonce, attr::kSoftware}) {
    std::vector<uint8_t> out;
    MessageBuilder(out, Method::kBinding, MessageClass::kRequest, kTid).AddString(type, long_ok);
    EXPECT_EQ(ParseOk(out).GetString(type), long_ok);
    MessageBuilder(out, Method::kBinding, MessageClass::kRequest, kTid).AddString(type, too_long);
    EXPECT_EQ(ParseOk(out).GetString(type), std::nullopt) << attr::Name(type);
    EXPECT_EQ(ParseOk(out).GetBytes(type)->size(), 764u);  // still reachable raw
  }
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kRequest, kTid)
      .AddString(attr::kAlternateDomain, std::string(256, 'd'));
  EXPECT_EQ(ParseOk(out).GetString(attr::kAlternateDomain), std::nullopt);
}

TEST(StunRoundTrip, ErrorCode) {
  for (uint16_t code :
       {300, 400, 401, 403, 420, 437, 438, 440, 441, 442, 443, 446, 447, 486, 487, 500, 508, 699}) {
    std::vector<uint8_t> out;
    MessageBuilder(out, Method::kAllocate, MessageClass::kErrorResponse, kTid).AddErrorCode(code);
    auto e = ParseOk(out).GetErrorCode();
    ASSERT_TRUE(e) << code;
    EXPECT_EQ(e->code, code);
    EXPECT_EQ(e->reason, error::DefaultReason(code));
  }
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kErrorResponse, kTid)
      .AddErrorCode(438, "Nonce expired");
  // RFC 8489 §14.8 layout: 21 zero bits, class 4, number 38.
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 20, out.begin() + 28), Hex("00 09 00 11 00 00 04 26"));
  auto e = ParseOk(out).GetErrorCode();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, 438);
  EXPECT_EQ(e->reason, "Nonce expired");

  EXPECT_THROW(MessageBuilder(out, Method::kAllocate, MessageClass::kErrorResponse, kTid).AddErrorCode(299),
               std::invalid_argument);
  EXPECT_THROW(MessageBuilder(out, Method::kAllocate, MessageClass::kErrorResponse, kTid).AddErrorCode(700),
               std::invalid_argument);
}

TEST(StunRoundTrip, ErrorCodeReasonCutAtUtf8Boundary) {
  // 762 ASCII bytes then a 2-byte character: 764 bytes, cut to 762 rather than splitting the character.
  std::string reason(762, 'r');
  reason += "\xc3\xa9";
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kErrorResponse, kTid).AddErrorCode(400, reason);
  auto e = ParseOk(out).GetErrorCode();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, std::string(762, 'r'));
  // 761 + 2-byte character = 763: kept whole.
  reason = std::string(761, 'r') + "\xc3\xa9";
  MessageBuilder(out, Method::kBinding, MessageClass::kErrorResponse, kTid).AddErrorCode(400, reason);
  EXPECT_EQ(ParseOk(out).GetErrorCode()->reason, reason);
}

TEST(StunRoundTrip, UnknownAttributes) {
  const uint16_t types[] = {0x0031, 0x7FFF, 0x0002};
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kErrorResponse, kTid)
      .AddErrorCode(error::kUnknownAttribute)
      .AddUnknownAttributes(types);
  MessageView m = ParseOk(out);
  EXPECT_THAT(m.GetUnknownAttributes(), ElementsAre(0x0031, 0x7FFF, 0x0002));
  // RFC 8489 §14.13: ordinary zero padding, not RFC 3489's repeated last type.
  const RawAttribute* a = m.Find(attr::kUnknownAttributes);
  EXPECT_EQ(a->value.size(), 6u);
  EXPECT_EQ(out[a->offset + 4 + 6], 0);
  EXPECT_EQ(out[a->offset + 4 + 7], 0);
}

TEST(StunRoundTrip, TurnAttributes) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kRequest, kTid)
      .AddChannelNumber(0x4001)
      .AddRequestedTransport(kTransportUdp)
      .AddAddressFamily(attr::kRequestedAddressFamily, kFamilyIPv6)
      .AddAddressFamily(attr::kAdditionalAddressFamily, kFamilyIPv6)
      .AddEvenPort(true)
      .AddAddressErrorCode(kFamilyIPv4, error::kInsufficientCapacity);
  MessageView m = ParseOk(out);
  EXPECT_EQ(m.GetChannelNumber(), 0x4001);
  EXPECT_EQ(m.GetRequestedTransport(), kTransportUdp);
  EXPECT_EQ(m.GetAddressFamily(attr::kRequestedAddressFamily), kFamilyIPv6);
  EXPECT_EQ(m.GetAddressFamily(attr::kAdditionalAddressFamily), kFamilyIPv6);
  EXPECT_EQ(m.GetEvenPortReserve(), true);
  auto aec = m.GetAddressErrorCode();
  ASSERT_TRUE(aec);
  EXPECT_EQ(aec->family, kFamilyIPv4);
  EXPECT_EQ(aec->code, 508);
  EXPECT_EQ(aec->reason, "Insufficient Capacity");

  // Wire layouts (RFC 8656 §18.1, §18.8, §18.6, §18.7, §18.12).
  auto value_of = [&](uint16_t type) {
    const RawAttribute* a = m.Find(type);
    return std::vector<uint8_t>(a->value.begin(), a->value.end());
  };
  EXPECT_EQ(value_of(attr::kChannelNumber), Hex("40 01 00 00"));
  EXPECT_EQ(value_of(attr::kRequestedTransport), Hex("11 00 00 00"));
  EXPECT_EQ(value_of(attr::kRequestedAddressFamily), Hex("02 00 00 00"));
  EXPECT_EQ(value_of(attr::kEvenPort), Hex("80"));
  EXPECT_EQ(out[m.Find(attr::kEvenPort)->offset + 5], 0);  // padding
  const std::vector<uint8_t> aec_value = value_of(attr::kAddressErrorCode);
  EXPECT_EQ(aec_value.size(), 4u + 21u);
  EXPECT_EQ(std::vector<uint8_t>(aec_value.begin(), aec_value.begin() + 4), Hex("01 00 05 08"));

  MessageBuilder(out, Method::kAllocate, MessageClass::kRequest, kTid)
      .AddEvenPort(false)
      .AddRequestedTransport(kTransportTcp)
      .AddAddressErrorCode(kFamilyIPv6, 440, "no v6");
  MessageView m2 = ParseOk(out);
  EXPECT_EQ(m2.GetEvenPortReserve(), false);
  EXPECT_EQ(m2.GetRequestedTransport(), kTransportTcp);
  EXPECT_EQ(m2.GetAddressErrorCode()->family, kFamilyIPv6);
  EXPECT_EQ(m2.GetAddressErrorCode()->code, 440);
  EXPECT_EQ(m2.GetAddressErrorCode()->reason, "no v6");
  EXPECT_EQ(m2.GetChannelNumber(), std::nullopt);
}

TEST(StunRoundTrip, ChangeRequest) {
  for (bool ip : {false, true}) {
    for (bool port : {false, true}) {
      std::vector<uint8_t> out;
      MessageBuilder(out, Method::kBinding, MessageClass::kRequest, kTid).AddChangeRequest(ip, port);
      MessageView m = ParseOk(out);
      auto cr = m.GetChangeRequest();
      ASSERT_TRUE(cr);
      EXPECT_EQ(cr->change_ip, ip);
      EXPECT_EQ(cr->change_port, port);
      EXPECT_EQ(m.GetU32(attr::kChangeRequest), (ip ? 4u : 0u) | (port ? 2u : 0u));
    }
  }
}

TEST(StunRoundTrip, PasswordAlgorithms) {
  const PasswordAlgorithm algorithms[] = {PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5};
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kErrorResponse, kTid)
      .AddPasswordAlgorithm(PasswordAlgorithm::kMd5)
      .AddPasswordAlgorithms(algorithms);
  MessageView m = ParseOk(out);
  EXPECT_EQ(m.GetPasswordAlgorithm(), PasswordAlgorithm::kMd5);
  EXPECT_THAT(m.GetPasswordAlgorithms(), ElementsAre(PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5));
  EXPECT_EQ(std::vector<uint8_t>(m.Find(attr::kPasswordAlgorithms)->value.begin(),
                                 m.Find(attr::kPasswordAlgorithms)->value.end()),
            Hex("00 02 00 00 00 01 00 00"));
  EXPECT_EQ(std::vector<uint8_t>(m.Find(attr::kPasswordAlgorithm)->value.begin(),
                                 m.Find(attr::kPasswordAlgorithm)->value.end()),
            Hex("00 01 00 00"));
}

TEST(StunRoundTrip, PasswordAlgorithmsWithParameters) {
  // Unknown algorithms and parameters (padded inside the list) are carried through as received.
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kErrorResponse, kTid)
      .AddBytes(attr::kPasswordAlgorithms, Hex("00 07 00 03 aa bb cc 00 00 02 00 00 00 09 00 01 dd"))
      .AddBytes(attr::kPasswordAlgorithm, Hex("00 09 00 01 dd"));
  MessageView m = ParseOk(out);
  EXPECT_THAT(m.GetPasswordAlgorithms(),
              ElementsAre(static_cast<PasswordAlgorithm>(7), PasswordAlgorithm::kSha256,
                          static_cast<PasswordAlgorithm>(9)));
  EXPECT_EQ(m.GetPasswordAlgorithm(), static_cast<PasswordAlgorithm>(9));
}

TEST(StunRoundTrip, MessageBuilderReusesBuffer) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kBinding, MessageClass::kRequest, kTid)
      .AddString(attr::kSoftware, "first message");
  const size_t cap = out.capacity();
  MessageBuilder b(out, Method::kBinding, MessageClass::kSuccessResponse, kTid);
  EXPECT_EQ(out.size(), 20u);
  EXPECT_EQ(out.capacity(), cap);
  const ByteSpan finished = b.AddU32(attr::kLifetime, 1).Finish();
  EXPECT_EQ(finished.data(), out.data());
  EXPECT_EQ(finished.size(), 28u);
}

// ---------------------------------------------------------------------------------------------------------------
// Getter validation.

MessageView WithValue(std::vector<uint8_t>& storage, uint16_t type, std::string_view hex) {
  MessageBuilder(storage, Method::kBinding, MessageClass::kSuccessResponse, kTid).AddBytes(type, Hex(hex));
  return ParseOk(storage);
}

TEST(StunGetters, AddressLengthsMustMatchFamily) {
  std::vector<uint8_t> s;
  EXPECT_TRUE(WithValue(s, attr::kMappedAddress, "00 01 00 01 01 02 03 04").GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(WithValue(s, attr::kMappedAddress, "00 01 00 01 01 02 03").GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(
      WithValue(s, attr::kMappedAddress, "00 01 00 01 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10")
          .GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(
      WithValue(s, attr::kMappedAddress, "00 02 00 01 01 02 03 04").GetAddress(attr::kMappedAddress));
  EXPECT_TRUE(
      WithValue(s, attr::kMappedAddress, "00 02 00 01 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10")
          .GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(
      WithValue(s, attr::kMappedAddress, "00 03 00 01 01 02 03 04").GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(
      WithValue(s, attr::kMappedAddress, "00 00 00 01 01 02 03 04").GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(WithValue(s, attr::kMappedAddress, "00 01 00").GetAddress(attr::kMappedAddress));
  EXPECT_FALSE(WithValue(s, attr::kXorMappedAddress, "00 02 00 01 01 02 03 04")
                   .GetXorAddress(attr::kXorMappedAddress));
  EXPECT_FALSE(WithValue(s, attr::kXorMappedAddress, "").GetXorAddress(attr::kXorMappedAddress));
  // The first byte must be ignored by receivers (RFC 8489 §14.1).
  EXPECT_EQ(WithValue(s, attr::kMappedAddress, "ff 01 00 01 01 02 03 04").GetAddress(attr::kMappedAddress),
            Addr("1.2.3.4:1"));
}

TEST(StunGetters, FixedWidthValues) {
  std::vector<uint8_t> s;
  EXPECT_FALSE(WithValue(s, attr::kLifetime, "00 00 02").GetU32(attr::kLifetime));
  EXPECT_FALSE(WithValue(s, attr::kLifetime, "00 00 02 58 00").GetU32(attr::kLifetime));
  EXPECT_FALSE(WithValue(s, attr::kIceControlling, "00 00 00 00 00 00 00").GetU64(attr::kIceControlling));
  EXPECT_FALSE(WithValue(s, attr::kChannelNumber, "40 00").GetChannelNumber());
  EXPECT_EQ(WithValue(s, attr::kChannelNumber, "40 00 ff ff").GetChannelNumber(), 0x4000);  // RFFU ignored
  EXPECT_FALSE(WithValue(s, attr::kRequestedTransport, "11").GetRequestedTransport());
  EXPECT_FALSE(
      WithValue(s, attr::kRequestedAddressFamily, "01 00").GetAddressFamily(attr::kRequestedAddressFamily));
  EXPECT_EQ(WithValue(s, attr::kRequestedAddressFamily, "03 00 00 00")
                .GetAddressFamily(attr::kRequestedAddressFamily),
            3);  // unknown family is the server's 440, not a parse failure
  EXPECT_FALSE(WithValue(s, attr::kEvenPort, "80 00 00 00").GetEvenPortReserve());
  EXPECT_FALSE(WithValue(s, attr::kEvenPort, "").GetEvenPortReserve());
  EXPECT_EQ(WithValue(s, attr::kEvenPort, "7f").GetEvenPortReserve(), false);
  EXPECT_FALSE(WithValue(s, attr::kChangeRequest, "00 00 06").GetChangeRequest());
}

TEST(StunGetters, ErrorCodeValidation) {
  std::vector<uint8_t> s;
  EXPECT_FALSE(WithValue(s, attr::kErrorCode, "00 00 04").GetErrorCode());
  EXPECT_FALSE(WithValue(s, attr::kErrorCode, "00 00 02 00").GetErrorCode());  // class 2
  EXPECT_FALSE(WithValue(s, attr::kErrorCode, "00 00 07 00").GetErrorCode());  // class 7
  EXPECT_FALSE(WithValue(s, attr::kErrorCode, "00 00 04 64").GetErrorCode());  // number 100
  EXPECT_EQ(WithValue(s, attr::kErrorCode, "ff ff fc 00").GetErrorCode()->code,
            400);  // reserved bits ignored
  EXPECT_EQ(WithValue(s, attr::kErrorCode, "00 00 06 63").GetErrorCode()->code, 699);
  EXPECT_EQ(WithValue(s, attr::kErrorCode, "00 00 03 00").GetErrorCode()->reason, "");
  std::vector<uint8_t> out;
  std::vector<uint8_t> value = {0, 0, 4, 0};
  value.resize(4 + 764, 'x');
  MessageBuilder(out, Method::kBinding, MessageClass::kErrorResponse, kTid).AddBytes(attr::kErrorCode, value);
  EXPECT_FALSE(ParseOk(out).GetErrorCode());
  EXPECT_FALSE(WithValue(s, attr::kAddressErrorCode, "03 00 04 00").GetAddressErrorCode());  // family 3
  EXPECT_FALSE(
      WithValue(s, attr::kAddressErrorCode, "01 00 09 00").GetAddressErrorCode());  // class 1 (9 & 7)
  EXPECT_FALSE(WithValue(s, attr::kAddressErrorCode, "01 00 04").GetAddressErrorCode());
}

TEST(StunGetters, ListValidation) {
  std::vector<uint8_t> s;
  EXPECT_THAT(WithValue(s, attr::kUnknownAttributes, "00 31 00").GetUnknownAttributes(), IsEmpty());
  EXPECT_THAT(WithValue(s, attr::kUnknownAttributes, "").GetUnknownAttributes(), IsEmpty());
  EXPECT_THAT(WithValue(s, attr::kPasswordAlgorithms, "00 01 00 04 00 00").GetPasswordAlgorithms(),
              IsEmpty());
  EXPECT_THAT(WithValue(s, attr::kPasswordAlgorithms, "00 01 00 00 00 02").GetPasswordAlgorithms(),
              IsEmpty());
  EXPECT_FALSE(WithValue(s, attr::kPasswordAlgorithm, "00 01 00 01").GetPasswordAlgorithm());
  EXPECT_FALSE(WithValue(s, attr::kPasswordAlgorithm, "00 01").GetPasswordAlgorithm());
}

// ---------------------------------------------------------------------------------------------------------------
// Builder misuse and credentials.

TEST(StunBuilder, Limits) {
  std::vector<uint8_t> out;
  MessageBuilder b(out, Method::kSend, MessageClass::kIndication, kTid);
  EXPECT_THROW(b.AddBytes(attr::kData, std::vector<uint8_t>(0x10000)), std::length_error);
  EXPECT_EQ(out.size(), 20u);                                 // nothing written
  b.AddBytes(attr::kData, std::vector<uint8_t>(0xFFFC - 4));  // exactly fills the 16-bit length
  EXPECT_EQ(LoadBe16(&out[2]), 0xFFFC);
  EXPECT_THROW(b.AddEmpty(attr::kDontFragment), std::length_error);
  EXPECT_TRUE(MessageView::Parse(out).ok());
  EXPECT_THROW(MessageBuilder(out, Method::kBinding, MessageClass::kRequest, kTid)
                   .AddAddress(attr::kMappedAddress, {}),
               std::invalid_argument);
}

TEST(StunCredentials, LongTermKeyAndUserHash) {
  // MD5("user:realm:pass") and SHA-256 of the same, computed independently.
  EXPECT_EQ(crypto::HexEncode(LongTermKey("user", "realm", "pass")), "8493fbc53ba582fb4c044c456bdc40eb");
  EXPECT_EQ(crypto::HexEncode(LongTermKey("user", "realm", "pass", PasswordAlgorithm::kSha256)),
            crypto::HexEncode(crypto::Sha256(AsBytes("user:realm:pass"))));
  EXPECT_EQ(UserHash("user", "realm"), crypto::Sha256(AsBytes("user:realm")));
  EXPECT_THROW(LongTermKey("u", "r", "p", static_cast<PasswordAlgorithm>(3)), std::invalid_argument);
}

}  // namespace
}  // namespace tandem::stun
