// RtpSession: the media half of a peer connection, sans-IO. It carries *encoded* media between the track
// layer (encoders, decoders, sources, sinks) and the network (the peer core hands it the SRTP/SRTCP datagrams
// that RFC 7983 classified as RTP/RTCP and sends what it produces over ICE), and owns everything in between:
//
//   send:    EncodedFrame -> packetizer (VP8 RFC 7741, H.264 RFC 6184 mode 1, Opus RFC 7587) -> RTP header
//   and
//            extensions (mid, rid, abs-send-time, transport-wide seq, audio level, video orientation) ->
//            pacer (leaky bucket at 2.5 x the estimate) -> history (for NACK) -> SRTP -> PollTransmit
//   receive: SRTP/SRTCP (replay protected) -> RTCP, or BUNDLE demux (RFC 8843 §9.2: MID, then SSRC, then
//            payload type) -> receive stream: RTX restore (RFC 4588), statistics, NACK, jitter buffer and
//            frame assembly -> PollEvent (VideoFrameReceived / AudioFrameReceived)
//   RTCP:    SR/RR + SDES CNAME every rtcp_interval (RFC 3550 §6.4; RTT from LSR/DLSR), NACK -> RTX
//            retransmission, PLI/FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1) both ways, transport-wide congestion
//            control feedback both ways, REMB in, BYE on stream removal (RFC 3550 §6.6)
//   BWE:     rtp::SendSideBandwidthEstimator (delay-based on TWCC feedback, loss-based, capped by REMB) ->
//            TargetBitrateChanged for the encoders, and the pacing rate.
//
// Driving it (str0m style): after any input (HandlePacket, HandleTimeout, SendFrame, ...) drain
// PollTransmit() (send each datagram at once: the view is valid until the next non-const call) and
// PollEvent(), then wake up at PollTimeout(). Nothing here reads a clock, opens a socket or throws on bad
// input: hostile or unexpected packets are dropped and counted in GetStats().transport. Not thread-safe: one
// session per peer connection, on its loop.
//
// Keys: nothing is sent before SetSrtpKeys (DTLS-SRTP, RFC 5764): frames given to SendFrame before are
// refused (kUnavailable), and up to Config::max_early_packets received datagrams wait for the keys.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/rng.h"
#include "core/time.h"
#include "dtls/srtp.h"
#include "media/audio_jitter_buffer.h"
#include "media/video_jitter_buffer.h"
#include "rtp/bandwidth_estimator.h"
#include "rtp/bundle_demuxer.h"
#include "rtp/header_extensions.h"
#include "rtp/nack_generator.h"
#include "rtp/rtcp_compound.h"
#include "rtp/twcc_receiver.h"
#include "session/pacer.h"
#include "session/receive_stream.h"
#include "session/send_stream.h"
#include "session/session_types.h"
#include "srtp/srtp_session.h"

namespace tandem::session {

struct Config {
  std::string cname;  // RFC 7022 CNAME of our streams (random per peer connection, 16+ characters)
  // Largest datagram produced: SRTP/SRTCP packets never exceed it (RTP packets leave room for the largest
  // SRTP tag and RTX's 2-byte OSN, RFC 4588 §4).
  size_t mtu = 1200;
  // RFC 3550 §6.2 report interval (randomized to [0.5, 1.5] x, §6.3.1). WebRTC stacks use 1 s for video;
  // RFC 4585 feedback (NACK, PLI, FIR, TWCC) goes out at once regardless.
  TimeDelta rtcp_interval = TimeDelta::Seconds(1);
  // RFC 5506 reduced-size RTCP (a=rtcp-rsize, which Chromium always offers): feedback goes alone. Without it,
  // each feedback compound starts with an RR and an SDES CNAME (RFC 3550 §6.1).
  bool reduced_size_rtcp = true;
  // The driver's wall clock minus `now` (Unix epoch µs at Timestamp zero): SR NTP times are now + this. Only
  // differences matter for RTT; lip sync across streams wants the real offset.
  TimeDelta wall_clock_offset = TimeDelta::Zero();
  // Send-side bandwidth estimate (what TargetBitrateChanged reports).
  int64_t start_bitrate_bps = 300'000;
  int64_t min_bitrate_bps = 30'000;
  int64_t max_bitrate_bps = 2'500'000;
  PacerConfig pacer;
  // Packets kept for retransmission per send stream, and how long.
  size_t video_history_packets = 1024;
  size_t audio_history_packets = 128;
  TimeDelta history_max_age = TimeDelta::Seconds(1);
  // Receive side.
  media::VideoJitterBufferConfig video_jitter_buffer;
  media::AudioJitterBufferConfig audio_jitter_buffer;
  rtp::NackConfig nack;
  TimeDelta receive_timeout = TimeDelta::Seconds(5);
  TimeDelta min_key_frame_request_interval = TimeDelta::Millis(100);
  srtp::SrtpConfig srtp;
  // Bounds (hostile input, or a driver that does not drain).
  size_t max_send_streams = 64;
  size_t max_receive_streams = 64;
  size_t max_early_packets = 32;
  size_t max_transmit_queue = 4096;
  size_t max_queued_events = 1024;
  size_t max_remote_ssrcs = 1024;  // BUNDLE demuxer bindings learned from packets
};

class RtpSession {
 public:
  // `rng` must outlive the session (random SSRC for receive-only RTCP, sequence numbers, timestamps, RTCP
  // interval randomization).
  RtpSession(Config config, Rng& rng);
  ~RtpSession();
  RtpSession(const RtpSession&) = delete;
  RtpSession& operator=(const RtpSession&) = delete;

