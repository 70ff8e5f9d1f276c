// Private to src/dtls: a queue of byte strings (datagrams or decrypted records) in one reusable buffer, so
// that steady-state traffic does not allocate per packet. Views handed out stay valid until the next Append
// or Compact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"

namespace tandem::dtls::internal {

class ByteStringQueue {
 public:
  size_t pending() const { return ends_.size() - next_; }
  size_t pending_bytes() const { return bytes_.size() - (next_ == 0 ? 0 : ends_[next_ - 1]); }
  bool empty() const { return pending() == 0; }

  // Appends `data` as a new entry, or to the end of the last entry when `max_joined` allows: the last entry
  // has not been handed out yet and the joined size stays within `max_joined` (0: never join).
  void Append(ByteSpan data, size_t max_joined = 0) {
    if (max_joined != 0 && pending() > 0 && size_of_last() + data.size() <= max_joined) {
      bytes_.insert(bytes_.end(), data.begin(), data.end());
      ends_.back() = bytes_.size();
      return;
    }
    bytes_.insert(bytes_.end(), data.begin(), data.end());
    ends_.push_back(bytes_.size());
  }

  std::optional<ByteSpan> Pop() {
    if (next_ == ends_.size()) return std::nullopt;
    const size_t begin = next_ == 0 ? 0 : ends_[next_ - 1];
    const size_t end = ends_[next_++];
    return ByteSpan(bytes_.data() + begin, end - begin);
  }

  // Entry `i` (0 = oldest still stored, including handed-out ones) without consuming it.
  size_t size() const { return ends_.size(); }
  ByteSpan at(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends_[i - 1];
    return ByteSpan(bytes_.data() + begin, ends_[i] - begin);
  }

  // Forgets everything once all entries were handed out; keeps the capacity.
  void Compact() {
    if (next_ == ends_.size()) Clear();
  }
  void Clear() {
    bytes_.clear();
    ends_.clear();
    next_ = 0;
  }

 private:
  size_t size_of_last() const { return ends_.back() - (ends_.size() == 1 ? 0 : ends_[ends_.size() - 2]); }

  std::vector<uint8_t> bytes_;
  std::vector<size_t> ends_;  // end offset of each entry in bytes_
  size_t next_ = 0;           // first entry not yet handed out
};

}  // namespace tandem::dtls::internal
