// Value types of the RTP media session (rtp_session.h): what the negotiation hands in (codecs, header
// extension ids, stream configurations), what the track layer sends (EncodedFrame), what comes out (events)
// and the W3C-shaped statistics.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"
#include "media/audio_jitter_buffer.h"
#include "media/media_frame.h"
#include "rtp/header_extensions.h"

namespace tandem::session {

enum class MediaKind : uint8_t { kAudio, kVideo };
const char* ToString(MediaKind kind);

// The codecs the session can packetize and assemble.
enum class CodecType : uint8_t {
  kUnknown,
  kVp8,   // RFC 7741
  kH264,  // RFC 6184, packetization-mode 1
  kOpus,  // RFC 7587
};
// From an a=rtpmap encoding name, case-insensitively (RFC 4855 §3: names are case-insensitive).
CodecType CodecTypeFromName(std::string_view name);
const char* ToString(CodecType type);

// One negotiated payload type (a=rtpmap, a=fmtp, a=rtcp-fb; the lead's SDP negotiation fills it in).
struct Codec {
  uint8_t payload_type = 0;
  std::string name;  // "VP8", "H264", "opus" (case-insensitive)
  uint32_t clock_rate = 90000;
  uint16_t channels = 1;
  std::optional<uint8_t> rtx_payload_type;  // the RTX payload type whose apt= is this one (RFC 4588 §8.6)
  std::vector<std::pair<std::string, std::string>> fmtp;
  // a=rtcp-fb (RFC 4585 §4.2, RFC 5104 §7.1, transport-cc, goog-remb).
  bool nack = false;  // "nack"
  bool pli = false;   // "nack pli"
  bool fir = false;   // "ccm fir"
  bool transport_cc = false;
  bool remb = false;

