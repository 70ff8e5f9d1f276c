#include "media/video_jitter_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "core/rng.h"
#include "media/h264_payload.h"
#include "media/media_test_util.h"
#include "media/vp8_payload.h"
#include "testing/fake_clock.h"

namespace tandem::media {
namespace {

using tandem::testing::FakeClock;

struct Pkt {
  RtpPacketInfo info;
  std::vector<uint8_t> payload;
};

// A VP8 sender: frames every 33.3 ms (3000 ticks), packetized by the real packetizer.
class Vp8Stream {
 public:
  explicit Vp8Stream(uint16_t first_seq = 1000, uint32_t first_ts = 90000, size_t mtu = 1200)
      : packetizer_(mtu, 77), seq_(first_seq), ts_(first_ts) {}

  std::vector<Pkt> Frame(bool key, size_t size = 2500) {
    frames_.push_back(test::FakeVp8Frame(key, size, seed_++));
    EXPECT_TRUE(packetizer_.Packetize(frames_.back(), ts_).ok());
    std::vector<Pkt> out;
    while (auto p = packetizer_.NextPayload()) {
      out.push_back({test::Info(seq_++, ts_, p->marker), {p->payload.begin(), p->payload.end()}});
    }
    ts_ += 3000;
    return out;
  }
  Pkt Padding() {
    Pkt p{test::Info(seq_++, ts_ - 3000, false), {}};
    return p;
  }
  const std::vector<uint8_t>& frame(size_t i) const { return frames_[i]; }
  uint16_t next_seq() const { return seq_; }

 private:
  Vp8Packetizer packetizer_;
  uint16_t seq_;
  uint32_t ts_;
  uint64_t seed_ = 1;
  std::vector<std::vector<uint8_t>> frames_;
};

constexpr TimeDelta kFrameInterval = TimeDelta::Micros(33333);

// Copies the frame bytes (the views die at the next call).
struct Got {
  std::vector<uint8_t> data;
  uint32_t rtp_timestamp;
  bool key;
  Timestamp playout;
};

class Receiver {
 public:
  explicit Receiver(VideoJitterBufferConfig config = {}, VideoCodec codec = VideoCodec::kVp8)
      : jb(config, codec) {}
  void Insert(const Pkt& p) { jb.InsertPacket(clock.now(), p.info, p.payload); }
  void InsertAll(const std::vector<Pkt>& ps) {
    for (const Pkt& p : ps) Insert(p);
  }
  // Advances time to `t`, stopping at every deadline on the way, and collects what comes out.
  void RunUntil(Timestamp t) {
    while (true) {
      Collect();
      const Timestamp next = jb.PollTimeout();
      if (next > t) break;
      // Collect() did everything due at now; a deadline at or before now would be a stuck buffer.
      EXPECT_GT(next, clock.now());
      if (next <= clock.now()) break;
      clock.AdvanceTo(next);
    }
    clock.AdvanceTo(t);
    Collect();
  }
  void Collect() {
    jb.HandleTimeout(clock.now());
    while (auto f = jb.PollFrame(clock.now())) {
      EXPECT_GE(clock.now(), f->playout_time);
      got.push_back({{f->data.begin(), f->data.end()}, f->rtp_timestamp, f->key_frame, f->playout_time});
    }
    if (jb.TakeKeyFrameRequest()) ++key_requests;
  }

