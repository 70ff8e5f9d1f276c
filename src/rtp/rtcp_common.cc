#include "rtp/rtcp_common.h"

#include <cassert>

namespace tandem::rtp {

std::optional<RtcpHeader> RtcpPacketIterator::Next() {
  if (error_ || rest_.empty()) return std::nullopt;
  if (rest_.size() < kRtcpHeaderSize || (rest_[0] >> 6) != 2) {
    error_ = true;
    return std::nullopt;
  }
  const size_t size = (size_t{LoadBe16(&rest_[2])} + 1) * 4;
  if (size > rest_.size()) {
    error_ = true;
    return std::nullopt;
  }
  RtcpHeader h;
  h.count = rest_[0] & 0x1F;
  h.padding = (rest_[0] & 0x20) != 0;
  h.packet_type = rest_[1];
  h.packet = rest_.first(size);
  size_t payload = size - kRtcpHeaderSize;
  if (h.padding) {
    // RFC 3550 §6.4.1: the last octet counts the padding, itself included.
    const size_t pad = h.packet.back();
    if (pad == 0 || pad > payload) {
      error_ = true;
      return std::nullopt;
    }
    payload -= pad;
  }
  h.payload = h.packet.subspan(kRtcpHeaderSize, payload);
  rest_ = rest_.subspan(size);
  return h;
}

bool IsValidRtcpCompound(ByteSpan compound) {
  if (compound.empty()) return false;
  RtcpPacketIterator it(compound);
  while (it.Next()) {
  }
  return !it.error();
}

void WriteRtcpHeader(ByteWriter& w, uint8_t count, uint8_t packet_type, size_t payload_size) {
  assert(payload_size % 4 == 0 && count <= kMaxRtcpCount);
  w.WriteU8(static_cast<uint8_t>(0x80 | count));
  w.WriteU8(packet_type);
  w.WriteU16(static_cast<uint16_t>(payload_size / 4));  // (header + payload) / 4 - 1
}

std::optional<FeedbackSsrcs> ReadFeedbackSsrcs(ByteSpan payload) {
  if (payload.size() < 8) return std::nullopt;
  return FeedbackSsrcs{LoadBe32(&payload[0]), LoadBe32(&payload[4])};
}

}  // namespace tandem::rtp
