// Serial-number arithmetic for SCTP's wrapping counters (RFC 1982, as RFC 9260 §1.6 prescribes for TSNs) and
// an unwrapper that maps them onto a 64-bit line so the rest of the stack compares plain integers.
#pragma once

#include <cstdint>

namespace tandem::sctp {

// RFC 9260 §1.6: a < b in serial arithmetic (for 32-bit TSNs and MIDs).
constexpr bool SerialLess32(uint32_t a, uint32_t b) {
  return a != b && static_cast<uint32_t>(b - a) < (1u << 31);
}
constexpr bool SerialLessOrEqual32(uint32_t a, uint32_t b) { return a == b || SerialLess32(a, b); }
// RFC 9260 §1.6 for the 16-bit Stream Sequence Number.
constexpr bool SerialLess16(uint16_t a, uint16_t b) {
  return a != b && static_cast<uint16_t>(b - a) < (1u << 15);
}
constexpr bool SerialLessOrEqual16(uint16_t a, uint16_t b) { return a == b || SerialLess16(a, b); }

// Maps a 32-bit wrapping value to the 64-bit value nearest to `reference` (both sides of it within 2^31).
// TSNs are kept unwrapped inside the association; they are wrapped again (truncated) only on the wire.
constexpr uint64_t Unwrap32(uint64_t reference, uint32_t value) {
  const int32_t delta = static_cast<int32_t>(value - static_cast<uint32_t>(reference));
  const int64_t result = static_cast<int64_t>(reference) + delta;
  // Values "before zero" cannot occur for a reference in [0, 2^32) unless the peer is hostile; clamp at 0.
  return result < 0 ? 0 : static_cast<uint64_t>(result);
}
constexpr uint32_t Wrap32(uint64_t value) { return static_cast<uint32_t>(value); }

}  // namespace tandem::sctp
