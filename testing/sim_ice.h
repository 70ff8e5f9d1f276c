// ICE agents on the simulated network: SimIceAgent runs an ice::Agent as a driver would (its host endpoints
// are simulated UDP sockets, TURN streams simulated streams, mDNS names answered by a SimMdns), SimSignaling
// carries credentials, trickled candidates (as text, so every candidate goes through ToString and Parse) and
// end-of-candidates between two of them, with delay, jitter (reordering) and optional rewriting.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ice/agent.h"
#include "testing/sim_network.h"

namespace tandem::sim {

// Answers ResolveHostname the way the driver's mDNS resolver would, after `delay`.
class SimMdns {
 public:
  void Register(const std::string& name, const IpAddress& ip) { names_[name] = ip; }
  std::optional<IpAddress> Lookup(const std::string& name) const {
    auto it = names_.find(name);
    if (it == names_.end()) return std::nullopt;
    return it->second;
  }
  TimeDelta delay = TimeDelta::Millis(20);
  uint64_t queries = 0;

 private:
  std::map<std::string, IpAddress> names_;
};

class SimIceAgent final : public Process {
 public:
  SimIceAgent(Network& net, std::string name, ice::AgentConfig config, uint64_t seed);
  ~SimIceAgent() override;
  SimIceAgent(const SimIceAgent&) = delete;
  SimIceAgent& operator=(const SimIceAgent&) = delete;

  // Binds a UDP socket on the host interface `host` (port 0: ephemeral) and hands it to the agent.
  ice::EndpointId AddInterface(NodeId host, uint16_t port = 0);
  void StartGathering();
  ice::Agent& agent() { return agent_; }
  const ice::Agent& agent() const { return agent_; }
  const std::string& name() const { return name_; }
  void set_mdns(SimMdns* mdns) { mdns_ = mdns; }
  // Called for every event after the agent's own bookkeeping (signaling hooks in here).
  void AddObserver(std::function<void(const ice::Event&)> observer) {
    observers_.push_back(std::move(observer));
  }

  // SendData at the network's time.
  Status Send(ByteSpan data);
  // Drains transmits and events (after any input given to agent() from outside).
  void Drain();

  ice::ConnectionState state() const { return agent_.connection_state(); }
  bool Reached(ice::ConnectionState s) const;

  // What happened, in order.
  std::vector<ice::Event> events;
  std::vector<ice::ConnectionState> states;
  std::vector<ice::Candidate> gathered;
  std::vector<std::vector<uint8_t>> received;  // application payloads
  std::function<void(Timestamp now, ByteSpan data)> on_data;

  Timestamp NextTimeout() const override { return agent_.PollTimeout(); }
  void OnTimeout(Timestamp now) override;

 private:
  void HandleEvent(Timestamp now, const ice::Event& event);
  void Deliver(Timestamp now, ByteSpan payload);

  Network& net_;
  std::string name_;
  SeededRng rng_;
  ice::Agent agent_;
  SimMdns* mdns_ = nullptr;
  NodeId first_host_ = kNoNode;
  std::map<ice::EndpointId, SocketId> sockets_;
  std::map<ice::EndpointId, StreamId> streams_;
  std::vector<std::function<void(const ice::Event&)>> observers_;
};

// The signaling channel of a test between two agents.
class SimSignaling {
 public:
  SimSignaling(Network& net, SimIceAgent& a, SimIceAgent& b);

  TimeDelta delay = TimeDelta::Millis(50);
  TimeDelta jitter = TimeDelta::Zero();  // uniform extra delay per message: reorders trickled candidates
  bool trickle = true;                   // false: candidates go in one batch when gathering completes
  bool end_of_candidates = true;
  // Rewrites (or, returning nullopt, drops) a candidate line "candidate:..." on its way from `from`.
  std::function<std::optional<std::string>(const SimIceAgent& from, const std::string& line)> rewrite;
  uint64_t candidates_sent = 0;
  uint64_t candidates_rejected = 0;  // AddRemoteCandidate errors at the receiver

 private:
  void OnEvent(SimIceAgent& from, SimIceAgent& to, const ice::Event& event);
  void Deliver(SimIceAgent& to, std::function<void(Timestamp)> fn);

  Network& net_;
  SimIceAgent& a_;
  SimIceAgent& b_;
  std::map<const SimIceAgent*, std::vector<std::string>> held_;  // non-trickle batches
};

}  // namespace tandem::sim
