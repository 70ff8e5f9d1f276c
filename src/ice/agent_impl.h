// Internal state of ice::Agent, shared by agent.cc (API, receive path, output queues, state), checklist.cc
// (connectivity checks, nomination, consent: RFC 8445 §6-§8, RFC 7675) and gathering.cc (host,
// server-reflexive and relayed candidates, TURN streams, mDNS names: RFC 8445 §5, RFC 8656). Not a public
// header.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ice/agent.h"
#include "stun/message.h"
#include "turn_client/turn_client.h"

namespace tandem::ice {

inline constexpr uint32_t kNone = 0xffffffffu;

class Agent::Impl {
 public:
  Impl(AgentConfig config, Rng& rng);

  // ---- API (agent.cc) ----
  EndpointId AddHostEndpoint(Timestamp now, const SocketAddress& bound);
  void StartGathering(Timestamp now);
  Status SetRemoteCredentials(Timestamp now, std::string ufrag, std::string pwd);
  Status AddRemoteCandidate(Timestamp now, const Candidate& candidate);
  void SetRemoteEndOfCandidates(Timestamp now);
  void HandleStreamOpened(Timestamp now, EndpointId id, const SocketAddress& local);
  void HandleStreamClosed(Timestamp now, EndpointId id);
  void HandleStreamData(Timestamp now, EndpointId id, ByteSpan bytes);
  std::optional<ByteSpan> PollStreamPayload();
  void HandleHostnameResolved(Timestamp now, const std::string& name, std::optional<IpAddress> ip);
  std::optional<ByteSpan> HandleReceive(Timestamp now, EndpointId endpoint, const SocketAddress& from,
                                        ByteSpan data);
  void HandleTimeout(Timestamp now);
  Status SendData(Timestamp now, ByteSpan data);
  void Restart(Timestamp now, std::string ufrag, std::string pwd);
  void Close(Timestamp now);
  std::optional<Transmit> PollTransmit();
  std::optional<Event> PollEvent();
  Timestamp PollTimeout() const;
  Stats GetStats() const;
  std::optional<std::pair<Candidate, Candidate>> SelectedPair() const;
  std::vector<Candidate> LocalCandidates() const;

