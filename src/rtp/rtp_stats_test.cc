// Reception statistics (RFC 3550 Appendix A.1 sequence validation, A.3 loss, A.8 jitter, §6.4.1 LSR/DLSR) and
// sender statistics (SR counters, NTP/RTP mapping, RTT from report blocks).
#include "rtp/rtp_stats.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tandem::rtp {
namespace {

const Timestamp kT0 = Timestamp::Seconds(100);

TEST(RtpReceiveStatisticsTest, ProbationPerAppendixA1) {
  // MIN_SEQUENTIAL = 2: the first packet only starts probation; the second in sequence validates the source
  // and init_seq() makes it the base.
  RtpReceiveStatistics s(1, 90000, 2);
  EXPECT_FALSE(s.OnPacket(kT0, 1000, 0));
  EXPECT_FALSE(s.valid());
  EXPECT_FALSE(s.OnPacket(kT0, 1005, 0));  // not in sequence: probation restarts
  EXPECT_TRUE(s.OnPacket(kT0, 1006, 0));
  EXPECT_TRUE(s.valid());
  EXPECT_EQ(s.received(), 1u);
  EXPECT_EQ(s.expected(), 1);
  EXPECT_TRUE(s.OnPacket(kT0, 1007, 0));
  EXPECT_EQ(s.extended_highest_sequence(), 1007u);
  // MIN_SEQUENTIAL = 1 accepts the first packet at once.
  RtpReceiveStatistics t(1, 90000, 1);
  EXPECT_TRUE(t.OnPacket(kT0, 7, 0));
  EXPECT_TRUE(t.valid());
  EXPECT_EQ(t.received(), 1u);
}

TEST(RtpReceiveStatisticsTest, LossAndFractionPerAppendixA3) {
  RtpReceiveStatistics s(0xAB, 90000);
  for (uint16_t seq = 0; seq < 100; ++seq) {
    if (seq % 10 == 3) continue;  // 10 lost
    s.OnPacket(kT0, seq, seq * 3000u);
  }
  EXPECT_EQ(s.expected(), 100);
  EXPECT_EQ(s.cumulative_lost(), 10);
  ReportBlock b = s.BuildReportBlock(kT0);
  EXPECT_EQ(b.source_ssrc, 0xABu);
  EXPECT_EQ(b.cumulative_lost, 10);
  EXPECT_EQ(b.fraction_lost, (10 << 8) / 100);  // 25
  EXPECT_EQ(b.extended_highest_sequence, 99u);
  // Next interval: 50 more, none lost; one late duplicate of an old one.
  for (uint16_t seq = 100; seq < 150; ++seq) s.OnPacket(kT0, seq, seq * 3000u);
  s.OnPacket(kT0, 120, 0);
  b = s.BuildReportBlock(kT0);
  EXPECT_EQ(b.fraction_lost, 0);
  EXPECT_EQ(b.cumulative_lost, 9);  // the duplicate counts as received (A.3 note: lost may shrink)
  EXPECT_EQ(s.duplicates_or_reordered(), 1u);
  // An interval with nothing new reports fraction 0, not a division by zero.
  EXPECT_EQ(s.BuildReportBlock(kT0).fraction_lost, 0);
}

TEST(RtpReceiveStatisticsTest, WrapAndResyncAfterLargeJump) {
  RtpReceiveStatistics s(1, 90000);
  s.OnPacket(kT0, 65534, 0);
  s.OnPacket(kT0, 65535, 0);
  s.OnPacket(kT0, 0, 0);
  s.OnPacket(kT0, 1, 0);
  EXPECT_EQ(s.extended_highest_sequence(), 65536u + 1);
  EXPECT_EQ(s.cumulative_lost(), 0);
  // A jump of 20000 (beyond MAX_DROPOUT): the first packet is not believed...
  EXPECT_FALSE(s.OnPacket(kT0, 20001, 0));
  EXPECT_EQ(s.extended_highest_sequence(), 65537u);
  // ...the next one in sequence resynchronizes (the source restarted).
  EXPECT_TRUE(s.OnPacket(kT0, 20002, 0));
  EXPECT_EQ(s.extended_highest_sequence(), 20002u);
  EXPECT_EQ(s.received(), 1u);
  EXPECT_EQ(s.cumulative_lost(), 0);
  // A small reorder across the jump is not a jump.
  EXPECT_TRUE(s.OnPacket(kT0, 20004, 0));
  EXPECT_TRUE(s.OnPacket(kT0, 20003, 0));
  EXPECT_EQ(s.cumulative_lost(), 0);
}

TEST(RtpReceiveStatisticsTest, InterarrivalJitterPerAppendixA8) {
  // 8 kHz audio, 20 ms packets (160 samples). Every other packet is delayed 5 ms (40 samples), so |D| = 40
  // after the first two; A.8's estimator J += (|D| - J) / 16 approaches 40.
  RtpReceiveStatistics s(1, 8000);
  double expected = 0;
  for (int i = 0; i < 200; ++i) {
    const Timestamp arrival = kT0 + TimeDelta::Millis(20 * i + (i % 2 ? 5 : 0));
    s.OnPacket(arrival, static_cast<uint16_t>(i), static_cast<uint32_t>(160 * i));
    if (i > 0) expected += (40.0 - expected) / 16.0;
    EXPECT_NEAR(static_cast<double>(s.jitter()), expected, 1.5) << i;
  }
  EXPECT_EQ(s.jitter(), 39u);  // the integer form truncates just below 40
  // Constant transit: jitter decays toward 0.
  RtpReceiveStatistics steady(2, 90000);
  for (int i = 0; i < 50; ++i) {
    steady.OnPacket(kT0 + TimeDelta::Millis(33 * i), static_cast<uint16_t>(i),
                    static_cast<uint32_t>(2970 * i));
  }
  EXPECT_EQ(steady.jitter(), 0u);
  // Retransmissions and same-timestamp packets (one frame) do not feed jitter.
  RtpReceiveStatistics frames(3, 90000);
  frames.OnPacket(kT0, 1, 0);
  frames.OnPacket(kT0 + TimeDelta::Micros(33334), 2, 3000);  // on time
  frames.OnPacket(kT0 + TimeDelta::Millis(60), 3, 3000);     // same frame, 27 ms later: no jitter sample
  frames.OnPacket(kT0 + TimeDelta::Millis(500), 4, 6000, /*retransmission=*/true);
  EXPECT_EQ(frames.jitter(), 0u);
}

TEST(RtpReceiveStatisticsTest, LsrAndDlsr) {
  RtpReceiveStatistics s(1, 90000);
  s.OnPacket(kT0, 1, 0);
  EXPECT_EQ(s.BuildReportBlock(kT0).last_sr, 0u);  // no SR yet
  const NtpTime sr_ntp = NtpTime::FromParts(0x12345678, 0x9ABC0000);
  s.OnSenderReport(kT0, sr_ntp);
  const ReportBlock b = s.BuildReportBlock(kT0 + TimeDelta::Millis(1500));
  EXPECT_EQ(b.last_sr, 0x56789ABCu);
  EXPECT_EQ(b.delay_since_last_sr, 98304u);  // 1.5 s in 1/65536 s
}

TEST(ReceiveStatisticsTest, BoundedAndOnlyValidSourcesReported) {
  ReceiveStatistics all(2);
  RtpReceiveStatistics* a = all.GetOrCreate(1, 90000);
  RtpReceiveStatistics* b = all.GetOrCreate(2, 90000, 2);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(all.GetOrCreate(3, 90000), nullptr);  // bounded
  EXPECT_EQ(all.GetOrCreate(1, 90000), a);
  a->OnPacket(kT0, 1, 0);
  b->OnPacket(kT0, 1, 0);  // still in probation
  auto blocks = all.BuildReportBlocks(kT0);
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].source_ssrc, 1u);
  all.Remove(1);
  EXPECT_EQ(all.Find(1), nullptr);
  EXPECT_NE(all.GetOrCreate(3, 90000), nullptr);
}

