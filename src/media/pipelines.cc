#include "media/pipelines.h"

namespace tandem::media {

void IvfRecorder::OnEncodedFrame(const EncodedVideoFrame& frame) {
  if (frame.codec != VideoCodec::kVp8) return;
  (void)writer_.WriteFrame(frame);
}

namespace {
OpusHead HeadFor(int channels) {
  OpusHead h;
  h.channels = static_cast<uint8_t>(channels == 2 ? 2 : 1);
  h.pre_skip = 312;  // the sender's encoder is unknown; libopus at 48 kHz
  return h;
}
}  // namespace

OggOpusRecorder::OggOpusRecorder(ByteSink& sink, int channels) : writer_(sink, HeadFor(channels)) {}

void OggOpusRecorder::OnEncodedPacket(uint32_t rtp_timestamp, ByteSpan opus_packet) {
  (void)writer_.WriteRtpPacket(rtp_timestamp, opus_packet);  // late or reordered packets are skipped
}

Vp8Sender::Vp8Sender(std::unique_ptr<Vp8Encoder> encoder, size_t max_payload_size, uint32_t ts,
                     uint16_t picture_id)
    : encoder_(std::move(encoder)), packetizer_(max_payload_size, picture_id), initial_rtp_timestamp_(ts) {}

Result<std::unique_ptr<Vp8Sender>> Vp8Sender::Create(const Vp8EncoderConfig& config, size_t max_payload_size,
                                                     uint32_t initial_rtp_timestamp,
                                                     uint16_t initial_picture_id) {
  auto encoder = Vp8Encoder::Create(config);
  if (!encoder) return encoder.error();
  return std::unique_ptr<Vp8Sender>(
      new Vp8Sender(std::move(*encoder), max_payload_size, initial_rtp_timestamp, initial_picture_id));
}

Result<bool> Vp8Sender::SendFrame(const VideoFrame& frame) {
  auto encoded = encoder_->Encode(frame);
  if (!encoded) return encoded.error();
  if (!*encoded) return false;
  if (!first_capture_) first_capture_ = frame.timestamp;
  // RFC 7741 §4.1: the 90 kHz timestamp is the frame's sampling instant.
  const uint32_t ts = initial_rtp_timestamp_ +
                      static_cast<uint32_t>(TimeToTicks(frame.timestamp - *first_capture_, kVideoClockRate));
  if (auto s = packetizer_.Packetize((*encoded)->data, ts); !s) return s.error();
  return true;
}

Result<std::unique_ptr<OpusSender>> OpusSender::Create(const OpusEncoderConfig& config,
                                                       uint32_t initial_rtp_timestamp, bool suppress_dtx) {
  auto encoder = OpusEncoder::Create(config);
  if (!encoder) return encoder.error();
  return std::unique_ptr<OpusSender>(
      new OpusSender(std::move(*encoder), initial_rtp_timestamp, suppress_dtx));
}

Result<std::optional<OutgoingPayload>> OpusSender::SendFrame(const AudioFrame& frame) {
  auto packet = encoder_->Encode(frame);
  if (!packet) return packet.error();
  // RFC 7587 §4.1: the timestamp advances by the packet's duration at 48 kHz, sent or not (DTX).
  const uint32_t ts = next_rtp_timestamp_;
  next_rtp_timestamp_ += static_cast<uint32_t>(encoder_->frame_samples());
  return packetizer_.Packetize(*packet, ts);
}

Result<std::unique_ptr<VideoReceiver>> VideoReceiver::Create(const VideoJitterBufferConfig& config,
                                                             VideoCodec codec) {
  std::unique_ptr<VideoReceiver> r(new VideoReceiver(config, codec));
  if (codec == VideoCodec::kVp8) {
    auto d = Vp8Decoder::Create();
    if (!d) return d.error();
    r->decoder_ = std::move(*d);
  }
  return r;
}

void VideoReceiver::HandlePacket(Timestamp now, const RtpPacketInfo& info, ByteSpan payload) {
  jitter_buffer_.InsertPacket(now, info, payload);
  HandleTimeout(now);
}

void VideoReceiver::HandleTimeout(Timestamp now) {
  jitter_buffer_.HandleTimeout(now);
  while (auto frame = jitter_buffer_.PollFrame(now)) {
    for (EncodedVideoSink* s : encoded_sinks_) s->OnEncodedFrame(*frame);
    if (!decoder_ || sinks_.empty()) continue;
    auto decoded = decoder_->Decode(frame->data, frame_);
    if (!decoded) {
      ++decode_errors_;
      jitter_buffer_.OnDecodeError(now);
      continue;
    }
    if (!*decoded) continue;
    ++frames_decoded_;
    frame_.rtp_timestamp = frame->rtp_timestamp;
    frame_.timestamp = frame->playout_time;
    for (VideoFrameSink* s : sinks_) s->OnFrame(frame_);
  }
}

VideoReceiverStats VideoReceiver::stats() const {
  VideoReceiverStats s;
  s.jitter_buffer = jitter_buffer_.stats();
  s.frames_decoded = frames_decoded_;
  s.decode_errors = decode_errors_;
  return s;
}

Result<std::unique_ptr<AudioReceiver>> AudioReceiver::Create(const AudioJitterBufferConfig& config,
                                                             int channels) {
  std::unique_ptr<AudioReceiver> r(new AudioReceiver(config));
  auto d = OpusDecoder::Create(channels);
  if (!d) return d.error();
  r->decoder_ = std::move(*d);
  return r;
}

void AudioReceiver::HandlePacket(Timestamp now, const RtpPacketInfo& info, ByteSpan payload) {
  jitter_buffer_.InsertPacket(now, info, payload);
  HandleTimeout(now);
}

void AudioReceiver::HandleTimeout(Timestamp now) {
  while (auto step = jitter_buffer_.PollPlayout(now)) {
    if (step->kind == AudioPlayoutKind::kPacket) {
      for (EncodedAudioSink* s : encoded_sinks_) s->OnEncodedPacket(step->rtp_timestamp, step->payload);
    }
    if (auto s = decoder_->Decode(*step, frame_); !s) {
      ++decode_errors_;
      if (!decoder_->Conceal(step->samples, frame_)) continue;
    }
    for (AudioFrameSink* s : sinks_) s->OnFrame(frame_);
  }
}

}  // namespace tandem::media