  // ---- Types ----
  // Where a local candidate's packets leave from (RFC 8445 §5.1.1: the base): a host UDP socket, or a TURN
  // allocation (the relayed address is its own base). Bases live as long as the agent (or the allocation).
  struct Base {
    uint32_t id = 0;
    enum Kind : uint8_t { kHost, kRelay } kind = kHost;
    SocketAddress address;  // bound address (host) or relayed address (relay, once allocated)
    EndpointId endpoint =
        0;  // host: the socket; relay: the host socket or stream that reaches the TURN server
    uint32_t relay = kNone;   // relay: index into relays_
    size_t family_index = 0;  // host: rank among host endpoints of its family (RFC 8421)
    bool alive = true;
  };
  // A driver endpoint: a host UDP socket (it is also a Base) or a TCP/TLS stream to a TURN server.
  struct Endpoint {
    EndpointId id = 0;
    bool stream = false;
    uint32_t base = kNone;        // host: its base id
    uint32_t relay = kNone;       // stream: the relay session using it
    bool open = false;            // stream: HandleStreamOpened seen
    std::vector<uint8_t> buffer;  // stream: received bytes; [0, consumed) already framed and handled
    size_t consumed = 0;
  };
  // One TURN allocation (one TurnClient) for one server, reached from one host socket (UDP) or over one
  // stream.
  struct RelaySession {
    size_t server = 0;                  // index into config_.servers
    EndpointId transport_endpoint = 0;  // host endpoint id (UDP) or stream endpoint id
    bool stream = false;
    uint32_t base = kNone;                            // the relay base
    std::unique_ptr<turn_client::TurnClient> client;  // null until the stream is open
    enum State : uint8_t { kOpening, kAllocating, kAllocated, kFailed } state = kOpening;
    std::vector<IpAddress> permissions;   // requested (TurnClient keeps them fresh)
    std::vector<SocketAddress> channels;  // requested
    uint32_t generation = 0;              // generation whose gathering waits for it
  };
  struct LocalCand {
    Candidate cand;
    uint32_t base = kNone;
    bool signaled = true;  // false for peer-reflexive local candidates (never signalled, RFC 8445 §7.2.5.3.1)
    std::string relay_protocol;
  };
  struct RemoteCand {
    Candidate cand;  // address resolved
  };
  // RFC 7675 consent state of a path we send on.
  struct Consent {
    Timestamp last_ok = Timestamp::Zero();        // last authenticated response (full) / request (lite)
    Timestamp next_send = Timestamp::Infinity();  // next scheduled consent request
    Timestamp oldest_unanswered = Timestamp::Infinity();  // first request sent since last_ok
  };
  struct Pair {
    uint32_t local = kNone;  // checklist local candidate (host or relayed)
    uint32_t remote = kNone;
    uint32_t valid_local =
        kNone;  // local candidate the check's XOR-MAPPED-ADDRESS named (RFC 8445 §7.2.5.3.2)
    uint64_t foundation_key = 0;
    uint64_t priority = 0;
    uint64_t valid_priority = 0;
    PairState state = PairState::kFrozen;
    bool valid = false;
    bool nominated = false;
    bool nominate_on_success = false;  // the peer sent USE-CANDIDATE before our check succeeded (§7.3.1.5)
    bool nominating = false;           // our USE-CANDIDATE check is outstanding
    bool consent_lost = false;
    uint64_t nomination_seq = 0;  // order of nominations (the latest nominated pair wins, as browsers do)
    Consent consent;
    Timestamp last_sent = Timestamp::Zero();
    Timestamp last_request_received = Timestamp::Zero();
    CandidatePairStats stats;
  };
  // The selected path of the previous generation, used for data until the new checklist selects one (§9,
  // §12.1).
  struct PreviousPath {
    uint32_t base = kNone;
    Candidate local, remote;
    std::string local_ufrag, local_pwd, remote_ufrag, remote_pwd;
    Consent consent;
    Timestamp last_sent = Timestamp::Zero();
    CandidatePairStats stats;
  };
  struct Transaction {
    bool in_use = false;
    stun::TransactionId id{};
    // kCheck: an ordinary or triggered check (RFC 8445 §7.2.4); kNominate: the controlling agent's
    // USE-CANDIDATE check on a valid pair (§8.1.1); kConsent: RFC 7675 on the selected pair;
    // kPreviousConsent: on the previous generation's selected path during a restart; kGather: Binding to a
    // STUN server.
    enum Kind : uint8_t { kCheck, kNominate, kConsent, kPreviousConsent, kGather } kind = kCheck;
    uint32_t generation = 0;
    uint32_t pair = kNone;   // kCheck/kConsent
    uint32_t query = kNone;  // kGather
    uint32_t base = kNone;
    SocketAddress destination;
    std::vector<uint8_t> bytes;
    Timestamp last_sent;
    Timestamp deadline;  // next retransmission, or the give-up time
    TimeDelta rto;
    int transmissions = 0;
    int max_transmissions = 1;
    bool cancelled = false;  // RFC 8445 §7.3.1.4: no more retransmissions, no failure on timeout
    bool use_candidate = false;
    Role role_at_send = Role::kControlling;
    uint32_t priority_sent = 0;
  };
  // A Binding request to a STUN server from one host socket (RFC 8445 §5.1.1.2).
  struct GatherQuery {
    uint32_t base = kNone;
    size_t server = 0;
    bool sent = false;
    bool done = false;
  };
  // A check that arrived before we knew the remote credentials it belongs to (RFC 8445 §7.3: answered at
  // once, paired when SetRemoteCredentials brings the matching ufrag).
  struct EarlyCheck {
    uint32_t base = kNone;
    SocketAddress from;
    uint32_t priority = 0;
    bool use_candidate = false;
    std::string remote_ufrag;
  };
  struct PendingHostname {
    Candidate cand;
    uint32_t generation = 0;
  };
  struct Outgoing {
    EndpointId endpoint = 0;
    SocketAddress destination;
    std::vector<uint8_t> bytes;
  };

