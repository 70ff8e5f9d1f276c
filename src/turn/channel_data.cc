#include "turn/channel_data.h"

namespace tandem::turn {

std::optional<ChannelData> ParseChannelData(ByteSpan packet) {
  if (packet.size() < kChannelDataHeaderSize) return std::nullopt;
  const uint16_t channel = LoadBe16(packet.data());
  const uint16_t length = LoadBe16(packet.data() + 2);
  // RFC 8656 §12.4 uses 0x4000-0x4FFF; RFC 5766 clients may use up to 0x7FFF (see kMaxAcceptedChannel).
  if (!IsAcceptedChannel(channel)) return std::nullopt;
  const size_t available = packet.size() - kChannelDataHeaderSize;
  if (length > available) return std::nullopt;
  // RFC 8656 §12.5: the message may be padded to a multiple of 4 (required over streams, optional over UDP).
  // More than 3 trailing bytes cannot be padding: the packet is malformed.
  if (available - length > 3) return std::nullopt;
  return ChannelData{channel, packet.subspan(kChannelDataHeaderSize, length)};
}

void WriteChannelDataHeader(uint8_t out[4], uint16_t channel, uint16_t length) {
  StoreBe16(out, channel);
  StoreBe16(out + 2, length);
}

}  // namespace tandem::turn
