// Ready-made send and receive paths for a native MediaStream track, composed from the pieces in this folder:
//   send:    VideoFrame -> Vp8Encoder -> Vp8Packetizer -> RTP payloads (+ marker, timestamp)
//            AudioFrame -> OpusEncoder -> OpusPacketizer -> RTP payloads
//   receive: RTP payloads -> VideoJitterBuffer -> Vp8Decoder -> VideoFrameSink (+ EncodedVideoSink, e.g. IVF)
//            RTP payloads -> AudioJitterBuffer -> OpusDecoder -> AudioFrameSink (+ EncodedAudioSink, e.g.
//            Ogg)
// Sans-IO like their parts: the caller passes `now` and drives HandleTimeout at PollTimeout(). Sinks are
// called synchronously from HandlePacket/HandleTimeout and must not call back into the pipeline.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "media/audio_jitter_buffer.h"
#include "media/ivf.h"
#include "media/media_frame.h"
#include "media/ogg_opus.h"
#include "media/opus_codec.h"
#include "media/opus_payload.h"
#include "media/rtp_types.h"
#include "media/video_jitter_buffer.h"
#include "media/vp8_codec.h"
#include "media/vp8_payload.h"

namespace tandem::media {

// Decoded-frame callbacks.
class VideoFrameSink {
 public:
  virtual ~VideoFrameSink() = default;
  virtual void OnFrame(const VideoFrame& frame) = 0;
};
class AudioFrameSink {
 public:
  virtual ~AudioFrameSink() = default;
  virtual void OnFrame(const AudioFrame& frame) = 0;
};
// Encoded-frame callbacks (recording, forwarding).
class EncodedVideoSink {
 public:
  virtual ~EncodedVideoSink() = default;
  virtual void OnEncodedFrame(const EncodedVideoFrame& frame) = 0;
};
class EncodedAudioSink {
 public:
  virtual ~EncodedAudioSink() = default;
  virtual void OnEncodedPacket(uint32_t rtp_timestamp, ByteSpan opus_packet) = 0;
};

// Records received VP8 frames to IVF (from the first key frame on).
class IvfRecorder final : public EncodedVideoSink {
 public:
  explicit IvfRecorder(ByteSink& sink) : writer_(sink) {}
  void OnEncodedFrame(const EncodedVideoFrame& frame) override;
  Status Finish() { return writer_.Finish(); }
  const IvfWriter& writer() const { return writer_; }

 private:
  IvfWriter writer_;
};

// Records received Opus packets to Ogg Opus, keeping time across losses and DTX.
class OggOpusRecorder final : public EncodedAudioSink {
 public:
  OggOpusRecorder(ByteSink& sink, int channels);
  void OnEncodedPacket(uint32_t rtp_timestamp, ByteSpan opus_packet) override;
  Status Finish() { return writer_.Finish(); }
  const OggOpusWriter& writer() const { return writer_; }

 private:
  OggOpusWriter writer_;
};

class Vp8Sender {
 public:
  // `initial_rtp_timestamp` and `initial_picture_id` should be random (RFC 3550 §5.1; the caller's Rng).
  static Result<std::unique_ptr<Vp8Sender>> Create(const Vp8EncoderConfig& config, size_t max_payload_size,
                                                   uint32_t initial_rtp_timestamp,
                                                   uint16_t initial_picture_id);
  // Encodes one captured frame (its timestamp is the capture time) and packetizes it. false when the encoder
  // dropped the frame. Take the payloads with NextPayload() before the next frame.
  Result<bool> SendFrame(const VideoFrame& frame);
  std::optional<OutgoingPayload> NextPayload() { return packetizer_.NextPayload(); }
  void RequestKeyFrame() { encoder_->RequestKeyFrame(); }
  Status SetBitrate(uint32_t bps) { return encoder_->SetBitrate(bps); }
  Vp8Encoder& encoder() { return *encoder_; }

