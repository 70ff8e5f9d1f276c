// Opus encoder and decoder over Debian's libopus, set up for RTP (RFC 7587): 48 kHz, mono or stereo, 20 ms
// packets by default, in-band FEC on (RFC 7587 §3.3) and loss concealment on the receive side. libopus types
// stay in the .cc (its `OpusEncoder`/`OpusDecoder` live in the global namespace; ours are tandem::media::).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "media/audio_jitter_buffer.h"
#include "media/media_frame.h"

namespace tandem::media {

inline constexpr int kOpusSampleRate = 48000;

struct OpusEncoderConfig {
  int channels = 1;  // 1 or 2
  uint32_t bitrate_bps = 32'000;
  int frame_ms = 20;               // 10, 20, 40 or 60
  bool voip = true;                // OPUS_APPLICATION_VOIP (speech) rather than _AUDIO (music)
  bool inband_fec = true;          // RFC 7587 §3.3 (useprotection)
  int expected_loss_percent = 10;  // FEC is only spent when this is > 0
  bool dtx = false;                // RFC 7587 §3.1.3 (usedtx)
  int complexity = 9;              // 0..10
};

class OpusEncoder {
 public:
  static Result<std::unique_ptr<OpusEncoder>> Create(const OpusEncoderConfig& config);
  ~OpusEncoder();
  OpusEncoder(const OpusEncoder&) = delete;
  OpusEncoder& operator=(const OpusEncoder&) = delete;

  // Encodes exactly frame_samples() samples per channel of interleaved 48 kHz PCM into one Opus packet, valid
  // until the next call.
  Result<ByteSpan> Encode(std::span<const int16_t> pcm);
  // The same for an AudioFrame (48 kHz, the configured channel count, frame_samples() long).
  Result<ByteSpan> Encode(const AudioFrame& frame);
  Status SetBitrate(uint32_t bitrate_bps);
  Status SetExpectedLossPercent(int percent);
  int frame_samples() const { return kOpusSampleRate * config_.frame_ms / 1000; }
  int channels() const { return config_.channels; }
  // Samples (48 kHz) of encoder delay: the Ogg Opus pre-skip (RFC 7845 §4.2).
  int lookahead() const { return lookahead_; }

 private:
  struct Impl;
  explicit OpusEncoder(const OpusEncoderConfig& config);
  OpusEncoderConfig config_;
  std::unique_ptr<Impl> impl_;
  std::vector<uint8_t> output_;
  int lookahead_ = 0;
};

class OpusDecoder {
 public:
  // Output is 48 kHz with `channels` (1 or 2) whatever the packets carry (libopus up/down-mixes).
  static Result<std::unique_ptr<OpusDecoder>> Create(int channels = 1);
  ~OpusDecoder();
  OpusDecoder(const OpusDecoder&) = delete;
  OpusDecoder& operator=(const OpusDecoder&) = delete;

  // Decodes a packet into `out` (buffer reused).
  Status Decode(ByteSpan packet, AudioFrame& out);
  // Rebuilds `samples` (48 kHz, a multiple of 2.5 ms) of a lost packet from the in-band FEC of the packet
  // that followed it (libopus decode_fec); plain concealment when that packet carries no FEC.
  Status DecodeFec(ByteSpan next_packet, int samples, AudioFrame& out);
  // Packet loss concealment (or comfort noise after DTX) for `samples` at 48 kHz.
  Status Conceal(int samples, AudioFrame& out);
  // Runs one step of the audio jitter buffer: decode, FEC or conceal as it says.
  Status Decode(const AudioPlayout& step, AudioFrame& out);
  int channels() const { return channels_; }

 private:
  struct Impl;
  explicit OpusDecoder(int channels);
  Status Run(const uint8_t* data, size_t size, int samples, bool fec, AudioFrame& out);
  int channels_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::media
