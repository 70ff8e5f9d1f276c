// NTP timestamps as RTCP carries them (RFC 3550 §4): 64-bit fixed point, seconds since 1900-01-01 in the high
// 32 bits and the fraction in the low 32; the "compact" form (middle 32 bits, 16.16) for LSR/DLSR (§6.4.1).
// Cores never read a clock: the wall-clock time is passed in by the driver.
#pragma once

#include <cstdint>
#include <optional>

#include "core/time.h"

namespace tandem::rtp {

inline constexpr int64_t kNtpUnixEpochOffsetSeconds = 2208988800;  // 1900-01-01 to 1970-01-01

class NtpTime {
 public:
  constexpr NtpTime() = default;
  constexpr explicit NtpTime(uint64_t value) : value_(value) {}
  static constexpr NtpTime FromParts(uint32_t seconds, uint32_t fraction) {
    return NtpTime((uint64_t{seconds} << 32) | fraction);
  }
  // From microseconds since the Unix epoch (a wall clock the driver read).
  static constexpr NtpTime FromUnixMicros(int64_t unix_us) {
    const int64_t us = unix_us + kNtpUnixEpochOffsetSeconds * 1000000;
    const uint64_t seconds = static_cast<uint64_t>(us / 1000000);
    const uint64_t micros = static_cast<uint64_t>(us % 1000000);
    return NtpTime((seconds << 32) | ((micros << 32) / 1000000));
  }

  constexpr uint64_t value() const { return value_; }
  constexpr uint32_t seconds() const { return static_cast<uint32_t>(value_ >> 32); }
  constexpr uint32_t fraction() const { return static_cast<uint32_t>(value_); }
  // The middle 32 bits (RFC 3550 §6.4.1 LSR).
  constexpr uint32_t Compact() const { return static_cast<uint32_t>(value_ >> 16); }
  constexpr int64_t ToUnixMicros() const {
    return (int64_t{seconds()} - kNtpUnixEpochOffsetSeconds) * 1000000 +
           static_cast<int64_t>((uint64_t{fraction()} * 1000000 + (uint64_t{1} << 31)) >> 32);
  }
  constexpr bool operator==(const NtpTime&) const = default;

 private:
  uint64_t value_ = 0;
};

// 16.16 compact NTP durations (DLSR, RTT arithmetic) to and from TimeDelta.
constexpr TimeDelta CompactNtpToDelta(uint32_t compact) {
  return TimeDelta::Micros(static_cast<int64_t>((uint64_t{compact} * 1000000 + 0x8000) >> 16));
}
constexpr uint32_t DeltaToCompactNtp(TimeDelta d) {
  if (d.us() <= 0) return 0;
  const uint64_t v = (static_cast<uint64_t>(d.us()) << 16) / 1000000;
  return v > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<uint32_t>(v);
}

// RFC 3550 §6.4.1: round-trip time from a report block, all in compact NTP: arrival - LSR - DLSR. nullopt
// when the report carries no LSR or the result is negative (clock adjustments, bogus reports).
constexpr std::optional<TimeDelta> RttFromCompactNtp(uint32_t arrival, uint32_t last_sr, uint32_t dlsr) {
  if (last_sr == 0) return std::nullopt;
  const uint32_t rtt = arrival - last_sr - dlsr;  // modular, as the fields wrap every 18 hours
  if (rtt & 0x80000000u) return std::nullopt;
  return CompactNtpToDelta(rtt);
}

}  // namespace tandem::rtp