TEST(RtpSendStatisticsTest, SenderReportAndRtt) {
  RtpSendStatistics s(0x5555, 90000);
  EXPECT_FALSE(s.BuildSenderReport(kT0, NtpTime::FromUnixMicros(1'700'000'000'000'000)));  // not a sender yet
  s.OnPacketSent(kT0, 1000, 100);
  s.OnPacketSent(kT0 + TimeDelta::Millis(33), 3970, 200);
  // 100 ms after the last packet, the RTP clock has moved on 9000 ticks (RFC 3550 §6.4.1).
  const NtpTime wall = NtpTime::FromUnixMicros(1'700'000'000'500'000);
  auto sr = s.BuildSenderReport(kT0 + TimeDelta::Millis(133), wall);
  ASSERT_TRUE(sr);
  EXPECT_EQ(sr->sender_ssrc, 0x5555u);
  EXPECT_EQ(sr->ntp_timestamp, wall.value());
  EXPECT_EQ(sr->rtp_timestamp, 3970u + 9000);
  EXPECT_EQ(sr->packet_count, 2u);
  EXPECT_EQ(sr->octet_count, 300u);

  // The receiver answers 250 ms later with LSR = our SR, DLSR = 200 ms: RTT = 50 ms.
  ReportBlock rb;
  rb.source_ssrc = 0x5555;
  rb.fraction_lost = 12;
  rb.last_sr = wall.Compact();
  rb.delay_since_last_sr = DeltaToCompactNtp(TimeDelta::Millis(200));
  auto rtt = s.OnReportBlock(kT0 + TimeDelta::Millis(133 + 250), rb);
  ASSERT_TRUE(rtt);
  EXPECT_NEAR(static_cast<double>(rtt->us()), 50000.0, 20.0);  // DLSR resolution is ~15 µs
  EXPECT_EQ(s.remote_fraction_lost(), 12);
  // Unknown LSR, no LSR, or a DLSR that makes it negative: no RTT.
  rb.last_sr = 0x12345678;
  EXPECT_FALSE(s.OnReportBlock(kT0 + TimeDelta::Seconds(1), rb));
  rb.last_sr = 0;
  EXPECT_FALSE(s.OnReportBlock(kT0 + TimeDelta::Seconds(1), rb));
  rb.last_sr = wall.Compact();
  rb.delay_since_last_sr = DeltaToCompactNtp(TimeDelta::Seconds(5));
  EXPECT_FALSE(s.OnReportBlock(kT0 + TimeDelta::Seconds(1), rb));
}

}  // namespace
}  // namespace tandem::rtp
