// A token bucket on injected time: `rate` tokens per second, at most `burst` stored. Integer arithmetic in
// micro-tokens, so results do not depend on floating-point rounding.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/time.h"

namespace tandem::signaling {

class TokenBucket {
 public:
  TokenBucket() = default;
  // rate 0 = unlimited.
  TokenBucket(uint32_t rate_per_second, uint32_t burst, Timestamp now)
      : rate_(rate_per_second),
        capacity_(int64_t{std::max<uint32_t>(burst, 1)} * kScale),
        tokens_(capacity_),
        last_(now) {}

  // Takes one token if there is one.
  bool TryTake(Timestamp now) {
    if (rate_ == 0) return true;
    Refill(now);
    if (tokens_ < kScale) return false;
    tokens_ -= kScale;
    return true;
  }

  // True when the bucket would be full at `now` (nothing to remember about this sender).
  bool IsFull(Timestamp now) {
    if (rate_ == 0) return true;
    Refill(now);
    return tokens_ >= capacity_;
  }

 private:
  static constexpr int64_t kScale = 1000000;  // micro-tokens per token

  void Refill(Timestamp now) {
    if (now <= last_) return;
    // Capped so that elapsed * rate cannot overflow after a long idle period.
    const int64_t elapsed_us = std::min<int64_t>((now - last_).us(), TimeDelta::Seconds(3600).us());
    tokens_ = std::min(capacity_, tokens_ + elapsed_us * rate_);  // us * tokens/s = micro-tokens
    last_ = now;
  }

  uint32_t rate_ = 0;
  int64_t capacity_ = 0;
  int64_t tokens_ = 0;
  Timestamp last_;
};

}  // namespace tandem::signaling