  // --- Configuration (from the negotiation) ---
  // DTLS-SRTP keys (RFC 5764 §4.2), once the DTLS handshake finished (again after a DTLS restart).
  // Datagrams that came early are processed now. kInvalidArgument/kInternal from srtp::SrtpSession::Create.
  Status SetSrtpKeys(Timestamp now, const dtls::SrtpKeyingMaterial& keys);
  bool has_srtp_keys() const { return srtp_.has_value(); }
  // The negotiated header extension ids (one space for the BUNDLE group, RFC 8843 §9.1).
  void SetExtensions(const Extensions& extensions);
  const Extensions& extensions() const { return extensions_; }

  // kInvalidArgument for a codec we cannot packetize, a kind/codec mismatch, an SSRC already in use or an
  // empty MID; kLimitExceeded past Config::max_send_streams.
  Result<StreamId> AddSendStream(const SendStreamConfig& config);
  // Sends an RTCP BYE for the stream's SSRCs (RFC 3550 §6.6) and forgets it (queued packets are dropped).
  void RemoveSendStream(Timestamp now, StreamId stream);
  // Renegotiation changed the codec (payload type, RTX payload type, feedback). kNotFound / kInvalidArgument.
  Status UpdateSendCodec(StreamId stream, const Codec& codec);
  // kInvalidArgument when no codec is one we can assemble (VP8/H.264 for video, Opus for audio), or the MID
  // is empty; kAlreadyExists for a MID/RID pair already received; kLimitExceeded past max_receive_streams.
  Result<StreamId> AddReceiveStream(const ReceiveStreamConfig& config);
  void RemoveReceiveStream(StreamId stream);

  // --- Send path ---
  // Packetizes one encoded frame (video) or Opus packet (audio) of a send stream and queues its packets for
  // the pacer. kNotFound for an unknown stream, kUnavailable before SetSrtpKeys, the packetizer's error for a
  // frame it refuses (empty, too large); kLimitExceeded when the pacer queue is full (the frame is dropped).
  Status SendFrame(Timestamp now, StreamId stream, const EncodedFrame& frame);
  // Asks the peer for a key frame on a receive stream: PLI (RFC 4585 §6.3.1) when negotiated, else FIR
  // (RFC 5104 §4.3.1). kNotFound, kUnsupported when neither is negotiated, kUnavailable before the keys.
  Status RequestKeyFrame(Timestamp now, StreamId receive_stream);
  // The decoder failed on a frame of this receive stream: the jitter buffer discards until the next key frame
  // and asks for one.
  void ReportDecodeError(Timestamp now, StreamId receive_stream);
  // Asks the peer to keep its sending rate at most `bps` (REMB, draft-alvestrand-rmcat-remb-03), repeated
  // with every report; 0 stops.
  void SetReceiveBitrateLimit(Timestamp now, int64_t bps);

  // --- Network ---
  // One datagram the peer core classified as RTP/RTCP (RFC 7983: first byte 128-191): SRTCP when its payload
  // type field says RTCP (RFC 5761 §4), SRTP otherwise. Never fails: bad datagrams are counted.
  void HandlePacket(Timestamp now, ByteSpan datagram);
  // For tests and the fuzzer only: an already unprotected RTP or RTCP packet, straight into the demux path.
  void HandleUnprotectedPacketForTesting(Timestamp now, ByteSpan packet);
  // Due work: pacer, RTCP reports, NACK retries, TWCC feedback, jitter buffer playout, timeouts.
  void HandleTimeout(Timestamp now);
  // The next SRTP/SRTCP datagram to send; valid until the next non-const call.
  std::optional<ByteSpan> PollTransmit();
  // The next event; byte views inside it are valid until the next PollEvent.
  std::optional<Event> PollEvent();
  // When HandleTimeout must run next; Infinity when idle.
  Timestamp PollTimeout() const;

