// Send pipelines: what produces the encoded frames of one sender (W3C RTCRtpSender) — a synthetic source with
// an encoder (test pattern + VP8, tone + Opus, frames pushed by the application + VP8) or a media file read
// as it is (VP8 IVF, Ogg Opus). Pulled by time like the sources they wrap: the driver calls Poll(now) at
// NextDeadline(). One pipeline per sender (an encoder follows its connection's bandwidth estimate and key
// frame requests).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "core/time.h"
#include "media/media_frame.h"
#include "sdp/session_description.h"

namespace tandem::peer {

struct EncodedOutput {
  std::vector<uint8_t> data;
  uint32_t rtp_timestamp = 0;  // in the codec's clock (90 kHz video, 48 kHz Opus), from a random base
  bool key_frame = false;
  int width = 0, height = 0;
};

class SendPipeline {
 public:
  virtual ~SendPipeline() = default;
  virtual sdp::MediaType kind() const = 0;
  // When Poll has something (Timestamp::Infinity() when never again, e.g. a file that ended without looping).
  virtual Timestamp NextDeadline() const = 0;
  virtual std::optional<EncodedOutput> Poll(Timestamp now) = 0;
  // A PLI/FIR from the peer (encoders only; files send their key frames as they come).
  virtual void RequestKeyFrame() {}
  // The bandwidth estimate's share for this sender (encoders only).
  virtual void SetTargetBitrate(uint32_t bps) {}
};

// Frames an application pushes (any thread) for a VideoTrackSource; pipelines drain them on their loop.
class PushedFrames {
 public:
  void Push(media::VideoFrame frame);
  std::optional<media::VideoFrame> Pop();

 private:
  std::mutex mutex_;
  std::deque<media::VideoFrame> frames_;  // bounded: a slow consumer keeps only the newest few
};

struct TestPatternSpec {
  int width = 640, height = 480, fps = 30;
};
std::unique_ptr<SendPipeline> MakeTestPatternPipeline(const TestPatternSpec& spec, uint32_t rtp_base);
std::unique_ptr<SendPipeline> MakeTonePipeline(int frequency_hz, int channels, uint32_t rtp_base);
// `file` holds the whole file (shared by the pipelines of one track).
std::unique_ptr<SendPipeline> MakeIvfPipeline(std::shared_ptr<const std::vector<uint8_t>> file, bool loop,
                                              uint32_t rtp_base);
std::unique_ptr<SendPipeline> MakeOggOpusPipeline(std::shared_ptr<const std::vector<uint8_t>> file, bool loop,
                                                  uint32_t rtp_base);
std::unique_ptr<SendPipeline> MakePushedVideoPipeline(std::shared_ptr<PushedFrames> frames, int fps,
                                                      uint32_t rtp_base);

}  // namespace tandem::peer
