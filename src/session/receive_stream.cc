#include "session/receive_stream.h"

#include <algorithm>

#include "media/h264_payload.h"
#include "media/vp8_payload.h"
#include "rtp/rtx.h"

namespace tandem::session {

ReceiveStream::ReceiveStream(StreamId id, const ReceiveStreamConfig& config,
                             const ReceiveStreamSettings& settings)
    : id_(id), config_(config), settings_(settings) {
  for (const Codec& c : config_.codecs) nack_enabled_ = nack_enabled_ || c.nack;
  if (!config_.ssrcs.empty()) media_ssrc_ = config_.ssrcs.front();
  rtx_ssrc_ = config_.rtx_ssrc;
  restore_buffer_.reserve(rtp::kMaxPacketSize);
  stats_.stream = id;
  stats_.kind = config.kind;
  stats_.mid = config.mid;
  if (media_ssrc_) SwitchSsrc(*media_ssrc_);
}

KeyFrameRequestKind ReceiveStream::key_frame_request_kind() const {
  bool fir = false;
  for (const Codec& c : config_.codecs) {
    if (c.pli) return KeyFrameRequestKind::kPli;
    fir = fir || c.fir;
  }
  return fir ? KeyFrameRequestKind::kFir : KeyFrameRequestKind::kNone;
}

const Codec* ReceiveStream::FindCodec(uint8_t payload_type) const {
  for (const Codec& c : config_.codecs) {
    if (c.payload_type == payload_type) return &c;
  }
  return nullptr;
}

std::optional<uint8_t> ReceiveStream::RtxApt(uint8_t payload_type) const {
  for (const Codec& c : config_.codecs) {
    if (c.rtx_payload_type == payload_type) return c.payload_type;
  }
  return std::nullopt;
}

void ReceiveStream::SwitchSsrc(uint32_t ssrc) {
  media_ssrc_ = ssrc;
  stats_.ssrc = ssrc;
  statistics_.emplace(ssrc, config_.codecs.empty() ? 90000 : config_.codecs.front().clock_rate);
  if (nack_enabled_) {
    rtp::NackConfig nack_config = settings_.nack;
    // Audio has no key frames to fall back on.
    if (config_.kind == MediaKind::kAudio) nack_config.key_frame_on_give_up = false;
    nack_.emplace(nack_config);
    nack_->UpdateRtt(rtt_);
  }
  // A new source starts new sequence number and timestamp spaces: the jitter buffer starts over.
  ResetPlayout();
}

void ReceiveStream::ResetPlayout() {
  if (video_) frames_dropped_before_ += video_->stats().frames_dropped;
  if (audio_) {
    concealments_before_ += audio_->stats().concealments;
    fec_before_ += audio_->stats().fec_recoveries;
  }
  video_.reset();
  audio_.reset();
  jitter_buffer_codec_ = CodecType::kUnknown;
}

void ReceiveStream::EnsureJitterBuffer(const Codec& codec) {
  const CodecType type = codec.type();
  current_payload_type_ = codec.payload_type;
  if (type == jitter_buffer_codec_ && (video_ || audio_)) return;
  ResetPlayout();  // a codec switch: frames of the old codec cannot continue
  jitter_buffer_codec_ = type;
  if (type == CodecType::kVp8 || type == CodecType::kH264) {
    video_.emplace(settings_.video_jitter_buffer,
                   type == CodecType::kVp8 ? media::VideoCodec::kVp8 : media::VideoCodec::kH264);
    video_->UpdateRtt(rtt_);
  } else if (type == CodecType::kOpus) {
    audio_.emplace(settings_.audio_jitter_buffer);
  }
  stats_.codec = codec.name;
}

bool ReceiveStream::IsKeyFramePacket(CodecType type, ByteSpan payload) {
  if (type == CodecType::kVp8) {
    auto p = media::DepacketizeVp8(payload);
    return p.ok() && p->key_frame;
  }
  if (type == CodecType::kH264) {
    h264_scratch_.clear();
    auto p = media::DepacketizeH264(payload, h264_scratch_);
    return p.ok() && p->has_idr;
  }
  return false;
}

ReceiveResult ReceiveStream::OnRtpPacket(Timestamp now, const rtp::RtpPacketView& packet,
                                         const rtp::ExtensionMap& map) {
  const uint8_t pt = packet.payload_type();
  if (const Codec* codec = FindCodec(pt)) {
    OnMediaPacket(now, packet, *codec, map, false);
    return ReceiveResult::kAccepted;
  }
  const std::optional<uint8_t> apt = RtxApt(pt);
  if (!apt) {
    ++stats_.packets_discarded;
    return ReceiveResult::kUnknownPayloadType;
  }
  // RFC 4588 §4: an RTX packet. Its SSRC is the stream's RTX SSRC (signaled by FID or learned here, as the
  // demuxer routed it by MID/RID or signaled SSRC).
  last_packet_ = now;
  if (!rtx_ssrc_ && packet.ssrc() != media_ssrc_) rtx_ssrc_ = packet.ssrc();
  stats_.rtx_ssrc = rtx_ssrc_;
  if (packet.payload_size() < 2) return ReceiveResult::kPadding;  // padding-only probe
  if (!media_ssrc_) return ReceiveResult::kRtxWithoutMedia;
  restore_buffer_.resize(packet.size());
  auto size = rtp::RestoreFromRtx(packet, *media_ssrc_, *apt, restore_buffer_, &map);
  if (!size.ok()) return ReceiveResult::kMalformed;
  auto restored = rtp::RtpPacketView::Parse(ByteSpan(restore_buffer_.data(), *size));
  if (!restored.ok()) return ReceiveResult::kMalformed;
  ++stats_.retransmitted_packets_received;
  stats_.retransmitted_bytes_received += restored->payload_size();
  OnMediaPacket(now, *restored, *FindCodec(*apt), map, true);
  return ReceiveResult::kAccepted;
}

void ReceiveStream::OnMediaPacket(Timestamp now, const rtp::RtpPacketView& packet, const Codec& codec,
                                  const rtp::ExtensionMap& map, bool retransmission) {
  last_packet_ = now;
  timed_out_ = false;
  stats_.last_packet_received = now;
  if (!media_ssrc_ || *media_ssrc_ != packet.ssrc()) {
    // The first packet of an unsignaled stream, or the sender moved to a new SSRC for this MID (RFC 8843
    // §9.2 re-binding).
    SwitchSsrc(packet.ssrc());
    ssrc_learned_pending_ = true;
  }
  statistics_->OnPacket(now, packet.sequence_number(), packet.timestamp(), retransmission);
  ++stats_.packets_received;
  stats_.bytes_received += packet.payload_size();
  stats_.header_bytes_received += packet.size() - packet.payload_size();
  stats_.payload_type = codec.payload_type;

  if (auto level = rtp::GetExtension<rtp::AudioLevelExtension>(packet, map)) stats_.audio_level = level;
  if (auto o = rtp::GetExtension<rtp::VideoOrientationExtension>(packet, map)) orientation_ = o;

  EnsureJitterBuffer(codec);
  const CodecType type = codec.type();
  if (nack_)
    nack_->OnPacket(now, packet.sequence_number(), IsKeyFramePacket(type, packet.payload()), retransmission);

  media::RtpPacketInfo info;
  info.sequence_number = packet.sequence_number();
  info.timestamp = packet.timestamp();
  info.marker = packet.marker();
  info.payload_type = packet.payload_type();
  info.ssrc = packet.ssrc();
  info.retransmission = retransmission;
  if (video_) {
    switch (video_->InsertPacket(now, info, packet.payload())) {
      case media::VideoJitterBuffer::InsertResult::kDuplicate:
        ++stats_.packets_duplicated;
        break;
      case media::VideoJitterBuffer::InsertResult::kLate:
      case media::VideoJitterBuffer::InsertResult::kMalformed:
        ++stats_.packets_discarded;
        break;
      default:
        break;
    }
    video_->HandleTimeout(now);
  } else if (audio_) {
    switch (audio_->InsertPacket(now, info, packet.payload())) {
      case media::AudioJitterBuffer::InsertResult::kDuplicate:
        ++stats_.packets_duplicated;
        break;
      case media::AudioJitterBuffer::InsertResult::kLate:
      case media::AudioJitterBuffer::InsertResult::kMalformed:
        ++stats_.packets_discarded;
        break;
      default:
        break;
    }
  } else {
    ++stats_.packets_discarded;  // a negotiated codec we cannot assemble (the session refuses those up front)
  }
}

void ReceiveStream::HandleTimeout(Timestamp now) {
  if (nack_) nack_->HandleTimeout(now);
  if (video_) video_->HandleTimeout(now);
  if (last_packet_ && !timed_out_ && now - *last_packet_ >= settings_.receive_timeout) {
    timed_out_ = true;
    timeout_pending_ = true;
    // Audio would otherwise conceal every 20 ms forever; playout restarts with the next packet.
    if (audio_) ResetPlayout();
  }
}

Timestamp ReceiveStream::PollTimeout() const {
  Timestamp t = Timestamp::Infinity();
  if (nack_) t = std::min(t, nack_->PollTimeout());
  if (video_) t = std::min(t, video_->PollTimeout());
  if (audio_) t = std::min(t, audio_->PollTimeout());
  if (last_packet_ && !timed_out_) t = std::min(t, *last_packet_ + settings_.receive_timeout);
  if (key_frame_request_pending_ && last_key_frame_request_) {
    t = std::min(t, *last_key_frame_request_ + settings_.min_key_frame_request_interval);
  }
  return t;
}

std::optional<uint32_t> ReceiveStream::TakeLearnedSsrc() {
  if (!ssrc_learned_pending_) return std::nullopt;
  ssrc_learned_pending_ = false;
  return media_ssrc_;
}

bool ReceiveStream::TakeTimeout() {
  const bool pending = timeout_pending_;
  timeout_pending_ = false;
  return pending;
}

bool ReceiveStream::PollNack(std::vector<uint16_t>& out) {
  if (!nack_) {
    out.clear();
    return false;
  }
  return nack_->PollNack(out);
}

bool ReceiveStream::TakeKeyFrameRequest(Timestamp now) {
  if (video_ && video_->TakeKeyFrameRequest()) {
    key_frame_request_pending_ = true;
    if (nack_) nack_->ClearMissing();
  }
  if (nack_ && nack_->PollKeyFrameRequest() && config_.kind == MediaKind::kVideo)
    key_frame_request_pending_ = true;
  if (!key_frame_request_pending_) return false;
  if (last_key_frame_request_ && now - *last_key_frame_request_ < settings_.min_key_frame_request_interval) {
    return false;  // kept pending until the interval has passed (PollTimeout wakes us then)
  }
  key_frame_request_pending_ = false;
  last_key_frame_request_ = now;
  return true;
}

std::optional<media::EncodedVideoFrame> ReceiveStream::PollVideoFrame(Timestamp now) {
  if (!video_) return std::nullopt;
  auto frame = video_->PollFrame(now);
  if (!frame) return std::nullopt;
  ++stats_.frames_received;
  if (frame->key_frame) ++stats_.key_frames_received;
  stats_.jitter_buffer_delay = stats_.jitter_buffer_delay + (frame->playout_time - frame->receive_time);
  ++stats_.jitter_buffer_emitted_count;
  return frame;
}

std::optional<media::AudioPlayout> ReceiveStream::PollAudio(Timestamp now) {
  if (!audio_) return std::nullopt;
  auto step = audio_->PollPlayout(now);
  if (!step) return std::nullopt;
  if (step->kind == media::AudioPlayoutKind::kPacket) {
    ++stats_.frames_received;
    stats_.jitter_buffer_delay = stats_.jitter_buffer_delay + audio_->current_delay();
    ++stats_.jitter_buffer_emitted_count;
  }
  return step;
}

void ReceiveStream::OnDecodeError(Timestamp now) {
  if (video_) video_->OnDecodeError(now);
  key_frame_request_pending_ = true;
}

void ReceiveStream::UpdateRtt(TimeDelta rtt) {
  rtt_ = rtt;
  if (nack_) nack_->UpdateRtt(rtt);
  if (video_) video_->UpdateRtt(rtt);
}

void ReceiveStream::OnBye() {
  ResetPlayout();
  last_packet_.reset();
}

std::optional<rtp::ReportBlock> ReceiveStream::BuildReportBlock(Timestamp now) {
  if (!statistics_ || !statistics_->valid()) return std::nullopt;
  return statistics_->BuildReportBlock(now);
}

void ReceiveStream::OnSenderReport(Timestamp now, const rtp::SenderReport& sr) {
  if (statistics_) statistics_->OnSenderReport(now, rtp::NtpTime(sr.ntp_timestamp));
  stats_.remote_packets_sent = sr.packet_count;
  stats_.remote_bytes_sent = sr.octet_count;
  ++stats_.remote_reports;
}

InboundRtpStats ReceiveStream::stats() const {
  InboundRtpStats s = stats_;
  if (statistics_) {
    s.packets_lost = statistics_->valid() ? statistics_->cumulative_lost() : 0;
    const uint32_t clock = config_.codecs.empty() ? 90000 : config_.codecs.front().clock_rate;
    s.jitter_seconds = clock > 0 ? static_cast<double>(statistics_->jitter()) / clock : 0;
  }
  s.frames_dropped = frames_dropped_before_ + (video_ ? video_->stats().frames_dropped : 0);
  s.concealment_events = concealments_before_ + (audio_ ? audio_->stats().concealments : 0);
  s.fec_recoveries = fec_before_ + (audio_ ? audio_->stats().fec_recoveries : 0);
  return s;
}

}  // namespace tandem::session
