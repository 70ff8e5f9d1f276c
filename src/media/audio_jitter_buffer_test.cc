#include "media/audio_jitter_buffer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "media/media_test_util.h"

namespace tandem::media {
namespace {

constexpr TimeDelta k20ms = TimeDelta::Millis(20);

// A 20 ms CELT packet whose bytes name its index (so the test can tell which packet was played).
std::vector<uint8_t> Packet(uint32_t index, bool dtx = false) {
  if (dtx) return {static_cast<uint8_t>(31 << 3)};
  return {static_cast<uint8_t>(31 << 3), static_cast<uint8_t>(index >> 8), static_cast<uint8_t>(index), 0x55};
}

struct Arrival {
  Timestamp time;
  RtpPacketInfo info;
  std::vector<uint8_t> payload;
};

struct Step {
  AudioPlayoutKind kind;
  uint32_t rtp_timestamp;
  int samples;
  bool dtx;
  Timestamp time;
  std::vector<uint8_t> payload;
};

// Feeds arrivals at their times and runs playout steps at their deadlines, in time order.
class AudioSim {
 public:
  explicit AudioSim(AudioJitterBufferConfig config = {}) : jb(config) {}

  // Packet i of a stream starting at (seq0, ts0), sent at t0 + 20 ms * i and delayed by `delay`.
  void Send(uint32_t i, TimeDelta delay = TimeDelta::Zero(), bool marker = false, bool dtx = false) {
    arrivals.push_back({t0 + k20ms * i + network + delay,
                        test::Info(static_cast<uint16_t>(seq0 + i), ts0 + 960 * i, marker), Packet(i, dtx)});
  }
  void RunUntil(Timestamp end) {
    std::stable_sort(arrivals.begin(), arrivals.end(), [](auto& a, auto& b) { return a.time < b.time; });
    size_t next = 0;
    while (true) {
      const Timestamp arrival = next < arrivals.size() ? arrivals[next].time : Timestamp::Infinity();
      const Timestamp deadline = jb.PollTimeout();
      const Timestamp t = std::min(arrival, deadline);
      if (t > end) break;
      now = std::max(now, t);
      if (arrival <= deadline) {
        jb.InsertPacket(now, arrivals[next].info, arrivals[next].payload);
        ++next;
      } else {
        while (auto s = jb.PollPlayout(now)) {
          steps.push_back({s->kind,
                           s->rtp_timestamp,
                           s->samples,
                           s->dtx,
                           s->playout_time,
                           {s->payload.begin(), s->payload.end()}});
        }
      }
    }
    arrivals.erase(arrivals.begin(), arrivals.begin() + static_cast<std::ptrdiff_t>(next));
  }
  int Count(AudioPlayoutKind kind) const {
    return static_cast<int>(
        std::count_if(steps.begin(), steps.end(), [kind](const Step& s) { return s.kind == kind; }));
  }
  // Index carried by a played packet.
  static int IndexOf(const Step& s) {
    return s.payload.size() >= 3 ? (s.payload[1] << 8) | s.payload[2] : -1;
  }

  AudioJitterBuffer jb;
  Timestamp t0 = Timestamp::Seconds(100);
  TimeDelta network = TimeDelta::Millis(30);
  uint16_t seq0 = 100;
  uint32_t ts0 = 5000;
  Timestamp now = Timestamp::Zero();
  std::vector<Arrival> arrivals;
  std::vector<Step> steps;
};

TEST(AudioJitterBuffer, PlaysPacketsInOrderAtTheTargetDelay) {
  AudioJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(40);
  config.min_delay = TimeDelta::Zero();
  AudioSim sim(config);
  for (uint32_t i = 0; i < 50; ++i) sim.Send(i);
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(2));
  ASSERT_GE(sim.steps.size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_EQ(sim.steps[i].kind, AudioPlayoutKind::kPacket) << i;
    EXPECT_EQ(AudioSim::IndexOf(sim.steps[i]), static_cast<int>(i));
    EXPECT_EQ(sim.steps[i].rtp_timestamp, sim.ts0 + 960 * i);
    EXPECT_EQ(sim.steps[i].samples, 960);
    // Arrival (t0 + 30 ms + 20 ms * i) + 40 ms.
    EXPECT_EQ(sim.steps[i].time, sim.t0 + TimeDelta::Millis(70) + k20ms * static_cast<int64_t>(i));
  }
  EXPECT_EQ(sim.jb.stats().packets_played, 50u);
  EXPECT_EQ(sim.jb.stats().concealments, 0u);
}

TEST(AudioJitterBuffer, ReordersBySequenceNumber) {
  AudioSim sim;
  for (uint32_t i = 0; i < 40; ++i) sim.Send(i, (i % 2 == 0) ? TimeDelta::Millis(15) : TimeDelta::Zero());
  // Warm up the delay with the first pairs, then check that everything plays in order.
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(2));
  std::vector<int> played;
  for (const Step& s : sim.steps) {
    if (s.kind == AudioPlayoutKind::kPacket) played.push_back(AudioSim::IndexOf(s));
  }
  EXPECT_TRUE(std::is_sorted(played.begin(), played.end()));
  EXPECT_GE(played.size(), 39u);
  EXPECT_EQ(sim.jb.stats().fec_recoveries + sim.jb.stats().concealments, 40u - played.size());
}

