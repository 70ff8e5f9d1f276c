#include "turn/framing.h"

#include "stun/message.h"
#include "turn/channel_data.h"

namespace tandem::turn {
namespace {
// Largest frame accepted on a stream: a STUN message with the largest encodable length (RFC 8489 §5).
constexpr size_t kMaxFrame = 65535 + stun::kHeaderSize;
}  // namespace

Result<size_t> NextFrameLength(ByteSpan buffered) {
  if (buffered.empty()) return size_t{0};
  const uint8_t first = buffered[0];
  size_t total = 0;
  if ((first & 0xC0) == 0) {
    // STUN (RFC 8489 §6.2.2: over TCP the message length delimits the frame; §5: the top two bits are zero).
    if (buffered.size() < 8) return size_t{0};
    const uint16_t length = LoadBe16(buffered.data() + 2);
    if (length % 4 != 0) return MakeError(ErrorCode::kMalformed, "STUN length not a multiple of 4");
    if (LoadBe32(buffered.data() + 4) != stun::kMagicCookie) {
      return MakeError(ErrorCode::kMalformed, "STUN frame without magic cookie");
    }
    total = stun::kHeaderSize + length;
  } else if (first >= 0x40 && first <= 0x7F) {  // channels 0x4000-0x7FFF, see kMaxAcceptedChannel
    // ChannelData (RFC 8656 §12.5): over TCP/TLS the sender pads to a multiple of 4, and the padding is part
    // of the frame although not counted in the length field.
    if (buffered.size() < kChannelDataHeaderSize) return size_t{0};
    const size_t length = LoadBe16(buffered.data() + 2);
    total = kChannelDataHeaderSize + ((length + 3) & ~size_t{3});
  } else {
    return MakeError(ErrorCode::kMalformed, "stream is neither STUN nor ChannelData");
  }
  if (total > kMaxFrame) return MakeError(ErrorCode::kLimitExceeded, "frame too large");
  return buffered.size() >= total ? total : size_t{0};
}

}  // namespace tandem::turn