  FakeClock clock;
  VideoJitterBuffer jb;
  std::vector<Got> got;
  int key_requests = 0;
};

TEST(VideoJitterBuffer, DeliversFramesInOrderAtTheirPlayoutTime) {
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(50);
  Receiver r(config);
  Vp8Stream s;
  for (int i = 0; i < 30; ++i) {
    r.InsertAll(s.Frame(i == 0));
    r.RunUntil(r.clock.now() + kFrameInterval);
  }
  r.RunUntil(r.clock.now() + TimeDelta::Millis(200));
  ASSERT_EQ(r.got.size(), 30u);
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(r.got[i].data, s.frame(i)) << i;
    EXPECT_EQ(r.got[i].key, i == 0);
    EXPECT_EQ(r.got[i].rtp_timestamp, 90000u + 3000u * i);
  }
  // No jitter: every frame plays 50 ms after it arrived, evenly spaced.
  for (int i = 1; i < 30; ++i) {
    EXPECT_NEAR((r.got[i].playout - r.got[i - 1].playout).us(), kFrameInterval.us(), 20);
  }
  EXPECT_EQ(r.jb.current_delay(), TimeDelta::Millis(50));
  EXPECT_EQ(r.key_requests, 0);
  EXPECT_EQ(r.jb.stats().frames_output, 30u);
  EXPECT_EQ(r.jb.stats().key_frames_output, 1u);
  EXPECT_TRUE(r.jb.MissingPackets().empty());
}

TEST(VideoJitterBuffer, HoldsFramesUntilPlayoutTime) {
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(40);
  Receiver r(config);
  Vp8Stream s;
  const Timestamp t0 = r.clock.now();
  r.InsertAll(s.Frame(true));
  EXPECT_FALSE(r.jb.PollFrame(t0).has_value());
  EXPECT_EQ(r.jb.PollTimeout(), t0 + TimeDelta::Millis(40));
  EXPECT_FALSE(r.jb.PollFrame(t0 + TimeDelta::Millis(39)).has_value());
  auto f = r.jb.PollFrame(t0 + TimeDelta::Millis(40));
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(f->key_frame);
  EXPECT_EQ(f->width, 640);
  EXPECT_EQ(f->height, 480);
  EXPECT_EQ(f->playout_time, t0 + TimeDelta::Millis(40));
  EXPECT_EQ(r.jb.PollTimeout(), Timestamp::Infinity());
}

TEST(VideoJitterBuffer, ReordersPacketsWithinAndAcrossFrames) {
  Receiver r;
  Vp8Stream s;
  std::vector<Pkt> all;
  for (int i = 0; i < 20; ++i) {
    auto f = s.Frame(i == 0, 1000 + 700 * (i % 4));
    all.insert(all.end(), f.begin(), f.end());
  }
  SeededRng rng(5);
  // Shuffle within windows of 6 packets.
  for (size_t i = 0; i + 6 <= all.size(); i += 6) {
    for (size_t j = 0; j < 6; ++j) std::swap(all[i + j], all[i + rng.Uniform(0, 5)]);
  }
  for (const Pkt& p : all) {
    r.Insert(p);
    r.RunUntil(r.clock.now() + TimeDelta::Millis(5));
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(r.got[i].data, s.frame(i)) << i;
  EXPECT_EQ(r.key_requests, 0);
}

TEST(VideoJitterBuffer, IgnoresDuplicates) {
  Receiver r;
  Vp8Stream s;
  for (int i = 0; i < 5; ++i) {
    auto f = s.Frame(i == 0);
    r.InsertAll(f);
    r.InsertAll(f);
    r.RunUntil(r.clock.now() + kFrameInterval);
    r.InsertAll(f);  // after output: late
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 5u);
  EXPECT_EQ(r.jb.stats().packets_duplicate, 5u * 3);
  EXPECT_GT(r.jb.stats().packets_late, 0u);
}

TEST(VideoJitterBuffer, SurvivesSequenceNumberAndTimestampWrap) {
  Receiver r;
  Vp8Stream s(/*first_seq=*/65530, /*first_ts=*/0xFFFFFFFFu - 10000);
  for (int i = 0; i < 10; ++i) {
    r.InsertAll(s.Frame(i == 0));
    r.RunUntil(r.clock.now() + kFrameInterval);
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.got[i].data, s.frame(i));
  for (int i = 1; i < 10; ++i)
    EXPECT_NEAR((r.got[i].playout - r.got[i - 1].playout).us(), kFrameInterval.us(), 20);
  EXPECT_LT(s.next_seq(), 100) << "the stream wrapped";
}

TEST(VideoJitterBuffer, ReportsMissingPacketsAndRecoversWithRetransmission) {
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(50);
  Receiver r(config);
  Vp8Stream s;
  Pkt lost;
  for (int i = 0; i < 10; ++i) {
    auto f = s.Frame(i == 0);
    if (i == 4) {
      lost = f[1];
      f.erase(f.begin() + 1);
    }
    r.InsertAll(f);
    r.RunUntil(r.clock.now() + TimeDelta::Millis(10));
    if (i == 5) {
      EXPECT_EQ(r.jb.MissingPackets(), std::vector<uint16_t>{lost.info.sequence_number});
    }
    r.RunUntil(r.clock.now() + kFrameInterval - TimeDelta::Millis(10));
  }
  EXPECT_EQ(r.got.size(), 4u) << "frames after the hole wait";
  lost.info.retransmission = true;
  r.Insert(lost);  // the NACKed packet comes back, ~200 ms later but within the wait
  EXPECT_TRUE(r.jb.MissingPackets().empty());
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.got[i].data, s.frame(i));
  EXPECT_EQ(r.key_requests, 0);
  EXPECT_EQ(r.jb.stats().losses, 0u);
}

// A long round trip stretches the wait for a retransmission: with 150 ms RTT the gap waits 600 ms.
TEST(VideoJitterBuffer, WaitForRetransmissionFollowsTheRoundTripTime) {
  for (const bool long_rtt : {false, true}) {
    Receiver r;
    Vp8Stream s;
    r.jb.UpdateRtt(TimeDelta::Millis(long_rtt ? 150 : 30));
    for (int i = 0; i < 14; ++i) {
      auto f = s.Frame(i == 0);
      if (i == 2) f.erase(f.begin() + 1);
      r.InsertAll(f);
      r.RunUntil(r.clock.now() + kFrameInterval);
    }
    // ~400 ms after the loss: given up with a short RTT, still waiting with a long one.
    EXPECT_EQ(r.jb.waiting_for_key_frame(), !long_rtt) << "long_rtt=" << long_rtt;
    EXPECT_EQ(r.key_requests > 0, !long_rtt) << "long_rtt=" << long_rtt;
  }
}

TEST(VideoJitterBuffer, AfterUnrecoveredLossDropsDependentFramesAndWaitsForKeyFrame) {
  Receiver r;
  Vp8Stream s;
  r.jb.UpdateRtt(TimeDelta::Millis(30));  // 4 round trips < max_wait_for_missing: the wait is 150 ms
  for (int i = 0; i < 20; ++i) {
    auto f = s.Frame(i == 0 || i == 15);
    if (i == 5) f.erase(f.begin() + 1);  // never recovered
    r.InsertAll(f);
    r.RunUntil(r.clock.now() + kFrameInterval);
    if (i == 12) {
      EXPECT_TRUE(r.jb.waiting_for_key_frame());
      EXPECT_GE(r.key_requests, 1);
    }
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  // Frames 0-4, then nothing until the key frame 15; 6..14 referenced the lost frame 5.
  ASSERT_EQ(r.got.size(), 5u + 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(r.got[i].data, s.frame(i));
  for (int i = 15; i < 20; ++i) EXPECT_EQ(r.got[i - 10].data, s.frame(i));
  EXPECT_TRUE(r.got[5].key);
  EXPECT_FALSE(r.jb.waiting_for_key_frame());
  EXPECT_EQ(r.jb.stats().losses, 1u);
  EXPECT_EQ(r.jb.stats().frames_dropped, 9u);  // 6..14 (5 never completed)
  // Requests are spaced by the interval: about 9 frames x 33 ms / 250 ms -> 1 or 2.
  EXPECT_GE(r.key_requests, 1);
  EXPECT_LE(r.key_requests, 3);
}

TEST(VideoJitterBuffer, StartingMidStreamAsksForAKeyFrame) {
  Receiver r;
  Vp8Stream s;
  for (int i = 0; i < 3; ++i) {
    r.InsertAll(s.Frame(false));
    r.RunUntil(r.clock.now() + kFrameInterval);
  }
  EXPECT_TRUE(r.got.empty());
  EXPECT_EQ(r.key_requests, 1);
  EXPECT_EQ(r.jb.stats().frames_dropped, 3u);
  r.InsertAll(s.Frame(true));
  r.InsertAll(s.Frame(false));
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[0].data, s.frame(3));
  EXPECT_EQ(r.got[1].data, s.frame(4));
}

TEST(VideoJitterBuffer, RepeatsKeyFrameRequestsWhileStuck) {
  VideoJitterBufferConfig config;
  config.key_frame_request_interval = TimeDelta::Millis(200);
  Receiver r(config);
  Vp8Stream s;
  const Timestamp t0 = r.clock.now();
  r.InsertAll(s.Frame(false));  // a delta frame: dropped, request at t0
  r.Collect();
  EXPECT_EQ(r.key_requests, 1);
  EXPECT_EQ(r.jb.PollTimeout(), t0 + TimeDelta::Millis(200));
  r.RunUntil(t0 + TimeDelta::Millis(1000));
  // t0, +200, +400, +600, +800, +1000.
  EXPECT_EQ(r.key_requests, 6);
  EXPECT_EQ(r.jb.stats().key_frame_requests, 6u);
  // A key frame ends it.
  r.InsertAll(s.Frame(true));
  r.RunUntil(t0 + TimeDelta::Millis(3000));
  EXPECT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.key_requests, 6);
  EXPECT_EQ(r.jb.PollTimeout(), Timestamp::Infinity());
}

TEST(VideoJitterBuffer, AKeyFrameInProgressHoldsOffRepeatedRequests) {
  VideoJitterBufferConfig config;
  config.key_frame_request_interval = TimeDelta::Millis(100);
  Receiver r(config);
  Vp8Stream s(1000, 90000, 200);
  auto key = s.Frame(true, 5000);  // 25 packets, arriving over 300 ms (a paced key frame)
  for (const Pkt& p : key) {
    r.Insert(p);
    r.RunUntil(r.clock.now() + TimeDelta::Millis(12));
  }
  r.RunUntil(r.clock.now() + TimeDelta::Millis(200));
  ASSERT_EQ(r.got.size(), 1u);
  EXPECT_EQ(r.key_requests, 0);
}

TEST(VideoJitterBuffer, PlayoutDelayAdaptsToJitter) {
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(10);
  Receiver r(config);
  Vp8Stream s;
  const Timestamp t0 = r.clock.now();
  std::vector<std::pair<Timestamp, std::vector<Pkt>>> schedule;
  for (int i = 0; i < 60; ++i) {
    // Every 4th frame is held up 70 ms in the network.
    const TimeDelta extra = (i % 4 == 3) ? TimeDelta::Millis(70) : TimeDelta::Zero();
    schedule.push_back({t0 + kFrameInterval * i + extra, s.Frame(i == 0)});
  }
  std::stable_sort(schedule.begin(), schedule.end(), [](auto& a, auto& b) { return a.first < b.first; });
  for (auto& [t, pkts] : schedule) {
    r.RunUntil(t);
    r.InsertAll(pkts);
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 60u);
  for (int i = 0; i < 60; ++i) EXPECT_EQ(r.got[i].data, s.frame(i));
  EXPECT_GE(r.jb.current_delay(), TimeDelta::Millis(80));
  EXPECT_LE(r.jb.current_delay(), TimeDelta::Millis(81));
  EXPECT_GE(r.jb.stats().jitter, TimeDelta::Millis(70));
  // Once the delay covers the jitter, playout is smooth again: the last 40 frames are evenly spaced.
  for (int i = 21; i < 60; ++i) {
    EXPECT_NEAR((r.got[i].playout - r.got[i - 1].playout).us(), kFrameInterval.us(), 20) << i;
  }
}

TEST(VideoJitterBuffer, DelayIsClampedToTheConfiguredRange) {
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(10);
  config.max_delay = TimeDelta::Millis(50);
  Receiver r(config);
  Vp8Stream s;
  r.InsertAll(s.Frame(true));
  r.RunUntil(r.clock.now() + kFrameInterval + TimeDelta::Millis(300));  // the next frame arrives 300 ms late
  r.InsertAll(s.Frame(false));
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  EXPECT_EQ(r.jb.current_delay(), TimeDelta::Millis(50));
  EXPECT_EQ(r.got.size(), 2u);
}

TEST(VideoJitterBuffer, PaddingPacketsKeepContinuity) {
  Receiver r;
  Vp8Stream s;
  for (int i = 0; i < 6; ++i) {
    r.InsertAll(s.Frame(i == 0));
    r.Insert(s.Padding());
    r.Insert(s.Padding());
    r.RunUntil(r.clock.now() + kFrameInterval);
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  EXPECT_EQ(r.got.size(), 6u);
  EXPECT_EQ(r.jb.stats().packets_padding, 12u);
  EXPECT_EQ(r.key_requests, 0);
}

TEST(VideoJitterBuffer, ConsecutivePictureIdsProveALostPacketWasPadding) {
  Receiver r;
  Vp8Stream s;
  for (int i = 0; i < 6; ++i) {
    r.InsertAll(s.Frame(i == 0));
    Pkt pad = s.Padding();
    if (i != 2) r.Insert(pad);  // one padding packet lost for good
    r.RunUntil(r.clock.now() + kFrameInterval);
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  EXPECT_EQ(r.got.size(), 6u);
  EXPECT_EQ(r.key_requests, 0);
  EXPECT_EQ(r.jb.stats().losses, 0u);
}

TEST(VideoJitterBuffer, MalformedAndOversizedPayloadsAreCountedAndDropped) {
  VideoJitterBufferConfig config;
  config.max_payload_size = 1300;
  Receiver r(config);
  const uint8_t only_descriptor[] = {0x80};
  EXPECT_EQ(r.jb.InsertPacket(r.clock.now(), test::Info(1, 0, true), only_descriptor),
            VideoJitterBuffer::InsertResult::kMalformed);
  std::vector<uint8_t> big(1301, 0x10);
  EXPECT_EQ(r.jb.InsertPacket(r.clock.now(), test::Info(2, 0, true), big),
            VideoJitterBuffer::InsertResult::kMalformed);
  EXPECT_EQ(r.jb.stats().packets_malformed, 2u);
  EXPECT_EQ(r.jb.stats().packets_received, 0u);
}

TEST(VideoJitterBuffer, SequenceJumpResetsAndAsksForKeyFrame) {
  VideoJitterBufferConfig config;
  config.capacity = 64;
  Receiver r(config);
  Vp8Stream a(100);
  r.InsertAll(a.Frame(true));
  r.RunUntil(r.clock.now() + kFrameInterval);
  auto partial = a.Frame(false);
  r.Insert(partial[0]);        // incomplete frame stuck in the buffer
  Vp8Stream b(30000, 500000);  // the sender restarted with new numbering
  r.InsertAll(b.Frame(true));
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  EXPECT_EQ(r.jb.stats().overflows, 1u);
  EXPECT_GE(r.key_requests, 1);
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[1].data, b.frame(0));
}

TEST(VideoJitterBuffer, BoundedBufferDiscardsWhatCannotComplete) {
  VideoJitterBufferConfig config;
  config.capacity = 32;
  Receiver r(config);
  Vp8Stream s;
  r.InsertAll(s.Frame(true));
  r.RunUntil(r.clock.now() + kFrameInterval);
  // A frame whose first packet is lost, then 40 packets of frames that cannot be decoded without it.
  auto f = s.Frame(false, 5000);
  for (size_t i = 1; i < f.size(); ++i) r.Insert(f[i]);
  for (int i = 0; i < 10; ++i) r.InsertAll(s.Frame(false, 4000));
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  EXPECT_GE(r.jb.stats().overflows, 1u);
  EXPECT_EQ(r.got.size(), 1u);
  EXPECT_TRUE(r.jb.waiting_for_key_frame());
  EXPECT_GE(r.key_requests, 1);
  EXPECT_LE(r.jb.MissingPackets().size(), 32u);
}

TEST(VideoJitterBuffer, DecodeErrorWaitsForKeyFrame) {
  Receiver r;
  Vp8Stream s;
  r.InsertAll(s.Frame(true));
  r.RunUntil(r.clock.now() + kFrameInterval);
  r.jb.OnDecodeError(r.clock.now());
  r.Collect();
  EXPECT_EQ(r.key_requests, 1);
  r.InsertAll(s.Frame(false));
  r.InsertAll(s.Frame(true));
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_TRUE(r.got[1].key);
}

TEST(VideoJitterBuffer, LateKeyFrameSkipsAnIncompleteFrame) {
  Receiver r;
  Vp8Stream s;
  r.InsertAll(s.Frame(true));
  auto f1 = s.Frame(false);
  f1.pop_back();  // never completes
  r.InsertAll(f1);
  r.InsertAll(s.Frame(true));  // a key frame follows right away
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[1].data, s.frame(2));
  EXPECT_EQ(r.key_requests, 0) << "nothing references the lost frame";
}

// H.264: access units from the real packetizer; frame starts from marker bits and timestamps.
class H264Stream {
 public:
  explicit H264Stream(uint16_t seq = 500) : packetizer_(1200), seq_(seq) {}
  std::vector<Pkt> Frame(bool key, size_t size) {
    std::vector<uint8_t> au;
    auto add = [&au](std::vector<uint8_t> nal) {
      au.insert(au.end(), {0, 0, 0, 1});
      au.insert(au.end(), nal.begin(), nal.end());
    };
    SeededRng rng(seed_++);
    std::vector<uint8_t> slice(size);
    rng.Fill(slice);
    for (auto& b : slice) b = b == 0 ? 7 : b;
    slice[0] = key ? 0x65 : 0x41;
    slice[1] |= 0x80;
    if (key) {
      add({0x67, 0x42, 0xc0, 0x1e, 0xd9});
      add({0x68, 0xcb, 0x83, 0xcb, 0x20});
    }
    add(slice);
    expected_.push_back(au);
    EXPECT_TRUE(packetizer_.Packetize(au, ts_).ok());
    std::vector<Pkt> out;
    while (auto p = packetizer_.NextPayload()) {
      out.push_back({test::Info(seq_++, ts_, p->marker), {p->payload.begin(), p->payload.end()}});
    }
    ts_ += 3000;
    return out;
  }
  const std::vector<uint8_t>& expected(size_t i) const { return expected_[i]; }

