// One incoming RTP stream of an RtpSession (one m-section's media, or one simulcast layer of it): payload
// type checks (only negotiated payload types are accepted, as Chromium does), SSRC learning, RTX restoration
// (RFC 4588 §4), reception statistics for report blocks (RFC 3550 §6.4, A.1-A.8), NACK generation (RFC 4585
// §6.2.1, rtp::NackGenerator), key frame requests (RFC 4585 §6.3.1 PLI / RFC 5104 §4.3.1 FIR), and the jitter
// buffer that assembles frames (media::VideoJitterBuffer) or schedules audio playout
// (media::AudioJitterBuffer). Internal to the session: it produces outputs the session polls (frames, NACK
// lists, key frame requests, learned SSRCs, timeouts) and never sends anything itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/time.h"
#include "media/audio_jitter_buffer.h"
#include "media/video_jitter_buffer.h"
#include "rtp/header_extensions.h"
#include "rtp/nack_generator.h"
#include "rtp/rtp_packet.h"
#include "rtp/rtp_stats.h"
#include "session/session_types.h"

namespace tandem::session {

struct ReceiveStreamSettings {
  media::VideoJitterBufferConfig video_jitter_buffer;
  media::AudioJitterBufferConfig audio_jitter_buffer;
  rtp::NackConfig nack;
  TimeDelta receive_timeout = TimeDelta::Seconds(5);
  TimeDelta min_key_frame_request_interval = TimeDelta::Millis(100);
};

// How an RTP packet routed to this stream was taken.
enum class ReceiveResult : uint8_t {
  kAccepted,
  kUnknownPayloadType,  // not negotiated for this m-section: dropped
  kRtxWithoutMedia,     // an RTX packet before the media SSRC is known: dropped
  kPadding,             // an RTX padding-only packet (bandwidth probe): nothing to restore
  kMalformed,           // RTX without a valid restored packet
};

// Which RTCP message a key frame request becomes (RFC 4585 §6.3.1 PLI preferred, RFC 5104 FIR otherwise).
enum class KeyFrameRequestKind : uint8_t { kNone, kPli, kFir };

class ReceiveStream {
 public:
  ReceiveStream(StreamId id, const ReceiveStreamConfig& config, const ReceiveStreamSettings& settings);

  StreamId id() const { return id_; }
  const ReceiveStreamConfig& config() const { return config_; }
  MediaKind kind() const { return config_.kind; }
  std::optional<uint32_t> media_ssrc() const { return media_ssrc_; }
  std::optional<uint32_t> rtx_ssrc() const { return rtx_ssrc_; }
  bool IsMediaOrRtxSsrc(uint32_t ssrc) const { return media_ssrc_ == ssrc || rtx_ssrc_ == ssrc; }
  // The RTCP message to ask for a key frame with, from the negotiated rtcp-fb of the codecs.
  KeyFrameRequestKind key_frame_request_kind() const;

  // An authenticated, parsed RTP packet the demuxer routed here.
  ReceiveResult OnRtpPacket(Timestamp now, const rtp::RtpPacketView& packet, const rtp::ExtensionMap& map);
  // Retries NACKs, repeats key frame requests, notices timeouts.
  void HandleTimeout(Timestamp now);
  Timestamp PollTimeout() const;

  // --- Outputs ---
  std::optional<uint32_t> TakeLearnedSsrc();
  bool TakeTimeout();
  // Sequence numbers to NACK now (into `out`, cleared first); false when none.
  bool PollNack(std::vector<uint16_t>& out);
  // True once per key frame request that is due (jitter buffer, NACK give-up, decoder error, the
  // application), throttled to min_key_frame_request_interval.
  bool TakeKeyFrameRequest(Timestamp now);
  // Frames and playout steps due at `now`. Views are valid until the next non-const call.
  std::optional<media::EncodedVideoFrame> PollVideoFrame(Timestamp now);
  std::optional<media::AudioPlayout> PollAudio(Timestamp now);
  uint8_t current_payload_type() const { return current_payload_type_; }
  std::optional<rtp::VideoOrientation> orientation() const { return orientation_; }

  // --- Control ---
  void RequestKeyFrame() { key_frame_request_pending_ = true; }
  // The decoder could not decode the last frame: discard until a key frame and ask for one.
  void OnDecodeError(Timestamp now);
  void UpdateRtt(TimeDelta rtt);
  // The sender said BYE: playout stops (it restarts if packets come again).
  void OnBye();

  // --- RTCP ---
  std::optional<rtp::ReportBlock> BuildReportBlock(Timestamp now);
  void OnSenderReport(Timestamp now, const rtp::SenderReport& sr);
  void OnNackSent() { ++stats_.nack_count; }
  void OnPliSent() { ++stats_.pli_count; }
  void OnFirSent() { ++stats_.fir_count; }
  uint8_t NextFirSequenceNumber() { return fir_sequence_number_++; }

  InboundRtpStats stats() const;

 private:
  const Codec* FindCodec(uint8_t payload_type) const;
  // The media payload type an RTX payload type repairs (RFC 4588 §8.6 apt), if it is one.
  std::optional<uint8_t> RtxApt(uint8_t payload_type) const;
  void OnMediaPacket(Timestamp now, const rtp::RtpPacketView& packet, const Codec& codec,
                     const rtp::ExtensionMap& map, bool retransmission);
  void SwitchSsrc(uint32_t ssrc);
  void EnsureJitterBuffer(const Codec& codec);
  bool IsKeyFramePacket(CodecType type, ByteSpan payload);
  void ResetPlayout();

  StreamId id_;
  ReceiveStreamConfig config_;
  ReceiveStreamSettings settings_;
  bool nack_enabled_ = false;

  std::optional<uint32_t> media_ssrc_;
  std::optional<uint32_t> rtx_ssrc_;
  bool ssrc_learned_pending_ = false;
  std::optional<rtp::RtpReceiveStatistics> statistics_;
  std::optional<rtp::NackGenerator> nack_;
  std::optional<media::VideoJitterBuffer> video_;
  std::optional<media::AudioJitterBuffer> audio_;
  CodecType jitter_buffer_codec_ = CodecType::kUnknown;
  uint8_t current_payload_type_ = 0;
  std::optional<rtp::VideoOrientation> orientation_;

  std::optional<Timestamp> last_packet_;
  bool timed_out_ = false;
  bool timeout_pending_ = false;
  bool key_frame_request_pending_ = false;
  std::optional<Timestamp> last_key_frame_request_;
  uint8_t fir_sequence_number_ = 0;
  TimeDelta rtt_ = TimeDelta::Millis(100);

  std::vector<uint8_t> restore_buffer_;  // RTX restoration
  std::vector<uint8_t> h264_scratch_;    // key frame detection
  // Jitter buffer statistics of instances replaced by a codec or SSRC switch.
  uint64_t frames_dropped_before_ = 0;
  uint64_t concealments_before_ = 0;
  uint64_t fec_before_ = 0;
  InboundRtpStats stats_;
};

}  // namespace tandem::session
