#include "signal/liveness.h"

#include <algorithm>

namespace tandem::signaling {

void Liveness::Add(Id id, Timestamp now) {
  State& s = peers_[id];
  s.last_seen = now;
  s.last_ping = Timestamp();
  heap_.push({DeadlineOf(s), id});
}

void Liveness::Touch(Id id, Timestamp now) {
  auto it = peers_.find(id);
  if (it != peers_.end() && now > it->second.last_seen) it->second.last_seen = now;
}

Timestamp Liveness::DeadlineOf(const State& s) const {
  // Next ping: ping_interval after the later of the last activity and the last ping.
  const Timestamp next_ping = std::max(s.last_seen, s.last_ping) + ping_interval_;
  return std::min(next_ping, s.last_seen + timeout_);
}

Timestamp Liveness::NextTimeout() const { return heap_.empty() ? Timestamp::Infinity() : heap_.top().deadline; }

void Liveness::Poll(Timestamp now, std::vector<Id>& ping, std::vector<Id>& dead) {
  while (!heap_.empty() && heap_.top().deadline <= now) {
    const Id id = heap_.top().id;
    heap_.pop();
    auto it = peers_.find(id);
    if (it == peers_.end()) continue;  // removed since
    State& s = it->second;
    if (now - s.last_seen >= timeout_) {
      dead.push_back(id);
      peers_.erase(it);
      continue;
    }
    if (now - std::max(s.last_seen, s.last_ping) >= ping_interval_) {  // silent since the last ping too
      ping.push_back(id);
      s.last_ping = now;
    }
    heap_.push({DeadlineOf(s), id});
  }
}

}  // namespace tandem::signaling
