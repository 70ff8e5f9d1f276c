// Send-side bandwidth estimation in the spirit of Google Congestion Control (draft-ietf-rmcat-gcc-02), driven
// by transport-wide feedback (transport_feedback.h). Sans-IO: the sender reports what it sent and hands over
// the feedback it receives; the estimator answers with a target bitrate the encoders follow.
//
//   TransportFeedbackAdapter   sent packets (transport seq, time, size) + feedback -> per-packet send/receive
//                              times or "lost"
//   DelayBasedBwe              groups packets into 5 ms bursts (§5.2), feeds the one-way delay variation to a
//                              trendline filter (a linear regression of accumulated delay over the last 20
//                              groups, the successor of the draft's Kalman filter, §5.3), compares the trend
//                              with an adaptive threshold (over-use detector, §5.4), and runs AIMD rate
//                              control on the result (§5.5): multiplicative increase (8 %/s) far from the
//                              last known capacity, additive near it, decrease to 0.85 x acknowledged bitrate
//                              on over-use.
//   loss-based control         §6: more than 10 % loss lowers the rate to rate x (1 - 0.5 loss); less than 2
//   %
//                              lets it grow 8 %/s; in between it holds.
//   SendSideBandwidthEstimator target = min(delay-based, loss-based, REMB from the peer), within [min, max].
//
// Not implemented: probing (initial ramp-up is multiplicative from the start bitrate), application-limited
// detection, and backing off when feedback stops arriving.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "core/time.h"
#include "rtp/sequence.h"
#include "rtp/transport_feedback.h"

namespace tandem::rtp {

// One sent packet as feedback reported it.
struct PacketResult {
  int64_t sequence_number = 0;  // unwrapped transport-wide sequence number
  Timestamp send_time;
  size_t size = 0;
  std::optional<Timestamp> receive_time;  // on the receiver's clock, offset to ours at the first feedback
  bool received() const { return receive_time.has_value(); }
};

// Matches feedback to the packets we sent.
class TransportFeedbackAdapter {
 public:
  explicit TransportFeedbackAdapter(size_t max_history = 8192, TimeDelta max_age = TimeDelta::Seconds(60))
      : max_history_(max_history), max_age_(max_age) {}

  void OnPacketSent(Timestamp send_time, uint16_t transport_sequence_number, size_t size);
  // The packets this feedback reports, in sequence order; packets we never sent (or forgot) are skipped, and
  // a packet already reported received is not reported again.
  std::vector<PacketResult> OnFeedback(Timestamp now, const TransportFeedback& feedback);

  size_t in_flight_packets() const { return history_.size(); }

 private:
  struct Sent {
    Timestamp send_time;
    size_t size = 0;
    bool reported_lost = false;
  };
  size_t max_history_;
  TimeDelta max_age_;
  SeqNumUnwrapper unwrapper_;
  std::map<int64_t, Sent> history_;
  std::optional<int32_t> last_reference_time_;  // the previous feedback's (64 ms ticks, 24-bit wrap)
  int64_t receive_base_us_ =
      0;  // the current reference time mapped to our clock (fixed at the first feedback)
};

// §5.4 over-use detector output.
enum class BandwidthUsage : uint8_t { kNormal, kUnderusing, kOverusing };
const char* ToString(BandwidthUsage usage);

// Delay-gradient estimate: the trendline of one-way delay variation between packet groups, and the over-use
// detector on top of it.
class TrendlineEstimator {
 public:
  // recv_delta/send_delta: between consecutive groups; arrival: the group's last arrival.
  void Update(double recv_delta_ms, double send_delta_ms, Timestamp arrival);
  BandwidthUsage state() const { return state_; }
  double trend() const { return trend_; }
  double threshold() const { return threshold_; }

 private:
  void Detect(double trend, double send_delta_ms, Timestamp now);
  void UpdateThreshold(double modified_trend, Timestamp now);

  static constexpr size_t kWindowSize = 20;
  static constexpr double kSmoothing = 0.9;
  static constexpr double kThresholdGain = 4.0;
  struct Sample {
    double arrival_ms;
    double smoothed_delay_ms;
  };
  std::deque<Sample> history_;
  size_t num_deltas_ = 0;
  std::optional<Timestamp> first_arrival_;
  double accumulated_delay_ = 0;
  double smoothed_delay_ = 0;
  double trend_ = 0;
  double prev_trend_ = 0;
  double threshold_ = 12.5;  // ms, adapted (§5.4)
  std::optional<Timestamp> last_threshold_update_;
  double time_over_using_ = -1;
  int overuse_counter_ = 0;
  BandwidthUsage state_ = BandwidthUsage::kNormal;
};

// §5.5 AIMD rate control.
class AimdRateControl {
 public:
  AimdRateControl(int64_t min_bps, int64_t max_bps, int64_t start_bps);
  // Applies one detector state. `acked_bps`: the acknowledged bitrate, when known.
  int64_t Update(BandwidthUsage usage, std::optional<int64_t> acked_bps, Timestamp now);
  // Whether an over-use may lower the rate again already (once per RTT, or at once when throughput
  // collapsed).
  bool TimeToReduceFurther(Timestamp now, int64_t acked_bps) const;
  void SetRtt(TimeDelta rtt) { rtt_ = rtt; }
  void SetEstimate(int64_t bps, Timestamp now);
  int64_t estimate_bps() const { return current_bps_; }
  std::optional<double> link_capacity_kbps() const { return link_capacity_kbps_; }

