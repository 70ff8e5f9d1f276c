#include "server/turn/reservation_registry.h"

namespace tandem::server {

ReservationRegistry::ReservationRegistry(TimeDelta lifetime, size_t max_reservations)
    : lifetime_(lifetime), max_reservations_(max_reservations) {}

std::optional<uint64_t> ReservationRegistry::Add(Timestamp now, net::UdpPortHold port, Rng& rng) {
  std::lock_guard lock(mutex_);
  ExpireLocked(now);
  if (held_.size() >= max_reservations_) return std::nullopt;
  uint64_t token;
  do {
    token = rng.NextU64();  // unguessable: a token is a capability to take the port
  } while (token == 0 || held_.count(token) != 0);
  const Timestamp expiry = now + lifetime_;
  held_.emplace(token, Held{std::move(port), expiry});
  by_expiry_.emplace(expiry, token);
  return token;
}

std::optional<net::UdpPortHold> ReservationRegistry::Take(Timestamp now, uint64_t token) {
  std::lock_guard lock(mutex_);
  ExpireLocked(now);
  auto it = held_.find(token);
  if (it == held_.end()) return std::nullopt;
  net::UdpPortHold port = std::move(it->second.port);
  auto range = by_expiry_.equal_range(it->second.expiry);
  for (auto e = range.first; e != range.second; ++e) {
    if (e->second == token) {
      by_expiry_.erase(e);
      break;
    }
  }
  held_.erase(it);
  return port;
}

void ReservationRegistry::Expire(Timestamp now) {
  std::lock_guard lock(mutex_);
  ExpireLocked(now);
}

void ReservationRegistry::ExpireLocked(Timestamp now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    held_.erase(by_expiry_.begin()->second);  // closes the held socket
    by_expiry_.erase(by_expiry_.begin());
  }
}

size_t ReservationRegistry::size() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

}  // namespace tandem::server
