// One outgoing RTP stream of an RtpSession: packetization of encoded frames (VP8 RFC 7741, H.264 RFC 6184
// mode 1, Opus RFC 7587) into RTP packets with the negotiated header extensions, its sequence numbers and
// timestamp offset (random starts, RFC 3550 §5.1), the history of sent packets and the RTX sender answering
// NACKs (RFC 4585 §6.2.1, RFC 4588), SR contents (RFC 3550 §6.4.1) and what the peer's report blocks say.
// Internal to the session: it never sends anything itself; the session paces, stamps, protects and sends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/result.h"
#include "core/rng.h"
#include "core/time.h"
#include "media/h264_payload.h"
#include "media/opus_payload.h"
#include "media/vp8_payload.h"
#include "rtp/header_extensions.h"
#include "rtp/packet_history.h"
#include "rtp/rtp_packet.h"
#include "rtp/rtp_stats.h"
#include "rtp/rtx.h"
#include "session/pacer.h"
#include "session/session_types.h"

namespace tandem::session {

struct SendStreamLimits {
  size_t max_packet_size = 1200 - 16 - 2;  // RTP packet before SRTP (tag) with room for RTX's OSN
  size_t history_packets = 1024;
  TimeDelta history_max_age = TimeDelta::Seconds(1);
};

// A packet built by NextPacket / BuildRetransmission.
struct BuiltPacket {
  size_t payload_size = 0;
  uint32_t rtp_timestamp = 0;
  bool rtx = false;
};

// What a report block about this stream told (RFC 3550 §6.4.1).
struct ReportBlockResult {
  std::optional<TimeDelta> rtt;
  int64_t packets_in_interval = 0;  // packets the receiver expected since its previous report
  uint8_t fraction_lost = 0;
};

class SendStream {
 public:
  // Programmer errors (unknown codec, kind mismatch) are checked by the session before.
  SendStream(StreamId id, const SendStreamConfig& config, const std::string& default_cname, Rng& rng,
             const SendStreamLimits& limits);

  StreamId id() const { return id_; }
  const SendStreamConfig& config() const { return config_; }
  MediaKind kind() const { return config_.kind; }
  uint32_t ssrc() const { return config_.ssrc; }
  std::optional<uint32_t> rtx_ssrc() const { return config_.rtx_ssrc; }
  const std::string& cname() const { return cname_; }
  bool uses_transport_cc() const { return config_.codec.transport_cc; }
  // The largest RTP header this stream's packets can have (all its extensions present).
  size_t max_header_size() const { return max_header_size_; }

  // The bundle's extension ids changed (RFC 8843 §9.1: one map for all streams).
  void SetExtensionMap(const rtp::ExtensionMap& map);
  // Renegotiation changed the payload type, the codec or its RTX mapping.
  void SetCodec(const Codec& codec);

  // Packetizes one frame; NextPacket then yields its packets. kInvalidArgument / kLimitExceeded from the
  // packetizer (empty frame, too large), kUnsupported for an Opus packet that does not fit one RTP packet.
  Status Packetize(const EncodedFrame& frame);
  // Builds the next packet of the current frame into `out` (resized to the packet), with placeholder values
  // in the abs-send-time and transport-wide sequence number extensions (stamped when the pacer sends it).
  std::optional<BuiltPacket> NextPacket(std::vector<uint8_t>& out);

  // The pacer sent one of this stream's packets (`packet`: plaintext, stamped): history, counters, SR state.
  void OnPacketSent(Timestamp now, const PacedPacket& packet);
  // A NACK asked for `sequence_number`: the RTX packet (or, without RTX, the original as sent) into `out`.
  // nullopt when it is no longer held or was resent less than `min_interval` ago.
  std::optional<BuiltPacket> BuildRetransmission(Timestamp now, uint16_t sequence_number,
                                                 TimeDelta min_interval, std::vector<uint8_t>& out);

  // RTCP.
  std::optional<rtp::SenderReport> BuildSenderReport(Timestamp now, rtp::NtpTime wall_clock);
  ReportBlockResult OnReportBlock(Timestamp now, const rtp::ReportBlock& block);
  void OnNack() { ++stats_.nack_count; }
  void OnPli() { ++stats_.pli_count; }
  // RFC 5104 §4.3.1.2: a FIR repeating the last command sequence number of its sender is not a new request.
  bool OnFir(uint32_t sender_ssrc, uint8_t command_sequence_number);
  void OnFrameDropped() { ++stats_.frames_dropped; }

  void set_target_bitrate(int64_t bps) { stats_.target_bitrate_bps = bps; }
  OutboundRtpStats stats() const;

 private:
  void RecomputeHeaderSize();
  void ResetPacketizer();
  size_t MaxPayloadSize() const;

  StreamId id_;
  SendStreamConfig config_;
  std::string cname_;
  SendStreamLimits limits_;
  rtp::ExtensionMap map_;
  size_t max_header_size_ = rtp::kFixedHeaderSize;
  uint16_t next_sequence_number_;
  uint32_t timestamp_offset_;
  uint16_t initial_picture_id_;
  std::variant<std::monostate, media::Vp8Packetizer, media::H264Packetizer, media::OpusPacketizer>
      packetizer_;
  std::optional<media::OutgoingPayload> opus_payload_;  // the pending Opus payload (one per frame)
  struct FrameMetadata {
    bool key_frame = false;
    std::optional<rtp::AudioLevel> audio_level;
    std::optional<rtp::VideoOrientation> orientation;
  };
  FrameMetadata current_frame_;  // of the frame being packetized
  rtp::RtpPacketBuilder builder_;
  rtp::RtpPacketHistory history_;
  std::optional<rtp::RtxSender> rtx_;
  rtp::RtpSendStatistics send_statistics_;
  std::optional<uint32_t> last_extended_highest_;                   // from the previous report block
  std::vector<std::pair<uint32_t, uint8_t>> fir_sequence_numbers_;  // per FIR sender (bounded)
  OutboundRtpStats stats_;
};

}  // namespace tandem::session
