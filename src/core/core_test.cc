#include <gtest/gtest.h>

#include "core/bytes.h"
#include "core/crypto.h"
#include "core/demux.h"
#include "core/rng.h"
#include "core/socket_address.h"

namespace tandem {
namespace {

TEST(SocketAddress, ParsesAndPrintsV4AndV6) {
  auto a = SocketAddress::Parse("192.0.2.1:3478");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ToString(), "192.0.2.1:3478");
  auto b = SocketAddress::Parse("[2001:db8::1]:443");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->ip().is_v6());
  EXPECT_EQ(b->ToString(), "[2001:db8::1]:443");
  EXPECT_FALSE(SocketAddress::Parse("2001:db8::1:443"));
  EXPECT_FALSE(SocketAddress::Parse("1.2.3.4:70000"));
  EXPECT_FALSE(SocketAddress::Parse("1.2.3.4"));
}

TEST(SocketAddress, SockaddrRoundTrip) {
  for (const char* text : {"10.1.2.3:9", "[fe80::1]:65535"}) {
    auto a = *SocketAddress::Parse(text);
    sockaddr_storage ss;
    socklen_t len = a.ToSockaddr(&ss);
    auto back = SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, a);
  }
}

TEST(IpAddress, Classification) {
  auto ip = [](const char* s) { return *IpAddress::Parse(s); };
  EXPECT_TRUE(ip("127.0.0.5").IsLoopback());
  EXPECT_TRUE(ip("::1").IsLoopback());
  EXPECT_TRUE(ip("::ffff:127.0.0.1").IsLoopback());
  EXPECT_TRUE(ip("10.0.0.1").IsPrivate());
  EXPECT_TRUE(ip("172.31.255.1").IsPrivate());
  EXPECT_FALSE(ip("172.32.0.1").IsPrivate());
  EXPECT_TRUE(ip("192.168.1.1").IsPrivate());
  EXPECT_TRUE(ip("100.64.0.1").IsPrivate());
  EXPECT_TRUE(ip("fd00::1").IsPrivate());
  EXPECT_TRUE(ip("169.254.1.1").IsLinkLocal());
  EXPECT_TRUE(ip("fe80::2").IsLinkLocal());
  EXPECT_TRUE(ip("239.1.1.1").IsMulticast());
  EXPECT_TRUE(ip("ff02::1").IsMulticast());
  EXPECT_TRUE(ip("0.0.0.0").IsUnspecified());
  EXPECT_TRUE(ip("::").IsUnspecified());
  EXPECT_FALSE(ip("8.8.8.8").IsPrivate());
  EXPECT_TRUE(ip("10.1.2.3").InPrefix(ip("10.0.0.0"), 8));
  EXPECT_FALSE(ip("11.1.2.3").InPrefix(ip("10.0.0.0"), 8));
}

TEST(Crypto, KnownVectors) {
  // RFC 2202 test case 2 for HMAC-SHA1.
  auto mac = crypto::HmacSha1(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"));
  EXPECT_EQ(crypto::HexEncode(mac), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(crypto::Crc32(AsBytes("123456789")), 0xCBF43926u);
  EXPECT_EQ(crypto::Crc32c(AsBytes("123456789")), 0xE3069283u);
  EXPECT_EQ(crypto::Base64Encode(AsBytes("foob")), "Zm9vYg==");
  EXPECT_EQ(*crypto::Base64Decode("Zm9vYg=="), "foob");
  EXPECT_FALSE(crypto::Base64Decode("Zm9"));
  auto split = crypto::HmacSha1(AsBytes("Jefe"), AsBytes("what do ya "), AsBytes("want for nothing?"));
  EXPECT_EQ(split, mac);
  // RFC 4231 test case 2 for HMAC-SHA256; repeated calls reuse the per-thread context and must not drift.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(crypto::HexEncode(crypto::HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  EXPECT_EQ(crypto::HexEncode(crypto::Md5(AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(ByteReader, NeverOverruns) {
  uint8_t data[3] = {1, 2, 3};
  ByteReader r(data);
  uint16_t v16;
  uint32_t v32;
  EXPECT_TRUE(r.ReadU16(v16));
  EXPECT_EQ(v16, 0x0102);
  EXPECT_FALSE(r.ReadU32(v32));
  EXPECT_EQ(r.remaining(), 1u);
}

TEST(Demux, Rfc7983Ranges) {
  EXPECT_EQ(ClassifyPacket(0x00), PacketKind::kStun);
  EXPECT_EQ(ClassifyPacket(0x01), PacketKind::kStun);
  EXPECT_EQ(ClassifyPacket(22), PacketKind::kDtls);
  EXPECT_EQ(ClassifyPacket(0x40), PacketKind::kTurnChannel);
  EXPECT_EQ(ClassifyPacket(0x4f), PacketKind::kTurnChannel);
  EXPECT_EQ(ClassifyPacket(0x80), PacketKind::kRtpRtcp);
}

TEST(Rng, SeededIsDeterministic) {
  SeededRng a(42), b(42), c(43);
  EXPECT_EQ(a.NextU64(), b.NextU64());
  EXPECT_NE(a.NextU64(), c.NextU64());
  for (int i = 0; i < 1000; ++i) {
    uint32_t v = a.Uniform(10, 20);
    EXPECT_GE(v, 10u);
    EXPECT_LE(v, 20u);
  }
}

}  // namespace
}  // namespace tandem