 private:
  enum class State { kHold, kIncrease, kDecrease };
  double NearMaxIncreaseBpsPerSecond() const;
  void UpdateLinkCapacity(double sample_kbps);
  double CapacityUpperKbps() const;
  double CapacityLowerKbps() const;

  int64_t min_bps_;
  int64_t max_bps_;
  int64_t current_bps_;
  int64_t latest_acked_bps_;
  State state_ = State::kHold;
  std::optional<Timestamp> last_change_;
  TimeDelta rtt_ = TimeDelta::Millis(200);
  std::optional<double> link_capacity_kbps_;
  double link_capacity_deviation_ = 0.4;  // normalized variance (kbps)
};

// Acknowledged (received) bitrate over a sliding window of receive times.
class AckedBitrateEstimator {
 public:
  void OnPacket(Timestamp receive_time, size_t size);
  std::optional<int64_t> bitrate_bps() const;

 private:
  static constexpr TimeDelta kWindow = TimeDelta::Millis(500);
  static constexpr TimeDelta kMinSpan = TimeDelta::Millis(150);
  std::deque<std::pair<Timestamp, size_t>> packets_;
  size_t bytes_ = 0;
};

struct BandwidthEstimatorConfig {
  int64_t min_bitrate_bps = 30'000;
  int64_t max_bitrate_bps = 20'000'000;
  int64_t start_bitrate_bps = 300'000;
};

struct BandwidthEstimatorStats {
  int64_t delay_based_bps = 0;
  int64_t loss_based_bps = 0;
  std::optional<int64_t> acked_bps;
  std::optional<int64_t> remb_bps;
  double last_loss_fraction = 0;
  BandwidthUsage delay_state = BandwidthUsage::kNormal;
  uint64_t feedbacks = 0;
  uint64_t packets_reported_lost = 0;
  uint64_t packets_reported_received = 0;
};

class SendSideBandwidthEstimator {
 public:
  explicit SendSideBandwidthEstimator(BandwidthEstimatorConfig config = {});

  // Every packet sent with a transport-wide sequence number (media, RTX, padding alike).
  void OnPacketSent(Timestamp send_time, uint16_t transport_sequence_number, size_t size_bytes);
  void OnTransportFeedback(Timestamp now, const TransportFeedback& feedback);
  // The peer's REMB caps the estimate (draft-alvestrand-rmcat-remb); 0 removes the cap.
  void OnRemb(Timestamp now, uint64_t bitrate_bps);
  void OnRtt(TimeDelta rtt);
  // Loss reported by RTCP receiver reports (fraction_lost / 256 over `packets`), for peers without TWCC.
  void OnReceiverReportLoss(Timestamp now, uint8_t fraction_lost, int64_t packets);

  int64_t target_bitrate_bps() const { return target_bps_; }
  // The new target when it changed since the last poll (what the encoder should be told).
  std::optional<int64_t> PollTargetBitrate();
  BandwidthEstimatorStats stats() const;

 private:
  void OnPacketResults(Timestamp now, const std::vector<PacketResult>& results);
  void UpdateDelayBased(Timestamp now, const std::vector<PacketResult>& received_by_arrival);
  void OnLoss(Timestamp now, int64_t lost, int64_t total);
  void UpdateTarget(Timestamp now);

  BandwidthEstimatorConfig config_;
  TransportFeedbackAdapter adapter_;
  AckedBitrateEstimator acked_;
  TrendlineEstimator trendline_;
  AimdRateControl rate_control_;
  TimeDelta rtt_ = TimeDelta::Millis(200);

  // Packet grouping (§5.2): the group being filled and the previous complete one.
  struct Group {
    Timestamp first_send;
    Timestamp last_send;
    Timestamp first_arrival;
    Timestamp last_arrival;
    bool valid = false;
  };
  Group current_group_;
  Group previous_group_;

  // Loss-based state (§6).
  int64_t lost_accumulated_ = 0;
  int64_t expected_accumulated_ = 0;
  double last_loss_fraction_ = 0;
  bool new_loss_report_ = false;  // a fraction not yet acted on by a decrease
  std::optional<Timestamp> last_loss_decrease_;
  std::deque<std::pair<Timestamp, int64_t>> target_history_;  // for the "minimum over the last second" rule
  int64_t loss_based_bps_;

  std::optional<int64_t> remb_bps_;
  int64_t target_bps_;
  std::optional<int64_t> last_polled_bps_;
  BandwidthEstimatorStats stats_;
};

}  // namespace tandem::rtp
