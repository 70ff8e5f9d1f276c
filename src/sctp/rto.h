// Retransmission timeout estimation, RFC 9260 §6.3.1 (Jacobson/Karels with RTO.Alpha = 1/8, RTO.Beta = 1/4).
#pragma once

#include <algorithm>

#include "core/time.h"

namespace tandem::sctp {

class RtoEstimator {
 public:
  RtoEstimator(TimeDelta initial, TimeDelta min, TimeDelta max)
      : min_(min), max_(max), rto_(Clamp(initial)) {}

  // Feeds one RTT measurement R (the caller applies Karn's rule: never from a retransmitted chunk, §6.3.1
  // C5).
  void ObserveRtt(TimeDelta r) {
    if (r < TimeDelta::Zero()) return;
    const int64_t r_us = r.us();
    if (!measured_) {
      // C1: first measurement.
      srtt_us_ = r_us;
      rttvar_us_ = r_us / 2;
      measured_ = true;
    } else {
      // C2: RTTVAR <- (1 - 1/4) * RTTVAR + 1/4 * |SRTT - R'|; SRTT <- (1 - 1/8) * SRTT + 1/8 * R'.
      const int64_t diff = srtt_us_ > r_us ? srtt_us_ - r_us : r_us - srtt_us_;
      rttvar_us_ = (3 * rttvar_us_ + diff) / 4;
      srtt_us_ = (7 * srtt_us_ + r_us) / 8;
    }
    // C1/C2: RTO <- SRTT + max(G, 4 * RTTVAR), with a clock granularity G of 1 ms; C6/C7 clamp.
    rto_ = Clamp(TimeDelta::Micros(srtt_us_ + std::max<int64_t>(1000, 4 * rttvar_us_)));
  }

  // §6.3.3 E2: back off after a T3-rtx (or T1/T2/heartbeat) expiry.
  void Backoff() { rto_ = Clamp(rto_ * 2); }

  TimeDelta rto() const { return rto_; }
  TimeDelta srtt() const { return TimeDelta::Micros(srtt_us_); }
  bool has_measurement() const { return measured_; }

 private:
  TimeDelta Clamp(TimeDelta t) const { return std::min(std::max(t, min_), max_); }

  TimeDelta min_, max_, rto_;
  int64_t srtt_us_ = 0;
  int64_t rttvar_us_ = 0;
  bool measured_ = false;
};

}  // namespace tandem::sctp