TEST(AudioJitterBuffer, LossUsesTheNextPacketsFec) {
  AudioJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(60);
  AudioSim sim(config);
  for (uint32_t i = 0; i < 20; ++i) {
    if (i == 5 || i == 10 || i == 11) continue;  // one loss, then two in a row
    sim.Send(i);
  }
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(1));
  ASSERT_GE(sim.steps.size(), 20u);
  EXPECT_EQ(sim.steps[5].kind, AudioPlayoutKind::kFec);
  EXPECT_EQ(AudioSim::IndexOf(sim.steps[5]), 6) << "FEC is decoded from the next packet";
  EXPECT_EQ(sim.steps[5].rtp_timestamp, sim.ts0 + 960 * 5);
  EXPECT_EQ(sim.steps[6].kind, AudioPlayoutKind::kPacket);
  EXPECT_EQ(AudioSim::IndexOf(sim.steps[6]), 6);
  EXPECT_EQ(sim.steps[10].kind, AudioPlayoutKind::kConceal) << "packet 12 carries FEC for 11 only";
  EXPECT_FALSE(sim.steps[10].dtx);
  EXPECT_EQ(sim.steps[11].kind, AudioPlayoutKind::kFec);
  EXPECT_EQ(AudioSim::IndexOf(sim.steps[11]), 12);
  EXPECT_EQ(sim.steps[12].kind, AudioPlayoutKind::kPacket);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(sim.steps[i].rtp_timestamp, sim.ts0 + 960 * i) << i;
  EXPECT_EQ(sim.jb.stats().fec_recoveries, 2u);
  EXPECT_EQ(sim.jb.stats().concealments, 1u);
}

TEST(AudioJitterBuffer, DuplicatesAndMalformedPacketsAreDropped) {
  AudioSim sim;
  for (uint32_t i = 0; i < 10; ++i) {
    sim.Send(i);
    sim.Send(i);
  }
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(1));
  EXPECT_EQ(sim.jb.stats().packets_duplicate + sim.jb.stats().packets_late, 10u);
  EXPECT_EQ(sim.jb.stats().packets_played, 10u);
  const uint8_t bad[] = {static_cast<uint8_t>((31 << 3) | 3)};  // code 3 without its count byte
  EXPECT_EQ(sim.jb.InsertPacket(sim.now, test::Info(500, 0, false), bad),
            AudioJitterBuffer::InsertResult::kMalformed);
  EXPECT_EQ(sim.jb.InsertPacket(sim.now, test::Info(501, 0, false), {}),
            AudioJitterBuffer::InsertResult::kMalformed);
  EXPECT_EQ(sim.jb.stats().packets_malformed, 2u);
}

TEST(AudioJitterBuffer, DelayGrowsWithJitterSoLatePacketsStillPlay) {
  AudioJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(10);
  config.min_delay = TimeDelta::Millis(10);
  AudioSim sim(config);
  // Every 10th packet is 50 ms late.
  for (uint32_t i = 0; i < 300; ++i) sim.Send(i, i % 10 == 9 ? TimeDelta::Millis(50) : TimeDelta::Zero());
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(8));
  EXPECT_GE(sim.jb.current_delay(), TimeDelta::Millis(60));
  EXPECT_GE(sim.jb.stats().jitter, TimeDelta::Millis(50));
  // After the first couple of late packets the delay covers them: the second half plays every packet.
  std::vector<int> played;
  for (const Step& s : sim.steps) {
    if (s.kind == AudioPlayoutKind::kPacket) played.push_back(AudioSim::IndexOf(s));
  }
  for (int i = 150; i < 300; ++i) {
    EXPECT_TRUE(std::binary_search(played.begin(), played.end(), i)) << i;
  }
  EXPECT_GT(sim.jb.stats().stretches, 0u);
  EXPECT_TRUE(std::is_sorted(played.begin(), played.end()));
}