 private:
  Vp8Sender(std::unique_ptr<Vp8Encoder> encoder, size_t max_payload_size, uint32_t ts, uint16_t picture_id);
  std::unique_ptr<Vp8Encoder> encoder_;
  Vp8Packetizer packetizer_;
  uint32_t initial_rtp_timestamp_;
  std::optional<Timestamp> first_capture_;
};

class OpusSender {
 public:
  static Result<std::unique_ptr<OpusSender>> Create(const OpusEncoderConfig& config,
                                                    uint32_t initial_rtp_timestamp, bool suppress_dtx = true);
  // Encodes one frame of frame_samples() per channel; the payload (nullopt for suppressed DTX) is valid until
  // the next call.
  Result<std::optional<OutgoingPayload>> SendFrame(const AudioFrame& frame);
  OpusEncoder& encoder() { return *encoder_; }

 private:
  OpusSender(std::unique_ptr<OpusEncoder> encoder, uint32_t ts, bool suppress_dtx)
      : encoder_(std::move(encoder)), packetizer_(suppress_dtx), next_rtp_timestamp_(ts) {}
  std::unique_ptr<OpusEncoder> encoder_;
  OpusPacketizer packetizer_;
  uint32_t next_rtp_timestamp_;
};

struct VideoReceiverStats {
  VideoJitterBufferStats jitter_buffer;
  uint64_t frames_decoded = 0;
  uint64_t decode_errors = 0;
};

class VideoReceiver {
 public:
  // VP8 frames are decoded for the VideoFrameSinks; H.264 (no decoder here) reaches only EncodedVideoSinks.
  static Result<std::unique_ptr<VideoReceiver>> Create(const VideoJitterBufferConfig& config,
                                                       VideoCodec codec = VideoCodec::kVp8);
  void AddSink(VideoFrameSink* sink) { sinks_.push_back(sink); }
  void AddEncodedSink(EncodedVideoSink* sink) { encoded_sinks_.push_back(sink); }
  void HandlePacket(Timestamp now, const RtpPacketInfo& info, ByteSpan payload);
  // Releases due frames to the decoder and the sinks.
  void HandleTimeout(Timestamp now);
  Timestamp PollTimeout() const { return jitter_buffer_.PollTimeout(); }
  // true once per key frame request: send a PLI (RFC 4585 §6.3.1).
  bool TakeKeyFrameRequest() { return jitter_buffer_.TakeKeyFrameRequest(); }
  // For a NACK (RFC 4585 §6.2.1).
  void GetMissingPackets(std::vector<uint16_t>& out) const { jitter_buffer_.GetMissingPackets(out); }
  VideoReceiverStats stats() const;

 private:
  VideoReceiver(const VideoJitterBufferConfig& config, VideoCodec codec) : jitter_buffer_(config, codec) {}
  VideoJitterBuffer jitter_buffer_;
  std::unique_ptr<Vp8Decoder> decoder_;
  VideoFrame frame_;
  std::vector<VideoFrameSink*> sinks_;
  std::vector<EncodedVideoSink*> encoded_sinks_;
  uint64_t frames_decoded_ = 0;
  uint64_t decode_errors_ = 0;
};

class AudioReceiver {
 public:
  static Result<std::unique_ptr<AudioReceiver>> Create(const AudioJitterBufferConfig& config,
                                                       int channels = 1);
  void AddSink(AudioFrameSink* sink) { sinks_.push_back(sink); }
  void AddEncodedSink(EncodedAudioSink* sink) { encoded_sinks_.push_back(sink); }
  void HandlePacket(Timestamp now, const RtpPacketInfo& info, ByteSpan payload);
  // Plays out due steps: decode, FEC or concealment, then the sinks. Encoded sinks see each packet as it is
  // played (in order; a recording fills the gaps of lost packets).
  void HandleTimeout(Timestamp now);
  Timestamp PollTimeout() const { return jitter_buffer_.PollTimeout(); }
  const AudioJitterBufferStats& stats() const { return jitter_buffer_.stats(); }
  uint64_t decode_errors() const { return decode_errors_; }

 private:
  explicit AudioReceiver(const AudioJitterBufferConfig& config) : jitter_buffer_(config) {}
  AudioJitterBuffer jitter_buffer_;
  std::unique_ptr<OpusDecoder> decoder_;
  AudioFrame frame_;
  std::vector<AudioFrameSink*> sinks_;
  std::vector<EncodedAudioSink*> encoded_sinks_;
  uint64_t decode_errors_ = 0;
};

}  // namespace tandem::media
