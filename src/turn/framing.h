// Framing of a TURN/STUN byte stream over TCP or TLS (RFC 8656 §12.5, RFC 8489 §6.2.2): each frame is a STUN message
// (20-byte header + length) or a ChannelData message (4-byte header + length, padded to a multiple of 4 over
// streams).
#pragma once

#include <cstddef>

#include "core/bytes.h"
#include "core/result.h"

namespace tandem::turn {

// Length of the first complete frame at the start of `buffered`: > 0 when a whole frame is there, 0 when more bytes
// are needed, an error (kMalformed) when the stream is not STUN/ChannelData — the connection must then be closed.
Result<size_t> NextFrameLength(ByteSpan buffered);

}  // namespace tandem::turn
