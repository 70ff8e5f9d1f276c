// Plain frame types shared by sources, codecs, the jitter buffers and sinks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"

namespace tandem::media {

enum class VideoCodec : uint8_t { kVp8, kH264 };
const char* ToString(VideoCodec codec);

// A raw I420 picture (8-bit Y plane, then U and V at half resolution rounded up), tightly packed in one
// buffer so that a frame reused across calls never reallocates once it has grown.
struct VideoFrame {
  int width = 0;
  int height = 0;
  Timestamp timestamp;         // capture time (sources) or playout time (receivers)
  uint32_t rtp_timestamp = 0;  // 90 kHz (set by receivers; senders derive it from `timestamp`)
  std::vector<uint8_t> data;   // Y (width*height), U, V (chroma_width*chroma_height each)

  // Sets the size and resizes `data` (contents unspecified; capacity is kept).
  void Allocate(int w, int h);
  int chroma_width() const { return (width + 1) / 2; }
  int chroma_height() const { return (height + 1) / 2; }
  int stride_y() const { return width; }
  int stride_uv() const { return chroma_width(); }
  size_t y_size() const { return static_cast<size_t>(width) * height; }
  size_t uv_size() const { return static_cast<size_t>(chroma_width()) * chroma_height(); }
  uint8_t* y() { return data.data(); }
  uint8_t* u() { return data.data() + y_size(); }
  uint8_t* v() { return data.data() + y_size() + uv_size(); }
  const uint8_t* y() const { return data.data(); }
  const uint8_t* u() const { return data.data() + y_size(); }
  const uint8_t* v() const { return data.data() + y_size() + uv_size(); }
};

// Peak signal-to-noise ratio of the luma planes in dB (capped at 100 for identical planes); nullopt when the
// sizes differ.
std::optional<double> LumaPsnr(const VideoFrame& a, const VideoFrame& b);

// Interleaved 16-bit PCM.
struct AudioFrame {
  int sample_rate = 48000;
  int channels = 1;
  Timestamp timestamp;         // capture time (sources) or playout time (receivers)
  uint32_t rtp_timestamp = 0;  // 48 kHz for Opus
  std::vector<int16_t> samples;

  size_t samples_per_channel() const { return channels > 0 ? samples.size() / channels : 0; }
  TimeDelta duration() const {
    return sample_rate > 0
               ? TimeDelta::Micros(static_cast<int64_t>(samples_per_channel()) * 1000000 / sample_rate)
               : TimeDelta::Zero();
  }
};

// A compressed video frame as the jitter buffer hands it to a decoder (or an IVF recorder). `data` is a view
// valid until the producer's next non-const call. For H.264 it is an Annex B byte stream (start codes before
// every NAL).
struct EncodedVideoFrame {
  VideoCodec codec = VideoCodec::kVp8;
  ByteSpan data;
  uint32_t rtp_timestamp = 0;
  bool key_frame = false;
  int width = 0;  // from a VP8 key frame header; 0 when unknown
  int height = 0;
  uint16_t first_sequence_number = 0;
  uint16_t last_sequence_number = 0;
  std::optional<uint16_t> picture_id;  // VP8 (RFC 7741 §4.2), 15-bit space
  Timestamp receive_time;              // arrival of the packet that completed the frame
  Timestamp playout_time;              // when the jitter buffer released it (its render time)
};

}  // namespace tandem::media
