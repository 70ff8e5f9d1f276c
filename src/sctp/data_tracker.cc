#include "sctp/data_tracker.h"

#include <algorithm>

namespace tandem::sctp {

void DataTracker::Reset(uint32_t peer_initial_tsn) {
  // Keep unwrapped TSNs 2^32 above zero so that values "before" the initial TSN still unwrap without
  // underflow.
  cum_tsn_ = (uint64_t{1} << 32) + peer_initial_tsn - 1;
  ranges_.clear();
  duplicates_.clear();
}

bool DataTracker::IsDuplicate(uint64_t tsn) const {
  if (tsn <= cum_tsn_) return true;
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), tsn,
                             [](const std::pair<uint64_t, uint64_t>& r, uint64_t t) { return r.second < t; });
  return it != ranges_.end() && it->first <= tsn;
}

bool DataTracker::CanAccept(uint64_t tsn) const {
  if (tsn <= cum_tsn_ || tsn - cum_tsn_ > kMaxTsnAhead) return false;
  if (ranges_.size() < kMaxRanges || tsn == cum_tsn_ + 1) return true;
  // At the range limit only TSNs that extend an existing range are welcome.
  for (const auto& r : ranges_) {
    if (tsn + 1 == r.first || tsn == r.second + 1) return true;
  }
  return false;
}

void DataTracker::Observe(uint64_t tsn) {
  if (tsn == cum_tsn_ + 1) {
    cum_tsn_ = tsn;
    // Swallow a range that now touches the cumulative TSN.
    if (!ranges_.empty() && ranges_.front().first == cum_tsn_ + 1) {
      cum_tsn_ = ranges_.front().second;
      ranges_.erase(ranges_.begin());
    }
    return;
  }
  // Common case under loss: extends the last range or starts a new one after it.
  if (ranges_.empty() || tsn > ranges_.back().second) {
    if (!ranges_.empty() && ranges_.back().second + 1 == tsn) {
      ranges_.back().second = tsn;
    } else {
      ranges_.emplace_back(tsn, tsn);
    }
    return;
  }
  auto it = std::lower_bound(ranges_.begin(), ranges_.end(), tsn,
                             [](const std::pair<uint64_t, uint64_t>& r, uint64_t t) { return r.second < t; });
  // `it` is the first range ending at or after tsn; tsn is not inside it (not a duplicate).
  const bool joins_next = it != ranges_.end() && it->first == tsn + 1;
  const bool joins_prev = it != ranges_.begin() && std::prev(it)->second + 1 == tsn;
  if (joins_prev && joins_next) {
    std::prev(it)->second = it->second;
    ranges_.erase(it);
  } else if (joins_prev) {
    std::prev(it)->second = tsn;
  } else if (joins_next) {
    it->first = tsn;
  } else {
    ranges_.insert(it, {tsn, tsn});
  }
}

void DataTracker::ObserveDuplicate(uint32_t tsn) {
  if (duplicates_.size() < kMaxDuplicates) duplicates_.push_back(tsn);
}

void DataTracker::ForwardTo(uint64_t new_cum) {
  if (new_cum <= cum_tsn_) return;
  cum_tsn_ = new_cum;
  // Drop ranges now covered and merge one that touches the new cumulative TSN.
  auto it = ranges_.begin();
  while (it != ranges_.end() && it->second <= cum_tsn_) ++it;
  ranges_.erase(ranges_.begin(), it);
  if (!ranges_.empty() && ranges_.front().first <= cum_tsn_ + 1) {
    cum_tsn_ = std::max(cum_tsn_, ranges_.front().second);
    ranges_.erase(ranges_.begin());
  }
}

void DataTracker::FillSack(SackChunk& sack, uint32_t a_rwnd, size_t max_size) {
  sack.cumulative_tsn_ack = Wrap32(cum_tsn_);
  sack.a_rwnd = a_rwnd;
  sack.gap_blocks.clear();
  sack.duplicate_tsns.clear();
  size_t size = 16;
  for (const auto& r : ranges_) {
    if (size + 4 > max_size) break;
    // §3.3.4: offsets relative to the cumulative TSN ack; CanAccept keeps them within 16 bits.
    sack.gap_blocks.push_back(
        {static_cast<uint16_t>(r.first - cum_tsn_), static_cast<uint16_t>(r.second - cum_tsn_)});
    size += 4;
  }
  for (uint32_t d : duplicates_) {
    if (size + 4 > max_size) break;
    sack.duplicate_tsns.push_back(d);
    size += 4;
  }
  duplicates_.clear();
}

}  // namespace tandem::sctp
