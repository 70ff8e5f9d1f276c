// A manually advanced clock for deterministic tests of sans-IO cores.
#pragma once

#include "core/time.h"

namespace tandem::testing {

class FakeClock {
 public:
  explicit FakeClock(Timestamp start = Timestamp::Seconds(1000)) : now_(start) {}
  Timestamp now() const { return now_; }
  void Advance(TimeDelta d) { now_ = now_ + d; }
  void AdvanceTo(Timestamp t) {
    if (t > now_) now_ = t;
  }

 private:
  Timestamp now_;
};

}  // namespace tandem::testing
