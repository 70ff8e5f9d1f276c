#include "signal/room_registry.h"

#include <algorithm>

#include "core/crypto.h"

namespace tandem::signaling {

RoomRegistry::RoomRegistry(RegistryLimits limits, Rng& rng) : limits_(limits), rng_(rng) {}
RoomRegistry::~RoomRegistry() = default;

std::string RoomRegistry::NewPeerId() {
  // 48 random bits: unique among the peers present (checked), and collisions with ids of peers that already left
  // are as unlikely as guessing one.
  for (;;) {
    uint8_t bytes[6];
    rng_.Fill(bytes);
    std::string id = "p-" + crypto::HexEncode(bytes);
    if (!by_id_.contains(id)) return id;
  }
}

Checked<Peer*> RoomRegistry::Add(ConnectionId connection, const IpAddress& ip, std::string identity,
                                 std::string room, Timestamp now) {
  if (by_connection_.contains(connection)) return Failure{Code::kBadRequest, "connection already joined"};
  if (by_connection_.size() >= limits_.max_peers) return Failure{Code::kTooManyConnections, "server is full"};
  if (peers_from(ip) >= limits_.max_peers_per_ip)
    return Failure{Code::kTooManyConnections, "too many connections from this address"};
  auto room_it = rooms_.find(room);
  if (room_it == rooms_.end()) {
    if (rooms_.size() >= limits_.max_rooms) return Failure{Code::kTooManyConnections, "too many rooms"};
  } else if (room_it->second.peers.size() >= limits_.max_peers_per_room) {
    return Failure{Code::kRoomFull, "room is full"};
  }
  if (room_it == rooms_.end()) {
    room_it = rooms_.emplace(room, Room{}).first;
    room_it->second.name = room;
    room_it->second.http_bucket = TokenBucket(limits_.messages_per_second, limits_.message_burst, now);
  }

  auto peer = std::make_unique<Peer>();
  peer->connection = connection;
  peer->id = NewPeerId();
  peer->identity = std::move(identity);
  peer->room = std::move(room);
  peer->ip = ip;
  peer->bucket = TokenBucket(limits_.messages_per_second, limits_.message_burst, now);
  Peer* raw = peer.get();
  room_it->second.peers.push_back(raw);
  by_id_.emplace(raw->id, raw);
  ++per_ip_[ip];
  by_connection_.emplace(connection, std::move(peer));
  return raw;
}

std::unique_ptr<Peer> RoomRegistry::Remove(ConnectionId connection) {
  auto it = by_connection_.find(connection);
  if (it == by_connection_.end()) return nullptr;
  std::unique_ptr<Peer> peer = std::move(it->second);
  by_connection_.erase(it);
  by_id_.erase(peer->id);
  if (auto ip = per_ip_.find(peer->ip); ip != per_ip_.end() && --ip->second == 0) per_ip_.erase(ip);
  if (auto room = rooms_.find(peer->room); room != rooms_.end()) {
    auto& peers = room->second.peers;
    peers.erase(std::remove(peers.begin(), peers.end(), peer.get()), peers.end());
    if (peers.empty()) rooms_.erase(room);
  }
  return peer;
}

Peer* RoomRegistry::ByConnection(ConnectionId connection) {
  auto it = by_connection_.find(connection);
  return it == by_connection_.end() ? nullptr : it->second.get();
}

Peer* RoomRegistry::ById(std::string_view peer_id) {
  auto it = by_id_.find(peer_id);
  return it == by_id_.end() ? nullptr : it->second;
}

Room* RoomRegistry::FindRoom(std::string_view name) {
  auto it = rooms_.find(name);
  return it == rooms_.end() ? nullptr : &it->second;
}

size_t RoomRegistry::peers_from(const IpAddress& ip) const {
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

void RoomRegistry::ForEachPeer(const std::function<void(Peer&)>& fn) {
  for (auto& [connection, peer] : by_connection_) fn(*peer);
}

}  // namespace tandem::signaling
