// Send-side bandwidth estimation: the pieces (feedback adapter, trendline over-use detector, AIMD,
// acknowledged bitrate) and the whole loop over a simulated bottleneck: a sender paced at the target bitrate,
// a drop-tail queue of a given capacity, a TwccReceiver, feedback serialized as RTCP and parsed back, all on
// a fake clock.
#include "rtp/bandwidth_estimator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <vector>

#include "core/rng.h"
#include "rtp/rtcp_compound.h"
#include "rtp/twcc_receiver.h"

namespace tandem::rtp {
namespace {

TEST(TransportFeedbackAdapterTest, MapsReceiveTimesLossesAndDuplicates) {
  TransportFeedbackAdapter adapter;
  const Timestamp t0 = Timestamp::Seconds(10);
  for (uint16_t s = 0; s < 5; ++s)
    adapter.OnPacketSent(t0 + TimeDelta::Millis(s * 10), static_cast<uint16_t>(65534 + s), 1000 + s);
  TransportFeedback fb(1, 2, 0);
  fb.SetBase(65534, Timestamp::Millis(64'000));
  ASSERT_TRUE(fb.AddReceivedPacket(65534, Timestamp::Millis(64'030)));
  ASSERT_TRUE(fb.AddReceivedPacket(0, Timestamp::Millis(64'050)));  // 65535 lost, across the wrap
  const Timestamp now = t0 + TimeDelta::Millis(100);
  auto results = adapter.OnFeedback(now, fb);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].send_time, t0);
  EXPECT_EQ(results[0].size, 1000u);
  ASSERT_TRUE(results[0].received());
  EXPECT_FALSE(results[1].received());
  EXPECT_EQ(results[1].size, 1001u);
  ASSERT_TRUE(results[2].received());
  // Receive times keep the receiver's spacing (the first feedback's reference time maps to "now").
  EXPECT_EQ(*results[2].receive_time - *results[0].receive_time, TimeDelta::Millis(20));
  EXPECT_EQ(*results[0].receive_time, now + TimeDelta::Millis(30));
  // A later feedback 64 ms on reports 65535 after all, repeats 0 (ignored) and adds 1.
  TransportFeedback fb2(1, 2, 1);
  fb2.SetBase(65535, Timestamp::Millis(64'064));
  ASSERT_TRUE(fb2.AddReceivedPacket(65535, Timestamp::Millis(64'074)));
  ASSERT_TRUE(fb2.AddReceivedPacket(0, Timestamp::Millis(64'075)));
  ASSERT_TRUE(fb2.AddReceivedPacket(1, Timestamp::Millis(64'076)));
  results = adapter.OnFeedback(now + TimeDelta::Millis(64), fb2);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].sequence_number, results[1].sequence_number - 2);
  EXPECT_EQ(*results[0].receive_time, now + TimeDelta::Millis(64 + 10));
  // Feedback for packets never sent is ignored.
  TransportFeedback stray(1, 2, 2);
  stray.SetBase(30000, Timestamp::Millis(0));
  ASSERT_TRUE(stray.AddReceivedPacket(30000, Timestamp::Millis(1)));
  EXPECT_TRUE(adapter.OnFeedback(now, stray).empty());
}

TEST(TrendlineEstimatorTest, DetectsGrowingAndShrinkingQueues) {
  TrendlineEstimator over;
  Timestamp t = Timestamp::Seconds(1);
  // Groups sent every 10 ms arrive 12 ms apart: the queue grows 2 ms per group.
  for (int i = 0; i < 40 && over.state() != BandwidthUsage::kOverusing; ++i) {
    t = t + TimeDelta::Millis(12);
    over.Update(12, 10, t);
  }
  EXPECT_EQ(over.state(), BandwidthUsage::kOverusing);
  EXPECT_GT(over.trend(), 0);
  // Then they arrive 8 ms apart: the queue drains.
  for (int i = 0; i < 40 && over.state() != BandwidthUsage::kUnderusing; ++i) {
    t = t + TimeDelta::Millis(8);
    over.Update(8, 10, t);
  }
  EXPECT_EQ(over.state(), BandwidthUsage::kUnderusing);
  // Steady spacing with +-1 ms of arrival jitter (no queue growth) never looks like over-use.
  TrendlineEstimator steady;
  SeededRng rng(3);
  double previous_jitter = 0;
  for (int i = 0; i < 500; ++i) {
    const double jitter = static_cast<double>(rng.Uniform(0, 20)) / 10.0 - 1.0;
    t = t + TimeDelta::Millis(10);
    steady.Update(10 + jitter - previous_jitter, 10, t);
    previous_jitter = jitter;
    EXPECT_NE(steady.state(), BandwidthUsage::kOverusing) << i;
  }
}

TEST(AimdRateControlTest, IncreasesMultiplicativelyThenDecreasesToAckedRate) {
  AimdRateControl aimd(10'000, 10'000'000, 1'000'000);
  Timestamp t = Timestamp::Seconds(1);
  aimd.Update(BandwidthUsage::kNormal, 1'000'000, t);
  for (int i = 0; i < 10; ++i) {
    t = t + TimeDelta::Millis(100);
    aimd.Update(BandwidthUsage::kNormal, 1'000'000, t);
  }
  // About 8 % in one second, far from any known capacity.
  EXPECT_NEAR(static_cast<double>(aimd.estimate_bps()), 1'080'000.0, 10'000.0);
  aimd.Update(BandwidthUsage::kOverusing, 900'000, t + TimeDelta::Millis(100));
  EXPECT_NEAR(static_cast<double>(aimd.estimate_bps()), 765'000.0, 1.0);  // 0.85 x acknowledged
  ASSERT_TRUE(aimd.link_capacity_kbps());
  // Held while under-using; then additive increase near the capacity just learned: slower than 8 %/s.
  const int64_t decreased = aimd.estimate_bps();
  aimd.Update(BandwidthUsage::kUnderusing, 900'000, t + TimeDelta::Millis(200));
  EXPECT_EQ(aimd.estimate_bps(), decreased);
  t = t + TimeDelta::Millis(300);
  aimd.Update(BandwidthUsage::kNormal, 900'000, t);
  for (int i = 0; i < 10; ++i) {
    t = t + TimeDelta::Millis(100);
    aimd.Update(BandwidthUsage::kNormal, 900'000, t);
  }
  EXPECT_GT(aimd.estimate_bps(), decreased);
  EXPECT_LT(aimd.estimate_bps(), decreased * 108 / 100);
  // No increase while the estimate is above 1.5 x acknowledged + 10 kbps (an encoder not using it).
  const int64_t before = aimd.estimate_bps();
  for (int i = 0; i < 600; ++i) {
    t = t + TimeDelta::Millis(100);
    aimd.Update(BandwidthUsage::kNormal, 100'000, t);
  }
  EXPECT_EQ(aimd.estimate_bps(), before);
}

TEST(AckedBitrateEstimatorTest, MeasuresReceiveRate) {
  AckedBitrateEstimator acked;
  EXPECT_FALSE(acked.bitrate_bps());
  Timestamp t = Timestamp::Seconds(1);
  for (int i = 0; i < 100; ++i) {
    acked.OnPacket(t, 1250);  // 10 kbit every 10 ms = 1 Mbps
    t = t + TimeDelta::Millis(10);
  }
  ASSERT_TRUE(acked.bitrate_bps());
  EXPECT_NEAR(static_cast<double>(*acked.bitrate_bps()), 1'000'000.0, 30'000.0);
}

// --- the simulated link ---

struct LinkConfig {
  int64_t capacity_bps = 2'000'000;
  TimeDelta propagation = TimeDelta::Millis(25);
  TimeDelta max_queue = TimeDelta::Millis(300);  // drop-tail beyond this much queueing
  uint32_t loss_percent = 0;                     // random loss before the queue
};

class Simulation {
 public:
  Simulation(LinkConfig link, BandwidthEstimatorConfig bwe) : link_(link), bwe_(bwe), rng_(99) {
    bwe_.OnRtt(link_.propagation * 2);
  }

  void set_capacity(int64_t bps) { link_.capacity_bps = bps; }
  void set_loss(uint32_t percent) { link_.loss_percent = percent; }
  SendSideBandwidthEstimator& bwe() { return bwe_; }
  Timestamp now() const { return now_; }

  // Runs for `duration`; returns the target sampled every 100 ms.
  std::vector<int64_t> Run(TimeDelta duration) {
    std::vector<int64_t> samples;
    const Timestamp end = now_ + duration;
    Timestamp next_sample = now_;
    while (now_ < end) {
      while (next_send_ <= now_) SendPacket();
      while (!to_receiver_.empty() && to_receiver_.front().first <= now_) {
        twcc_.OnPacket(to_receiver_.front().first, to_receiver_.front().second);
        to_receiver_.pop_front();
      }
      if (twcc_.PollTimeout() <= now_) {
        twcc_.HandleTimeout(now_);
        while (auto fb = twcc_.PollFeedback()) {
          RtcpCompoundBuilder builder(rtcp_);
          EXPECT_TRUE(builder.Add(*fb));
          to_sender_.push_back({now_ + link_.propagation, rtcp_});
        }
      }
      while (!to_sender_.empty() && to_sender_.front().first <= now_) {
        auto compound = ParseRtcpCompound(to_sender_.front().second);
        EXPECT_TRUE(compound.ok());
        for (const auto& p : compound->packets)
          bwe_.OnTransportFeedback(now_, std::get<TransportFeedback>(p));
        to_sender_.pop_front();
      }
      if (now_ >= next_sample) {
        samples.push_back(bwe_.target_bitrate_bps());
        queue_delays_.push_back(std::max(link_free_ - now_, TimeDelta::Zero()));
        next_sample = next_sample + TimeDelta::Millis(100);
      }
      now_ = now_ + TimeDelta::Micros(250);
    }
    return samples;
  }

  const std::vector<TimeDelta>& queue_delays() const { return queue_delays_; }
  uint64_t dropped() const { return dropped_; }

 private:
  void SendPacket() {
    const Timestamp sent = next_send_;
    const uint16_t seq = seq_++;
    bwe_.OnPacketSent(sent, seq, kPacketSize);
    next_send_ = sent + TimeDelta::Micros(kPacketSize * 8 * 1'000'000 / bwe_.target_bitrate_bps());
    if (rng_.Uniform(0, 99) < link_.loss_percent) return;
    const Timestamp start = std::max(sent, link_free_);
    if (start - sent > link_.max_queue) {
      ++dropped_;
      return;
    }
    link_free_ = start + TimeDelta::Micros(kPacketSize * 8 * 1'000'000 / link_.capacity_bps);
    to_receiver_.push_back({link_free_ + link_.propagation, seq});
  }

  static constexpr int64_t kPacketSize = 1200;
  LinkConfig link_;
  SendSideBandwidthEstimator bwe_;
  TwccReceiver twcc_{{.sender_ssrc = 1, .media_ssrc = 2}};
  SeededRng rng_;
  Timestamp now_ = Timestamp::Seconds(1000);
  Timestamp next_send_ = Timestamp::Seconds(1000);
  Timestamp link_free_ = Timestamp::Seconds(1000);
  uint16_t seq_ = 0;
  std::deque<std::pair<Timestamp, uint16_t>> to_receiver_;
  std::deque<std::pair<Timestamp, std::vector<uint8_t>>> to_sender_;
  std::vector<uint8_t> rtcp_;
  std::vector<TimeDelta> queue_delays_;
  uint64_t dropped_ = 0;
};

double Mean(const std::vector<int64_t>& v, size_t from, size_t to) {
  double sum = 0;
  for (size_t i = from; i < to; ++i) sum += static_cast<double>(v[i]);
  return sum / static_cast<double>(to - from);
}

TEST(BandwidthEstimatorSimTest, ConvergesNearCapacity) {
  Simulation sim({.capacity_bps = 2'000'000}, {.start_bitrate_bps = 300'000});
  const auto samples = sim.Run(TimeDelta::Seconds(60));
  const double settled = Mean(samples, 400, 600);  // the last 20 s
  EXPECT_GT(settled, 0.70 * 2'000'000) << settled;
  EXPECT_LT(settled, 1.10 * 2'000'000) << settled;
  // It never runs away above the capacity for long, and it keeps the queue short once settled.
  EXPECT_LT(*std::max_element(samples.begin(), samples.end()), 1.5 * 2'000'000);
  TimeDelta queued = TimeDelta::Zero();
  for (size_t i = 400; i < 600; ++i) queued = queued + sim.queue_delays()[i];
  EXPECT_LT((queued / 200).ms(), 100);
}

TEST(BandwidthEstimatorSimTest, BacksOffWhenCapacityDropsAndRecovers) {
  Simulation sim({.capacity_bps = 2'000'000}, {.start_bitrate_bps = 1'000'000});
  sim.Run(TimeDelta::Seconds(30));
  EXPECT_GT(sim.bwe().target_bitrate_bps(), 1'400'000);
  sim.set_capacity(500'000);
  const auto after_drop = sim.Run(TimeDelta::Seconds(30));
  // Within 3 s it is below the new capacity's neighbourhood, and it settles near it.
  EXPECT_LT(*std::min_element(after_drop.begin(), after_drop.begin() + 30), 600'000);
  const double settled = Mean(after_drop, 200, 300);
  EXPECT_GT(settled, 0.6 * 500'000) << settled;
  EXPECT_LT(settled, 1.15 * 500'000) << settled;
  // Capacity comes back: the estimate climbs again.
  sim.set_capacity(2'000'000);
  const auto after_recovery = sim.Run(TimeDelta::Seconds(40));
  EXPECT_GT(Mean(after_recovery, 300, 400), 1'200'000);
}

TEST(BandwidthEstimatorSimTest, RandomLossNeitherExplodesNorCollapses) {
  // 5 % random loss (not congestion): between 2 % and 10 % the loss-based part holds; the estimate stays
  // bounded by the link and does not fall away.
  Simulation moderate({.capacity_bps = 2'000'000, .loss_percent = 5}, {.start_bitrate_bps = 800'000});
  const auto samples = moderate.Run(TimeDelta::Seconds(40));
  EXPECT_LE(*std::max_element(samples.begin(), samples.end()), 2'400'000);
  EXPECT_GE(*std::min_element(samples.begin(), samples.end()), 600'000);
  const auto stats = moderate.bwe().stats();
  const double loss = static_cast<double>(stats.packets_reported_lost) /
                      static_cast<double>(stats.packets_reported_lost + stats.packets_reported_received);
  EXPECT_NEAR(loss, 0.05, 0.02);
  // 25 % loss: backs off (GCC §6: rate x (1 - 0.5 loss) per report), never below the minimum, and comes back
  // once the loss stops.
  Simulation heavy({.capacity_bps = 2'000'000, .loss_percent = 25},
                   {.min_bitrate_bps = 50'000, .start_bitrate_bps = 1'000'000});
  const auto lossy = heavy.Run(TimeDelta::Seconds(20));
  EXPECT_LT(lossy.back(), 200'000);
  EXPECT_GE(*std::min_element(lossy.begin(), lossy.end()), 50'000);
  heavy.set_loss(0);
  heavy.Run(TimeDelta::Seconds(30));
  EXPECT_GT(heavy.bwe().target_bitrate_bps(), 300'000);
}

TEST(BandwidthEstimatorSimTest, RembCapsTheEstimate) {
  Simulation sim({.capacity_bps = 5'000'000}, {.start_bitrate_bps = 1'000'000});
  sim.bwe().OnRemb(sim.now(), 700'000);
  const auto capped = sim.Run(TimeDelta::Seconds(20));
  EXPECT_LE(*std::max_element(capped.begin(), capped.end()), 700'000);
  EXPECT_EQ(sim.bwe().stats().remb_bps, 700'000);
  EXPECT_EQ(sim.bwe().PollTargetBitrate(), 700'000);
  EXPECT_FALSE(sim.bwe().PollTargetBitrate());  // unchanged since
  sim.bwe().OnRemb(sim.now(), 0);               // cap removed
  sim.Run(TimeDelta::Seconds(20));
  EXPECT_GT(sim.bwe().target_bitrate_bps(), 1'000'000);
}

TEST(BandwidthEstimatorTest, ReceiverReportLossDrivesLossBasedPart) {
  SendSideBandwidthEstimator bwe({.start_bitrate_bps = 1'000'000});
  Timestamp t = Timestamp::Seconds(1);
  bwe.OnReceiverReportLoss(t, 128, 100);                          // 50 % loss
  EXPECT_EQ(bwe.target_bitrate_bps(), 750'000);                   // x (1 - 0.5 x 0.5)
  bwe.OnReceiverReportLoss(t + TimeDelta::Millis(10), 128, 100);  // too soon for another decrease
  EXPECT_EQ(bwe.target_bitrate_bps(), 750'000);
  bwe.OnReceiverReportLoss(t + TimeDelta::Seconds(1), 0, 100);
  EXPECT_GT(bwe.target_bitrate_bps(), 750'000);
}

}  // namespace
}  // namespace tandem::rtp
