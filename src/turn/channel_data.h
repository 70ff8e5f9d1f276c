// ChannelData messages (RFC 8656 §12.4): 2-byte channel number in 0x4000-0x4FFF, 2-byte length, data.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace tandem::turn {

inline constexpr uint16_t kMinChannel = 0x4000;  // RFC 8656 §12
inline constexpr uint16_t kMaxChannel = 0x4FFF;
// RFC 5766 §11 allowed 0x4000-0x7FFF, and clients built on it still pick numbers up to 0x7FFF (coturn's own
// turnutils_uclient does). A server accepts the old range: the first byte is then 0x40-0x7F, which on a TURN
// server's client port collides with nothing (RFC 7983's 64-79 block plus bytes no other protocol there uses).
// Clients we write stay within RFC 8656's range.
inline constexpr uint16_t kMaxAcceptedChannel = 0x7FFF;
inline constexpr bool IsAcceptedChannel(uint16_t channel) {
  return channel >= kMinChannel && channel <= kMaxAcceptedChannel;
}
inline constexpr size_t kChannelDataHeaderSize = 4;

struct ChannelData {
  uint16_t channel = 0;
  ByteSpan data;  // view into the packet
};

// Parses a ChannelData message; over UDP, trailing padding beyond `length` is allowed (RFC 8656 §12.5).
std::optional<ChannelData> ParseChannelData(ByteSpan packet);
// Writes the 4-byte header for `channel` and `length`.
void WriteChannelDataHeader(uint8_t out[4], uint16_t channel, uint16_t length);

}  // namespace tandem::turn
