// Liveness deadlines for WebSocket peers, on injected time: a peer silent (no frame, no pong) for `ping_interval`
// is pinged, again every `ping_interval` while it stays silent, and declared dead once silent for `timeout`.
//
// One heap entry per peer, pushed when it is added and re-pushed each time it is popped. Activity only moves a
// peer's true deadline later, so Touch() does not touch the heap: an entry may fire early (it is then re-pushed at
// the true deadline) but never late. Entries of removed peers are skipped when they surface.
#pragma once

#include <cstddef>
#include <cstdint>
#include <queue>
#include <unordered_map>
#include <vector>

#include "core/time.h"

namespace tandem::signaling {

class Liveness {
 public:
  using Id = uint64_t;
  Liveness(TimeDelta ping_interval, TimeDelta timeout) : ping_interval_(ping_interval), timeout_(timeout) {}

  void Add(Id id, Timestamp now);
  void Touch(Id id, Timestamp now);
  void Remove(Id id) { peers_.erase(id); }

  // Earliest deadline (possibly early, see above); Infinity() with no peers.
  Timestamp NextTimeout() const;
  // Appends peers due a ping and peers now dead (removed from tracking) as of `now`.
  void Poll(Timestamp now, std::vector<Id>& ping, std::vector<Id>& dead);

  size_t size() const { return peers_.size(); }

 private:
  struct State {
    Timestamp last_seen;
    Timestamp last_ping;  // Timestamp() before the first ping
  };
  struct Entry {
    Timestamp deadline;
    Id id;
    bool operator>(const Entry& o) const { return deadline > o.deadline; }
  };
  Timestamp DeadlineOf(const State& s) const;

  TimeDelta ping_interval_, timeout_;
  std::unordered_map<Id, State> peers_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
};

}  // namespace tandem::signaling