 private:
  H264Packetizer packetizer_;
  uint16_t seq_;
  uint32_t ts_ = 1000;
  uint64_t seed_ = 1;
  std::vector<std::vector<uint8_t>> expected_;
};

TEST(VideoJitterBuffer, H264AccessUnitsComeOutAsAnnexB) {
  Receiver r({}, VideoCodec::kH264);
  H264Stream s;
  for (int i = 0; i < 8; ++i) {
    auto f = s.Frame(i == 0 || i == 5, 500 + 1500 * (i % 3));
    std::reverse(f.begin(), f.end());  // worst-case reordering within the frame
    r.InsertAll(f);
    r.RunUntil(r.clock.now() + kFrameInterval);
  }
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(r.got[i].data, s.expected(i)) << i;
    EXPECT_EQ(r.got[i].key, i == 0 || i == 5) << i;
  }
}

TEST(VideoJitterBuffer, H264LostMarkerPacketStillLetsTheNextKeyFrameStart) {
  Receiver r({}, VideoCodec::kH264);
  H264Stream s;
  r.InsertAll(s.Frame(true, 800));
  auto broken = s.Frame(false, 3000);  // 3 packets
  broken.pop_back();                   // its marker packet is lost
  r.InsertAll(broken);
  auto key = s.Frame(true, 3000);  // STAP-A(SPS, PPS) starts it: the heuristic finds the start
  r.InsertAll(key);
  r.RunUntil(r.clock.now() + TimeDelta::Seconds(1));
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[1].data, s.expected(2));
  EXPECT_TRUE(r.got[1].key);
}

}  // namespace
}  // namespace tandem::media
