#include "media/opus_codec.h"

#include <opus/opus.h>

#include <algorithm>

#include "media/opus_payload.h"

namespace tandem::media {

struct OpusEncoder::Impl {
  ::OpusEncoder* enc = nullptr;
  ~Impl() {
    if (enc) opus_encoder_destroy(enc);
  }
};

OpusEncoder::OpusEncoder(const OpusEncoderConfig& config)
    : config_(config), impl_(std::make_unique<Impl>()) {}
OpusEncoder::~OpusEncoder() = default;

Result<std::unique_ptr<OpusEncoder>> OpusEncoder::Create(const OpusEncoderConfig& config) {
  if (config.channels != 1 && config.channels != 2) {
    return MakeError(ErrorCode::kInvalidArgument, "Opus encoder: channels must be 1 or 2");
  }
  if (config.frame_ms != 10 && config.frame_ms != 20 && config.frame_ms != 40 && config.frame_ms != 60) {
    return MakeError(ErrorCode::kInvalidArgument, "Opus encoder: frame_ms must be 10, 20, 40 or 60");
  }
  std::unique_ptr<OpusEncoder> e(new OpusEncoder(config));
  int err = OPUS_OK;
  e->impl_->enc = opus_encoder_create(kOpusSampleRate, config.channels,
                                      config.voip ? OPUS_APPLICATION_VOIP : OPUS_APPLICATION_AUDIO, &err);
  if (err != OPUS_OK || !e->impl_->enc) return MakeError(ErrorCode::kInternal, "Opus encoder: create failed");
  ::OpusEncoder* enc = e->impl_->enc;
  opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(config.inband_fec ? 1 : 0));
  opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(std::clamp(config.expected_loss_percent, 0, 100)));
  opus_encoder_ctl(enc, OPUS_SET_DTX(config.dtx ? 1 : 0));
  opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(std::clamp(config.complexity, 0, 10)));
  if (auto s = e->SetBitrate(config.bitrate_bps); !s) return s.error();
  opus_int32 lookahead = 0;
  opus_encoder_ctl(enc, OPUS_GET_LOOKAHEAD(&lookahead));
  e->lookahead_ = lookahead;
  e->output_.resize(kOpusMaxPacketBytes);
  return e;
}

Status OpusEncoder::SetBitrate(uint32_t bitrate_bps) {
  // libopus accepts 500..512000 bit/s.
  const opus_int32 bps = static_cast<opus_int32>(std::clamp<uint32_t>(bitrate_bps, 6000, 510000));
  if (opus_encoder_ctl(impl_->enc, OPUS_SET_BITRATE(bps)) != OPUS_OK) {
    return MakeError(ErrorCode::kInternal, "Opus encoder: OPUS_SET_BITRATE failed");
  }
  config_.bitrate_bps = static_cast<uint32_t>(bps);
  return OkStatus();
}

Status OpusEncoder::SetExpectedLossPercent(int percent) {
  config_.expected_loss_percent = std::clamp(percent, 0, 100);
  if (opus_encoder_ctl(impl_->enc, OPUS_SET_PACKET_LOSS_PERC(config_.expected_loss_percent)) != OPUS_OK) {
    return MakeError(ErrorCode::kInternal, "Opus encoder: OPUS_SET_PACKET_LOSS_PERC failed");
  }
  return OkStatus();
}

Result<ByteSpan> OpusEncoder::Encode(std::span<const int16_t> pcm) {
  if (pcm.size() != static_cast<size_t>(frame_samples()) * config_.channels) {
    return MakeError(ErrorCode::kInvalidArgument, "Opus encoder: wrong number of samples");
  }
  const opus_int32 n = opus_encode(impl_->enc, pcm.data(), frame_samples(), output_.data(),
                                   static_cast<opus_int32>(output_.size()));
  if (n < 0) return MakeError(ErrorCode::kInternal, "Opus encoder: opus_encode failed");
  return ByteSpan(output_.data(), static_cast<size_t>(n));
}

Result<ByteSpan> OpusEncoder::Encode(const AudioFrame& frame) {
  if (frame.sample_rate != kOpusSampleRate || frame.channels != config_.channels) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Opus encoder: frame format differs from the configuration");
  }
  return Encode(std::span<const int16_t>(frame.samples));
}

struct OpusDecoder::Impl {
  ::OpusDecoder* dec = nullptr;
  ~Impl() {
    if (dec) opus_decoder_destroy(dec);
  }
};

OpusDecoder::OpusDecoder(int channels) : channels_(channels), impl_(std::make_unique<Impl>()) {}
OpusDecoder::~OpusDecoder() = default;

Result<std::unique_ptr<OpusDecoder>> OpusDecoder::Create(int channels) {
  if (channels != 1 && channels != 2) {
    return MakeError(ErrorCode::kInvalidArgument, "Opus decoder: channels must be 1 or 2");
  }
  std::unique_ptr<OpusDecoder> d(new OpusDecoder(channels));
  int err = OPUS_OK;
  d->impl_->dec = opus_decoder_create(kOpusSampleRate, channels, &err);
  if (err != OPUS_OK || !d->impl_->dec) return MakeError(ErrorCode::kInternal, "Opus decoder: create failed");
  return d;
}

Status OpusDecoder::Run(const uint8_t* data, size_t size, int samples, bool fec, AudioFrame& out) {
  samples = std::clamp(samples, 120, kOpusMaxPacketSamples48k);
  out.sample_rate = kOpusSampleRate;
  out.channels = channels_;
  out.samples.resize(static_cast<size_t>(kOpusMaxPacketSamples48k) * channels_);
  const int n = opus_decode(impl_->dec, data, static_cast<opus_int32>(size), out.samples.data(),
                            data ? (fec ? samples : kOpusMaxPacketSamples48k) : samples, fec ? 1 : 0);
  if (n < 0) {
    out.samples.clear();
    return MakeError(ErrorCode::kMalformed, "Opus decoder: opus_decode failed");
  }
  out.samples.resize(static_cast<size_t>(n) * channels_);
  return OkStatus();
}

Status OpusDecoder::Decode(ByteSpan packet, AudioFrame& out) {
  if (packet.empty()) return MakeError(ErrorCode::kInvalidArgument, "Opus decoder: empty packet");
  return Run(packet.data(), packet.size(), kOpusMaxPacketSamples48k, false, out);
}

Status OpusDecoder::DecodeFec(ByteSpan next_packet, int samples, AudioFrame& out) {
  if (next_packet.empty()) return Conceal(samples, out);
  return Run(next_packet.data(), next_packet.size(), samples, true, out);
}

Status OpusDecoder::Conceal(int samples, AudioFrame& out) { return Run(nullptr, 0, samples, false, out); }

Status OpusDecoder::Decode(const AudioPlayout& step, AudioFrame& out) {
  Status s;
  switch (step.kind) {
    case AudioPlayoutKind::kPacket:
      s = Decode(step.payload, out);
      break;
    case AudioPlayoutKind::kFec:
      s = DecodeFec(step.payload, step.samples, out);
      break;
    case AudioPlayoutKind::kConceal:
      s = Conceal(step.samples, out);
      break;
  }
  out.rtp_timestamp = step.rtp_timestamp;
  out.timestamp = step.playout_time;
  return s;
}

}  // namespace tandem::media
