// Token buckets for the TURN server's limits: one per allocation for bandwidth, and a bounded per-IP table
// for unauthenticated requests (so that a 401 flood can neither use the server as an amplifier nor grow its
// memory).
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_map>

#include "core/socket_address.h"
#include "core/time.h"

namespace tandem::turn {

// A token bucket refilled at `rate` tokens per second up to `burst`. Starts full. Pure arithmetic on the
// `now` passed in; no clock.
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(double rate, double burst, Timestamp now)
      : rate_(rate), burst_(burst), tokens_(burst), last_(now) {}

  bool TryConsume(double amount, Timestamp now) {
    if (now > last_) {
      tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>((now - last_).us()) / 1e6);
      last_ = now;
    }
    if (tokens_ < amount) return false;
    tokens_ -= amount;
    return true;
  }

 private:
  double rate_ = 0;
  double burst_ = 0;
  double tokens_ = 0;
  Timestamp last_;
};

// Per-source-IP request limiter with a bounded table. IPv6 sources are grouped by /64 (one subscriber's
// prefix), so a host cannot escape the limit by rotating its interface identifier. When the table is full an
// arbitrary entry is evicted (O(1)); an attacker with that many addresses is not slowed by per-IP limits
// anyway.
class IpRateLimiter {
 public:
  IpRateLimiter(uint32_t per_second, uint32_t max_entries)
      : per_second_(per_second), max_entries_(max_entries) {}

  // True when a request from `ip` may be answered now (always true with a rate of 0 = unlimited).
  bool Allow(const IpAddress& ip, Timestamp now) {
    if (per_second_ == 0) return true;
    const IpAddress key = KeyFor(ip);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
      if (max_entries_ == 0) return true;
      if (buckets_.size() >= max_entries_) buckets_.erase(buckets_.begin());
      it = buckets_.emplace(key, TokenBucket(per_second_, per_second_, now)).first;
    }
    return it->second.TryConsume(1, now);
  }
  size_t size() const { return buckets_.size(); }

 private:
  static IpAddress KeyFor(const IpAddress& ip) {
    const IpAddress u = ip.Unmapped();
    if (!u.is_v6()) return u;
    std::array<uint8_t, 16> b{};
    for (size_t i = 0; i < 8; ++i) b[i] = u.bytes()[i];
    return IpAddress::V6(b);
  }

  uint32_t per_second_;
  uint32_t max_entries_;
  std::unordered_map<IpAddress, TokenBucket> buckets_;
};

}  // namespace tandem::turn
