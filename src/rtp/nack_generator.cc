#include "rtp/nack_generator.h"

#include <algorithm>

namespace tandem::rtp {

NackGenerator::NackGenerator(NackConfig config) : config_(config), rtt_(config.default_rtt) {}

TimeDelta NackGenerator::RetryInterval() const { return std::max(rtt_, config_.min_retry_interval); }

void NackGenerator::OnPacket(Timestamp now, uint16_t sequence_number, bool is_key_frame,
                             bool is_retransmission) {
  const int64_t seq = unwrapper_.Unwrap(sequence_number);
  if (is_key_frame) {
    key_frames_.insert(seq);
    // A key frame answers any outstanding request: later losses may ask again without waiting.
    have_key_frame_request_ = false;
  }
  if (!initialized_) {
    initialized_ = true;
    newest_ = seq;
    return;
  }
  if (seq <= newest_) {
    // Late: a retransmission or a reordered packet filling a gap (or a duplicate).
    if (missing_.erase(seq) > 0) ++stats_.recovered;
    (void)is_retransmission;
    return;
  }
  const int64_t gap = seq - newest_ - 1;
  if (gap > 0) {
    stats_.packets_missing += static_cast<uint64_t>(gap);
    if (static_cast<size_t>(gap) > config_.max_nack_list) {
      // More missing than retransmission can repair: start over from a key frame.
      missing_.clear();
      ++stats_.list_overflows;
      RequestKeyFrame(now);
    } else {
      for (int64_t s = newest_ + 1; s < seq; ++s) missing_.emplace(s, Entry{now + config_.initial_delay, 0});
    }
  }
  newest_ = seq;
  TrimByAge();
  TrimOverflow(now);
  Collect(now);
}

void NackGenerator::ClearMissing() {
  stats_.dropped_too_old += missing_.size();
  missing_.clear();
}

void NackGenerator::TrimByAge() {
  const int64_t oldest_kept = newest_ - config_.max_packet_age;
  while (!missing_.empty() && missing_.begin()->first < oldest_kept) {
    missing_.erase(missing_.begin());
    ++stats_.dropped_too_old;
  }
  while (!key_frames_.empty() && *key_frames_.begin() < oldest_kept) key_frames_.erase(key_frames_.begin());
}

void NackGenerator::TrimOverflow(Timestamp now) {
  if (missing_.size() <= config_.max_nack_list) return;
  // Packets before the newest key frame are not needed to decode what follows it.
  if (!key_frames_.empty()) {
    const int64_t key = *key_frames_.rbegin();
    while (!missing_.empty() && missing_.begin()->first < key) {
      missing_.erase(missing_.begin());
      ++stats_.dropped_too_old;
    }
  }
  if (missing_.size() > config_.max_nack_list) {
    missing_.clear();
    ++stats_.list_overflows;
    RequestKeyFrame(now);
  }
}

void NackGenerator::Collect(Timestamp now) {
  for (auto it = missing_.begin(); it != missing_.end();) {
    Entry& e = it->second;
    if (e.next_send > now) {
      ++it;
      continue;
    }
    if (e.sends >= config_.max_retries) {
      it = missing_.erase(it);
      ++stats_.given_up;
      if (config_.key_frame_on_give_up) RequestKeyFrame(now);
      continue;
    }
    pending_.push_back(static_cast<uint16_t>(it->first));
    ++e.sends;
    ++stats_.nacks_requested;
    e.next_send = now + RetryInterval();
    ++it;
  }
}

void NackGenerator::RequestKeyFrame(Timestamp now) {
  if (have_key_frame_request_ && now - last_key_frame_request_ < config_.min_key_frame_request_interval)
    return;
  have_key_frame_request_ = true;
  last_key_frame_request_ = now;
  key_frame_pending_ = true;
}

void NackGenerator::HandleTimeout(Timestamp now) { Collect(now); }

bool NackGenerator::PollNack(std::vector<uint16_t>& out) {
  out.clear();
  if (pending_.empty()) return false;
  out.swap(pending_);
  return true;
}

bool NackGenerator::PollKeyFrameRequest() {
  if (!key_frame_pending_) return false;
  key_frame_pending_ = false;
  ++stats_.key_frame_requests;
  return true;
}

Timestamp NackGenerator::PollTimeout() const {
  Timestamp next = Timestamp::Infinity();
  for (const auto& [seq, e] : missing_) next = std::min(next, e.next_send);
  return next;
}

}  // namespace tandem::rtp
