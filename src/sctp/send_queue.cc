#include "sctp/send_queue.h"

#include <algorithm>
#include <cstring>

namespace tandem::sctp {

SendQueue::SendQueue(size_t capacity, std::function<void(uint16_t)> on_buffered_amount_low)
    : capacity_(capacity), on_low_(std::move(on_buffered_amount_low)) {}

Status SendQueue::Add(Timestamp now, uint16_t stream, uint32_t ppid, ByteSpan payload,
                      const SendOptions& options) {
  // RFC 9260 §6.2: a DATA chunk must carry user data; WebRTC sends empty messages as one byte with an "empty"
  // PPID (RFC 8831 §6.6), which is the data channel layer's job.
  if (payload.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty message");
  if (payload.size() > capacity_ || total_buffered_ + payload.size() > capacity_) {
    return MakeError(ErrorCode::kLimitExceeded, "send buffer full");
  }
  QueuedMessage m;
  m.message_id = next_message_id_++;
  m.ppid = ppid;
  m.unordered = options.unordered;
  auto bytes = std::make_shared_for_overwrite<uint8_t[]>(payload.size());
  std::memcpy(bytes.get(), payload.data(), payload.size());
  m.data = std::move(bytes);
  m.size = static_cast<uint32_t>(payload.size());
  m.max_retransmits = options.max_retransmits;
  if (options.lifetime) m.expires_at = now + *options.lifetime;
  OutStream& s = streams_[stream];
  s.queue.push_back(std::move(m));
  s.buffered += payload.size();
  total_buffered_ += payload.size();
  Activate(stream, s);
  return OkStatus();
}

void SendQueue::Activate(uint16_t stream, OutStream& s) {
  if (s.active) return;
  s.active = true;
  // Join the round at its end: just before the stream served next.
  active_.insert(active_.begin() + static_cast<std::ptrdiff_t>(cursor_), stream);
  ++cursor_;
  if (cursor_ >= active_.size()) cursor_ = 0;
}

void SendQueue::Deactivate(size_t index) {
  streams_[active_[index]].active = false;
  active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(index));
  if (index < cursor_) --cursor_;
  if (cursor_ >= active_.size()) cursor_ = 0;
}

void SendQueue::Decrease(uint16_t stream, OutStream& s, size_t bytes) {
  const size_t before = s.buffered;
  s.buffered -= bytes;
  total_buffered_ -= bytes;
  if (before > s.low_threshold && s.buffered <= s.low_threshold && on_low_) on_low_(stream);
}

size_t SendQueue::NextFragmentSize(size_t max_payload) const {
  if (active_.empty()) return 0;
  const uint16_t stream = active_[cursor_];
  const OutStream& s = streams_.at(stream);
  const QueuedMessage& m = s.queue.front();
  return std::min<size_t>(m.size - m.offset, max_payload);
}

size_t SendQueue::NextMessageRemaining() const {
  if (active_.empty()) return 0;
  const QueuedMessage& m = streams_.at(active_[cursor_]).queue.front();
  return m.size - m.offset;
}

std::optional<Fragment> SendQueue::Produce(Timestamp now, size_t max_payload) {
  if (max_payload == 0) return std::nullopt;
  while (!active_.empty()) {
    const uint16_t stream = active_[cursor_];
    OutStream& s = streams_[stream];
    QueuedMessage& m = s.queue.front();
    if (m.offset == 0 && m.expires_at <= now) {
      // RFC 3758 §3.5 A1 (as dcSCTP does): a message whose lifetime ended before it was ever sent is dropped.
      ++expired_messages_;
      const size_t size = m.size;
      s.queue.pop_front();
      if (s.queue.empty()) Deactivate(cursor_);
      Decrease(stream, s, size);
      continue;
    }
    Fragment f;
    f.message_id = m.message_id;
    f.stream = stream;
    f.ppid = m.ppid;
    f.unordered = m.unordered;
    if (m.offset == 0) {
      // Sequence numbers are assigned when the first fragment leaves, so dropped-before-sending messages
      // leave no hole in the sequence (RFC 9260 §6.5, RFC 8260 §2.1).
      if (interleaved_) {
        m.id = m.unordered ? s.next_unordered_mid++ : s.next_ordered_mid++;
      } else {
        // Unordered DATA carries no meaningful SSN (§6.6): send 0 and keep the sequence for ordered messages.
        m.id = m.unordered ? 0 : s.next_ssn++;
      }
    }
    f.id = m.id;
    f.fsn = m.next_fsn++;
    f.beginning = m.offset == 0;
    f.length = static_cast<uint32_t>(std::min<size_t>(m.size - m.offset, max_payload));
    f.offset = m.offset;
    f.data = m.data;
    f.max_retransmits = m.max_retransmits;
    f.expires_at = m.expires_at;
    m.offset += f.length;
    f.end = m.offset == m.size;
    if (f.end) {
      s.queue.pop_front();
      if (s.queue.empty()) {
        Deactivate(cursor_);
      } else {
        cursor_ = (cursor_ + 1) % active_.size();
      }
    } else if (interleaved_) {
      cursor_ = (cursor_ + 1) % active_.size();
    }
    Decrease(stream, s, f.length);
    return f;
  }
  return std::nullopt;
}

bool SendQueue::DiscardRemainder(uint16_t stream, uint64_t message_id) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return false;
  OutStream& s = it->second;
  for (size_t i = 0; i < s.queue.size(); ++i) {
    if (s.queue[i].message_id != message_id) continue;
    const size_t remaining = s.queue[i].size - s.queue[i].offset;
    s.queue.erase_at(i);
    if (s.queue.empty()) {
      auto pos = std::find(active_.begin(), active_.end(), stream);
      if (pos != active_.end()) Deactivate(static_cast<size_t>(pos - active_.begin()));
    }
    Decrease(stream, s, remaining);
    return true;
  }
  return false;
}

