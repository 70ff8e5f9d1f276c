// Pure functions of the TURN core: stream framing, ChannelData, peer policy, token buckets.
#include <gtest/gtest.h>

#include "turn/channel_data.h"
#include "turn/framing.h"
#include "turn/peer_policy.h"
#include "turn/rate_limiter.h"

namespace tandem::turn {
namespace {

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

TEST(FramingTest, StunFrames) {
  std::vector<uint8_t> msg = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42};
  msg.resize(28, 0);
  EXPECT_EQ(*NextFrameLength(ByteSpan(msg).first(3)), 0u);   // need more
  EXPECT_EQ(*NextFrameLength(ByteSpan(msg).first(27)), 0u);  // need more
  EXPECT_EQ(*NextFrameLength(msg), 28u);
  msg.push_back(0x40);  // the start of the next frame does not matter
  EXPECT_EQ(*NextFrameLength(msg), 28u);
  std::vector<uint8_t> bad_len = {0x00, 0x01, 0x00, 0x07, 0x21, 0x12, 0xA4, 0x42};
  EXPECT_FALSE(NextFrameLength(bad_len).ok());
  std::vector<uint8_t> no_cookie = {0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00};
  EXPECT_FALSE(NextFrameLength(no_cookie).ok());
  std::vector<uint8_t> largest = {0x00, 0x01, 0xFF, 0xFC, 0x21, 0x12, 0xA4, 0x42};
  EXPECT_EQ(*NextFrameLength(largest), 0u);  // 65552 bytes: allowed, just incomplete
}

TEST(FramingTest, ChannelDataFramesArePadded) {
  std::vector<uint8_t> cd = {0x40, 0x00, 0x00, 0x05, 1, 2, 3, 4, 5, 0, 0};
  EXPECT_EQ(*NextFrameLength(cd), 0u);  // 4 + 5 + 3 padding = 12 needed
  cd.push_back(0);
  EXPECT_EQ(*NextFrameLength(cd), 12u);
  std::vector<uint8_t> empty = {0x4F, 0xFF, 0x00, 0x00};
  EXPECT_EQ(*NextFrameLength(empty), 4u);
  std::vector<uint8_t> max = {0x4F, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(*NextFrameLength(max), 0u);
}

TEST(FramingTest, OtherBytesAreMalformed) {
  for (uint8_t first : {0x80, 0x16, 0xFF, 0x3F}) {
    const uint8_t b[] = {first, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_FALSE(NextFrameLength(b).ok()) << int(first);
  }
  EXPECT_EQ(*NextFrameLength({}), 0u);
}

TEST(ChannelDataTest, ParseAndPadding) {
  const uint8_t cd[] = {0x40, 0x01, 0x00, 0x03, 'a', 'b', 'c', 0};
  auto parsed = ParseChannelData(cd);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->channel, 0x4001);
  EXPECT_EQ(parsed->data.size(), 3u);
  EXPECT_EQ(parsed->data[0], 'a');
  EXPECT_TRUE(ParseChannelData(ByteSpan(cd).first(7)));   // unpadded (UDP)
  EXPECT_FALSE(ParseChannelData(ByteSpan(cd).first(6)));  // truncated
  const uint8_t too_much_tail[] = {0x40, 0x01, 0x00, 0x00, 0, 0, 0, 0};
  EXPECT_FALSE(ParseChannelData(too_much_tail));
  const uint8_t legacy[] = {0x7F, 0xFF, 0x00, 0x00};  // RFC 5766 range: accepted from old clients
  EXPECT_TRUE(ParseChannelData(legacy));
  const uint8_t reserved[] = {0x80, 0x00, 0x00, 0x00};
  EXPECT_FALSE(ParseChannelData(reserved));
  const uint8_t below[] = {0x3F, 0xFF, 0x00, 0x00};
  EXPECT_FALSE(ParseChannelData(below));
  EXPECT_FALSE(ParseChannelData(ByteSpan(cd).first(3)));
  uint8_t head[4];
  WriteChannelDataHeader(head, 0x4FFF, 0x1234);
  EXPECT_EQ(head[0], 0x4F);
  EXPECT_EQ(head[1], 0xFF);
  EXPECT_EQ(head[2], 0x12);
  EXPECT_EQ(head[3], 0x34);
}

TEST(PeerPolicyTest, SecureDefaults) {
  PeerPolicy p;
  EXPECT_TRUE(p.IsAllowed(Ip("93.184.216.34")));
  EXPECT_TRUE(p.IsAllowed(Ip("2606:4700::1111")));
  for (const char* bad :
       {"127.0.0.1", "::1", "10.0.0.1", "172.31.255.255", "192.168.0.1", "100.64.1.1", "fc00::1",
        "169.254.0.1", "fe80::1", "224.0.0.251", "ff02::1", "255.255.255.255", "0.0.0.0", "::", "0.1.2.3",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::127.0.0.1"}) {
    EXPECT_FALSE(p.IsAllowed(Ip(bad))) << bad;
  }
  EXPECT_TRUE(p.IsAllowed(Ip("64:ff9b::93.184.216.34")));
  EXPECT_FALSE(p.IsAllowed(IpAddress()));
}

TEST(PeerPolicyTest, FlagsAndRanges) {
  PeerPolicy p;
  p.allow_loopback = true;
  EXPECT_TRUE(p.IsAllowed(Ip("127.0.0.1")));
  EXPECT_TRUE(p.IsAllowed(Ip("::1")));
  EXPECT_FALSE(p.IsAllowed(Ip("10.0.0.1")));
  p.allow_private = true;
  EXPECT_TRUE(p.IsAllowed(Ip("10.0.0.1")));
  EXPECT_FALSE(p.IsAllowed(Ip("169.254.0.1")));
  p.allow_link_local = true;
  EXPECT_TRUE(p.IsAllowed(Ip("169.254.0.1")));
  EXPECT_FALSE(p.IsAllowed(Ip("224.0.0.1")));  // multicast: never by flags

  PeerPolicy ranges;
  ranges.denied.push_back({Ip("93.184.0.0"), 16});
  ranges.allowed.push_back({Ip("93.184.216.0"), 24});
  ranges.allowed.push_back({Ip("224.0.0.5"), 32});
  EXPECT_FALSE(ranges.IsAllowed(Ip("93.184.1.1")));
  EXPECT_TRUE(ranges.IsAllowed(Ip("93.184.216.34")));  // allowed wins over denied
  EXPECT_TRUE(ranges.IsAllowed(Ip("224.0.0.5")));      // and over the defaults
  EXPECT_TRUE(ranges.IsAllowed(Ip("::ffff:93.184.216.34")));
}

TEST(TokenBucketTest, RefillsAtRateUpToBurst) {
  TokenBucket b(1000, 1000, Timestamp::Seconds(1));
  EXPECT_TRUE(b.TryConsume(600, Timestamp::Seconds(1)));
  EXPECT_FALSE(b.TryConsume(600, Timestamp::Seconds(1)));
  EXPECT_TRUE(b.TryConsume(600, Timestamp::Seconds(1) + TimeDelta::Millis(200)));
  EXPECT_TRUE(b.TryConsume(1000, Timestamp::Seconds(100)));  // capped at burst
  EXPECT_FALSE(b.TryConsume(1, Timestamp::Seconds(100)));
}

TEST(IpRateLimiterTest, BoundedTableAndIpv6Prefix) {
  IpRateLimiter limiter(2, 3);
  const Timestamp t = Timestamp::Seconds(5);
  EXPECT_TRUE(limiter.Allow(Ip("2001:db8:1:2::1"), t));
  EXPECT_TRUE(limiter.Allow(Ip("2001:db8:1:2::2"), t));  // same /64
  EXPECT_FALSE(limiter.Allow(Ip("2001:db8:1:2::3"), t));
  EXPECT_TRUE(limiter.Allow(Ip("2001:db8:1:3::1"), t));
  for (int i = 0; i < 100; ++i) limiter.Allow(IpAddress::V4(0x5db8d800u + i), t);
  EXPECT_LE(limiter.size(), 3u);
  IpRateLimiter unlimited(0, 3);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(unlimited.Allow(Ip("1.2.3.4"), t));
}

}  // namespace
}  // namespace tandem::turn
