// The arrival-timing estimate both jitter buffers play out by. transit = arrival - media time (µs): its
// windowed minimum is the delay of the fastest recent packet or frame, the baseline that maps media time to
// local time (absorbing clock offset and drift); the windowed maximum of the excess over it is the jitter the
// playout delay must cover. Two buckets of half the window each make both windowed and O(1) per update.
#pragma once

#include <algorithm>
#include <cstdint>

#include "core/time.h"

namespace tandem::media {

class TransitWindow {
 public:
  explicit TransitWindow(TimeDelta window) : half_window_(window / 2) {}

  void Add(Timestamp now, int64_t transit) {
    if (!valid_) {
      valid_ = true;
      bucket_start_ = now;
      min_current_ = min_previous_ = transit;
      variation_current_ = variation_previous_ = 0;
    } else if (now - bucket_start_ >= half_window_) {
      min_previous_ = min_current_;
      variation_previous_ = variation_current_;
      min_current_ = transit;
      variation_current_ = 0;
      bucket_start_ = now;
    } else {
      min_current_ = std::min(min_current_, transit);
    }
    variation_current_ = std::max(variation_current_, transit - base_transit());
  }

  // False until the first Add.
  bool valid() const { return valid_; }
  // The baseline transit (µs): local time = media time + base_transit() for the fastest arrivals.
  int64_t base_transit() const { return std::min(min_current_, min_previous_); }
  TimeDelta jitter() const { return TimeDelta::Micros(std::max(variation_current_, variation_previous_)); }

 private:
  TimeDelta half_window_;
  bool valid_ = false;
  Timestamp bucket_start_;
  int64_t min_current_ = 0;
  int64_t min_previous_ = 0;
  int64_t variation_current_ = 0;
  int64_t variation_previous_ = 0;
};

}  // namespace tandem::media
