// State of one TURN allocation (RFC 8656 §2.2/§6): the 5-tuple (or TCP/TLS connection) it belongs to, its
// relayed transport address(es), permissions (§9), channel bindings (§12) and the cached long-term key that
// authenticated it. Plain data owned by TurnServer's allocation table; all lookups on the relay path are O(1)
// hash lookups.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/socket_address.h"
#include "core/time.h"
#include "stun/message.h"
#include "turn/rate_limiter.h"
#include "turn/server.h"

namespace tandem::turn {

// An entity's expiry plus the deadline of its one live entry in the server's timer heap (Infinity when none):
// refreshing only moves `expiry`; the heap entry, when it fires, re-arms itself at the later expiry (lazy
// deletion).
struct Expiry {
  Timestamp at;
  Timestamp armed = Timestamp::Infinity();
};

// RFC 8656 §9: a permission is per peer IP address (the port is ignored) and lasts 300 s unless refreshed.
struct Permission {
  Expiry expiry;
};

// RFC 8656 §12: a channel binding lasts 10 min unless refreshed. After it expires, the channel number and the
// peer address stay reserved to each other for 5 more minutes (`bound` false) so that late packets are never
// delivered to a different peer.
struct ChannelBinding {
  SocketAddress peer;
  Expiry expiry;
  bool bound = true;
};

struct RelaySlot {
  RelayId id = 0;
  SocketAddress address;
};

struct Allocation {
  uint64_t id = 0;  // never reused: timer entries refer to allocations by id
  ClientFlow flow;
  std::string username;  // empty when authentication is off
  stun::PasswordAlgorithm algorithm = stun::PasswordAlgorithm::kMd5;
  std::vector<uint8_t>
      key;  // long-term key (RFC 8489 §9.2.2), cached so later requests skip credential lookups
  bool quota_held = false;

  std::array<RelaySlot, 2> relays{};  // one per address family (RFC 8656 §7.2 dual allocation)
  uint8_t relay_count = 0;
  bool dont_fragment = false;  // DONT-FRAGMENT in the Allocate (RFC 8656 §7.2): applies to ChannelData too
  Expiry expiry;

  std::unordered_map<IpAddress, Permission> permissions;
  std::unordered_map<uint16_t, ChannelBinding> channels;
  std::unordered_map<SocketAddress, uint16_t> peer_channels;
  uint32_t bound_channels = 0;

  bool bandwidth_limited = false;
  TokenBucket bandwidth;

  // RFC 6062: a TCP allocation. relays[0] is then a TCP relay (a listener); there are no channels and no Send
  // indications, only peer connections, one per peer transport address (§5.2: a second Connect to the same peer
  // gets 446).
  bool tcp = false;
  std::unordered_map<SocketAddress, ConnectionId> tcp_peers;

  // The last Allocate success response, resent verbatim for a retransmitted request (RFC 8656 §7.2, RFC 8489
  // §6.3: kept for 40 s or until the next request).
  stun::TransactionId cached_tid{};
  Timestamp cached_at;
  std::vector<uint8_t> cached_response;

  const RelaySlot* RelayFor(AddressFamily family) const {
    for (uint8_t i = 0; i < relay_count; ++i) {
      if (relays[i].address.family() == family) return &relays[i];
    }
    return nullptr;
  }
};

}  // namespace tandem::turn
