// EVEN-PORT reservations (RFC 8656 §7.2) shared by all workers of a TURN service. A client commonly sends the
// Allocate with EVEN-PORT R=1 and the Allocate with the RESERVATION-TOKEN from two different sockets, which
// SO_REUSEPORT may hash to two different workers; so the held port lives here, as a bound socket registered with no
// event loop, and whichever worker redeems the token adopts it onto its own loop.
//
// Thread-safe; touched only when allocations are created, never per packet.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include "core/rng.h"
#include "core/time.h"
#include "net/udp_socket.h"

namespace tandem::server {

class ReservationRegistry {
 public:
  explicit ReservationRegistry(TimeDelta lifetime = TimeDelta::Seconds(30), size_t max_reservations = 100000);

  // Holds `port` until Take(token) or expiry; returns the RESERVATION-TOKEN (non-zero, unique), or nullopt when
  // the registry is full.
  std::optional<uint64_t> Add(Timestamp now, net::UdpPortHold port, Rng& rng);
  // The held port for `token`, removed from the registry; nullopt when unknown, taken or expired.
  std::optional<net::UdpPortHold> Take(Timestamp now, uint64_t token);
  // Releases expired reservations' ports (also done lazily by Add and Take).
  void Expire(Timestamp now);
  size_t size() const;

 private:
  void ExpireLocked(Timestamp now);

  struct Held {
    net::UdpPortHold port;
    Timestamp expiry;
  };
  const TimeDelta lifetime_;
  const size_t max_reservations_;
  mutable std::mutex mutex_;
  std::map<uint64_t, Held> held_;
  std::multimap<Timestamp, uint64_t> by_expiry_;
};

}  // namespace tandem::server
