// The few RTP-facing types the media layer needs, kept here so that src/media does not depend on src/rtp: the
// peer adapts between rtp::RtpPacketView and these. Video uses a 90 kHz RTP clock (RFC 7741 §4.1, RFC 6184
// §5.1), Opus always 48 kHz (RFC 7587 §4.1).
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/bytes.h"
#include "core/time.h"

namespace tandem::media {

inline constexpr uint32_t kVideoClockRate = 90000;  // RFC 7741 §4.1, RFC 6184 §8.2.1
inline constexpr uint32_t kOpusClockRate =
    48000;  // RFC 7587 §4.1: always 48 kHz, whatever the coded bandwidth

// The RTP header fields a depacketizer or jitter buffer looks at (RFC 3550 §5.1). The arrival time is the
// `now` passed along with it (sans-IO: every input carries its time).
struct RtpPacketInfo {
  uint16_t sequence_number = 0;
  uint32_t timestamp = 0;
  bool marker = false;
  uint8_t payload_type = 0;
  uint32_t ssrc = 0;
  // Recovered through NACK/RTX (RFC 4588): the jitter buffer keeps such packets out of its delay estimate,
  // since their lateness is the retransmission round trip, not network jitter.
  bool retransmission = false;
};

// One RTP payload produced by a packetizer: the caller puts it behind an RTP header with this marker bit and
// the frame's RTP timestamp. `payload` is valid until the packetizer's next non-const call.
struct OutgoingPayload {
  ByteSpan payload;
  bool marker = false;
  uint32_t rtp_timestamp = 0;
};

// Extends a wrapping counter (16-bit sequence numbers, 32-bit timestamps) to int64, each value placed at the
// position closest to the previous one (RFC 3550 §A.1 reasons about sequence numbers the same way). The first
// value is offset by one cycle so that a stream that starts by going backwards stays positive.
template <typename T>
class Unwrapper {
 public:
  int64_t Unwrap(T value) {
    last_ = Peek(value);
    return *last_;
  }
  int64_t Peek(T value) const {
    constexpr int64_t kModulus = int64_t{1} << (sizeof(T) * 8);
    if (!last_) return kModulus + static_cast<int64_t>(value);
    const T last_raw = static_cast<T>(*last_);
    int64_t diff = static_cast<int64_t>(static_cast<T>(value - last_raw));
    if (diff >= kModulus / 2) diff -= kModulus;
    return *last_ + diff;
  }
  bool has_value() const { return last_.has_value(); }
  void Reset() { last_.reset(); }

 private:
  std::optional<int64_t> last_;
};

using SeqNumUnwrapper = Unwrapper<uint16_t>;
using RtpTimestampUnwrapper = Unwrapper<uint32_t>;

// RTP timestamp ticks <-> time, for a clock rate in Hz.
inline TimeDelta TicksToTime(int64_t ticks, uint32_t clock_rate) {
  return TimeDelta::Micros(ticks * 1000000 / static_cast<int64_t>(clock_rate));
}
// Rounds to the nearest tick, so that frame times in whole microseconds (33333 us at 30 fps) map to the exact
// tick counts (3000 at 90 kHz).
inline int64_t TimeToTicks(TimeDelta d, uint32_t clock_rate) {
  const int64_t scaled = d.us() * static_cast<int64_t>(clock_rate);
  return (scaled >= 0 ? scaled + 500000 : scaled - 500000) / 1000000;
}

}  // namespace tandem::media
