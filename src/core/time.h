// Typed time for sans-IO cores: a core never reads a clock; the driver (or a test's fake clock) passes `now` in.
#pragma once

#include <cstdint>
#include <limits>

namespace tandem {

// A span of time with microsecond resolution.
class TimeDelta {
 public:
  constexpr TimeDelta() = default;
  static constexpr TimeDelta Micros(int64_t us) { return TimeDelta(us); }
  static constexpr TimeDelta Millis(int64_t ms) { return TimeDelta(ms * 1000); }
  static constexpr TimeDelta Seconds(int64_t s) { return TimeDelta(s * 1000000); }
  static constexpr TimeDelta Zero() { return TimeDelta(0); }
  static constexpr TimeDelta Infinity() { return TimeDelta(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t us() const { return us_; }
  constexpr int64_t ms() const { return us_ / 1000; }
  constexpr int64_t seconds() const { return us_ / 1000000; }
  constexpr bool IsInfinite() const { return us_ == std::numeric_limits<int64_t>::max(); }

  constexpr TimeDelta operator+(TimeDelta o) const { return TimeDelta(us_ + o.us_); }
  constexpr TimeDelta operator-(TimeDelta o) const { return TimeDelta(us_ - o.us_); }
  constexpr TimeDelta operator*(int64_t k) const { return TimeDelta(us_ * k); }
  constexpr TimeDelta operator/(int64_t k) const { return TimeDelta(us_ / k); }
  constexpr auto operator<=>(const TimeDelta&) const = default;

 private:
  constexpr explicit TimeDelta(int64_t us) : us_(us) {}
  int64_t us_ = 0;
};

// A point on a monotonic clock (microseconds since an arbitrary epoch chosen by the driver).
class Timestamp {
 public:
  constexpr Timestamp() = default;
  static constexpr Timestamp Micros(int64_t us) { return Timestamp(us); }
  static constexpr Timestamp Millis(int64_t ms) { return Timestamp(ms * 1000); }
  static constexpr Timestamp Seconds(int64_t s) { return Timestamp(s * 1000000); }
  static constexpr Timestamp Zero() { return Timestamp(0); }
  static constexpr Timestamp Infinity() { return Timestamp(std::numeric_limits<int64_t>::max()); }

  constexpr int64_t us() const { return us_; }
  constexpr int64_t ms() const { return us_ / 1000; }
  constexpr int64_t seconds() const { return us_ / 1000000; }
  constexpr bool IsInfinite() const { return us_ == std::numeric_limits<int64_t>::max(); }

  constexpr Timestamp operator+(TimeDelta d) const {
    if (IsInfinite() || d.IsInfinite()) return Infinity();
    return Timestamp(us_ + d.us());
  }
  constexpr Timestamp operator-(TimeDelta d) const { return Timestamp(us_ - d.us()); }
  constexpr TimeDelta operator-(Timestamp o) const { return TimeDelta::Micros(us_ - o.us_); }
  constexpr auto operator<=>(const Timestamp&) const = default;

 private:
  constexpr explicit Timestamp(int64_t us) : us_(us) {}
  int64_t us_ = 0;
};

// Wall-clock seconds since the Unix epoch; needed where a protocol carries absolute time (TURN REST credentials).
struct UnixTime {
  int64_t seconds = 0;
};

}  // namespace tandem
