// A deterministic simulated link between two associations (a, z) for tests: per-direction delay, jitter
// (reordering), random loss, duplication and a targeted drop filter, on a simulated clock. Header-only; test
// code.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <queue>
#include <vector>

#include "core/rng.h"
#include "sctp/association.h"

namespace tandem::sctp::testing {

enum class Side { kA, kZ };

struct LinkConfig {
  TimeDelta delay = TimeDelta::Millis(10);
  TimeDelta jitter = TimeDelta::Zero();  // extra uniform delay in [0, jitter]: reorders packets
  double loss = 0;                       // probability a packet is dropped
  double duplicate = 0;                  // probability a packet is delivered twice
};

// The chunk types in a packet, in order (empty if the packet does not parse).
inline std::vector<uint8_t> ChunkTypes(ByteSpan packet) {
  std::vector<uint8_t> types;
  auto p = PacketView::Parse(packet, false);
  if (!p) return types;
  for (const ChunkView& c : *p) types.push_back(c.type);
  return types;
}
inline bool HasChunk(ByteSpan packet, uint8_t type) {
  const auto types = ChunkTypes(packet);
  return std::find(types.begin(), types.end(), type) != types.end();
}

class SimLink {
 public:
  SimLink(const Options& a_options, const Options& z_options, uint64_t seed = 1)
      : rng_a_(seed * 3 + 1),
        rng_z_(seed * 3 + 2),
        rng_link_(seed * 3 + 3),
        a(a_options, rng_a_),
        z(z_options, rng_z_) {}
  explicit SimLink(const Options& options = {}, uint64_t seed = 1) : SimLink(options, options, seed) {}

  Timestamp now() const { return now_; }
  Association& side(Side s) { return s == Side::kA ? a : z; }

  // Returns true to drop the packet. Called for every packet sent, before random loss.
  std::function<bool(Side from, ByteSpan packet)> drop_filter;
  // Called for every packet delivered (after loss), e.g. to inspect what went over the wire.
  std::function<void(Side from, ByteSpan packet)> observer;

  // Moves transmits into the link and events into the per-side lists.
  void Flush() {
    bool progress = true;
    while (progress) {
      progress = false;
      progress |= DrainTransmit(Side::kA);
      progress |= DrainTransmit(Side::kZ);
    }
    DrainEvents(Side::kA);
    DrainEvents(Side::kZ);
  }

  // Runs the simulation until `done` holds or `limit` of simulated time passed. Returns done().
  bool RunUntil(const std::function<bool()>& done, TimeDelta limit = TimeDelta::Seconds(60)) {
    const Timestamp deadline = now_ + limit;
    while (true) {
      Flush();
      if (done()) return true;
      Timestamp next = std::min(a.PollTimeout(), z.PollTimeout());
      if (!in_flight_.empty()) next = std::min(next, in_flight_.top().at);
      if (next > deadline || next.IsInfinite()) {
        now_ = std::max(now_, std::min(deadline, next));
        Flush();
        return done();
      }
      now_ = std::max(now_, next);
      while (!in_flight_.empty() && in_flight_.top().at <= now_) {
        InFlight p = in_flight_.top();
        in_flight_.pop();
        Association& to = p.from == Side::kA ? z : a;
        to.HandleReceive(now_, p.bytes);
        Flush();
      }
      if (a.PollTimeout() <= now_) a.HandleTimeout(now_);
      if (z.PollTimeout() <= now_) z.HandleTimeout(now_);
    }
  }
  // Runs for a fixed simulated duration.
  void RunFor(TimeDelta d) {
    RunUntil([] { return false; }, d);
  }

  bool Connected(Side s) const {
    const auto& ev = s == Side::kA ? a_events : z_events;
    return std::any_of(ev.begin(), ev.end(),
                       [](const Event& e) { return std::holds_alternative<ConnectedEvent>(e); });
  }
  template <typename E>
  int Count(Side s) const {
    const auto& ev = s == Side::kA ? a_events : z_events;
    return static_cast<int>(
        std::count_if(ev.begin(), ev.end(), [](const Event& e) { return std::holds_alternative<E>(e); }));
  }
  template <typename E>
  const E* Last(Side s) const {
    const auto& ev = s == Side::kA ? a_events : z_events;
    for (auto it = ev.rbegin(); it != ev.rend(); ++it) {
      if (const E* e = std::get_if<E>(&*it)) return e;
    }
    return nullptr;
  }

  // Connects: a calls Connect; z too if `simultaneous`. Returns true once both are established.
  bool Connect(bool simultaneous = true, TimeDelta limit = TimeDelta::Seconds(30)) {
    a.Connect(now_);
    if (simultaneous) z.Connect(now_);
    return RunUntil([&] { return Connected(Side::kA) && Connected(Side::kZ); }, limit);
  }

  LinkConfig a_to_z, z_to_a;
  bool deliver_events_a = true;  // false: leave events in the association (the app is not reading)
  bool deliver_events_z = true;
  size_t max_packet_seen = 0;
  uint64_t packets_dropped = 0;

 private:
  struct InFlight {
    Timestamp at;
    uint64_t seq;
    Side from;
    std::vector<uint8_t> bytes;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  bool Chance(double p) { return p > 0 && (rng_link_.NextU32() / 4294967296.0) < p; }

  bool DrainTransmit(Side from) {
    Association& assoc = side(from);
    const LinkConfig& cfg = from == Side::kA ? a_to_z : z_to_a;
    bool any = false;
    while (auto packet = assoc.PollTransmit(now_)) {
      any = true;
      max_packet_seen = std::max(max_packet_seen, packet->size());
      if ((drop_filter && drop_filter(from, *packet)) || Chance(cfg.loss)) {
        ++packets_dropped;
        continue;
      }
      if (observer) observer(from, *packet);
      const int copies = Chance(cfg.duplicate) ? 2 : 1;
      for (int i = 0; i < copies; ++i) {
        TimeDelta d = cfg.delay;
        if (cfg.jitter > TimeDelta::Zero()) {
          d = d + TimeDelta::Micros(rng_link_.Uniform(0, static_cast<uint32_t>(cfg.jitter.us())));
        }
        in_flight_.push({now_ + d, seq_++, from, std::vector<uint8_t>(packet->begin(), packet->end())});
      }
    }
    return any;
  }

  void DrainEvents(Side s) {
    if (s == Side::kA && !deliver_events_a) return;
    if (s == Side::kZ && !deliver_events_z) return;
    Association& assoc = side(s);
    auto& events = s == Side::kA ? a_events : z_events;
    auto& messages = s == Side::kA ? a_messages : z_messages;
    while (auto e = assoc.PollEvent()) {
      if (auto* m = std::get_if<MessageReceivedEvent>(&*e)) {
        messages.push_back(std::move(m->message));
      } else {
        events.push_back(std::move(*e));
      }
    }
  }

  SeededRng rng_a_, rng_z_, rng_link_;
  Timestamp now_ = Timestamp::Seconds(1000);
  uint64_t seq_ = 0;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> in_flight_;

 public:
  Association a;
  Association z;
  std::vector<Event> a_events, z_events;  // all events but messages
  std::vector<Message> a_messages, z_messages;
};

}  // namespace tandem::sctp::testing
