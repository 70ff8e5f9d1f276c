// Rooms and the peers in them: admission limits (peers per room, rooms, peers in total, peers per client IP), peer
// ids drawn from an injected Rng, and lookups by connection and by peer id. No protocol here: the core decides what
// to announce.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "signal/errors.h"
#include "signal/token_bucket.h"

namespace tandem::signaling {

// The IO layer's id for a WebSocket connection (unique in the process, never reused).
using ConnectionId = uint64_t;

struct Peer {
  ConnectionId connection = 0;
  std::string id;  // "p-" + 12 hex digits
  std::string identity;
  std::string room;
  IpAddress ip;
  TokenBucket bucket;          // frames per second
  uint32_t dropped_in_a_row = 0;  // frames refused by the rate limit since the last accepted one
  Timestamp next_rate_error;      // rate_limited error frames are themselves limited (one per second)
};

struct Room {
  std::string name;
  std::vector<Peer*> peers;  // in join order
  TokenBucket http_bucket;   // POST /api/rooms/{room}/messages
};

struct RegistryLimits {
  size_t max_peers_per_room = 50;
  size_t max_rooms = 10000;
  size_t max_peers = 10000;
  size_t max_peers_per_ip = 20;
  uint32_t messages_per_second = 50;  // per peer, and per room for the HTTP path; 0 = unlimited
  uint32_t message_burst = 100;
};

class RoomRegistry {
 public:
  RoomRegistry(RegistryLimits limits, Rng& rng);
  ~RoomRegistry();

  // Admits a peer, or refuses with kRoomFull (the room has its maximum) or kTooManyConnections (per-IP, total
  // or room-count limit). The returned Peer lives until Remove(connection).
  Checked<Peer*> Add(ConnectionId connection, const IpAddress& ip, std::string identity, std::string room,
                     Timestamp now);
  // Removes the peer; its room disappears with its last peer. nullptr when unknown.
  std::unique_ptr<Peer> Remove(ConnectionId connection);

  Peer* ByConnection(ConnectionId connection);
  Peer* ById(std::string_view peer_id);
  Room* FindRoom(std::string_view name);

  size_t peer_count() const { return by_connection_.size(); }
  size_t room_count() const { return rooms_.size(); }
  size_t peers_from(const IpAddress& ip) const;
  void ForEachPeer(const std::function<void(Peer&)>& fn);

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  std::string NewPeerId();

  RegistryLimits limits_;
  Rng& rng_;
  std::unordered_map<ConnectionId, std::unique_ptr<Peer>> by_connection_;
  std::unordered_map<std::string, Peer*, StringHash, std::equal_to<>> by_id_;
  std::unordered_map<std::string, Room, StringHash, std::equal_to<>> rooms_;
  std::unordered_map<IpAddress, uint32_t> per_ip_;
};

}  // namespace tandem::signaling