  CodecType type() const { return CodecTypeFromName(name); }
};

// Negotiated a=extmap ids (RFC 8285 §5), one id space for the whole BUNDLE group (RFC 8843 §9.1); 0 = not
// negotiated. Ids 1-14 use the one-byte form; larger ids need a=extmap-allow-mixed (RFC 8285 §6).
struct Extensions {
  uint8_t mid = 0;                // RFC 8843 §15
  uint8_t rid = 0;                // RFC 8852 §3.1
  uint8_t repaired_rid = 0;       // RFC 8852 §3.2
  uint8_t abs_send_time = 0;      // webrtc.org abs-send-time
  uint8_t transport_cc = 0;       // draft-holmer-rmcat-transport-wide-cc-extensions-01
  uint8_t audio_level = 0;        // RFC 6464
  uint8_t video_orientation = 0;  // 3GPP TS 26.114 §7.4.5
};

using StreamId = uint32_t;

struct SendStreamConfig {
  MediaKind kind = MediaKind::kVideo;
  std::string mid;  // a=mid of the m-section; sent in the MID extension on every packet
  std::string rid;  // RFC 8852 rid of a simulcast layer (sent when the rid extension is negotiated); "" none
  uint32_t ssrc = 0;
  std::optional<uint32_t>
      rtx_ssrc;  // a=ssrc-group:FID (RFC 4588 §8.7); RTX is used when the codec has an RTX PT
  Codec codec;
  std::string cname;  // SDES CNAME (RFC 7022); "" = Config::cname
  // Bitrate allocation: audio streams get `max_bitrate_bps` (default 32 kbit/s) off the top of the estimate;
  // video streams share the rest, each capped at `max_bitrate_bps` when non-zero.
  int64_t max_bitrate_bps = 0;
};

struct ReceiveStreamConfig {
  MediaKind kind = MediaKind::kVideo;
  std::string mid;
  std::vector<std::string> rids;  // simulcast layers this stream takes (RFC 8851 a=rid ... recv); empty: any
  std::vector<Codec> codecs;      // payload types this m-section receives (RTX ones via rtx_payload_type)
  std::vector<uint32_t> ssrcs;    // signaled (a=ssrc), may be empty: learned from the MID extension
  std::optional<uint32_t> rtx_ssrc;
};

// One encoded frame from the track layer. Video: a whole encoded frame (an Annex B access unit for H.264).
// Audio: one Opus packet. `data` is only read during SendFrame.
struct EncodedFrame {
  ByteSpan data;
  uint32_t rtp_timestamp =
      0;  // the media clock (90 kHz video, 48 kHz Opus); the session adds a random offset
  bool key_frame = false;
  int width = 0;
  int height = 0;
  std::optional<rtp::AudioLevel> audio_level;        // RFC 6464, audio only
  std::optional<rtp::VideoOrientation> orientation;  // CVO, video only (on the frame's last packet)
};

// --- Events (RtpSession::PollEvent) ---
// Byte views inside events are valid until the next call of PollEvent (or the session's destruction).

// A complete, decodable video frame from a receive stream, in decode order: feed `frame.data` to the decoder
// of `frame.codec` (media::Vp8Decoder::Decode).
struct VideoFrameReceived {
  StreamId stream = 0;
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;
  media::EncodedVideoFrame frame;
  std::optional<rtp::VideoOrientation> orientation;  // the latest the sender signaled, if any
};

// One audio playout step of a receive stream (every 20 ms or so once audio flows): pass `playout` to
// media::OpusDecoder::Decode(const AudioPlayout&, AudioFrame&), which decodes, recovers with FEC or conceals.
struct AudioFrameReceived {
  StreamId stream = 0;
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;
  media::AudioPlayout playout;
};

// The peer asked for a key frame on a send stream (RFC 4585 §6.3.1 PLI or RFC 5104 §4.3.1 FIR).
struct KeyFrameRequested {
  StreamId stream = 0;
  bool fir = false;
};

// The send-side bandwidth estimate changed (or the set of send streams did): set the encoders' bitrates.
// `allocation` gives each send stream its share (media payload bits; packet and SRTP overhead excluded).
struct TargetBitrateChanged {
  int64_t total_bps = 0;
  std::vector<std::pair<StreamId, int64_t>> allocation;
};

// A receive stream without signaled SSRC found its SSRC (through the MID extension, RFC 8843 §9.2), or the
// sender switched to a new one.
struct RemoteSsrcLearned {
  StreamId stream = 0;
  uint32_t ssrc = 0;
};

// No packet arrived on a receive stream for Config::receive_timeout. It comes back by itself when packets
// resume.
struct ReceiveStreamTimeout {
  StreamId stream = 0;
  uint32_t ssrc = 0;
};

// An RTCP BYE (RFC 3550 §6.6) for a remote SSRC; `stream` is the receive stream it fed, if any.
struct RtcpByeReceived {
  uint32_t ssrc = 0;
  std::optional<StreamId> stream;
};

using Event = std::variant<VideoFrameReceived, AudioFrameReceived, KeyFrameRequested, TargetBitrateChanged,
                           RemoteSsrcLearned, ReceiveStreamTimeout, RtcpByeReceived>;

// --- Statistics (RtpSession::GetStats), shaped like the W3C webrtc-stats dictionaries ---

// RTCRemoteInboundRtpStreamStats: what the peer's report blocks say about one of our send streams.
struct RemoteInboundRtpStats {
  bool valid = false;        // a report block arrived
  double fraction_lost = 0;  // of the last report interval, 0..1
  int64_t packets_lost = 0;  // cumulative, as reported
  double jitter_seconds = 0;
  std::optional<TimeDelta> round_trip_time;  // RFC 3550 §6.4.1 from LSR/DLSR
  TimeDelta total_round_trip_time;
  uint64_t round_trip_time_measurements = 0;
};

// RTCOutboundRtpStreamStats.
struct OutboundRtpStats {
  StreamId stream = 0;
  MediaKind kind = MediaKind::kVideo;
  std::string mid;
  std::string rid;
  uint32_t ssrc = 0;
  std::optional<uint32_t> rtx_ssrc;
  uint8_t payload_type = 0;
  std::string codec;
  uint64_t packets_sent = 0;       // media SSRC packets (retransmissions without RTX included)
  uint64_t bytes_sent = 0;         // payload bytes (RFC 3550 §6.4.1 octet count), retransmissions included
  uint64_t header_bytes_sent = 0;  // RTP headers and padding
  uint64_t frames_encoded = 0;     // frames handed to SendFrame and packetized
  uint64_t key_frames_encoded = 0;
  uint64_t frames_dropped = 0;  // refused: packetizer error, no keys yet, or the pacer queue overflowed
  uint64_t nack_count = 0;      // NACK packets received
  uint64_t pli_count = 0;
  uint64_t fir_count = 0;
  uint64_t retransmitted_packets_sent = 0;  // RTX packets (or plain resends) answering NACKs
  uint64_t retransmitted_bytes_sent = 0;    // their payload bytes (the OSN excluded)
  uint64_t retransmissions_not_found = 0;   // NACKed packets no longer in the history
  int64_t target_bitrate_bps = 0;           // this stream's share of the estimate
  RemoteInboundRtpStats remote;
};

// RTCInboundRtpStreamStats (and what the peer's SR says: RTCRemoteOutboundRtpStreamStats).
struct InboundRtpStats {
  StreamId stream = 0;
  MediaKind kind = MediaKind::kVideo;
  std::string mid;
  uint32_t ssrc = 0;  // 0 until known
  std::optional<uint32_t> rtx_ssrc;
  uint8_t payload_type = 0;  // of the last media packet
  std::string codec;
  uint64_t packets_received = 0;  // media packets, RTX-repaired ones included
  int64_t packets_lost = 0;       // RFC 3550 A.3 cumulative (expected - received)
  uint64_t packets_duplicated = 0;
  uint64_t bytes_received = 0;  // payload bytes
  uint64_t header_bytes_received = 0;
  double jitter_seconds = 0;     // RFC 3550 A.8
  uint64_t frames_received = 0;  // video: complete frames handed out; audio: packets played
  uint64_t key_frames_received = 0;
  uint64_t frames_dropped = 0;  // video: complete but undecodable (a reference was lost) or too large
  uint64_t nack_count = 0;      // NACK packets sent
  uint64_t pli_count = 0;
  uint64_t fir_count = 0;
  uint64_t retransmitted_packets_received = 0;  // RTX packets restored (or late originals after a NACK)
  uint64_t retransmitted_bytes_received = 0;
  uint64_t packets_discarded =
      0;  // not negotiated payload type, malformed payload, late for the jitter buffer
  TimeDelta jitter_buffer_delay;  // sum over emitted frames (audio: packets) of their time in the buffer
  uint64_t jitter_buffer_emitted_count = 0;
  uint64_t concealment_events = 0;             // audio: concealment steps for lost packets
  uint64_t fec_recoveries = 0;                 // audio: steps decoded from the next packet's in-band FEC
  std::optional<rtp::AudioLevel> audio_level;  // the last RFC 6464 value received
  std::optional<Timestamp> last_packet_received;
  // From the sender's last SR (RTCRemoteOutboundRtpStreamStats).
  uint64_t remote_packets_sent = 0;
  uint64_t remote_bytes_sent = 0;
  uint64_t remote_reports = 0;
};

// Transport-level (RTCTransportStats / RTCIceCandidatePairStats-ish) numbers and the drop counters.
struct TransportStats {
  uint64_t packets_sent = 0;  // SRTP + SRTCP
  uint64_t bytes_sent = 0;    // on the wire (after SRTP)
  uint64_t packets_received = 0;
  uint64_t bytes_received = 0;
  uint64_t rtp_packets_sent = 0;
  uint64_t rtcp_packets_sent = 0;
  uint64_t rtp_packets_received = 0;  // authenticated
  uint64_t rtcp_packets_received = 0;
  // The send-side bandwidth estimate (availableOutgoingBitrate) and its parts.
  int64_t available_outgoing_bitrate = 0;
  int64_t delay_based_bps = 0;
  int64_t loss_based_bps = 0;
  std::optional<int64_t> acked_bps;
  std::optional<int64_t> remb_bps;
  std::optional<TimeDelta> round_trip_time;  // the latest from any report block
  uint64_t transport_feedback_sent = 0;
  uint64_t transport_feedback_received = 0;
  uint64_t remb_received = 0;
  // Pacer.
  size_t pacer_queue_packets = 0;
  TimeDelta pacer_max_queue_delay;  // the longest a packet waited in the pacer so far
  uint64_t pacer_overflows = 0;
  // Drops (hostile or unexpected input; every one counted, none fatal).
  uint64_t dropped_not_rtp = 0;      // neither RTP nor RTCP (RFC 7983 / RFC 5761 classification)
  uint64_t dropped_before_keys = 0;  // arrived before SetSrtpKeys and the early queue was full
  uint64_t srtp_auth_failures = 0;   // garbage, tampered or wrongly keyed
  uint64_t srtp_replays = 0;         // RFC 3711 §3.3.2 replay protection
  uint64_t srtp_other_errors = 0;
  uint64_t malformed_rtp = 0;         // authenticated but not a valid RTP packet
  uint64_t malformed_rtcp = 0;        // broken compound framing, or an inconsistent packet inside one
  uint64_t unroutable_rtp = 0;        // no receive stream by MID, SSRC or payload type (RFC 8843 §9.2)
  uint64_t unknown_payload_type = 0;  // routed, but the payload type is not negotiated for the stream
  uint64_t rtcp_unknown_ssrc = 0;     // feedback about an SSRC we do not send
  uint64_t dropped_transmit_overflow = 0;
  uint64_t dropped_event_overflow = 0;
  uint64_t srtp_protect_failures = 0;
};

struct Stats {
  std::vector<OutboundRtpStats> outbound;
  std::vector<InboundRtpStats> inbound;
  TransportStats transport;
};

}  // namespace tandem::session