size_t SendQueue::DiscardStreamsFrom(uint16_t stream_count) {
  size_t dropped = 0;
  for (auto& [stream, s] : streams_) {
    if (stream < stream_count) continue;
    while (!s.queue.empty()) {
      const size_t remaining = s.queue.front().size - s.queue.front().offset;
      s.queue.pop_front();
      Decrease(stream, s, remaining);
      ++dropped;
    }
  }
  for (size_t i = 0; i < active_.size();) {
    if (active_[i] >= stream_count) {
      Deactivate(i);
      continue;
    }
    ++i;
  }
  return dropped;
}

void SendQueue::Clear() {
  for (auto& [stream, s] : streams_) {
    s.queue.clear();
    s.buffered = 0;
    s.active = false;
    s.next_ssn = 0;
    s.next_ordered_mid = 0;
    s.next_unordered_mid = 0;
  }
  active_.clear();
  cursor_ = 0;
  total_buffered_ = 0;
}

void SendQueue::Restart() {
  for (auto& [stream, s] : streams_) {
    if (!s.queue.empty() && s.queue.front().offset > 0) {
      const size_t remaining = s.queue.front().size - s.queue.front().offset;
      s.queue.pop_front();
      Decrease(stream, s, remaining);
    }
    s.next_ssn = 0;
    s.next_ordered_mid = 0;
    s.next_unordered_mid = 0;
  }
  for (size_t i = 0; i < active_.size();) {
    if (streams_[active_[i]].queue.empty()) {
      Deactivate(i);
      continue;
    }
    ++i;
  }
}

void SendQueue::ResetSequenceNumbers(uint16_t stream) {
  OutStream& s = streams_[stream];
  s.next_ssn = 0;
  s.next_ordered_mid = 0;
  s.next_unordered_mid = 0;
}

bool SendQueue::IsEmpty(uint16_t stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() || it->second.queue.empty();
}

size_t SendQueue::buffered_amount(uint16_t stream) const {
  auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.buffered;
}

void SendQueue::SetBufferedAmountLowThreshold(uint16_t stream, size_t bytes) {
  streams_[stream].low_threshold = bytes;
}

}  // namespace tandem::sctp
