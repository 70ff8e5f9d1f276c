// STUN and TURN URIs (RFC 7064 "stun:"/"stuns:", RFC 7065 "turn:"/"turns:" with ?transport=udp|tcp), as
// RTCIceServer.urls carries them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace tandem::peer {

struct IceServerUrl {
  enum class Scheme { kStun, kStuns, kTurn, kTurns };
  enum class Transport { kUdp, kTcp, kTls };
  Scheme scheme = Scheme::kStun;
  std::string host;  // a name or an address literal (brackets removed)
  uint16_t port = 0;
  Transport transport = Transport::kUdp;  // stuns/turns: kTls; turn: from ?transport (default udp)

  bool is_turn() const { return scheme == Scheme::kTurn || scheme == Scheme::kTurns; }
  // Errors name what is wrong: scheme, host, port, or query.
  static Result<IceServerUrl> Parse(std::string_view url);
};

}  // namespace tandem::peer
