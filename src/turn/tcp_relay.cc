#include "turn/tcp_relay.h"

namespace tandem::turn {

bool LocalConnectionRegistry::Reserve(ConnectionId id, std::string_view username) {
  return entries_.try_emplace(id, Entry{std::string(username), false}).second;
}

void LocalConnectionRegistry::Publish(ConnectionId id) {
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.published = true;
}

std::optional<uint32_t> LocalConnectionRegistry::Claim(ConnectionId id, std::string_view username) {
  auto it = entries_.find(id);
  if (it == entries_.end() || !it->second.published || it->second.username != username) return std::nullopt;
  entries_.erase(it);
  return 0;
}

bool LocalConnectionRegistry::Withdraw(ConnectionId id) { return entries_.erase(id) != 0; }

std::unique_ptr<ConnectionRegistry> MakeLocalConnectionRegistry() {
  return std::make_unique<LocalConnectionRegistry>();
}

}  // namespace tandem::turn
