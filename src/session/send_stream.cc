#include "session/send_stream.h"

#include <algorithm>

namespace tandem::session {
namespace {

constexpr size_t kMaxFirSenders = 16;
constexpr int64_t kDefaultAudioBitrateBps = 32'000;

}  // namespace

SendStream::SendStream(StreamId id, const SendStreamConfig& config, const std::string& default_cname,
                       Rng& rng, const SendStreamLimits& limits)
    : id_(id),
      config_(config),
      cname_(config.cname.empty() ? default_cname : config.cname),
      limits_(limits),
      // RFC 3550 §5.1: random initial sequence number and timestamp. The sequence number starts in the lower
      // half so that the first wrap is not immediate (libsrtp's ROC estimation prefers it, RFC 3711 §3.3.1).
      next_sequence_number_(static_cast<uint16_t>(rng.Uniform(0, 0x7FFF))),
      timestamp_offset_(rng.NextU32()),
      initial_picture_id_(static_cast<uint16_t>(rng.Uniform(0, 0x7FFF))),
      history_(limits.history_packets, limits.history_max_age, limits.max_packet_size + 64),
      send_statistics_(config.ssrc, config.codec.clock_rate) {
  if (config_.rtx_ssrc) {
    rtx_.emplace(*config_.rtx_ssrc, static_cast<uint16_t>(rng.Uniform(0, 0x7FFF)));
  }
  stats_.stream = id;
  stats_.kind = config.kind;
  stats_.mid = config.mid;
  stats_.rid = config.rid;
  stats_.ssrc = config.ssrc;
  stats_.rtx_ssrc = config.rtx_ssrc;
  if (config_.kind == MediaKind::kAudio && config_.max_bitrate_bps == 0) {
    config_.max_bitrate_bps = kDefaultAudioBitrateBps;
  }
  SetCodec(config.codec);
}

void SendStream::SetExtensionMap(const rtp::ExtensionMap& map) {
  map_ = map;
  if (rtx_) rtx_->SetExtensionMap(map);
  RecomputeHeaderSize();
  if (auto* vp8 = std::get_if<media::Vp8Packetizer>(&packetizer_)) {
    vp8->set_max_payload_size(MaxPayloadSize());  // keeps the PictureID sequence
  } else if (std::holds_alternative<media::H264Packetizer>(packetizer_)) {
    packetizer_.emplace<media::H264Packetizer>(MaxPayloadSize());
  }
}

void SendStream::SetCodec(const Codec& codec) {
  const bool type_changed = !config_.codec.name.empty() && codec.type() != config_.codec.type();
  config_.codec = codec;
  stats_.payload_type = codec.payload_type;
  stats_.codec = codec.name;
  if (rtx_ && codec.rtx_payload_type) {
    // Mappings of earlier payload types stay: packets in the history may still carry them.
    rtx_->SetPayloadTypeMapping(codec.payload_type, *codec.rtx_payload_type);
  }
  RecomputeHeaderSize();
  if (type_changed || std::holds_alternative<std::monostate>(packetizer_)) ResetPacketizer();
}

void SendStream::ResetPacketizer() {
  switch (config_.codec.type()) {
    case CodecType::kVp8:
      packetizer_.emplace<media::Vp8Packetizer>(MaxPayloadSize(), initial_picture_id_);
      break;
    case CodecType::kH264:
      packetizer_.emplace<media::H264Packetizer>(MaxPayloadSize());
      break;
    case CodecType::kOpus:
      // DTX packets (RFC 7587 §3.1.3) are suppressed; the next packet then carries the talkspurt marker.
      packetizer_.emplace<media::OpusPacketizer>(true);
      break;
    case CodecType::kUnknown:
      packetizer_.emplace<std::monostate>();
      break;
  }
  opus_payload_.reset();
}

void SendStream::RecomputeHeaderSize() {
  // The largest header: every extension this stream may carry, with its largest value.
  rtp::RtpPacketBuilder b;
  b.SetSsrc(config_.ssrc);
  if (!config_.mid.empty()) rtp::SetExtension<rtp::MidExtension>(b, map_, config_.mid);
  if (!config_.rid.empty()) {
    rtp::SetExtension<rtp::RtpStreamIdExtension>(b, map_, config_.rid);
    // RTX relabels rid to repaired-rid in place (same size), so the RTX header is no larger.
  }
  rtp::SetExtension<rtp::AbsSendTimeExtension>(b, map_, 0);
  rtp::SetExtension<rtp::TransportSequenceNumberExtension>(b, map_, 0);
  if (config_.kind == MediaKind::kAudio) {
    rtp::SetExtension<rtp::AudioLevelExtension>(b, map_, rtp::AudioLevel{});
  } else {
    rtp::SetExtension<rtp::VideoOrientationExtension>(b, map_, rtp::VideoOrientation{});
  }
  max_header_size_ = b.HeaderSize();
}

size_t SendStream::MaxPayloadSize() const {
  return limits_.max_packet_size > max_header_size_ + 16 ? limits_.max_packet_size - max_header_size_ : 16;
}

Status SendStream::Packetize(const EncodedFrame& frame) {
  const uint32_t rtp_timestamp = frame.rtp_timestamp + timestamp_offset_;
  Status status;
  if (auto* vp8 = std::get_if<media::Vp8Packetizer>(&packetizer_)) {
    status = vp8->Packetize(frame.data, rtp_timestamp);
  } else if (auto* h264 = std::get_if<media::H264Packetizer>(&packetizer_)) {
    status = h264->Packetize(frame.data, rtp_timestamp);
  } else if (auto* opus = std::get_if<media::OpusPacketizer>(&packetizer_)) {
    if (frame.data.size() > MaxPayloadSize()) {
      return MakeError(ErrorCode::kLimitExceeded, "session: Opus packet larger than one RTP packet");
    }
    opus_payload_ = opus->Packetize(frame.data, rtp_timestamp);
    // A suppressed DTX packet is not an error: nothing is sent (RFC 7587 §3.1.3).
  } else {
    return MakeError(ErrorCode::kUnsupported, "session: no packetizer for this codec");
  }
  if (!status.ok()) return status;
  current_frame_.key_frame = frame.key_frame;
  current_frame_.audio_level = frame.audio_level;
  current_frame_.orientation = frame.orientation;
  ++stats_.frames_encoded;
  if (frame.key_frame) ++stats_.key_frames_encoded;
  return OkStatus();
}

std::optional<BuiltPacket> SendStream::NextPacket(std::vector<uint8_t>& out) {
  std::optional<media::OutgoingPayload> payload;
  bool last = false;
  if (auto* vp8 = std::get_if<media::Vp8Packetizer>(&packetizer_)) {
    payload = vp8->NextPayload();
    last = vp8->pending_payloads() == 0;
  } else if (auto* h264 = std::get_if<media::H264Packetizer>(&packetizer_)) {
    payload = h264->NextPayload();
    last = h264->pending_payloads() == 0;
  } else if (opus_payload_) {
    payload = opus_payload_;
    opus_payload_.reset();
    last = true;
  }
  if (!payload) return std::nullopt;

  builder_.ClearExtensions();
  builder_.SetMarker(payload->marker)
      .SetPayloadType(config_.codec.payload_type)
      .SetSequenceNumber(next_sequence_number_++)
      .SetTimestamp(payload->rtp_timestamp)
      .SetSsrc(config_.ssrc);
  // RFC 8843 §15: the MID on every packet, so that the peer can demultiplex before it knows the SSRC
  // (Chromium needs it until it has an SSRC binding).
  if (!config_.mid.empty()) rtp::SetExtension<rtp::MidExtension>(builder_, map_, config_.mid);
  if (!config_.rid.empty()) rtp::SetExtension<rtp::RtpStreamIdExtension>(builder_, map_, config_.rid);
  // Placeholders, stamped at send time by the session.
  rtp::SetExtension<rtp::AbsSendTimeExtension>(builder_, map_, 0);
  rtp::SetExtension<rtp::TransportSequenceNumberExtension>(builder_, map_, 0);
  if (config_.kind == MediaKind::kAudio && current_frame_.audio_level) {
    rtp::SetExtension<rtp::AudioLevelExtension>(builder_, map_, *current_frame_.audio_level);  // RFC 6464 §3
  }
  if (config_.kind == MediaKind::kVideo && last && current_frame_.orientation) {
    // 3GPP TS 26.114 §7.4.5: at least on the last packet of the frame.
    rtp::SetExtension<rtp::VideoOrientationExtension>(builder_, map_, *current_frame_.orientation);
  }
  out.resize(builder_.HeaderSize() + payload->payload.size());
  auto size = builder_.Build(out, payload->payload);
  if (!size.ok()) return std::nullopt;  // cannot happen: the buffer was sized for it
  out.resize(*size);
  return BuiltPacket{payload->payload.size(), payload->rtp_timestamp, false};
}

void SendStream::OnPacketSent(Timestamp now, const PacedPacket& packet) {
  ++stats_.packets_sent;
  stats_.bytes_sent += packet.payload_size;
  stats_.header_bytes_sent += packet.data.size() - packet.payload_size;
  if (packet.retransmission) {
    ++stats_.retransmitted_packets_sent;
    stats_.retransmitted_bytes_sent += packet.payload_size;
  }
  if (packet.rtx) return;  // RTX travels on its own SSRC: not part of the media SSRC's SR counts
  if (!packet.retransmission) history_.Put(now, packet.data);
  // The SR maps NTP to RTP time through the frame's capture instant, not its (paced) send time.
  send_statistics_.OnPacketSent(packet.capture_time, packet.rtp_timestamp, packet.payload_size);
}

std::optional<BuiltPacket> SendStream::BuildRetransmission(Timestamp now, uint16_t sequence_number,
                                                           TimeDelta min_interval,
                                                           std::vector<uint8_t>& out) {
  auto original = history_.GetForRetransmission(now, sequence_number, min_interval);
  if (!original) {
    ++stats_.retransmissions_not_found;
    return std::nullopt;
  }
  auto view = rtp::RtpPacketView::Parse(*original);
  if (!view.ok()) return std::nullopt;
  BuiltPacket built{view->payload_size(), view->timestamp(), false};
  if (rtx_) {
    out.resize(original->size() + 2);
    auto size = rtx_->Packetize(*original, out);
    if (size.ok()) {
      out.resize(*size);
      built.rtx = true;
      return built;
    }
    // No RTX payload type for the original's (RFC 4588 §8.6 apt missing): resend it as it was.
  }
  out.assign(original->begin(), original->end());
  return built;
}

std::optional<rtp::SenderReport> SendStream::BuildSenderReport(Timestamp now, rtp::NtpTime wall_clock) {
  return send_statistics_.BuildSenderReport(now, wall_clock);
}

ReportBlockResult SendStream::OnReportBlock(Timestamp now, const rtp::ReportBlock& block) {
  ReportBlockResult result;
  result.rtt = send_statistics_.OnReportBlock(now, block);
  result.fraction_lost = block.fraction_lost;
  if (last_extended_highest_) {
    const int64_t delta = static_cast<int64_t>(block.extended_highest_sequence - *last_extended_highest_);
    result.packets_in_interval = std::clamp<int64_t>(delta, 0, 100000);
  }
  last_extended_highest_ = block.extended_highest_sequence;
  RemoteInboundRtpStats& r = stats_.remote;
  r.valid = true;
  r.fraction_lost = block.fraction_lost / 256.0;
  r.packets_lost = block.cumulative_lost;
  r.jitter_seconds =
      config_.codec.clock_rate > 0 ? static_cast<double>(block.jitter) / config_.codec.clock_rate : 0;
  if (result.rtt) {
    r.round_trip_time = result.rtt;
    r.total_round_trip_time = r.total_round_trip_time + *result.rtt;
    ++r.round_trip_time_measurements;
  }
  return result;
}

bool SendStream::OnFir(uint32_t sender_ssrc, uint8_t command_sequence_number) {
  for (auto& [ssrc, seq] : fir_sequence_numbers_) {
    if (ssrc != sender_ssrc) continue;
    if (seq == command_sequence_number) return false;
    seq = command_sequence_number;
    ++stats_.fir_count;
    return true;
  }
  if (fir_sequence_numbers_.size() >= kMaxFirSenders)
    fir_sequence_numbers_.erase(fir_sequence_numbers_.begin());
  fir_sequence_numbers_.emplace_back(sender_ssrc, command_sequence_number);
  ++stats_.fir_count;
  return true;
}

OutboundRtpStats SendStream::stats() const { return stats_; }

}  // namespace tandem::session
