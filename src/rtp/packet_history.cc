#include "rtp/packet_history.h"

#include <algorithm>

#include "rtp/rtp_packet.h"

namespace tandem::rtp {

RtpPacketHistory::RtpPacketHistory(size_t capacity, TimeDelta max_age, size_t max_packet_size)
    : max_age_(max_age), max_packet_size_(max_packet_size) {
  size_t n = 1;
  while (n < capacity && n < 32768) n <<= 1;
  slots_.resize(n);
  mask_ = n - 1;
}

bool RtpPacketHistory::Put(Timestamp send_time, ByteSpan rtp_packet) {
  if (rtp_packet.size() < kFixedHeaderSize || (rtp_packet[0] >> 6) != 2 ||
      rtp_packet.size() > max_packet_size_) {
    ++stats_.rejected;
    return false;
  }
  const uint16_t seq = LoadBe16(&rtp_packet[2]);
  Slot& s = slots_[seq & mask_];
  if (s.data.capacity() < max_packet_size_) s.data.reserve(max_packet_size_);  // once per slot
  s.data.assign(rtp_packet.begin(), rtp_packet.end());
  s.used = true;
  s.sequence_number = seq;
  s.sent = send_time;
  s.retransmitted = false;
  ++stats_.stored;
  return true;
}

const RtpPacketHistory::Slot* RtpPacketHistory::Find(Timestamp now, uint16_t sequence_number) const {
  const Slot& s = slots_[sequence_number & mask_];
  if (!s.used || s.sequence_number != sequence_number || now - s.sent > max_age_) return nullptr;
  return &s;
}

std::optional<ByteSpan> RtpPacketHistory::Get(Timestamp now, uint16_t sequence_number) const {
  const Slot* s = Find(now, sequence_number);
  if (s == nullptr) return std::nullopt;
  return ByteSpan(s->data);
}

std::optional<ByteSpan> RtpPacketHistory::GetForRetransmission(Timestamp now, uint16_t sequence_number,
                                                               TimeDelta min_interval) {
  const Slot* found = Find(now, sequence_number);
  if (found == nullptr) {
    ++stats_.not_found;
    return std::nullopt;
  }
  Slot& s = slots_[sequence_number & mask_];
  if (s.retransmitted && now - s.last_retransmit < min_interval) {
    ++stats_.too_soon;
    return std::nullopt;
  }
  s.retransmitted = true;
  s.last_retransmit = now;
  ++stats_.retransmitted;
  return ByteSpan(s.data);
}

}  // namespace tandem::rtp