  // ---- agent.cc ----
  void Enqueue(EndpointId endpoint, const SocketAddress& destination, ByteSpan bytes);
  // Out of line on purpose: GCC 12 inlining the variant move into the deque warns -Wmaybe-uninitialized (a
  // false positive).
  void EmitEvent(Event event);
  Base* FindBase(uint32_t id);
  const Base* FindBase(uint32_t id) const;
  Endpoint* FindEndpoint(EndpointId id);
  // Sends `bytes` from a base to `to`: directly for a host base, through the TURN client for a relay base.
  bool SendFromBase(Timestamp now, uint32_t base, const SocketAddress& to, ByteSpan bytes);
  std::optional<ByteSpan> ProcessPacket(Timestamp now, uint32_t base, const SocketAddress& from,
                                        ByteSpan data);
  void UpdateStates(Timestamp now);
  ConnectionState ComputeConnectionState(Timestamp now) const;
  void GenerateCredentials(std::string& ufrag, std::string& pwd);
  std::string RandomIceString(size_t n);
  stun::TransactionId NewTransactionId();

  // ---- checklist.cc ----
  void HandleStun(Timestamp now, uint32_t base, const SocketAddress& from, ByteSpan data);
  void HandleBindingRequest(Timestamp now, uint32_t base, const SocketAddress& from,
                            const stun::MessageView& msg);
  void HandleBindingResponse(Timestamp now, uint32_t base, const SocketAddress& from,
                             const stun::MessageView& msg);
  void HandleCheckResponse(Timestamp now, Transaction& txn, uint32_t base, const SocketAddress& from,
                           const stun::MessageView& msg);
  void SendBindingResponse(Timestamp now, uint32_t base, const SocketAddress& to,
                           const stun::MessageView& request, std::string_view pwd);
  void SendErrorResponse(Timestamp now, uint32_t base, const SocketAddress& to,
                         const stun::MessageView& request, std::string_view pwd, uint16_t code,
                         std::span<const uint16_t> unknown = {});
  void ProcessIncomingCheck(Timestamp now, uint32_t base, const SocketAddress& from, uint32_t priority,
                            bool use_candidate);
  uint32_t LocalCandidateForBase(uint32_t base) const;
  uint32_t FindRemoteByAddress(const SocketAddress& address) const;
  uint32_t FindPair(uint32_t base, const SocketAddress& remote) const;
  uint32_t AddPair(Timestamp now, uint32_t local, uint32_t remote);
  void PairNewLocal(Timestamp now, uint32_t local);
  void PairNewRemote(Timestamp now, uint32_t remote);
  bool CanPair(const LocalCand& local, const RemoteCand& remote) const;
  void RecomputePriorities();
  uint64_t ComputePairPriority(uint32_t local_priority, uint32_t remote_priority) const;
  void AddRemoteInternal(Timestamp now, Candidate cand);
  void SwitchRole(Timestamp now, Role role);
  bool HasPacedWork() const;
  bool DoPacedWork(Timestamp now);
  uint32_t NextOrdinaryCheck() const;
  void SendCheck(Timestamp now, uint32_t pair, Transaction::Kind kind, bool use_candidate);
  void SendPreviousConsent(Timestamp now);
  void BuildCheckRequest(std::vector<uint8_t>& out, const stun::TransactionId& id, std::string_view username,
                         std::string_view key, uint32_t priority, bool use_candidate);
  uint32_t PeerReflexivePriority(uint32_t local) const;
  void TriggerCheck(uint32_t pair);
  void UnfreezeFoundation(uint64_t foundation_key);
  Transaction* FindTransaction(const stun::TransactionId& id);
  Transaction* NewTransaction(Timestamp now);
  void ReleaseTransaction(Transaction& txn);
  void ProcessTransactionTimeouts(Timestamp now);
  void OnCheckTimeout(Timestamp now, Transaction& txn);
  void MaybeNominate(Timestamp now);
  uint32_t BestValidPair(Timestamp now) const;
  uint32_t ComputeSelected(Timestamp now) const;
  void ProcessConsent(Timestamp now);
  void ScheduleConsent(Timestamp now, Consent& consent);
  void ConsentGranted(Timestamp now, Consent& consent);
  TimeDelta Jittered(TimeDelta interval);
  void SendKeepalive(Timestamp now, uint32_t base, const SocketAddress& to);
  bool ConsentAlive(Timestamp now, const Consent& consent) const;
  // Checks still to run or running (triggered, Frozen, Waiting, In-Progress pairs, names being resolved).
  bool ChecksPending() const;
  // No checks pending and no valid pair: the checklist failed (RFC 8445 §6.1.2.1 "Failed").
  bool ChecklistExhausted() const;
  void ReplayEarlyChecks(Timestamp now);
  void ClearGeneration();