  // --- Observation ---
  int64_t target_bitrate_bps() const { return bwe_.target_bitrate_bps(); }
  Stats GetStats() const;
  // The SSRC receive streams are learned or signaled with (nullopt until known).
  std::optional<uint32_t> RemoteSsrc(StreamId receive_stream) const;
  const srtp::SrtpSession* srtp_session() const { return srtp_ ? &*srtp_ : nullptr; }

 private:
  struct QueuedEvent {
    Event event;
    std::vector<uint8_t> bytes;  // backing store of the event's byte view (frames)
  };

  SendStream* FindSend(StreamId id);
  SendStream* FindSendBySsrc(uint32_t ssrc);
  ReceiveStream* FindReceive(StreamId id);
  ReceiveStream* FindReceiveBySsrc(uint32_t ssrc);
  uint32_t FeedbackSsrc() const;
  rtp::NtpTime WallClock(Timestamp now) const;

  void ProcessDatagram(Timestamp now, ByteSpan datagram);
  void HandleRtp(Timestamp now, ByteSpan packet);
  void HandleRtcp(Timestamp now, ByteSpan packet);
  void HandleReportBlock(Timestamp now, const rtp::ReportBlock& block);
  void HandleNack(Timestamp now, const rtp::Nack& nack);
  void ProcessReceiveStream(Timestamp now, ReceiveStream& stream);
  void SendKeyFrameRequest(Timestamp now, ReceiveStream& stream);

  void ProcessPacer(Timestamp now);
  void SendPacedPacket(Timestamp now, PacedPacket packet);
  void SendRtcpReports(Timestamp now);
  void SendByes(Timestamp now, const std::vector<uint32_t>& ssrcs);
  void SendTwccFeedback(Timestamp now);
  TimeDelta RandomizedRtcpInterval();
  // Appends an RTCP packet to the pending feedback compound (flushing it first when full).
  template <typename Packet>
  void QueueFeedback(Timestamp now, const Packet& packet);
  void FlushFeedback(Timestamp now);
  // RFC 3550 §6.1: without reduced-size RTCP every compound starts with an RR and carries an SDES CNAME.
  void AppendCompoundPrefix(std::vector<uint8_t>& out) const;
  size_t CompoundPrefixSize() const;
  void ProtectAndTransmit(std::vector<uint8_t> buffer, bool rtcp);
  void UpdateTargetBitrate(bool force_event);
  std::vector<std::pair<StreamId, int64_t>> AllocateBitrate(int64_t total_bps);
  void PushEvent(Event event, std::vector<uint8_t> bytes = {});
  std::vector<uint8_t> AcquireBuffer();
  void ReleaseBuffer(std::vector<uint8_t> buffer);
  size_t MaxRtcpSize() const;

  Config config_;
  Rng& rng_;
  uint32_t rtcp_ssrc_;  // our RTCP sender SSRC while we have no send stream (receive-only)
  std::optional<srtp::SrtpSession> srtp_;
  Extensions extensions_;
  rtp::ExtensionMap extension_map_;
  rtp::BundleDemuxer demuxer_;
  std::vector<std::unique_ptr<SendStream>> send_streams_;
  std::vector<std::unique_ptr<ReceiveStream>> receive_streams_;
  StreamId next_stream_id_ = 1;

  // Send side.
  Pacer pacer_;
  rtp::SendSideBandwidthEstimator bwe_;
  uint16_t next_transport_sequence_number_;
  std::optional<int64_t> last_target_bps_;
  std::vector<std::pair<StreamId, int64_t>> last_allocation_;
  uint64_t media_payload_bytes_sent_ = 0;  // for the payload share of the estimate
  uint64_t media_wire_bytes_sent_ = 0;

  // Receive side.
  rtp::TwccReceiver twcc_receiver_;
  std::deque<std::vector<uint8_t>> early_packets_;
  std::vector<uint8_t> receive_buffer_;  // a mutable copy for in-place unprotect

  // RTCP.
  Timestamp next_rtcp_report_ = Timestamp::Infinity();
  std::optional<int64_t> remb_limit_bps_;
  std::vector<uint8_t> feedback_;  // feedback packets waiting to be sent as one compound
  std::vector<uint8_t> rtcp_scratch_;
  std::vector<uint16_t> nack_scratch_;
  std::optional<TimeDelta> rtt_;

  // Output.
  std::deque<std::vector<uint8_t>> transmit_;
  std::vector<uint8_t> current_transmit_;
  std::vector<std::vector<uint8_t>> spare_buffers_;
  std::deque<QueuedEvent> events_;
  QueuedEvent current_event_;
  TransportStats counters_;
};

}  // namespace tandem::session
