// VP8 encoder and decoder over Debian's libvpx. The encoder is set up for real-time communication: one-pass
// CBR, no lag, error resilient, a target bitrate the congestion controller can change before any frame, key
// frames on request. libvpx types stay in the .cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "media/media_frame.h"
#include "media/rtp_types.h"

namespace tandem::media {

struct Vp8EncoderConfig {
  int width = 640;
  int height = 480;
  int fps = 30;
  uint32_t bitrate_bps = 1'000'000;
  // Frames between automatic key frames; 0 = key frames only at the start and on request.
  int key_frame_interval = 0;
  // libvpx VP8E_SET_CPUUSED: -16..16, more negative/positive = faster; real-time encoders use about -6.
  int cpu_used = -6;
  int threads = 1;
  bool error_resilient = true;   // keeps decoding possible after losses (VPX_ERROR_RESILIENT_DEFAULT)
  bool allow_frame_drop = true;  // the rate controller may skip frames when over budget
  int min_quantizer = 2;
  int max_quantizer = 56;
};

// One encoded frame; `data` is valid until the next Encode().
struct Vp8EncodedFrame {
  ByteSpan data;
  bool key_frame = false;
  int width = 0;
  int height = 0;
  Timestamp capture_time;
};

class Vp8Encoder {
 public:
  static Result<std::unique_ptr<Vp8Encoder>> Create(const Vp8EncoderConfig& config);
  ~Vp8Encoder();
  Vp8Encoder(const Vp8Encoder&) = delete;
  Vp8Encoder& operator=(const Vp8Encoder&) = delete;

  // Encodes one I420 frame. A frame of another size reconfigures the encoder (the next frame is then a key
  // frame). nullopt when the rate controller dropped the frame.
  Result<std::optional<Vp8EncodedFrame>> Encode(const VideoFrame& frame);
  // Target bitrate for the following frames (clamped to [10 kbit/s, 50 Mbit/s]).
  Status SetBitrate(uint32_t bitrate_bps);
  Status SetFrameRate(int fps);
  // The next encoded frame is a key frame (a PLI or FIR arrived).
  void RequestKeyFrame() { key_frame_requested_ = true; }
  const Vp8EncoderConfig& config() const { return config_; }
  uint64_t frames_encoded() const { return frames_encoded_; }
  uint64_t frames_dropped() const { return frames_dropped_; }

 private:
  struct Impl;
  explicit Vp8Encoder(const Vp8EncoderConfig& config);
  Status Init();
  Status Reconfigure();

  Vp8EncoderConfig config_;
  std::unique_ptr<Impl> impl_;
  bool key_frame_requested_ = false;
  std::optional<Timestamp> first_timestamp_;
  std::vector<uint8_t> output_;
  uint64_t frames_encoded_ = 0;
  uint64_t frames_dropped_ = 0;
};

class Vp8Decoder {
 public:
  static Result<std::unique_ptr<Vp8Decoder>> Create(int threads = 1);
  ~Vp8Decoder();
  Vp8Decoder(const Vp8Decoder&) = delete;
  Vp8Decoder& operator=(const Vp8Decoder&) = delete;

  // Decodes one frame into `out` (its buffer is reused). true when a picture was produced, false when the
  // frame produced none (a hidden frame). kMalformed when libvpx refuses the data.
  Result<bool> Decode(ByteSpan frame, VideoFrame& out);
  uint64_t frames_decoded() const { return frames_decoded_; }
  uint64_t errors() const { return errors_; }

 private:
  struct Impl;
  Vp8Decoder();
  std::unique_ptr<Impl> impl_;
  uint64_t frames_decoded_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace tandem::media
