// RFC 6062 (TURN extensions for TCP allocations) state in the sans-IO core: the peer connections of TCP
// allocations, from the Connect request (or the accepted incoming connection) until they close.
//
// A peer connection is named by its CONNECTION-ID. The core chooses it (at random, unique in the shared
// ConnectionRegistry), runs its timers (connect timeout, then the 30 s wait for a ConnectionBind) and decides every
// error; the IO layer holds the sockets under that id. Once a ConnectionBind claims it, the bytes never come back
// to the core: the IO layer splices the client data connection and the peer connection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/socket_address.h"
#include "stun/message.h"
#include "turn/allocation.h"
#include "turn/server.h"

namespace tandem::turn {

struct PeerConnection {
  enum class State : uint8_t {
    kConnecting,  // ConnectToPeer asked; the Connect response waits for the outcome (connect timeout armed)
    kPending,     // established; waits for a ConnectionBind (bind timeout armed)
    kBound,       // claimed by a ConnectionBind, on this worker or another: a byte pipe now
  };
  ConnectionId id = 0;
  uint64_t allocation_id = 0;
  SocketAddress peer;
  State state = State::kConnecting;
  Expiry expiry;
  // The Connect request still to be answered (kConnecting, active opens only).
  stun::TransactionId tid{};
  bool authenticated = false;  // the response carries MESSAGE-INTEGRITY(-SHA256) with the allocation's key
  bool sha256_integrity = false;
  bool fingerprint = false;
};

// The single-threaded ConnectionRegistry (MakeLocalConnectionRegistry): claims name owner 0.
class LocalConnectionRegistry final : public ConnectionRegistry {
 public:
  bool Reserve(ConnectionId id, std::string_view username) override;
  void Publish(ConnectionId id) override;
  std::optional<uint32_t> Claim(ConnectionId id, std::string_view username) override;
  bool Withdraw(ConnectionId id) override;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string username;
    bool published = false;
  };
  std::unordered_map<ConnectionId, Entry> entries_;
};

}  // namespace tandem::turn
