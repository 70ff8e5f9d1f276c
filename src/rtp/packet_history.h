// Sender-side history of sent RTP packets, kept for retransmission on NACK (RFC 4585 §6.2.1, RFC 4588).
// Bounded by count (a power-of-two ring indexed by sequence number) and by age; slots keep their buffers, so
// after warm-up storing a packet allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"

namespace tandem::rtp {

struct PacketHistoryStats {
  uint64_t stored = 0;
  uint64_t retransmitted = 0;
  uint64_t not_found = 0;  // requested but never stored, overwritten or expired
  uint64_t too_soon = 0;   // requested again within the minimum interval (duplicate NACKs)
  uint64_t rejected = 0;   // Put() of something that is not RTP or is too large
};

class RtpPacketHistory {
 public:
  // `capacity` is rounded up to a power of two (at most 32768, half the sequence space).
  explicit RtpPacketHistory(size_t capacity = 1024, TimeDelta max_age = TimeDelta::Seconds(1),
                            size_t max_packet_size = 1500);

  // Stores a copy of a sent packet (its sequence number read from the header). False when it is not an RTP
  // packet or is larger than max_packet_size.
  bool Put(Timestamp send_time, ByteSpan rtp_packet);

  // The stored packet with this sequence number, if still held (same sequence number in its slot, sent at
  // most max_age before now) and not retransmitted within `min_interval` (a NACK repeated within one RTT must
  // not cause a second copy). Marks it retransmitted at `now`. The view is valid until the next Put().
  std::optional<ByteSpan> GetForRetransmission(Timestamp now, uint16_t sequence_number,
                                               TimeDelta min_interval = TimeDelta::Zero());
  // Lookup without marking.
  std::optional<ByteSpan> Get(Timestamp now, uint16_t sequence_number) const;

  size_t capacity() const { return slots_.size(); }
  TimeDelta max_age() const { return max_age_; }
  void set_max_age(TimeDelta age) { max_age_ = age; }
  const PacketHistoryStats& stats() const { return stats_; }

 private:
  struct Slot {
    std::vector<uint8_t> data;  // keeps its capacity
    bool used = false;
    uint16_t sequence_number = 0;
    Timestamp sent;
    bool retransmitted = false;
    Timestamp last_retransmit;
  };
  const Slot* Find(Timestamp now, uint16_t sequence_number) const;

  std::vector<Slot> slots_;
  size_t mask_;
  TimeDelta max_age_;
  size_t max_packet_size_;
  PacketHistoryStats stats_;
};

}  // namespace tandem::rtp