TEST(AudioJitterBuffer, DelayShrinksWhenJitterGoesAway) {
  AudioJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(20);
  config.timing_window = TimeDelta::Seconds(2);
  AudioSim sim(config);
  for (uint32_t i = 0; i < 500; ++i)
    sim.Send(i, (i < 50 && i % 5 == 4) ? TimeDelta::Millis(100) : TimeDelta::Zero());
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(2));
  EXPECT_GE(sim.jb.current_delay(), TimeDelta::Millis(100));
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(11));
  EXPECT_EQ(sim.jb.current_delay(), TimeDelta::Millis(20));
  EXPECT_GT(sim.jb.stats().packets_discarded, 0u);
  // The last packets play about 20 ms after they arrive again.
  auto last_packet = std::find_if(sim.steps.rbegin(), sim.steps.rend(),
                                  [](const Step& s) { return s.kind == AudioPlayoutKind::kPacket; });
  ASSERT_NE(last_packet, sim.steps.rend());
  const Step& last = *last_packet;
  EXPECT_EQ(AudioSim::IndexOf(last), 499);
  const int i = AudioSim::IndexOf(last);
  const Timestamp arrival = sim.t0 + sim.network + k20ms * i;
  EXPECT_LE(last.time - arrival, TimeDelta::Millis(40));
}

TEST(AudioJitterBuffer, DtxPauseIsNotALoss) {
  AudioSim sim;
  for (uint32_t i = 0; i < 10; ++i) sim.Send(i);
  sim.Send(10, TimeDelta::Zero(), false, /*dtx=*/true);  // the encoder's last DTX frame is sent
  // Silence: packets 11..59 suppressed. Speech resumes with the marker bit.
  for (uint32_t i = 60; i < 70; ++i) sim.Send(i, TimeDelta::Zero(), i == 60);
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(3));
  int dtx_steps = 0;
  std::vector<int> played;
  // Up to the last packet (after it the stream has simply ended).
  while (!sim.steps.empty() && sim.steps.back().kind != AudioPlayoutKind::kPacket) sim.steps.pop_back();
  for (const Step& s : sim.steps) {
    if (s.kind == AudioPlayoutKind::kConceal) {
      EXPECT_TRUE(s.dtx);
      ++dtx_steps;
    }
    if (s.kind == AudioPlayoutKind::kFec) ADD_FAILURE() << "no FEC across a pause";
    if (s.kind == AudioPlayoutKind::kPacket) played.push_back(AudioSim::IndexOf(s));
  }
  EXPECT_EQ(played.size(), 21u) << "0..10 (10 is the DTX frame) and 60..69";
  EXPECT_EQ(dtx_steps, 49) << "11..59";
  EXPECT_EQ(sim.jb.stats().concealments, 0u);
  // Packet 60 plays right after the pause, at the target delay after its arrival like the rest.
  auto it = std::find_if(sim.steps.begin(), sim.steps.end(),
                         [](const Step& s) { return AudioSim::IndexOf(s) == 60; });
  ASSERT_NE(it, sim.steps.end());
  EXPECT_EQ(it->time, sim.t0 + sim.network + k20ms * 60 + sim.jb.current_delay());
  EXPECT_EQ(sim.steps.front().time, sim.t0 + sim.network + sim.jb.current_delay());
}

TEST(AudioJitterBuffer, SuppressedSilenceResumesAtTheMarker) {
  AudioSim sim;
  for (uint32_t i = 0; i < 10; ++i) sim.Send(i);
  for (uint32_t i = 40; i < 50; ++i) sim.Send(i, TimeDelta::Zero(), i == 40);
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(2));
  EXPECT_EQ(sim.jb.stats().packets_played, 20u);
  EXPECT_EQ(sim.jb.stats().fec_recoveries, 0u);
  EXPECT_EQ(sim.jb.stats().concealments, 0u);
  EXPECT_GT(sim.jb.stats().stretches, 0u) << "waited through the silence";
}

TEST(AudioJitterBuffer, WrapsSequenceNumbersAndTimestamps) {
  AudioSim sim;
  sim.seq0 = 65530;
  sim.ts0 = 0xFFFFFFFFu - 960 * 3;
  for (uint32_t i = 0; i < 20; ++i) sim.Send(i);
  sim.RunUntil(sim.t0 + TimeDelta::Seconds(1));
  EXPECT_EQ(sim.jb.stats().packets_played, 20u);
  for (size_t i = 0; i < 20; ++i) EXPECT_EQ(AudioSim::IndexOf(sim.steps[i]), static_cast<int>(i));
}

TEST(AudioJitterBuffer, BoundedCapacityDropsTheOldest) {
  AudioJitterBufferConfig config;
  config.capacity = 8;
  AudioJitterBuffer jb(config);
  const Timestamp now = Timestamp::Seconds(1);
  for (uint32_t i = 0; i < 20; ++i) {
    EXPECT_EQ(jb.InsertPacket(now, test::Info(static_cast<uint16_t>(i), 960 * i, false), Packet(i)),
              AudioJitterBuffer::InsertResult::kInserted);
  }
  EXPECT_EQ(jb.buffered_packets(), 8u);
  EXPECT_EQ(jb.stats().packets_overflow, 12u);
  EXPECT_EQ(jb.PollTimeout(), now + jb.current_delay());
  EXPECT_FALSE(jb.PollPlayout(now).has_value());
}

}  // namespace
}  // namespace tandem::media
