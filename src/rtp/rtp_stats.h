// Per-SSRC RTP statistics for RTCP reports (RFC 3550 §6.4): what a receiver puts in report blocks (extended
// highest sequence number, cumulative and fractional loss, interarrival jitter, LSR/DLSR) and what a sender
// puts in sender reports (packet and octet counts, the NTP/RTP timestamp pair), plus the sender's round-trip
// time from the report blocks it gets back. Sans-IO: times come in as arguments, the wall clock (NTP) too.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/time.h"
#include "rtp/ntp_time.h"
#include "rtp/rtcp_packets.h"

namespace tandem::rtp {

// Reception statistics of one source (RFC 3550 Appendix A.1, A.3, A.8).
class RtpReceiveStatistics {
 public:
  // `min_sequential`: packets in sequence before a new source is valid (A.1 MIN_SEQUENTIAL). RFC 3550 uses 2
  // against stray packets; behind SRTP authentication 1 (accept at once) is what WebRTC stacks do.
  RtpReceiveStatistics(uint32_t ssrc, uint32_t clock_rate_hz, int min_sequential = 1);

  // One received packet. Returns false when A.1 does not count it (still in probation, or the first packet of
  // a large sequence jump, which needs a second packet in sequence to resynchronize). Retransmissions (RTX,
  // already repaired) count for loss but not for jitter: their arrival time says nothing about the path.
  bool OnPacket(Timestamp arrival, uint16_t sequence_number, uint32_t rtp_timestamp,
                bool retransmission = false);
  // An SR from this source arrived: remembered for LSR/DLSR in our next report block (RFC 3550 §6.4.1).
  void OnSenderReport(Timestamp arrival, NtpTime ntp);

  // A report block for now; advances the "since the previous report" interval of fraction_lost (A.3).
  ReportBlock BuildReportBlock(Timestamp now);

  uint32_t ssrc() const { return ssrc_; }
  bool valid() const { return probation_ == 0; }  // A.1: out of probation
  uint32_t extended_highest_sequence() const { return cycles_ + max_seq_; }
  uint32_t received() const { return received_; }
  int64_t expected() const { return int64_t{extended_highest_sequence()} - base_seq_ + 1; }
  int64_t cumulative_lost() const { return expected() - received_; }  // A.3, unclamped
  uint32_t jitter() const { return jitter_q4_ >> 4; }                 // A.8, RTP timestamp units
  uint32_t duplicates_or_reordered() const { return old_packets_; }

 private:
  void InitSequence(uint16_t seq);

  uint32_t ssrc_;
  uint32_t clock_rate_hz_;
  int min_sequential_;
  // A.1 state.
  uint16_t max_seq_ = 0;
  uint32_t cycles_ = 0;
  uint32_t base_seq_ = 0;
  uint32_t bad_seq_ = 0;
  int probation_ = 0;
  uint32_t received_ = 0;
  uint32_t old_packets_ = 0;
  // A.3 interval state.
  int64_t expected_prior_ = 0;
  uint32_t received_prior_ = 0;
  // A.8 state.
  bool have_transit_ = false;
  int32_t transit_ = 0;
  uint32_t last_rtp_timestamp_ = 0;
  uint32_t jitter_q4_ = 0;  // jitter * 16
  // LSR/DLSR.
  std::optional<uint32_t> last_sr_compact_;
  Timestamp last_sr_arrival_;
};

// Receive statistics for every source of a session, bounded (a flood of SSRCs must not grow memory without
// end).
class ReceiveStatistics {
 public:
  explicit ReceiveStatistics(size_t max_sources = 64) : max_sources_(max_sources) {}
  // The statistics of `ssrc`, created on first use; nullptr when max_sources are already tracked.
  RtpReceiveStatistics* GetOrCreate(uint32_t ssrc, uint32_t clock_rate_hz, int min_sequential = 1);
  RtpReceiveStatistics* Find(uint32_t ssrc);
  void Remove(uint32_t ssrc);
  // Report blocks for up to `max_blocks` valid sources (31 fit one RR).
  std::vector<ReportBlock> BuildReportBlocks(Timestamp now, size_t max_blocks = kMaxRtcpCount);
  size_t size() const { return sources_.size(); }

 private:
  size_t max_sources_;
  std::vector<std::unique_ptr<RtpReceiveStatistics>> sources_;
};

// Sender-side counters of one outgoing SSRC and the RTT measured from report blocks about it.
class RtpSendStatistics {
 public:
  RtpSendStatistics(uint32_t ssrc, uint32_t clock_rate_hz) : ssrc_(ssrc), clock_rate_hz_(clock_rate_hz) {}

  // Every packet sent on this SSRC. RFC 3550 §6.4.1: the octet count is payload only (no header, no padding).
  // Retransmissions sent on this SSRC (not RTX) count too, as they are packets this SSRC sent.
  void OnPacketSent(Timestamp now, uint32_t rtp_timestamp, size_t payload_bytes);
  // An SR describing `now`: `wall_clock` is the NTP time of `now` (the driver's wall clock); the RTP
  // timestamp is extrapolated from the last packet sent at the clock rate (RFC 3550 §6.4.1: "the same time as
  // the NTP timestamp"). nullopt before anything was sent: only senders send SRs. The SR is remembered for
  // RTT.
  std::optional<SenderReport> BuildSenderReport(Timestamp now, NtpTime wall_clock);
  // A report block about our SSRC arrived: RTT = arrival - send time of the SR named by LSR - DLSR (RFC 3550
  // §6.4.1, computed on our monotonic clock). nullopt when LSR is 0 or unknown (too old) or the result is
  // negative.
  std::optional<TimeDelta> OnReportBlock(Timestamp arrival, const ReportBlock& block);

  uint32_t ssrc() const { return ssrc_; }
  uint32_t packets_sent() const { return packets_; }
  uint32_t octets_sent() const { return octets_; }
  std::optional<TimeDelta> last_rtt() const { return last_rtt_; }
  uint8_t remote_fraction_lost() const { return remote_fraction_lost_; }
  int32_t remote_cumulative_lost() const { return remote_cumulative_lost_; }

 private:
  struct SentReport {
    uint32_t compact_ntp = 0;
    Timestamp sent;
  };
  uint32_t ssrc_;
  uint32_t clock_rate_hz_;
  uint32_t packets_ = 0;
  uint32_t octets_ = 0;
  bool sent_any_ = false;
  uint32_t last_rtp_timestamp_ = 0;
  Timestamp last_send_time_;
  std::array<SentReport, 8> reports_{};  // the last SRs sent, for LSR lookup
  size_t next_report_ = 0;
  std::optional<TimeDelta> last_rtt_;
  uint8_t remote_fraction_lost_ = 0;
  int32_t remote_cumulative_lost_ = 0;
};

}  // namespace tandem::rtp
