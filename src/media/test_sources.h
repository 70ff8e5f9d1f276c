// Synthetic media sources for native applications and tests: a moving test pattern and a sine tone. Both are
// deterministic (frame k is a pure function of k) and pulled by time, sans-IO style: PollFrame(now) returns
// the frame due at `now` (or nothing), NextDeadline() says when to ask again.
#pragma once

#include <cstdint>
#include <optional>

#include "core/time.h"
#include "media/media_frame.h"

namespace tandem::media {

struct TestPatternConfig {
  int width = 640;
  int height = 480;
  int fps = 30;
};

// Colour bars (75% BT.601) over the top two thirds, a grey ramp below, a box that moves one step per frame
// and the frame number as 16 black/white blocks along the bottom edge.
class TestPatternSource {
 public:
  explicit TestPatternSource(const TestPatternConfig& config);

  // The frame due at `now`: frames are due every 1/fps from the first call. A caller that falls behind gets
  // the newest due frame; the ones in between are skipped (live video drops, it does not queue). nullptr when
  // none is due. The frame stays valid until the next call.
  const VideoFrame* PollFrame(Timestamp now);
  // When the next frame is due; the first call's time is needed before there is one (Timestamp::Zero() then).
  Timestamp NextDeadline() const;
  // Draws frame `index` into `out` (any caller can regenerate the reference picture a receiver should show).
  void Render(uint64_t index, VideoFrame& out) const;
  // The frame number encoded in the counter blocks of a picture (a decoder-side check), if readable.
  static std::optional<uint16_t> ReadCounter(const VideoFrame& frame);

  uint64_t frames_produced() const { return produced_; }
  uint64_t frames_skipped() const { return skipped_; }
  const TestPatternConfig& config() const { return config_; }

 private:
  TimeDelta FrameTime(uint64_t index) const;  // of frame `index` from the start
  TestPatternConfig config_;
  std::optional<Timestamp> start_;
  uint64_t next_index_ = 0;
  uint64_t produced_ = 0;
  uint64_t skipped_ = 0;
  VideoFrame frame_;
};

struct ToneConfig {
  double frequency_hz = 440.0;
  double amplitude = 0.5;  // of full scale
  int sample_rate = 48000;
  int channels = 1;
  int frame_ms = 20;
};

// A continuous sine tone in frames of frame_ms. Audio does not skip: a caller that falls behind gets every
// frame, one per call, until it has caught up.
class ToneSource {
 public:
  explicit ToneSource(const ToneConfig& config);
  const AudioFrame* PollFrame(Timestamp now);
  Timestamp NextDeadline() const;
  void Render(uint64_t index, AudioFrame& out) const;
  int frame_samples() const { return config_.sample_rate * config_.frame_ms / 1000; }
  const ToneConfig& config() const { return config_; }

 private:
  ToneConfig config_;
  std::optional<Timestamp> start_;
  uint64_t next_index_ = 0;
  AudioFrame frame_;
};

}  // namespace tandem::media
