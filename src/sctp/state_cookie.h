// The State Cookie (RFC 9260 §5.1.3): everything needed to create the association when the COOKIE ECHO
// arrives, so that an INIT costs the responder no state. It is signed with HMAC-SHA256 under a secret key
// drawn from the association's Rng, and stamped with its creation time for the lifetime check (§5.1.5).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"

namespace tandem::sctp {

struct StateCookie {
  static constexpr size_t kMacSize = 32;
  static constexpr size_t kSerializedSize = 4 + 8 + 4 + 4 + 4 + 4 + 4 + 2 + 2 + 1 + 4 + 4 + kMacSize;

  Timestamp created_at;
  // Our side (what the INIT ACK announced).
  uint32_t my_tag = 0;
  uint32_t my_initial_tsn = 0;
  // The peer's INIT.
  uint32_t peer_tag = 0;
  uint32_t peer_initial_tsn = 0;
  uint32_t peer_a_rwnd = 0;
  uint16_t peer_outbound_streams = 0;
  uint16_t peer_inbound_streams = 0;
  bool peer_forward_tsn = false;   // RFC 3758
  bool peer_reconfig = false;      // RFC 6525
  bool peer_interleaving = false;  // RFC 8260 (I-DATA and I-FORWARD-TSN both announced)
  // §5.2.2: the tags of an existing association when the INIT arrived in it (zero otherwise).
  uint32_t local_tie_tag = 0;
  uint32_t peer_tie_tag = 0;

  std::vector<uint8_t> Serialize(ByteSpan key) const;
  // Verifies the MAC and decodes; nullopt if forged, truncated or of another format.
  static std::optional<StateCookie> Parse(ByteSpan cookie, ByteSpan key);
};

}  // namespace tandem::sctp
