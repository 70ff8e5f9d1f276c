// Wrap-around arithmetic for RTP's 16-bit sequence numbers and 32-bit timestamps (RFC 3550 §5.1), and
// unwrappers that extend them to 64-bit counters so later code can compare and subtract without thinking
// about wrap.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

namespace tandem::rtp {

// True when `a` comes after `b` in the circular space of T (RFC 1982 serial number arithmetic). Exactly half
// the space apart is ambiguous; the larger raw value is taken as newer so that the relation is antisymmetric.
template <typename T>
constexpr bool IsNewer(T a, T b) {
  static_assert(std::is_unsigned_v<T>);
  constexpr T kHalf = static_cast<T>(T{1} << (sizeof(T) * 8 - 1));
  if (a == b) return false;
  const T diff = static_cast<T>(a - b);
  if (diff == kHalf) return a > b;
  return diff < kHalf;
}

constexpr bool IsNewerSequenceNumber(uint16_t a, uint16_t b) { return IsNewer<uint16_t>(a, b); }
constexpr bool IsNewerTimestamp(uint32_t a, uint32_t b) { return IsNewer<uint32_t>(a, b); }

// The signed distance from `b` to `a` taking the shorter way around (a - b in the circle).
template <typename T>
constexpr int64_t ForwardDiff(T a, T b) {
  static_assert(std::is_unsigned_v<T>);
  constexpr int64_t kModulus = int64_t{1} << (sizeof(T) * 8);
  int64_t d = static_cast<int64_t>(static_cast<T>(a - b));
  if (IsNewer<T>(b, a)) d -= kModulus;
  return d;
}

// Extends a wrapping counter to int64: each value is placed at the unwrapped position closest to the previous
// one (so reordering by less than half the space is handled in both directions). The first value unwraps to
// itself. Values are never negative unless the stream starts by going backwards past zero; callers that need
// non-negative results start from an offset.
template <typename T>
class Unwrapper {
 public:
  int64_t Unwrap(T value) {
    if (!last_) {
      last_ = static_cast<int64_t>(value);
    } else {
      *last_ += ForwardDiff<T>(value, static_cast<T>(*last_));
    }
    return *last_;
  }
  // Like Unwrap but does not move the reference point (for a lookup that must not disturb the state).
  int64_t PeekUnwrap(T value) const {
    if (!last_) return static_cast<int64_t>(value);
    return *last_ + ForwardDiff<T>(value, static_cast<T>(*last_));
  }
  std::optional<int64_t> last() const { return last_; }
  void Reset() { last_.reset(); }

 private:
  std::optional<int64_t> last_;
};

using SeqNumUnwrapper = Unwrapper<uint16_t>;
using RtpTimestampUnwrapper = Unwrapper<uint32_t>;

}  // namespace tandem::rtp
