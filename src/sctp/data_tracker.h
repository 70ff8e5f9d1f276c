// Receive-side TSN bookkeeping: which TSNs arrived, the cumulative TSN, gap ack blocks and duplicates for
// SACKs (RFC 9260 §6.2, §3.3.4), and when a SACK is due (§6.2: delayed SACK, immediate on gaps and
// duplicates).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "sctp/chunks.h"
#include "sctp/sequence.h"

namespace tandem::sctp {

class DataTracker {
 public:
  // Largest distance above the cumulative TSN we accept: gap ack block offsets are 16 bits (§3.3.4).
  static constexpr uint64_t kMaxTsnAhead = 65535;
  // Bounds the number of disjoint received ranges (a hostile peer could otherwise make us track one per TSN).
  static constexpr size_t kMaxRanges = 256;
  // Duplicates remembered for the next SACK.
  static constexpr size_t kMaxDuplicates = 32;

  // The peer's initial TSN (from its INIT or INIT ACK): the cumulative TSN starts just below it.
  void Reset(uint32_t peer_initial_tsn);

  // Unwraps a TSN from the wire relative to the cumulative TSN.
  uint64_t Unwrap(uint32_t tsn) const { return Unwrap32(cum_tsn_, tsn); }
  uint64_t cumulative_tsn() const { return cum_tsn_; }
  uint32_t cumulative_tsn_wrapped() const { return Wrap32(cum_tsn_); }

  // True if `tsn` was already received (at or below the cumulative TSN or inside a received range).
  bool IsDuplicate(uint64_t tsn) const;
  // True if a new `tsn` can be recorded (within the window and the range limit).
  bool CanAccept(uint64_t tsn) const;
  // Records a new TSN (the caller checked !IsDuplicate and CanAccept).
  void Observe(uint64_t tsn);
  // Records a duplicate for the next SACK.
  void ObserveDuplicate(uint32_t tsn);
  // RFC 3758 §3.6: moves the cumulative TSN forward to `new_cum` (no-op if not ahead).
  void ForwardTo(uint64_t new_cum);

  bool has_gaps() const { return !ranges_.empty(); }
  bool has_duplicates() const { return !duplicates_.empty(); }
  // Fills the SACK's cumulative TSN, gap blocks and duplicates (clearing the duplicates), fitting in
  // `max_size` bytes of chunk.
  void FillSack(SackChunk& sack, uint32_t a_rwnd, size_t max_size);

 private:
  uint64_t cum_tsn_ = 0;
  // Sorted, disjoint, non-adjacent [first, last] ranges, all above cum_tsn_ + 1.
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
  std::vector<uint32_t> duplicates_;
};

}  // namespace tandem::sctp
