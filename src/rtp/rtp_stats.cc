#include "rtp/rtp_stats.h"

#include <algorithm>
#include <cstdlib>

namespace tandem::rtp {
namespace {

// RFC 3550 Appendix A.1 constants.
constexpr uint16_t kMaxDropout = 3000;
constexpr uint16_t kMaxMisorder = 100;
constexpr uint32_t kSeqMod = 1u << 16;

}  // namespace

RtpReceiveStatistics::RtpReceiveStatistics(uint32_t ssrc, uint32_t clock_rate_hz, int min_sequential)
    : ssrc_(ssrc), clock_rate_hz_(clock_rate_hz), min_sequential_(std::max(min_sequential, 1)) {
  probation_ = -1;  // no packet yet
}

void RtpReceiveStatistics::InitSequence(uint16_t seq) {
  // A.1 init_seq().
  base_seq_ = seq;
  max_seq_ = seq;
  bad_seq_ = kSeqMod + 1;  // so seq == bad_seq is false
  cycles_ = 0;
  received_ = 0;
  received_prior_ = 0;
  expected_prior_ = 0;
}

bool RtpReceiveStatistics::OnPacket(Timestamp arrival, uint16_t seq, uint32_t rtp_timestamp,
                                    bool retransmission) {
  if (probation_ < 0) {
    // A.1: the first packet of a source starts probation.
    InitSequence(seq);
    max_seq_ = static_cast<uint16_t>(seq - 1);
    probation_ = min_sequential_;
  }
  const uint16_t udelta = static_cast<uint16_t>(seq - max_seq_);
  bool in_order = false;
  if (probation_ > 0) {
    // A.1 update_seq(): packets must be in sequence until probation ends.
    if (seq == static_cast<uint16_t>(max_seq_ + 1)) {
      --probation_;
      max_seq_ = seq;
      if (probation_ == 0) {
        InitSequence(seq);
        ++received_;
        in_order = true;
      }
    } else {
      probation_ = min_sequential_ - 1;
      max_seq_ = seq;
    }
    if (!in_order) return false;
  } else if (udelta < kMaxDropout) {
    // In order, with a permissible gap.
    if (seq < max_seq_) cycles_ += kSeqMod;  // wrapped
    max_seq_ = seq;
    in_order = udelta != 0;
    ++received_;
  } else if (udelta <= kSeqMod - kMaxMisorder) {
    // A very large jump: believe it only when the next packet follows it (the source restarted).
    if (seq == bad_seq_) {
      InitSequence(seq);
      ++received_;
      in_order = true;
      have_transit_ = false;
    } else {
      bad_seq_ = (uint32_t{seq} + 1) & (kSeqMod - 1);
      return false;
    }
  } else {
    // Duplicate or reordered: counted as received (A.3 lost can then go negative).
    ++old_packets_;
    ++received_;
  }

  // A.8 interarrival jitter, from in-order packets of a new frame (packets of one frame share a timestamp and
  // leave together, so their spread would be counted as jitter) and never from retransmissions.
  if (in_order && !retransmission && clock_rate_hz_ > 0 &&
      (!have_transit_ || rtp_timestamp != last_rtp_timestamp_)) {
    const int64_t arrival_rtp = arrival.us() * int64_t{clock_rate_hz_} / 1000000;
    const int32_t transit = static_cast<int32_t>(static_cast<uint32_t>(arrival_rtp) - rtp_timestamp);
    if (have_transit_) {
      const int64_t d = std::llabs(int64_t{transit} - transit_);
      // A jump of more than 5 s is a timestamp discontinuity, not network jitter.
      if (d < int64_t{clock_rate_hz_} * 5) {
        const int64_t j =
            int64_t{jitter_q4_} + d - ((int64_t{jitter_q4_} + 8) >> 4);  // A.8: J += (|D| - J) / 16
        jitter_q4_ = static_cast<uint32_t>(std::clamp<int64_t>(j, 0, 0xFFFFFFFF));
      }
    }
    transit_ = transit;
    have_transit_ = true;
    last_rtp_timestamp_ = rtp_timestamp;
  }
  return true;
}

void RtpReceiveStatistics::OnSenderReport(Timestamp arrival, NtpTime ntp) {
  last_sr_compact_ = ntp.Compact();
  last_sr_arrival_ = arrival;
}

ReportBlock RtpReceiveStatistics::BuildReportBlock(Timestamp now) {
  ReportBlock b;
  b.source_ssrc = ssrc_;
  if (last_sr_compact_) {
    b.last_sr = *last_sr_compact_;
    b.delay_since_last_sr = DeltaToCompactNtp(now - last_sr_arrival_);
  }
  if (!valid()) return b;
  // A.3.
  const int64_t expected_now = expected();
  const int64_t lost = expected_now - received_;
  b.cumulative_lost = static_cast<int32_t>(
      std::clamp<int64_t>(lost, ReportBlock::kMinCumulativeLost, ReportBlock::kMaxCumulativeLost));
  const int64_t expected_interval = expected_now - expected_prior_;
  expected_prior_ = expected_now;
  const int64_t received_interval = int64_t{received_} - received_prior_;
  received_prior_ = received_;
  const int64_t lost_interval = expected_interval - received_interval;
  if (expected_interval > 0 && lost_interval > 0) {
    b.fraction_lost = static_cast<uint8_t>(std::min<int64_t>((lost_interval << 8) / expected_interval, 255));
  }
  b.extended_highest_sequence = extended_highest_sequence();
  b.jitter = jitter();
  return b;
}

RtpReceiveStatistics* ReceiveStatistics::GetOrCreate(uint32_t ssrc, uint32_t clock_rate_hz,
                                                     int min_sequential) {
  if (RtpReceiveStatistics* s = Find(ssrc)) return s;
  if (sources_.size() >= max_sources_) return nullptr;
  sources_.push_back(std::make_unique<RtpReceiveStatistics>(ssrc, clock_rate_hz, min_sequential));
  return sources_.back().get();
}

RtpReceiveStatistics* ReceiveStatistics::Find(uint32_t ssrc) {
  for (auto& s : sources_) {
    if (s->ssrc() == ssrc) return s.get();
  }
  return nullptr;
}

void ReceiveStatistics::Remove(uint32_t ssrc) {
  std::erase_if(sources_, [ssrc](const auto& s) { return s->ssrc() == ssrc; });
}

std::vector<ReportBlock> ReceiveStatistics::BuildReportBlocks(Timestamp now, size_t max_blocks) {
  std::vector<ReportBlock> blocks;
  for (auto& s : sources_) {
    if (blocks.size() == max_blocks) break;
    if (s->valid()) blocks.push_back(s->BuildReportBlock(now));
  }
  return blocks;
}

void RtpSendStatistics::OnPacketSent(Timestamp now, uint32_t rtp_timestamp, size_t payload_bytes) {
  ++packets_;
  octets_ += static_cast<uint32_t>(payload_bytes);  // both counters wrap (RFC 3550 §6.4.1)
  last_rtp_timestamp_ = rtp_timestamp;
  last_send_time_ = now;
  sent_any_ = true;
}

std::optional<SenderReport> RtpSendStatistics::BuildSenderReport(Timestamp now, NtpTime wall_clock) {
  if (!sent_any_) return std::nullopt;
  SenderReport sr;
  sr.sender_ssrc = ssrc_;
  sr.ntp_timestamp = wall_clock.value();
  const int64_t elapsed_ticks = (now - last_send_time_).us() * int64_t{clock_rate_hz_} / 1000000;
  sr.rtp_timestamp = last_rtp_timestamp_ + static_cast<uint32_t>(elapsed_ticks);
  sr.packet_count = packets_;
  sr.octet_count = octets_;
  reports_[next_report_] = {wall_clock.Compact(), now};
  next_report_ = (next_report_ + 1) % reports_.size();
  return sr;
}

std::optional<TimeDelta> RtpSendStatistics::OnReportBlock(Timestamp arrival, const ReportBlock& block) {
  remote_fraction_lost_ = block.fraction_lost;
  remote_cumulative_lost_ = block.cumulative_lost;
  if (block.last_sr == 0) return std::nullopt;
  for (const SentReport& r : reports_) {
    if (r.compact_ntp != block.last_sr || r.compact_ntp == 0) continue;
    const TimeDelta rtt = (arrival - r.sent) - CompactNtpToDelta(block.delay_since_last_sr);
    // DLSR has 15 µs resolution: a hair below zero on a fast path is rounding, far below is a bogus report.
    if (rtt < TimeDelta::Millis(-1)) return std::nullopt;
    last_rtt_ = std::max(rtt, TimeDelta::Zero());
    return last_rtt_;
  }
  return std::nullopt;
}

}  // namespace tandem::rtp
