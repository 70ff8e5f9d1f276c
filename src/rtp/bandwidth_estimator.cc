#include "rtp/bandwidth_estimator.h"

#include <algorithm>
#include <cmath>

namespace tandem::rtp {
namespace {

constexpr TimeDelta kGroupLength = TimeDelta::Millis(5);  // §5.2 burst time
constexpr TimeDelta kBurstDeltaThreshold = TimeDelta::Millis(5);
constexpr TimeDelta kMaxBurstDuration = TimeDelta::Millis(100);
constexpr double kOverusingTimeThresholdMs = 10;  // §5.4: over-use must last this long
constexpr size_t kMinNumDeltas = 60;
constexpr double kMaxAdaptOffsetMs = 15;
constexpr double kThresholdUp = 0.0087;   // §5.4 K_u
constexpr double kThresholdDown = 0.039;  // §5.4 K_d
constexpr double kBeta = 0.85;            // §5.5 decrease factor
constexpr int64_t kLossMinPackets = 20;   // loss fractions from fewer packets are noise
constexpr double kLowLoss = 0.02;         // §6
constexpr double kHighLoss = 0.10;        // §6

double Ms(TimeDelta d) { return static_cast<double>(d.us()) / 1000.0; }
double Seconds(TimeDelta d) { return static_cast<double>(d.us()) / 1e6; }

}  // namespace

const char* ToString(BandwidthUsage usage) {
  switch (usage) {
    case BandwidthUsage::kNormal:
      return "normal";
    case BandwidthUsage::kUnderusing:
      return "underusing";
    case BandwidthUsage::kOverusing:
      return "overusing";
  }
  return "unknown";
}

// --- TransportFeedbackAdapter ---

void TransportFeedbackAdapter::OnPacketSent(Timestamp send_time, uint16_t transport_sequence_number,
                                            size_t size) {
  const int64_t seq = unwrapper_.Unwrap(transport_sequence_number);
  history_[seq] = Sent{send_time, size, false};
  while (history_.size() > max_history_) history_.erase(history_.begin());
  while (!history_.empty() && send_time - history_.begin()->second.send_time > max_age_) {
    history_.erase(history_.begin());
  }
}

std::vector<PacketResult> TransportFeedbackAdapter::OnFeedback(Timestamp now,
                                                               const TransportFeedback& feedback) {
  std::vector<PacketResult> results;
  if (!unwrapper_.last()) return results;  // nothing sent yet: not ours
  // Map the receiver's reference time onto our clock: the first feedback's is "now", later ones move by their
  // reference time difference (24-bit wrap, 64 ms units).
  if (!last_reference_time_) {
    receive_base_us_ = now.us();
  } else {
    constexpr int64_t kModulus = int64_t{1} << 24;
    int64_t diff =
        ((int64_t{feedback.reference_time()} - *last_reference_time_) % kModulus + kModulus) % kModulus;
    if (diff >= kModulus / 2) diff -= kModulus;
    receive_base_us_ += diff * TransportFeedback::kReferenceTimeTickUs;
  }
  last_reference_time_ = feedback.reference_time();

  // Walk the packets we remember inside the reported range (not every status: a feedback may claim 65535 of
  // them), alongside the received list, whose deltas accumulate into receive times.
  const int64_t base = unwrapper_.PeekUnwrap(feedback.base_sequence_number());
  const int64_t end = base + feedback.packet_status_count();
  const auto& received = feedback.received_packets();
  auto index_of = [&](size_t r) {
    return base + static_cast<uint16_t>(received[r].sequence_number - feedback.base_sequence_number());
  };
  size_t r = 0;
  int64_t arrival_us = receive_base_us_;
  for (auto it = history_.lower_bound(base); it != history_.end() && it->first < end;) {
    const int64_t seq = it->first;
    while (r < received.size() && index_of(r) < seq) {
      arrival_us += int64_t{received[r].delta_ticks} * TransportFeedback::kDeltaTickUs;
      ++r;
    }
    std::optional<Timestamp> arrival;
    if (r < received.size() && index_of(r) == seq) {
      arrival_us += int64_t{received[r].delta_ticks} * TransportFeedback::kDeltaTickUs;
      arrival = Timestamp::Micros(arrival_us);
      ++r;
    }
    if (!arrival && it->second.reported_lost) {  // count a loss once
      ++it;
      continue;
    }
    it->second.reported_lost = true;
    results.push_back({seq, it->second.send_time, it->second.size, arrival});
    // Acknowledged: forgotten, so a later duplicate report is ignored.
    it = arrival ? history_.erase(it) : std::next(it);
  }
  return results;
}

// --- TrendlineEstimator (§5.3, §5.4) ---

void TrendlineEstimator::Update(double recv_delta_ms, double send_delta_ms, Timestamp arrival) {
  const double delta_ms = recv_delta_ms - send_delta_ms;
  num_deltas_ = std::min<size_t>(num_deltas_ + 1, 1000);
  if (!first_arrival_) first_arrival_ = arrival;
  // Accumulated one-way delay variation, exponentially smoothed, against arrival time.
  accumulated_delay_ += delta_ms;
  smoothed_delay_ = kSmoothing * smoothed_delay_ + (1 - kSmoothing) * accumulated_delay_;
  history_.push_back({Ms(arrival - *first_arrival_), smoothed_delay_});
  if (history_.size() > kWindowSize) history_.pop_front();
  if (history_.size() == kWindowSize) {
    // Least-squares slope: how fast the queueing delay grows (ms per ms).
    double x_mean = 0, y_mean = 0;
    for (const Sample& s : history_) {
      x_mean += s.arrival_ms;
      y_mean += s.smoothed_delay_ms;
    }
    x_mean /= static_cast<double>(history_.size());
    y_mean /= static_cast<double>(history_.size());
    double num = 0, den = 0;
    for (const Sample& s : history_) {
      num += (s.arrival_ms - x_mean) * (s.smoothed_delay_ms - y_mean);
      den += (s.arrival_ms - x_mean) * (s.arrival_ms - x_mean);
    }
    if (den != 0) trend_ = num / den;
  }
  Detect(trend_, send_delta_ms, arrival);
}

void TrendlineEstimator::Detect(double trend, double send_delta_ms, Timestamp now) {
  if (num_deltas_ < 2) {
    state_ = BandwidthUsage::kNormal;
    return;
  }
  // Scale the slope to a delay-like magnitude comparable with the threshold.
  const double modified = static_cast<double>(std::min(num_deltas_, kMinNumDeltas)) * trend * kThresholdGain;
  if (modified > threshold_) {
    if (time_over_using_ < 0) {
      time_over_using_ = send_delta_ms / 2;  // assume it started half-way through this group
    } else {
      time_over_using_ += send_delta_ms;
    }
    ++overuse_counter_;
    if (time_over_using_ > kOverusingTimeThresholdMs && overuse_counter_ > 1 && trend >= prev_trend_) {
      time_over_using_ = 0;
      overuse_counter_ = 0;
      state_ = BandwidthUsage::kOverusing;
    }
  } else if (modified < -threshold_) {
    time_over_using_ = -1;
    overuse_counter_ = 0;
    state_ = BandwidthUsage::kUnderusing;
  } else {
    time_over_using_ = -1;
    overuse_counter_ = 0;
    state_ = BandwidthUsage::kNormal;
  }
  prev_trend_ = trend;
  UpdateThreshold(modified, now);
}

void TrendlineEstimator::UpdateThreshold(double modified_trend, Timestamp now) {
  // §5.4 adaptive threshold: it follows |m| slowly upward and faster downward so that a competing TCP flow
  // does not starve us, and ignores spikes far above it.
  if (!last_threshold_update_) last_threshold_update_ = now;
  const double abs_trend = std::fabs(modified_trend);
  if (abs_trend > threshold_ + kMaxAdaptOffsetMs) {
    last_threshold_update_ = now;
    return;
  }
  const double k = abs_trend < threshold_ ? kThresholdDown : kThresholdUp;
  const double dt_ms = std::min(Ms(now - *last_threshold_update_), 100.0);
  threshold_ += k * (abs_trend - threshold_) * dt_ms;
  threshold_ = std::clamp(threshold_, 6.0, 600.0);
  last_threshold_update_ = now;
}

// --- AimdRateControl (§5.5) ---

AimdRateControl::AimdRateControl(int64_t min_bps, int64_t max_bps, int64_t start_bps)
    : min_bps_(min_bps),
      max_bps_(max_bps),
      current_bps_(std::clamp(start_bps, min_bps, max_bps)),
      latest_acked_bps_(current_bps_) {}

void AimdRateControl::SetEstimate(int64_t bps, Timestamp now) {
  current_bps_ = std::clamp(bps, min_bps_, max_bps_);
  last_change_ = now;
}

bool AimdRateControl::TimeToReduceFurther(Timestamp now, int64_t acked_bps) const {
  const TimeDelta interval = std::clamp(rtt_, TimeDelta::Millis(10), TimeDelta::Millis(200));
  if (!last_change_ || now - *last_change_ >= interval) return true;
  return acked_bps < current_bps_ / 2;  // throughput collapsed: do not wait
}

double AimdRateControl::NearMaxIncreaseBpsPerSecond() const {
  // Near capacity, add about one packet per response time (an RTT plus the detector's ~100 ms).
  const double frame_bits = static_cast<double>(current_bps_) / 30.0;
  const double packets_per_frame = std::ceil(frame_bits / (1200.0 * 8.0));
  const double packet_bits = frame_bits / std::max(packets_per_frame, 1.0);
  const double response_s = Seconds(rtt_ + TimeDelta::Millis(100));
  return std::max(4000.0, packet_bits / response_s);
}

void AimdRateControl::UpdateLinkCapacity(double sample_kbps) {
  // Exponential average of the throughput at over-use, with its normalized variance.
  constexpr double kAlpha = 0.05;
  if (!link_capacity_kbps_) {
    link_capacity_kbps_ = sample_kbps;
  } else {
    link_capacity_kbps_ = (1 - kAlpha) * *link_capacity_kbps_ + kAlpha * sample_kbps;
  }
  const double norm = std::max(*link_capacity_kbps_, 1.0);
  const double error = *link_capacity_kbps_ - sample_kbps;
  link_capacity_deviation_ = (1 - kAlpha) * link_capacity_deviation_ + kAlpha * error * error / norm;
  link_capacity_deviation_ = std::clamp(link_capacity_deviation_, 0.4, 2.5);
}

double AimdRateControl::CapacityUpperKbps() const {
  return *link_capacity_kbps_ + 3 * std::sqrt(link_capacity_deviation_ * *link_capacity_kbps_);
}
double AimdRateControl::CapacityLowerKbps() const {
  return std::max(0.0, *link_capacity_kbps_ - 3 * std::sqrt(link_capacity_deviation_ * *link_capacity_kbps_));
}

int64_t AimdRateControl::Update(BandwidthUsage usage, std::optional<int64_t> acked_bps, Timestamp now) {
  if (acked_bps) latest_acked_bps_ = *acked_bps;
  const double throughput = static_cast<double>(latest_acked_bps_);
  switch (usage) {
    case BandwidthUsage::kNormal:
      if (state_ == State::kHold) {
        last_change_ = now;
        state_ = State::kIncrease;
      }
      break;
    case BandwidthUsage::kOverusing:
      state_ = State::kDecrease;
      break;
    case BandwidthUsage::kUnderusing:
      state_ = State::kHold;  // let the queues drain before probing again
      break;
  }
  double next = static_cast<double>(current_bps_);
  // Never run far ahead of what actually gets through.
  const double limit = 1.5 * throughput + 10000;
  switch (state_) {
    case State::kHold:
      break;
    case State::kIncrease: {
      if (link_capacity_kbps_ && throughput / 1000 > CapacityUpperKbps()) link_capacity_kbps_.reset();
      if (next < limit) {
        const double dt = last_change_ ? Seconds(now - *last_change_) : 0;
        double increase;
        if (link_capacity_kbps_) {
          increase = NearMaxIncreaseBpsPerSecond() * dt;  // additive near the known capacity
        } else {
          const double alpha = std::pow(1.08, std::min(dt, 1.0));  // multiplicative, 8 %/s, far from it
          increase = std::max(next * (alpha - 1.0), 1000.0);
        }
        next = std::min(next + increase, limit);
      }
      last_change_ = now;
      break;
    }
    case State::kDecrease: {
      double decreased = kBeta * throughput;
      if (decreased > next && link_capacity_kbps_) decreased = kBeta * *link_capacity_kbps_ * 1000;
      if (decreased < next) next = decreased;
      if (link_capacity_kbps_ && throughput / 1000 < CapacityLowerKbps()) link_capacity_kbps_.reset();
      UpdateLinkCapacity(throughput / 1000);
      state_ = State::kHold;
      last_change_ = now;
      break;
    }
  }
  current_bps_ = std::clamp(static_cast<int64_t>(next), min_bps_, max_bps_);
  return current_bps_;
}

// --- AckedBitrateEstimator ---

void AckedBitrateEstimator::OnPacket(Timestamp receive_time, size_t size) {
  packets_.emplace_back(receive_time, size);
  bytes_ += size;
  while (!packets_.empty() && receive_time - packets_.front().first > kWindow) {
    bytes_ -= packets_.front().second;
    packets_.pop_front();
  }
}

std::optional<int64_t> AckedBitrateEstimator::bitrate_bps() const {
  if (packets_.size() < 2) return std::nullopt;
  const TimeDelta span = packets_.back().first - packets_.front().first;
  if (span < kMinSpan) return std::nullopt;
  // The first packet's bytes arrived at the start of the span: leave them out.
  const double bits = static_cast<double>(bytes_ - packets_.front().second) * 8;
  return static_cast<int64_t>(bits / Seconds(span));
}

// --- SendSideBandwidthEstimator ---

SendSideBandwidthEstimator::SendSideBandwidthEstimator(BandwidthEstimatorConfig config)
    : config_(config),
      rate_control_(config.min_bitrate_bps, config.max_bitrate_bps, config.start_bitrate_bps),
      loss_based_bps_(std::clamp(config.start_bitrate_bps, config.min_bitrate_bps, config.max_bitrate_bps)),
      target_bps_(loss_based_bps_) {}

void SendSideBandwidthEstimator::OnPacketSent(Timestamp send_time, uint16_t transport_sequence_number,
                                              size_t size_bytes) {
  adapter_.OnPacketSent(send_time, transport_sequence_number, size_bytes);
}

void SendSideBandwidthEstimator::OnRtt(TimeDelta rtt) {
  rtt_ = rtt;
  rate_control_.SetRtt(rtt);
}

void SendSideBandwidthEstimator::OnTransportFeedback(Timestamp now, const TransportFeedback& feedback) {
  ++stats_.feedbacks;
  OnPacketResults(now, adapter_.OnFeedback(now, feedback));
}

void SendSideBandwidthEstimator::OnPacketResults(Timestamp now, const std::vector<PacketResult>& results) {
  if (results.empty()) return;
  std::vector<PacketResult> received;
  int64_t lost = 0;
  for (const PacketResult& r : results) {
    if (r.received()) {
      received.push_back(r);
    } else {
      ++lost;
    }
  }
  stats_.packets_reported_lost += static_cast<uint64_t>(lost);
  stats_.packets_reported_received += received.size();
  std::stable_sort(received.begin(), received.end(), [](const PacketResult& a, const PacketResult& b) {
    return *a.receive_time < *b.receive_time;
  });
  for (const PacketResult& r : received) acked_.OnPacket(*r.receive_time, r.size);
  UpdateDelayBased(now, received);
  OnLoss(now, lost, static_cast<int64_t>(results.size()));
}

void SendSideBandwidthEstimator::UpdateDelayBased(Timestamp now, const std::vector<PacketResult>& received) {
  for (const PacketResult& p : received) {
    const Timestamp arrival = *p.receive_time;
    if (!current_group_.valid) {
      current_group_ = {p.send_time, p.send_time, arrival, arrival, true};
      continue;
    }
    if (p.send_time < current_group_.first_send) continue;  // reordered across groups: no information
    bool same_group = p.send_time - current_group_.first_send <= kGroupLength;
    if (!same_group) {
      // §5.2: packets that arrive in a burst (less than 5 ms apart, faster than they were sent) were queued
      // together and belong to one group.
      const TimeDelta arrival_delta = arrival - current_group_.last_arrival;
      const TimeDelta send_delta = p.send_time - current_group_.last_send;
      same_group = send_delta == TimeDelta::Zero() ||
                   (arrival_delta - send_delta < TimeDelta::Zero() && arrival_delta <= kBurstDeltaThreshold &&
                    arrival - current_group_.first_arrival < kMaxBurstDuration);
    }
    if (same_group) {
      current_group_.last_send = std::max(current_group_.last_send, p.send_time);
      current_group_.last_arrival = std::max(current_group_.last_arrival, arrival);
      continue;
    }
    if (previous_group_.valid) {
      const TimeDelta send_delta = current_group_.last_send - previous_group_.last_send;
      const TimeDelta recv_delta = current_group_.last_arrival - previous_group_.last_arrival;
      if (recv_delta >= TimeDelta::Zero())
        trendline_.Update(Ms(recv_delta), Ms(send_delta), current_group_.last_arrival);
    }
    previous_group_ = current_group_;
    current_group_ = {p.send_time, p.send_time, arrival, arrival, true};
  }

  const std::optional<int64_t> acked = acked_.bitrate_bps();
  const BandwidthUsage usage = trendline_.state();
  if (usage == BandwidthUsage::kOverusing) {
    const int64_t throughput = acked.value_or(rate_control_.estimate_bps());
    if (rate_control_.TimeToReduceFurther(now, throughput)) rate_control_.Update(usage, acked, now);
  } else {
    rate_control_.Update(usage, acked, now);
  }
}

void SendSideBandwidthEstimator::OnLoss(Timestamp now, int64_t lost, int64_t total) {
  lost_accumulated_ += lost;
  expected_accumulated_ += total;
  if (expected_accumulated_ >= kLossMinPackets) {
    last_loss_fraction_ = static_cast<double>(lost_accumulated_) / static_cast<double>(expected_accumulated_);
    new_loss_report_ = true;
    lost_accumulated_ = 0;
    expected_accumulated_ = 0;
  }
  UpdateTarget(now);
}

void SendSideBandwidthEstimator::OnReceiverReportLoss(Timestamp now, uint8_t fraction_lost, int64_t packets) {
  if (packets <= 0) return;
  OnLoss(now, (int64_t{fraction_lost} * packets) >> 8, packets);
}

void SendSideBandwidthEstimator::OnRemb(Timestamp now, uint64_t bitrate_bps) {
  if (bitrate_bps == 0) {
    remb_bps_.reset();
  } else {
    remb_bps_ = static_cast<int64_t>(std::min<uint64_t>(bitrate_bps, INT64_MAX));
  }
  UpdateTarget(now);
}

void SendSideBandwidthEstimator::UpdateTarget(Timestamp now) {
  // The smallest target over the last second: low-loss increases start from it, so they add at most ~8 %/s
  // however often feedback arrives.
  while (!target_history_.empty() && now - target_history_.front().first > TimeDelta::Seconds(1)) {
    target_history_.pop_front();
  }
  int64_t recent_min = target_bps_;
  for (const auto& [t, bps] : target_history_) recent_min = std::min(recent_min, bps);

  int64_t loss_based = target_bps_;
  if (last_loss_fraction_ < kLowLoss) {
    loss_based = static_cast<int64_t>(static_cast<double>(recent_min) * 1.08) + 1000;
  } else if (last_loss_fraction_ > kHighLoss) {
    if (new_loss_report_ &&
        (!last_loss_decrease_ || now - *last_loss_decrease_ >= TimeDelta::Millis(300) + rtt_)) {
      loss_based = static_cast<int64_t>(static_cast<double>(target_bps_) * (1.0 - 0.5 * last_loss_fraction_));
      last_loss_decrease_ = now;
      new_loss_report_ = false;
    }
  }
  loss_based_bps_ = std::clamp(loss_based, config_.min_bitrate_bps, config_.max_bitrate_bps);

  int64_t target = std::min(loss_based_bps_, rate_control_.estimate_bps());
  if (remb_bps_) target = std::min(target, *remb_bps_);
  target_bps_ = std::clamp(target, config_.min_bitrate_bps, config_.max_bitrate_bps);
  target_history_.emplace_back(now, target_bps_);
}

std::optional<int64_t> SendSideBandwidthEstimator::PollTargetBitrate() {
  if (last_polled_bps_ == target_bps_) return std::nullopt;
  last_polled_bps_ = target_bps_;
  return target_bps_;
}

BandwidthEstimatorStats SendSideBandwidthEstimator::stats() const {
  BandwidthEstimatorStats s = stats_;
  s.delay_based_bps = rate_control_.estimate_bps();
  s.loss_based_bps = loss_based_bps_;
  s.acked_bps = acked_.bitrate_bps();
  s.remb_bps = remb_bps_;
  s.last_loss_fraction = last_loss_fraction_;
  s.delay_state = trendline_.state();
  return s;
}

}  // namespace tandem::rtp