  // ---- gathering.cc ----
  void GatherForBase(Timestamp now, uint32_t base);
  void StartRelays(Timestamp now);
  void StartRelaySession(Timestamp now, size_t server, EndpointId transport_endpoint, bool stream);
  void CreateRelayClient(uint32_t relay);
  void DrainRelay(Timestamp now, uint32_t relay);
  void HandleRelayEvent(Timestamp now, uint32_t relay, const turn_client::Event& event);
  void RelayLost(Timestamp now, uint32_t relay);
  void AddHostCandidate(Timestamp now, uint32_t base);
  uint32_t AddLocalCandidate(Timestamp now, Candidate cand, uint32_t base, bool signaled,
                             std::string relay_protocol = {});
  void AddRelayCandidate(Timestamp now, uint32_t relay);
  void HandleGatherResponse(Timestamp now, Transaction& txn, const SocketAddress& from,
                            const stun::MessageView& msg);
  void FinishGatherQuery(Timestamp now, uint32_t query);
  bool GatheringDone() const;
  std::string Foundation(CandidateType type, const IpAddress& base_ip, const IpAddress& server_ip,
                         std::string_view transport);
  uint32_t LocalPreferenceForBase(const Base& base) const;
  void EnsurePermission(Timestamp now, uint32_t base, const IpAddress& peer);
  void EnsureChannel(Timestamp now, uint32_t base, const SocketAddress& peer);
  Status ResolveOrQueue(Timestamp now, Candidate cand);

  // ---- State ----
  AgentConfig config_;
  Rng& rng_;
  Role role_;
  uint64_t tie_breaker_;
  std::string local_ufrag_, local_pwd_;
  std::string remote_ufrag_, remote_pwd_;
  bool restart_awaiting_remote_ = false;  // Restart() called; the next new remote credentials are expected
  bool remote_eoc_ = false;
  uint32_t generation_ = 0;
  bool gathering_started_ = false;
  bool closed_ = false;
  bool consent_failed_ = false;  // the selected path lost consent this generation: "failed" until Restart
  Timestamp last_now_ = Timestamp::Zero();
  Timestamp last_update_ = Timestamp::Zero();
  Timestamp next_pace_ = Timestamp::Zero();
  Timestamp last_remote_candidate_ = Timestamp::Zero();
  Timestamp first_valid_ = Timestamp::Infinity();
  uint32_t next_id_ = 1;  // endpoint and base ids share one space
  uint64_t nomination_counter_ = 0;
  bool nominated_by_us_ = false;  // controlling: a nomination succeeded this generation (§8.1.1: only one)

  std::vector<Base> bases_;
  std::vector<Endpoint> endpoints_;
  std::vector<RelaySession> relays_;
  std::vector<LocalCand> locals_;
  std::vector<RemoteCand> remotes_;
  std::vector<Pair> pairs_;
  std::deque<uint32_t> triggered_;
  std::vector<Transaction> transactions_;
  size_t transactions_in_use_ = 0;
  std::vector<GatherQuery> queries_;
  std::vector<EarlyCheck> early_checks_;
  std::vector<PendingHostname> pending_hostnames_;
  std::vector<std::string> asked_hostnames_;
  std::deque<std::pair<std::string, std::optional<IpAddress>>> resolved_hostnames_;
  std::map<std::string, uint32_t> foundations_;
  std::optional<PreviousPath> previous_;

  // Outputs.
  std::deque<Outgoing> out_;
  std::vector<std::vector<uint8_t>> free_buffers_;
  Outgoing current_out_;
  std::deque<Event> events_;
  std::deque<ByteSpan> stream_payloads_;
  std::vector<uint8_t> scratch_;  // STUN messages being built

  // Reported state (events fire on change).
  GatheringState gathering_state_ = GatheringState::kNew;
  ConnectionState connection_state_ = ConnectionState::kNew;
  uint32_t selected_ = kNone;       // pair index, current generation
  bool selected_previous_ = false;  // data goes over previous_
  Counters counters_;
};

}  // namespace tandem::ice
