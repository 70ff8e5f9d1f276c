#include "session/rtp_session.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "core/demux.h"
#include "core/log.h"

namespace tandem::session {
namespace {

constexpr const char* kLog = "session";
constexpr size_t kMaxSrtpTag = 16;            // AEAD_AES_128_GCM (RFC 7714 §14.2); HMAC-SHA1-80 is 10
constexpr size_t kMaxSrtcpOverhead = 16 + 4;  // tag + E flag and SRTCP index (RFC 3711 §3.4)
constexpr size_t kRtxOverhead = 2;            // RFC 4588 §4 OSN
constexpr size_t kMaxNackIdsPerPacket = 64;   // keeps one Generic NACK well inside a datagram
constexpr size_t kMaxSpareBuffers = 1024;
constexpr size_t kMaxSdesChunksPerPacket = 8;
constexpr double kDefaultPayloadShare = 0.95;

template <typename Packet>
bool AppendRtcp(std::vector<uint8_t>& out, const Packet& packet, size_t max_size) {
  if (out.size() + packet.SerializedSize() > max_size) return false;
  const size_t before = out.size();
  ByteWriter w(out);
  if (!packet.SerializeTo(w)) {
    out.resize(before);
    return false;
  }
  return true;
}

}  // namespace

const char* ToString(MediaKind kind) { return kind == MediaKind::kAudio ? "audio" : "video"; }

CodecType CodecTypeFromName(std::string_view name) {
  auto equals = [name](std::string_view other) {
    if (name.size() != other.size()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
      char a = name[i];
      if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
      if (a != other[i]) return false;
    }
    return true;
  };
  if (equals("vp8")) return CodecType::kVp8;
  if (equals("h264")) return CodecType::kH264;
  if (equals("opus")) return CodecType::kOpus;
  return CodecType::kUnknown;
}

const char* ToString(CodecType type) {
  switch (type) {
    case CodecType::kVp8:
      return "VP8";
    case CodecType::kH264:
      return "H264";
    case CodecType::kOpus:
      return "opus";
    case CodecType::kUnknown:
      break;
  }
  return "unknown";
}

namespace {

bool CodecMatchesKind(CodecType type, MediaKind kind) {
  if (kind == MediaKind::kAudio) return type == CodecType::kOpus;
  return type == CodecType::kVp8 || type == CodecType::kH264;
}

}  // namespace

RtpSession::RtpSession(Config config, Rng& rng)
    : config_(std::move(config)),
      rng_(rng),
      rtcp_ssrc_(rng.NextU32()),
      demuxer_(config_.max_remote_ssrcs),
      pacer_(config_.pacer),
      bwe_({.min_bitrate_bps = config_.min_bitrate_bps,
            .max_bitrate_bps = config_.max_bitrate_bps,
            .start_bitrate_bps = config_.start_bitrate_bps}),
      next_transport_sequence_number_(static_cast<uint16_t>(rng.Uniform(0, 0x7FFF))),
      twcc_receiver_({.sender_ssrc = rtcp_ssrc_,
                      .max_packet_size = config_.mtu > kMaxSrtcpOverhead + 300
                                             ? config_.mtu - kMaxSrtcpOverhead - CompoundPrefixSize()
                                             : 300}) {
  receive_buffer_.reserve(2048);
  pacer_.SetTargetBitrate(bwe_.target_bitrate_bps());
}

RtpSession::~RtpSession() = default;

// --- Lookup ---

SendStream* RtpSession::FindSend(StreamId id) {
  for (auto& s : send_streams_) {
    if (s->id() == id) return s.get();
  }
  return nullptr;
}

SendStream* RtpSession::FindSendBySsrc(uint32_t ssrc) {
  for (auto& s : send_streams_) {
    if (s->ssrc() == ssrc) return s.get();
  }
  return nullptr;
}

ReceiveStream* RtpSession::FindReceive(StreamId id) {
  for (auto& r : receive_streams_) {
    if (r->id() == id) return r.get();
  }
  return nullptr;
}

ReceiveStream* RtpSession::FindReceiveBySsrc(uint32_t ssrc) {
  for (auto& r : receive_streams_) {
    if (r->IsMediaOrRtxSsrc(ssrc)) return r.get();
  }
  return nullptr;
}

uint32_t RtpSession::FeedbackSsrc() const {
  // libwebrtc sends feedback from its first sending SSRC, or from an RTCP-only SSRC when it sends nothing.
  return send_streams_.empty() ? rtcp_ssrc_ : send_streams_.front()->ssrc();
}

rtp::NtpTime RtpSession::WallClock(Timestamp now) const {
  return rtp::NtpTime::FromUnixMicros(now.us() + config_.wall_clock_offset.us());
}

size_t RtpSession::MaxRtcpSize() const {
  return config_.mtu > kMaxSrtcpOverhead ? config_.mtu - kMaxSrtcpOverhead : 0;
}

std::optional<uint32_t> RtpSession::RemoteSsrc(StreamId receive_stream) const {
  for (const auto& r : receive_streams_) {
    if (r->id() == receive_stream) return r->media_ssrc();
  }
  return std::nullopt;
}

// --- Configuration ---

Status RtpSession::SetSrtpKeys(Timestamp now, const dtls::SrtpKeyingMaterial& keys) {
  auto session = srtp::SrtpSession::Create(keys, config_.srtp);
  if (!session.ok()) return session.error();
  srtp_.emplace(std::move(session).value());
  LOG_DEBUG(kLog, "SRTP keys set: " << dtls::ToString(keys.profile));
  if (next_rtcp_report_.IsInfinite()) next_rtcp_report_ = now + RandomizedRtcpInterval() / 2;
  while (!early_packets_.empty()) {
    std::vector<uint8_t> packet = std::move(early_packets_.front());
    early_packets_.pop_front();
    ProcessDatagram(now, packet);
    ReleaseBuffer(std::move(packet));
  }
  ProcessPacer(now);
  FlushFeedback(now);
  UpdateTargetBitrate(false);
  return OkStatus();
}

void RtpSession::SetExtensions(const Extensions& extensions) {
  extensions_ = extensions;
  extension_map_.Clear();
  const std::pair<uint8_t, rtp::ExtensionType> ids[] = {
      {extensions.mid, rtp::ExtensionType::kMid},
      {extensions.rid, rtp::ExtensionType::kRtpStreamId},
      {extensions.repaired_rid, rtp::ExtensionType::kRepairedRtpStreamId},
      {extensions.abs_send_time, rtp::ExtensionType::kAbsSendTime},
      {extensions.transport_cc, rtp::ExtensionType::kTransportSequenceNumber},
      {extensions.audio_level, rtp::ExtensionType::kAudioLevel},
      {extensions.video_orientation, rtp::ExtensionType::kVideoOrientation},
  };
  for (const auto& [id, type] : ids) {
    // A conflicting id (two URIs on one id) keeps the first, as RFC 8285 §5 leaves it to the answerer.
    if (id != 0 && !extension_map_.Register(id, type)) LOG_DEBUG(kLog, "extension id conflict: " << int{id});
  }
  demuxer_.SetExtensionMap(extension_map_);
  for (auto& s : send_streams_) s->SetExtensionMap(extension_map_);
}

Result<StreamId> RtpSession::AddSendStream(const SendStreamConfig& config) {
  if (send_streams_.size() >= config_.max_send_streams) {
    return MakeError(ErrorCode::kLimitExceeded, "session: too many send streams");
  }
  if (!CodecMatchesKind(config.codec.type(), config.kind)) {
    return MakeError(ErrorCode::kInvalidArgument, "session: codec cannot be sent on this kind of stream");
  }
  if (config.ssrc == 0 || config.rtx_ssrc == config.ssrc) {
    return MakeError(ErrorCode::kInvalidArgument, "session: bad SSRC");
  }
  for (const auto& s : send_streams_) {
    for (uint32_t taken : {s->ssrc(), s->rtx_ssrc().value_or(s->ssrc())}) {
      if (taken == config.ssrc || config.rtx_ssrc == taken) {
        return MakeError(ErrorCode::kInvalidArgument, "session: SSRC already in use");
      }
    }
  }
  if (config_.mtu < 200) return MakeError(ErrorCode::kInvalidArgument, "session: MTU too small");
  SendStreamLimits limits;
  limits.max_packet_size = config_.mtu - kMaxSrtpTag - kRtxOverhead;
  limits.history_packets =
      config.kind == MediaKind::kAudio ? config_.audio_history_packets : config_.video_history_packets;
  limits.history_max_age = config_.history_max_age;
  const StreamId id = next_stream_id_++;
  auto stream = std::make_unique<SendStream>(id, config, config_.cname, rng_, limits);
  stream->SetExtensionMap(extension_map_);
  send_streams_.push_back(std::move(stream));
  UpdateTargetBitrate(true);
  return id;
}

void RtpSession::RemoveSendStream(Timestamp now, StreamId stream) {
  auto it = std::find_if(send_streams_.begin(), send_streams_.end(),
                         [stream](const auto& s) { return s->id() == stream; });
  if (it == send_streams_.end()) return;
  SendStream& s = **it;
  pacer_.RemoveStream(stream, [this](PacedPacket&& p) { ReleaseBuffer(std::move(p.data)); });
  if (srtp_) {
    // RFC 3550 §6.6: the BYE goes in a compound after the stream's last SR (or an RR) and its SDES.
    std::vector<uint8_t> buffer = AcquireBuffer();
    const size_t max = MaxRtcpSize();
    if (auto sr = s.BuildSenderReport(now, WallClock(now))) {
      AppendRtcp(buffer, *sr, max);
    } else {
      AppendRtcp(buffer, rtp::ReceiverReport{.sender_ssrc = s.ssrc(), .report_blocks = {}}, max);
    }
    rtp::Sdes sdes;
    sdes.chunks.push_back({s.ssrc(), {{rtp::Sdes::kCname, s.cname()}}});
    AppendRtcp(buffer, sdes, max);
    rtp::Bye bye;
    bye.ssrcs.push_back(s.ssrc());
    if (s.rtx_ssrc()) bye.ssrcs.push_back(*s.rtx_ssrc());
    AppendRtcp(buffer, bye, max);
    ProtectAndTransmit(std::move(buffer), true);
  }
  send_streams_.erase(it);
  UpdateTargetBitrate(true);
}

Status RtpSession::UpdateSendCodec(StreamId stream, const Codec& codec) {
  SendStream* s = FindSend(stream);
  if (s == nullptr) return MakeError(ErrorCode::kNotFound, "session: no such send stream");
  if (!CodecMatchesKind(codec.type(), s->kind())) {
    return MakeError(ErrorCode::kInvalidArgument, "session: codec cannot be sent on this kind of stream");
  }
  s->SetCodec(codec);
  return OkStatus();
}

Result<StreamId> RtpSession::AddReceiveStream(const ReceiveStreamConfig& config) {
  if (receive_streams_.size() >= config_.max_receive_streams) {
    return MakeError(ErrorCode::kLimitExceeded, "session: too many receive streams");
  }
  if (config.mid.empty())
    return MakeError(ErrorCode::kInvalidArgument, "session: receive stream without MID");
  bool assemblable = false;
  for (const Codec& c : config.codecs) assemblable = assemblable || CodecMatchesKind(c.type(), config.kind);
  if (!assemblable) return MakeError(ErrorCode::kInvalidArgument, "session: no codec we can receive");
  for (const auto& r : receive_streams_) {
    if (r->config().mid != config.mid) continue;
    const auto& rids = r->config().rids;
    bool overlap = rids.empty() || config.rids.empty();
    for (const auto& rid : config.rids) {
      overlap = overlap || std::find(rids.begin(), rids.end(), rid) != rids.end();
    }
    if (overlap) return MakeError(ErrorCode::kAlreadyExists, "session: MID already received");
  }
  const StreamId id = next_stream_id_++;
  rtp::SinkConfig sink;
  sink.mid = config.mid;
  sink.rids = config.rids;
  for (const Codec& c : config.codecs) {
    sink.payload_types.push_back(c.payload_type);
    if (c.rtx_payload_type) sink.payload_types.push_back(*c.rtx_payload_type);
  }
  sink.ssrcs = config.ssrcs;
  if (config.rtx_ssrc) sink.ssrcs.push_back(*config.rtx_ssrc);
  demuxer_.AddSink(id, std::move(sink));
  ReceiveStreamSettings settings;
  settings.video_jitter_buffer = config_.video_jitter_buffer;
  settings.audio_jitter_buffer = config_.audio_jitter_buffer;
  settings.nack = config_.nack;
  settings.receive_timeout = config_.receive_timeout;
  settings.min_key_frame_request_interval = config_.min_key_frame_request_interval;
  auto stream = std::make_unique<ReceiveStream>(id, config, settings);
  if (rtt_) stream->UpdateRtt(*rtt_);
  receive_streams_.push_back(std::move(stream));
  return id;
}

void RtpSession::RemoveReceiveStream(StreamId stream) {
  demuxer_.RemoveSink(stream);
  std::erase_if(receive_streams_, [stream](const auto& r) { return r->id() == stream; });
}

// --- Send path ---

Status RtpSession::SendFrame(Timestamp now, StreamId stream, const EncodedFrame& frame) {
  SendStream* s = FindSend(stream);
  if (s == nullptr) return MakeError(ErrorCode::kNotFound, "session: no such send stream");
  if (!srtp_) {
    s->OnFrameDropped();
    return MakeError(ErrorCode::kUnavailable, "session: no SRTP keys yet");
  }
  if (Status st = s->Packetize(frame); !st.ok()) {
    s->OnFrameDropped();
    return st;
  }
  bool overflow = false;
  const PacketPriority priority =
      s->kind() == MediaKind::kAudio ? PacketPriority::kAudio : PacketPriority::kVideo;
  while (true) {
    std::vector<uint8_t> buffer = AcquireBuffer();
    auto built = s->NextPacket(buffer);
    if (!built) {
      ReleaseBuffer(std::move(buffer));
      break;
    }
    PacedPacket packet;
    packet.data = std::move(buffer);
    packet.stream = stream;
    packet.priority = priority;
    packet.capture_time = now;
    packet.rtp_timestamp = built->rtp_timestamp;
    packet.payload_size = built->payload_size;
    if (!pacer_.Push(now, packet)) {
      overflow = true;
      ReleaseBuffer(std::move(packet.data));
    }
  }
  ProcessPacer(now);
  if (overflow) {
    s->OnFrameDropped();
    return MakeError(ErrorCode::kLimitExceeded, "session: pacer queue full");
  }
  return OkStatus();
}

Status RtpSession::RequestKeyFrame(Timestamp now, StreamId receive_stream) {
  ReceiveStream* r = FindReceive(receive_stream);
  if (r == nullptr) return MakeError(ErrorCode::kNotFound, "session: no such receive stream");
  if (r->key_frame_request_kind() == KeyFrameRequestKind::kNone) {
    return MakeError(ErrorCode::kUnsupported, "session: neither PLI nor FIR negotiated");
  }
  if (!srtp_ || !r->media_ssrc()) return MakeError(ErrorCode::kUnavailable, "session: stream not started");
  SendKeyFrameRequest(now, *r);
  FlushFeedback(now);
  return OkStatus();
}

void RtpSession::ReportDecodeError(Timestamp now, StreamId receive_stream) {
  ReceiveStream* r = FindReceive(receive_stream);
  if (r == nullptr) return;
  r->OnDecodeError(now);
  ProcessReceiveStream(now, *r);
  FlushFeedback(now);
}

void RtpSession::SetReceiveBitrateLimit(Timestamp now, int64_t bps) {
  if (bps <= 0) {
    remb_limit_bps_.reset();
    return;
  }
  remb_limit_bps_ = bps;
  rtp::Remb remb{.sender_ssrc = FeedbackSsrc(), .bitrate_bps = static_cast<uint64_t>(bps), .ssrcs = {}};
  for (const auto& r : receive_streams_) {
    if (r->media_ssrc() && remb.ssrcs.size() < 255) remb.ssrcs.push_back(*r->media_ssrc());
  }
  QueueFeedback(now, remb);
  FlushFeedback(now);
}

void RtpSession::ProcessPacer(Timestamp now) {
  if (!srtp_) return;
  while (auto packet = pacer_.Pop(now)) SendPacedPacket(now, std::move(*packet));
}

void RtpSession::SendPacedPacket(Timestamp now, PacedPacket packet) {
  SendStream* s = FindSend(packet.stream);
  auto view = rtp::RtpPacketView::Parse(packet.data);
  if (s == nullptr || !srtp_ || !view.ok()) {
    ReleaseBuffer(std::move(packet.data));
    return;
  }
  const size_t wire_size = packet.data.size() + srtp_->RtpOverhead();
  // Send-time extensions. Not on a plain resend (NACK without RTX): it must go out byte for byte as before,
  // since SRTP then protects the same sequence number again (libsrtp allow_repeat_tx) and AES-GCM must never
  // see one nonce with different data (RFC 7714 §8.1).
  if (!(packet.retransmission && !packet.rtx)) {
    if (rtp::RewriteExtension<rtp::TransportSequenceNumberExtension>(packet.data, *view, extension_map_,
                                                                     next_transport_sequence_number_)) {
      bwe_.OnPacketSent(now, next_transport_sequence_number_, wire_size);
      ++next_transport_sequence_number_;
    }
    rtp::RewriteExtension<rtp::AbsSendTimeExtension>(packet.data, *view, extension_map_,
                                                     rtp::AbsSendTimeExtension::FromTimestamp(now));
  }
  s->OnPacketSent(now, packet);
  media_payload_bytes_sent_ += packet.payload_size;
  media_wire_bytes_sent_ += wire_size;
  ProtectAndTransmit(std::move(packet.data), false);
}

void RtpSession::ProtectAndTransmit(std::vector<uint8_t> buffer, bool rtcp) {
  if (!srtp_ || buffer.empty()) {
    ReleaseBuffer(std::move(buffer));
    return;
  }
  const size_t length = buffer.size();
  buffer.resize(length + (rtcp ? srtp_->RtcpOverhead() : srtp_->RtpOverhead()));
  auto protected_size = rtcp ? srtp_->ProtectRtcp(buffer, length) : srtp_->ProtectRtp(buffer, length);
  if (!protected_size.ok()) {
    ++counters_.srtp_protect_failures;
    LOG_DEBUG(kLog, "SRTP protect failed: " << protected_size.error().reason);
    ReleaseBuffer(std::move(buffer));
    return;
  }
  buffer.resize(*protected_size);
  if (transmit_.size() >= config_.max_transmit_queue) {
    ++counters_.dropped_transmit_overflow;
    ReleaseBuffer(std::move(buffer));
    return;
  }
  ++counters_.packets_sent;
  counters_.bytes_sent += buffer.size();
  ++(rtcp ? counters_.rtcp_packets_sent : counters_.rtp_packets_sent);
  transmit_.push_back(std::move(buffer));
}

// --- Receive path ---

void RtpSession::HandlePacket(Timestamp now, ByteSpan datagram) {
  // RFC 7983 §7: 128-191 is RTP/RTCP; RFC 5761 §4 then tells the two apart.
  if (datagram.size() < 4 || ClassifyPacket(datagram) != PacketKind::kRtpRtcp ||
      datagram.size() > rtp::kMaxPacketSize) {
    ++counters_.dropped_not_rtp;
    return;
  }
  ++counters_.packets_received;
  counters_.bytes_received += datagram.size();
  if (!srtp_) {
    // DTLS may finish on the peer's side first: keep a few datagrams for the keys.
    if (early_packets_.size() >= config_.max_early_packets) {
      ++counters_.dropped_before_keys;
      return;
    }
    std::vector<uint8_t> copy = AcquireBuffer();
    copy.assign(datagram.begin(), datagram.end());
    early_packets_.push_back(std::move(copy));
    return;
  }
  ProcessDatagram(now, datagram);
  ProcessPacer(now);
  FlushFeedback(now);
  UpdateTargetBitrate(false);
}

void RtpSession::ProcessDatagram(Timestamp now, ByteSpan datagram) {
  receive_buffer_.assign(datagram.begin(), datagram.end());
  if (rtp::IsRtcpPacket(datagram)) {
    auto plain = srtp_->UnprotectRtcp(receive_buffer_);  // failures are counted by the SRTP session
    if (!plain.ok()) {
      LOG_TRACE(kLog, "SRTCP dropped: " << plain.error().reason);
      return;
    }
    ++counters_.rtcp_packets_received;
    HandleRtcp(now, ByteSpan(receive_buffer_.data(), *plain));
    return;
  }
  if (datagram.size() < rtp::kFixedHeaderSize) {
    ++counters_.malformed_rtp;
    return;
  }
  auto plain = srtp_->UnprotectRtp(receive_buffer_);
  if (!plain.ok()) {
    LOG_TRACE(kLog, "SRTP dropped: " << plain.error().reason);
    return;
  }
  ++counters_.rtp_packets_received;
  HandleRtp(now, ByteSpan(receive_buffer_.data(), *plain));
}

void RtpSession::HandleUnprotectedPacketForTesting(Timestamp now, ByteSpan packet) {
  if (packet.size() < 4 || ClassifyPacket(packet) != PacketKind::kRtpRtcp ||
      packet.size() > rtp::kMaxPacketSize) {
    ++counters_.dropped_not_rtp;
    return;
  }
  receive_buffer_.assign(packet.begin(), packet.end());
  const ByteSpan copy(receive_buffer_);
  if (rtp::IsRtcpPacket(copy)) {
    ++counters_.rtcp_packets_received;
    HandleRtcp(now, copy);
  } else {
    ++counters_.rtp_packets_received;
    HandleRtp(now, copy);
  }
  ProcessPacer(now);
  FlushFeedback(now);
  UpdateTargetBitrate(false);
}

void RtpSession::HandleRtp(Timestamp now, ByteSpan packet) {
  auto view = rtp::RtpPacketView::Parse(packet);
  if (!view.ok()) {
    ++counters_.malformed_rtp;
    return;
  }
  // Transport-wide arrival record: every authenticated packet, whichever stream it belongs to.
  if (auto seq = rtp::GetExtension<rtp::TransportSequenceNumberExtension>(*view, extension_map_)) {
    twcc_receiver_.OnPacket(now, *seq);
  }
  const rtp::DemuxResult route = demuxer_.Route(*view);
  ReceiveStream* stream = route.sink == rtp::kUnknownSink ? nullptr : FindReceive(route.sink);
  if (stream == nullptr) {
    ++counters_.unroutable_rtp;
    return;
  }
  if (stream->OnRtpPacket(now, *view, extension_map_) == ReceiveResult::kUnknownPayloadType) {
    ++counters_
          .unknown_payload_type;  // RFC 8843 §9.2 routed it, but it was not negotiated: Chromium drops too
  }
  ProcessReceiveStream(now, *stream);
}

void RtpSession::ProcessReceiveStream(Timestamp now, ReceiveStream& stream) {
  if (auto ssrc = stream.TakeLearnedSsrc()) PushEvent(RemoteSsrcLearned{stream.id(), *ssrc});
  if (stream.TakeTimeout()) PushEvent(ReceiveStreamTimeout{stream.id(), stream.media_ssrc().value_or(0)});
  if (stream.PollNack(nack_scratch_) && stream.media_ssrc()) {
    // RFC 4585 §6.2.1 Generic NACK, in packets of bounded size.
    for (size_t i = 0; i < nack_scratch_.size(); i += kMaxNackIdsPerPacket) {
      rtp::Nack nack;
      nack.sender_ssrc = FeedbackSsrc();
      nack.media_ssrc = *stream.media_ssrc();
      const size_t end = std::min(nack_scratch_.size(), i + kMaxNackIdsPerPacket);
      nack.packet_ids.assign(nack_scratch_.begin() + static_cast<ptrdiff_t>(i),
                             nack_scratch_.begin() + static_cast<ptrdiff_t>(end));
      QueueFeedback(now, nack);
      stream.OnNackSent();
    }
  }
  if (stream.TakeKeyFrameRequest(now)) SendKeyFrameRequest(now, stream);
  while (auto frame = stream.PollVideoFrame(now)) {
    std::vector<uint8_t> bytes = AcquireBuffer();
    bytes.assign(frame->data.begin(), frame->data.end());
    VideoFrameReceived event{stream.id(), stream.media_ssrc().value_or(0), stream.current_payload_type(),
                             *frame, stream.orientation()};
    event.frame.data = ByteSpan(bytes);
    PushEvent(std::move(event), std::move(bytes));
  }
  while (auto step = stream.PollAudio(now)) {
    std::vector<uint8_t> bytes = AcquireBuffer();
    bytes.assign(step->payload.begin(), step->payload.end());
    AudioFrameReceived event{stream.id(), stream.media_ssrc().value_or(0), stream.current_payload_type(),
                             *step};
    event.playout.payload = ByteSpan(bytes);
    PushEvent(std::move(event), std::move(bytes));
  }
}

void RtpSession::SendKeyFrameRequest(Timestamp now, ReceiveStream& stream) {
  if (!stream.media_ssrc()) return;
  switch (stream.key_frame_request_kind()) {
    case KeyFrameRequestKind::kPli:
      QueueFeedback(now, rtp::Pli{FeedbackSsrc(), *stream.media_ssrc()});
      stream.OnPliSent();
      break;
    case KeyFrameRequestKind::kFir: {
      rtp::Fir fir;
      fir.sender_ssrc = FeedbackSsrc();
      fir.requests.push_back({*stream.media_ssrc(), stream.NextFirSequenceNumber()});
      QueueFeedback(now, fir);
      stream.OnFirSent();
      break;
    }
    case KeyFrameRequestKind::kNone:
      break;
  }
}

void RtpSession::HandleRtcp(Timestamp now, ByteSpan packet) {
  auto compound = rtp::ParseRtcpCompound(packet);
  if (!compound.ok()) {
    ++counters_.malformed_rtcp;
    return;
  }
  counters_.malformed_rtcp += compound->malformed;
  for (const rtp::RtcpPacket& p : compound->packets) {
    if (const auto* sr = std::get_if<rtp::SenderReport>(&p)) {
      if (ReceiveStream* r = FindReceiveBySsrc(sr->sender_ssrc);
          r != nullptr && r->media_ssrc() == sr->sender_ssrc) {
        r->OnSenderReport(now, *sr);
      }
      for (const rtp::ReportBlock& b : sr->report_blocks) HandleReportBlock(now, b);
    } else if (const auto* rr = std::get_if<rtp::ReceiverReport>(&p)) {
      for (const rtp::ReportBlock& b : rr->report_blocks) HandleReportBlock(now, b);
    } else if (const auto* nack = std::get_if<rtp::Nack>(&p)) {
      HandleNack(now, *nack);
    } else if (const auto* pli = std::get_if<rtp::Pli>(&p)) {
      SendStream* s = FindSendBySsrc(pli->media_ssrc);
      if (s == nullptr) {
        ++counters_.rtcp_unknown_ssrc;
        continue;
      }
      s->OnPli();
      pacer_.RemoveRetransmissions(s->id(), [this](PacedPacket&& p) { ReleaseBuffer(std::move(p.data)); });
      PushEvent(KeyFrameRequested{s->id(), false});
    } else if (const auto* fir = std::get_if<rtp::Fir>(&p)) {
      for (const rtp::Fir::Request& request : fir->requests) {
        SendStream* s = FindSendBySsrc(request.ssrc);
        if (s == nullptr) {
          ++counters_.rtcp_unknown_ssrc;
          continue;
        }
        if (s->OnFir(fir->sender_ssrc, request.sequence_number)) {
          pacer_.RemoveRetransmissions(s->id(),
                                       [this](PacedPacket&& p) { ReleaseBuffer(std::move(p.data)); });
          PushEvent(KeyFrameRequested{s->id(), true});
        }
      }
    } else if (const auto* remb = std::get_if<rtp::Remb>(&p)) {
      ++counters_.remb_received;
      bwe_.OnRemb(now, remb->bitrate_bps);
    } else if (const auto* fb = std::get_if<rtp::TransportFeedback>(&p)) {
      ++counters_.transport_feedback_received;
      bwe_.OnTransportFeedback(now, *fb);
    } else if (const auto* bye = std::get_if<rtp::Bye>(&p)) {
      for (uint32_t ssrc : bye->ssrcs) {
        ReceiveStream* r = FindReceiveBySsrc(ssrc);
        std::optional<StreamId> id;
        if (r != nullptr) {
          id = r->id();
          if (r->media_ssrc() == ssrc) r->OnBye();
        }
        // Its replay state is no longer needed (RFC 3550 §6.6: the SSRC is gone).
        if (srtp_) srtp_->RemoveInboundStream(ssrc);
        PushEvent(RtcpByeReceived{ssrc, id});
      }
    }
    // SDES: CNAMEs are not needed for demultiplexing in BUNDLE (RFC 8843 §9.2 uses MID and SSRC).
  }
}

void RtpSession::HandleReportBlock(Timestamp now, const rtp::ReportBlock& block) {
  SendStream* s = FindSendBySsrc(block.source_ssrc);
  if (s == nullptr) return;  // about an RTX SSRC or another sender's stream
  const ReportBlockResult result = s->OnReportBlock(now, block);
  if (result.rtt) {
    rtt_ = result.rtt;
    bwe_.OnRtt(*result.rtt);
    for (auto& r : receive_streams_) r->UpdateRtt(*result.rtt);
  }
  // Loss from report blocks drives the estimate only when transport-wide feedback does not (it reports loss
  // per packet, more precisely and sooner).
  const bool twcc = extensions_.transport_cc != 0 && s->config().codec.transport_cc;
  if (!twcc && result.packets_in_interval > 0) {
    bwe_.OnReceiverReportLoss(now, result.fraction_lost, result.packets_in_interval);
  }
}

void RtpSession::HandleNack(Timestamp now, const rtp::Nack& nack) {
  SendStream* s = FindSendBySsrc(nack.media_ssrc);
  if (s == nullptr) {
    ++counters_.rtcp_unknown_ssrc;
    return;
  }
  s->OnNack();
  // A packet resent less than one RTT ago is on its way: a repeated NACK must not send it again.
  const TimeDelta min_interval = rtt_.value_or(TimeDelta::Zero());
  for (uint16_t seq : nack.packet_ids) {
    std::vector<uint8_t> buffer = AcquireBuffer();
    auto built = s->BuildRetransmission(now, seq, min_interval, buffer);
    if (!built) {
      ReleaseBuffer(std::move(buffer));
      continue;
    }
    PacedPacket packet;
    packet.data = std::move(buffer);
    packet.stream = s->id();
    packet.priority = PacketPriority::kRetransmission;
    packet.rtx = built->rtx;
    packet.retransmission = true;
    packet.capture_time = now;
    packet.rtp_timestamp = built->rtp_timestamp;
    packet.payload_size = built->payload_size;
    if (!pacer_.Push(now, packet)) ReleaseBuffer(std::move(packet.data));
  }
}

// --- RTCP sending ---

TimeDelta RtpSession::RandomizedRtcpInterval() {
  // RFC 3550 §6.3.1: uniformly in [0.5, 1.5] x the interval, so that reports do not synchronize.
  const int64_t us = std::clamp<int64_t>(config_.rtcp_interval.us(), 1000, 3600LL * 1000000);
  const uint32_t span = static_cast<uint32_t>(std::min<int64_t>(us, std::numeric_limits<uint32_t>::max()));
  return TimeDelta::Micros(us / 2 + rng_.Uniform(0, span));
}

size_t RtpSession::CompoundPrefixSize() const {
  if (config_.reduced_size_rtcp) return 0;
  rtp::Sdes sdes;
  sdes.chunks.push_back({0, {{rtp::Sdes::kCname, config_.cname.substr(0, 255)}}});
  return rtp::ReceiverReport{}.SerializedSize() + sdes.SerializedSize();
}

void RtpSession::AppendCompoundPrefix(std::vector<uint8_t>& out) const {
  if (config_.reduced_size_rtcp) return;
  const uint32_t ssrc = FeedbackSsrc();
  AppendRtcp(out, rtp::ReceiverReport{.sender_ssrc = ssrc, .report_blocks = {}}, MaxRtcpSize());
  rtp::Sdes sdes;
  const std::string cname = send_streams_.empty() ? config_.cname : send_streams_.front()->cname();
  sdes.chunks.push_back({ssrc, {{rtp::Sdes::kCname, cname.substr(0, 255)}}});
  AppendRtcp(out, sdes, MaxRtcpSize());
}

template <typename Packet>
void RtpSession::QueueFeedback(Timestamp now, const Packet& packet) {
  if (!srtp_) return;
  const size_t prefix = CompoundPrefixSize();
  const size_t max = MaxRtcpSize() > prefix ? MaxRtcpSize() - prefix : 0;
  if (AppendRtcp(feedback_, packet, max)) return;
  FlushFeedback(now);
  if (!AppendRtcp(feedback_, packet, max)) LOG_DEBUG(kLog, "RTCP feedback packet too large, dropped");
}

void RtpSession::FlushFeedback(Timestamp now) {
  (void)now;
  if (feedback_.empty()) return;
  std::vector<uint8_t> buffer = AcquireBuffer();
  AppendCompoundPrefix(buffer);
  buffer.insert(buffer.end(), feedback_.begin(), feedback_.end());
  feedback_.clear();
  ProtectAndTransmit(std::move(buffer), true);
}

void RtpSession::SendTwccFeedback(Timestamp now) {
  twcc_receiver_.HandleTimeout(now);
  while (auto feedback = twcc_receiver_.PollFeedback()) {
    QueueFeedback(now, *feedback);
    ++counters_.transport_feedback_sent;
  }
}

void RtpSession::SendRtcpReports(Timestamp now) {
  const size_t max = MaxRtcpSize();
  const uint32_t feedback_ssrc = FeedbackSsrc();
  std::vector<uint8_t> buffer = AcquireBuffer();
  // Adds a packet, starting a new compound (led by an RR, RFC 3550 §6.1) when the current one is full.
  auto add = [&](const auto& packet) {
    if (AppendRtcp(buffer, packet, max)) return;
    ProtectAndTransmit(std::move(buffer), true);
    buffer = AcquireBuffer();
    AppendRtcp(buffer, rtp::ReceiverReport{.sender_ssrc = feedback_ssrc, .report_blocks = {}}, max);
    AppendRtcp(buffer, packet, max);
  };

  // RFC 3550 §6.4: report blocks about every source we receive (RR for Chromium's streams: it keeps the MID
  // and RID extensions on its packets until it sees them acknowledged).
  std::vector<rtp::ReportBlock> blocks;
  for (auto& r : receive_streams_) {
    if (auto block = r->BuildReportBlock(now)) blocks.push_back(*block);
  }
  size_t next_block = 0;
  auto take_blocks = [&](std::vector<rtp::ReportBlock>& out) {
    while (next_block < blocks.size() && out.size() < rtp::kMaxRtcpCount) out.push_back(blocks[next_block++]);
  };
  const rtp::NtpTime wall_clock = WallClock(now);
  bool reported = false;
  for (auto& s : send_streams_) {
    auto sr =
        s->BuildSenderReport(now, wall_clock);  // nullopt until the stream has sent (§6.4: senders only)
    if (!sr) continue;
    if (!reported) take_blocks(sr->report_blocks);
    reported = true;
    add(*sr);
  }
  if (!reported || next_block < blocks.size()) {
    do {
      rtp::ReceiverReport rr{.sender_ssrc = feedback_ssrc, .report_blocks = {}};
      take_blocks(rr.report_blocks);
      add(rr);
    } while (next_block < blocks.size());
  }
  // RFC 3550 §6.5.1: a CNAME for every SSRC we send from.
  rtp::Sdes sdes;
  if (send_streams_.empty()) {
    sdes.chunks.push_back({rtcp_ssrc_, {{rtp::Sdes::kCname, config_.cname.substr(0, 255)}}});
  }
  for (auto& s : send_streams_) {
    if (sdes.chunks.size() == kMaxSdesChunksPerPacket) {
      add(sdes);
      sdes.chunks.clear();
    }
    sdes.chunks.push_back({s->ssrc(), {{rtp::Sdes::kCname, s->cname().substr(0, 255)}}});
  }
  if (!sdes.chunks.empty()) add(sdes);
  if (remb_limit_bps_) {
    rtp::Remb remb{
        .sender_ssrc = feedback_ssrc, .bitrate_bps = static_cast<uint64_t>(*remb_limit_bps_), .ssrcs = {}};
    for (const auto& r : receive_streams_) {
      if (r->media_ssrc() && remb.ssrcs.size() < 255) remb.ssrcs.push_back(*r->media_ssrc());
    }
    add(remb);
  }
  ProtectAndTransmit(std::move(buffer), true);
}

// --- Time ---

void RtpSession::HandleTimeout(Timestamp now) {
  for (auto& r : receive_streams_) {
    r->HandleTimeout(now);
    ProcessReceiveStream(now, *r);
  }
  if (srtp_) {
    SendTwccFeedback(now);
    if (now >= next_rtcp_report_) {
      SendRtcpReports(now);
      next_rtcp_report_ = now + RandomizedRtcpInterval();
    }
  }
  ProcessPacer(now);
  FlushFeedback(now);
  UpdateTargetBitrate(false);
}

Timestamp RtpSession::PollTimeout() const {
  Timestamp t = Timestamp::Infinity();
  for (const auto& r : receive_streams_) t = std::min(t, r->PollTimeout());
  if (srtp_) {
    t = std::min(t, pacer_.NextSendTime());
    t = std::min(t, twcc_receiver_.PollTimeout());
    t = std::min(t, next_rtcp_report_);
  }
  return t;
}

// --- Bandwidth ---

std::vector<std::pair<StreamId, int64_t>> RtpSession::AllocateBitrate(int64_t total_bps) {
  // The estimate counts every byte on the wire; encoders produce payload. Scale by the payload share seen so
  // far (headers, extensions and the SRTP tag are some 3-10 %).
  double share = kDefaultPayloadShare;
  if (media_wire_bytes_sent_ > 50'000) {
    share = std::clamp(
        static_cast<double>(media_payload_bytes_sent_) / static_cast<double>(media_wire_bytes_sent_), 0.5,
        1.0);
  }
  int64_t available = static_cast<int64_t>(static_cast<double>(total_bps) * share);
  std::vector<std::pair<StreamId, int64_t>> allocation;
  // Audio first, at its configured rate (it is small and the most sensitive to starvation).
  for (const auto& s : send_streams_) {
    if (s->kind() != MediaKind::kAudio) continue;
    const int64_t bps = std::min(available, s->config().max_bitrate_bps);
    allocation.emplace_back(s->id(), bps);
    available -= bps;
  }
  // Video: equal shares, water-filled under the per-stream caps.
  std::vector<const SendStream*> video;
  for (const auto& s : send_streams_) {
    if (s->kind() == MediaKind::kVideo) video.push_back(s.get());
  }
  std::sort(video.begin(), video.end(), [](const SendStream* a, const SendStream* b) {
    const int64_t ca = a->config().max_bitrate_bps > 0 ? a->config().max_bitrate_bps : INT64_MAX;
    const int64_t cb = b->config().max_bitrate_bps > 0 ? b->config().max_bitrate_bps : INT64_MAX;
    return ca < cb;
  });
  for (size_t i = 0; i < video.size(); ++i) {
    const int64_t cap =
        video[i]->config().max_bitrate_bps > 0 ? video[i]->config().max_bitrate_bps : INT64_MAX;
    const int64_t bps = std::min(cap, available / static_cast<int64_t>(video.size() - i));
    allocation.emplace_back(video[i]->id(), bps);
    available -= bps;
  }
  std::sort(allocation.begin(), allocation.end());
  return allocation;
}

void RtpSession::UpdateTargetBitrate(bool force_event) {
  const bool changed = bwe_.PollTargetBitrate().has_value();
  if (!changed && !force_event) return;
  const int64_t total = bwe_.target_bitrate_bps();
  pacer_.SetTargetBitrate(total);
  auto allocation = AllocateBitrate(total);
  if (last_target_bps_ == total && allocation == last_allocation_) return;
  last_target_bps_ = total;
  last_allocation_ = allocation;
  for (const auto& [id, bps] : allocation) {
    if (SendStream* s = FindSend(id)) s->set_target_bitrate(bps);
  }
  if (!send_streams_.empty()) PushEvent(TargetBitrateChanged{total, std::move(allocation)});
}

// --- Output ---

void RtpSession::PushEvent(Event event, std::vector<uint8_t> bytes) {
  if (events_.size() >= config_.max_queued_events) {
    ++counters_.dropped_event_overflow;
    ReleaseBuffer(std::move(events_.front().bytes));
    events_.pop_front();
  }
  // `bytes` backs a view inside `event`; moving a vector keeps its storage, so the view stays valid.
  events_.push_back(QueuedEvent{std::move(event), std::move(bytes)});
}

std::optional<Event> RtpSession::PollEvent() {
  ReleaseBuffer(std::move(current_event_.bytes));
  current_event_.bytes = {};
  if (events_.empty()) return std::nullopt;
  current_event_ = std::move(events_.front());
  events_.pop_front();
  return current_event_.event;
}

std::optional<ByteSpan> RtpSession::PollTransmit() {
  ReleaseBuffer(std::move(current_transmit_));
  current_transmit_ = {};
  if (transmit_.empty()) return std::nullopt;
  current_transmit_ = std::move(transmit_.front());
  transmit_.pop_front();
  return ByteSpan(current_transmit_);
}

std::vector<uint8_t> RtpSession::AcquireBuffer() {
  if (!spare_buffers_.empty()) {
    std::vector<uint8_t> b = std::move(spare_buffers_.back());
    spare_buffers_.pop_back();
    b.clear();
    return b;
  }
  std::vector<uint8_t> b;
  b.reserve(std::max<size_t>(config_.mtu, 1500) + 64);
  return b;
}

void RtpSession::ReleaseBuffer(std::vector<uint8_t> buffer) {
  if (buffer.capacity() == 0 || spare_buffers_.size() >= kMaxSpareBuffers) return;
  spare_buffers_.push_back(std::move(buffer));
}

// --- Stats ---

Stats RtpSession::GetStats() const {
  Stats stats;
  for (const auto& s : send_streams_) stats.outbound.push_back(s->stats());
  for (const auto& r : receive_streams_) stats.inbound.push_back(r->stats());
  TransportStats& t = stats.transport;
  t = counters_;
  const rtp::BandwidthEstimatorStats bwe = bwe_.stats();
  t.available_outgoing_bitrate = bwe_.target_bitrate_bps();
  t.delay_based_bps = bwe.delay_based_bps;
  t.loss_based_bps = bwe.loss_based_bps;
  t.acked_bps = bwe.acked_bps;
  t.remb_bps = bwe.remb_bps;
  t.round_trip_time = rtt_;
  t.pacer_queue_packets = pacer_.queued_packets();
  t.pacer_max_queue_delay = pacer_.stats().max_queue_delay;
  t.pacer_overflows = pacer_.stats().overflows;
  if (srtp_) {
    const srtp::SrtpStats& s = srtp_->stats();
    t.srtp_auth_failures = s.auth_failures;
    t.srtp_replays = s.replays;
    t.srtp_other_errors = s.other_errors;
  }
  return stats;
}

}  // namespace tandem::session
