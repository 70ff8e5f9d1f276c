#include "media/test_sources.h"

#include <gtest/gtest.h>

#include "media/media_test_util_audio.h"

namespace tandem::media {
namespace {

TEST(TestPatternSource, FramesAreDeterministicAndCarryTheirNumber) {
  TestPatternSource a({320, 240, 30}), b({320, 240, 30});
  VideoFrame fa, fb, next;
  for (uint64_t i : {0u, 1u, 7u, 255u, 4096u, 65535u}) {
    a.Render(i, fa);
    b.Render(i, fb);
    EXPECT_EQ(fa.data, fb.data);
    EXPECT_EQ(TestPatternSource::ReadCounter(fa), static_cast<uint16_t>(i));
    a.Render(i + 1, next);
    EXPECT_NE(fa.data, next.data) << "the box moves";
  }
  EXPECT_EQ(fa.width, 320);
  EXPECT_EQ(fa.height, 240);
  EXPECT_EQ(fa.data.size(), 320u * 240 * 3 / 2);
  // Bars: the first column is 75% white (Y 180), the last blue (Y 35).
  a.Render(0, fa);
  EXPECT_EQ(fa.y()[10 * fa.stride_y() + 300], 35);
}

TEST(TestPatternSource, OddSizesHaveRoundedUpChroma) {
  TestPatternSource s({33, 17, 15});
  VideoFrame f;
  s.Render(3, f);
  EXPECT_EQ(f.chroma_width(), 17);
  EXPECT_EQ(f.chroma_height(), 9);
  EXPECT_EQ(f.data.size(), 33u * 17 + 2u * 17 * 9);
  EXPECT_EQ(TestPatternSource::ReadCounter(f), 3);
}

TEST(TestPatternSource, PacedByTimeAndSkipsWhenBehind) {
  TestPatternSource s({64, 48, 25});  // 40 ms
  const Timestamp t0 = Timestamp::Seconds(10);
  EXPECT_EQ(s.NextDeadline(), Timestamp::Zero());
  const VideoFrame* f = s.PollFrame(t0);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->timestamp, t0);
  EXPECT_EQ(TestPatternSource::ReadCounter(*f), 0);
  EXPECT_EQ(s.NextDeadline(), t0 + TimeDelta::Millis(40));
  EXPECT_EQ(s.PollFrame(t0 + TimeDelta::Millis(39)), nullptr);
  f = s.PollFrame(t0 + TimeDelta::Millis(40));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(TestPatternSource::ReadCounter(*f), 1);
  // 130 ms late: frames 2..4 are skipped, frame 5 (due at 200 ms) comes out.
  f = s.PollFrame(t0 + TimeDelta::Millis(210));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(TestPatternSource::ReadCounter(*f), 5);
  EXPECT_EQ(f->timestamp, t0 + TimeDelta::Millis(200));
  EXPECT_EQ(s.frames_skipped(), 3u);
  EXPECT_EQ(s.frames_produced(), 3u);
  EXPECT_EQ(s.NextDeadline(), t0 + TimeDelta::Millis(240));
}

TEST(ToneSource, ContinuousSineAtTheConfiguredFrequency) {
  ToneSource tone({.frequency_hz = 1000, .amplitude = 0.25, .sample_rate = 48000, .channels = 2});
  EXPECT_EQ(tone.frame_samples(), 960);
  std::vector<int16_t> pcm;
  const Timestamp t0 = Timestamp::Seconds(1);
  for (int i = 0; i < 50; ++i) {
    const AudioFrame* f = tone.PollFrame(t0 + TimeDelta::Millis(20) * i);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->channels, 2);
    EXPECT_EQ(f->samples_per_channel(), 960u);
    EXPECT_EQ(f->timestamp, t0 + TimeDelta::Millis(20) * i);
    EXPECT_EQ(f->rtp_timestamp, 960u * i);
    pcm.insert(pcm.end(), f->samples.begin(), f->samples.end());
    EXPECT_EQ(tone.PollFrame(t0 + TimeDelta::Millis(20) * i), nullptr);
  }
  EXPECT_NEAR(test::ZeroCrossingFrequency(pcm, 2, 48000), 1000.0, 1.0);
  EXPECT_NEAR(test::Rms(pcm), 0.25 * 32767 / std::sqrt(2.0), 50.0);
  // No discontinuity at frame boundaries: neighbouring samples differ by less than the sine's maximum slope.
  const double max_step = 0.25 * 32767 * 2 * 3.14159265 * 1000 / 48000 + 2;
  for (size_t i = 2; i < pcm.size(); i += 2) EXPECT_LE(std::abs(pcm[i] - pcm[i - 2]), max_step) << i;
  // A caller that falls behind gets every frame, one per call.
  ToneSource catchup({});
  ASSERT_NE(catchup.PollFrame(t0), nullptr);
  int n = 0;
  while (catchup.PollFrame(t0 + TimeDelta::Millis(100))) ++n;
  EXPECT_EQ(n, 5);
}

}  // namespace
}  // namespace tandem::media
