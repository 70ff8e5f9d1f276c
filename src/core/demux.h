// RFC 7983 §7 demultiplexing of packets that share one 5-tuple, as a pure function of the first byte. Shared by the
// peer, the TURN server and the SFU.
#pragma once

#include <cstdint>

#include "core/bytes.h"

namespace tandem {

enum class PacketKind : uint8_t { kStun, kZrtp, kDtls, kTurnChannel, kRtpRtcp, kQuic, kUnknown };

constexpr PacketKind ClassifyPacket(uint8_t first_byte) {
  if (first_byte <= 3) return PacketKind::kStun;
  if (first_byte >= 16 && first_byte <= 19) return PacketKind::kZrtp;
  if (first_byte >= 20 && first_byte <= 63) return PacketKind::kDtls;
  if (first_byte >= 64 && first_byte <= 79) return PacketKind::kTurnChannel;
  if (first_byte >= 128 && first_byte <= 191) return PacketKind::kRtpRtcp;
  // RFC 9443 widens the space to QUIC's long/short headers; we do not speak QUIC, so classify for counting only.
  if ((first_byte >= 80 && first_byte <= 127) || first_byte >= 192) return PacketKind::kQuic;
  return PacketKind::kUnknown;
}

inline PacketKind ClassifyPacket(ByteSpan packet) {
  return packet.empty() ? PacketKind::kUnknown : ClassifyPacket(packet[0]);
}

}  // namespace tandem
