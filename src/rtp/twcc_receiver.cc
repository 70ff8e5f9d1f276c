#include "rtp/twcc_receiver.h"

namespace tandem::rtp {

void TwccReceiver::OnPacket(Timestamp arrival, uint16_t transport_sequence_number) {
  ++stats_.packets;
  const int64_t seq = unwrapper_.Unwrap(transport_sequence_number);
  if (next_report_ && seq < *next_report_) {
    ++stats_.late;
    // Reporting again from here is only truthful while we still remember the packets in between.
    if (arrivals_.empty() || seq < arrivals_.begin()->first) return;
  }
  if (!arrivals_.emplace(seq, arrival).second) {
    ++stats_.duplicates;
    return;
  }
  if (!next_report_ || seq < *next_report_)
    next_report_ = seq;  // a late one was announced as lost: report again
  while (arrivals_.size() > config_.max_tracked_packets) {
    if (arrivals_.begin()->first >= *next_report_) {
      ++stats_.dropped_records;
      next_report_ = std::next(arrivals_.begin())->first;
    }
    arrivals_.erase(arrivals_.begin());
  }
  if (next_send_.IsInfinite()) next_send_ = arrival + config_.interval;
}

bool TwccReceiver::HasUnreported() const {
  return next_report_ && !arrivals_.empty() && arrivals_.rbegin()->first >= *next_report_;
}

void TwccReceiver::Prune(Timestamp now) {
  // Reported records are kept a while in case an older, late packet makes us report their range again.
  while (!arrivals_.empty() && arrivals_.begin()->first < *next_report_ &&
         now - arrivals_.begin()->second > config_.max_history) {
    arrivals_.erase(arrivals_.begin());
  }
}

void TwccReceiver::HandleTimeout(Timestamp now) {
  if (now < next_send_ || !HasUnreported()) return;
  auto it = arrivals_.lower_bound(*next_report_);
  int64_t base = *next_report_;
  while (it != arrivals_.end()) {
    TransportFeedback fb(config_.sender_ssrc, config_.media_ssrc, feedback_count_, config_.max_packet_size);
    // The base is the first sequence number not yet covered, so losses right after the previous report show.
    if (it->first - base > static_cast<int64_t>(TransportFeedback::kMaxStatusCount) - 1) base = it->first;
    fb.SetBase(static_cast<uint16_t>(base), it->second);
    int64_t last = base - 1;
    while (it != arrivals_.end() && fb.AddReceivedPacket(static_cast<uint16_t>(it->first), it->second)) {
      last = it->first;
      ++it;
    }
    if (fb.empty()) {
      // Not even one fits after this base (cannot happen with a sane max_packet_size): skip the packet.
      ++it;
      continue;
    }
    ++feedback_count_;
    ++stats_.feedback_packets;
    out_.push_back(std::move(fb));
    base = last + 1;
  }
  next_report_ = base;
  Prune(now);
  next_send_ = now + config_.interval;
}

std::optional<TransportFeedback> TwccReceiver::PollFeedback() {
  if (out_.empty()) return std::nullopt;
  TransportFeedback fb = std::move(out_.front());
  out_.pop_front();
  return fb;
}

Timestamp TwccReceiver::PollTimeout() const { return HasUnreported() ? next_send_ : Timestamp::Infinity(); }

}  // namespace tandem::rtp
