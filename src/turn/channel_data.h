// ChannelData messages (RFC 8656 §12.4): 2-byte channel number in 0x4000-0x4FFF, 2-byte length, data.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace tandem::turn {

inline constexpr uint16_t kMinChannel = 0x4000;  // RFC 8656 §12
inline constexpr uint16_t kMaxChannel = 0x4FFF;
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
