// A sans-IO ICE agent (RFC 8445) for one data stream with one component (WebRTC: BUNDLE and rtcp-mux), full
// or lite (§2.5), with trickle ICE (RFC 8838), consent freshness (RFC 7675), ICE restart (§9), peer-reflexive
// candidates (§7.2.5.3.1, §7.3.1.3), role-conflict repair (§7.3.1.1, §7.2.5.1), regular nomination by the
// controlling agent (§8.1.1) and acceptance of nominations the way browsers send them, relayed candidates
// through TURN (RFC 8656, via turn_client::TurnClient), and remote mDNS ".local" candidates resolved by the
// driver.
//
// Threading and ordering: an Agent is a plain single-threaded object. Every method must be called from one
// thread (or strand) at a time; none blocks, reads a clock, opens a socket or calls back into the caller.
// Time comes in as `now`, which must never go backwards across calls. After any input (Handle*, Add*, Set*,
// Start*, SendData, Restart, Close) the driver drains PollTransmit() and PollEvent() until they return
// nullopt, then arms a timer for PollTimeout() and calls HandleTimeout(now) when it fires. Views returned by
// PollTransmit(), HandleReceive() and PollStreamPayload() stay valid until the next non-const call on the
// agent.
//
// The driver owns the sockets: "endpoints" are local UDP sockets it bound (AddHostEndpoint) and TCP/TLS
// streams to TURN servers it opened on request (OpenStream). Endpoint ids are unique across both kinds.
//
// Hostile input is an ordinary event: datagrams that are not STUN for this agent (bad USERNAME, bad
// MESSAGE-INTEGRITY or FINGERPRINT, unknown transaction) and application data from sources no candidate pair
// accounts for are dropped and counted in Counters; limits bound remote candidates, pairs, transactions and
// pending name resolutions. Nothing on the input paths throws.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "ice/candidate.h"
#include "turn_client/turn_client.h"

namespace tandem::ice {

// RFC 8445 §6.1.1.
enum class Role : uint8_t { kControlling, kControlled };
const char* ToString(Role role);

// A local socket owned by the driver: a bound UDP socket, or a TCP/TLS stream to a TURN server.
using EndpointId = uint32_t;

// A datagram (or, for a stream endpoint, a chunk of bytes to write to the stream) to send from `endpoint`.
// For a stream endpoint `destination` is the TURN server the stream goes to. `data` is valid until the next
// non-const call.
struct Transmit {
  EndpointId endpoint = 0;
  SocketAddress destination;
  ByteSpan data;
};

// A STUN or TURN server (RTCIceServer). STUN servers are reached over UDP from every host endpoint of the
// same address family; TURN servers over UDP from every host endpoint, or over one TCP/TLS stream per server
// that the driver opens when asked (OpenStream).
struct ServerConfig {
  enum Kind : uint8_t { kStun, kTurn };
  Kind kind = kStun;
  SocketAddress address;
  turn_client::Transport transport = turn_client::Transport::kUdp;  // TURN only; STUN is always UDP
  std::string server_name;                                          // TLS SNI (kTls)
  std::string username, password;                                   // TURN long-term credentials

  static ServerConfig Stun(const SocketAddress& address) {
    ServerConfig c;
    c.address = address;
    return c;
  }
  static ServerConfig Turn(const SocketAddress& address, std::string username, std::string password,
                           turn_client::Transport transport = turn_client::Transport::kUdp,
                           std::string server_name = {}) {
    ServerConfig c;
    c.kind = kTurn;
    c.address = address;
    c.transport = transport;
    c.username = std::move(username);
    c.password = std::move(password);
    c.server_name = std::move(server_name);
    return c;
  }
};

struct AgentConfig {
  Role role = Role::kControlling;  // a lite agent is always controlled (RFC 8445 §6.1.1)
  bool lite = false;               // RFC 8445 §2.5: host candidates only, answers checks, sends none
  bool relay_only =
      false;  // iceTransportPolicy "relay": only relayed local candidates are offered and paired
  // Generated from the Rng when empty: 8 ice-chars (48 bits, RFC 8445 §5.3 asks ≥ 24) and 24 ice-chars (144
  // bits, ≥ 128). Given ones must satisfy RFC 8839 §5.4 (ufrag 4..256, pwd 22..256 ice-chars) or the
  // constructor throws.
  std::string local_ufrag, local_pwd;
  uint64_t tie_breaker = 0;  // RFC 8445 §7.1.1; drawn from the Rng when 0
  std::vector<ServerConfig> servers;

  // --- Timers ---
  TimeDelta ta = TimeDelta::Millis(50);  // RFC 8445 §14.2 pacing of checks and gathering requests
  // Connectivity-check retransmission (RFC 8445 §14.3: RTO = MAX(500 ms, Ta * pairs Waiting/In-Progress)),
  // doubling up to check_max_rto, check_max_transmissions in all; the pair fails one RTO after the last one.
  // With the defaults: 0, 0.5, 1.5, 3.1, 4.7, 6.3, 7.9 s, failure at 9.5 s.
  TimeDelta check_min_rto = TimeDelta::Millis(500);
  TimeDelta check_max_rto = TimeDelta::Millis(1600);
  int check_max_transmissions = 7;
  // Binding requests to STUN servers while gathering (RFC 8489 §6.2.1 with a shorter schedule: gathering
  // should not hang for 39.5 s on a dead server): 0, 0.5, 1.5, 3.5 s, given up at 7.5 s.
  TimeDelta gather_rto = TimeDelta::Millis(500);
  int gather_max_transmissions = 4;
  // The controlling agent nominates (RFC 8445 §8.1.1) the best valid pair at once when no higher-priority
  // pair is still being checked and the peer has signalled end-of-candidates; otherwise this long after the
  // first valid pair.
  TimeDelta nomination_timeout = TimeDelta::Millis(1000);
  // RFC 7675 §5.1: a consent check on the selected pair every consent_interval randomized to [0.8, 1.2];
  // consent expires consent_timeout after the last authenticated response (then: failed, no more data).
  TimeDelta consent_interval = TimeDelta::Seconds(5);
  TimeDelta consent_timeout = TimeDelta::Seconds(30);
  // When a consent response is overdue by more than this, a fresh consent request is sent every
  // consent_probe_interval (new transactions, RFC 7675 §5.1); "disconnected" is declared disconnected_timeout
  // after the oldest unanswered one, "connected" again with the next response.
  TimeDelta consent_probe_interval = TimeDelta::Millis(500);
  TimeDelta disconnected_timeout = TimeDelta::Millis(2500);
  // RFC 8445 §11: a Binding indication on the selected pair when nothing else was sent for this long (consent
  // checks every ~5 s normally make it moot).
  TimeDelta keepalive_interval = TimeDelta::Seconds(15);
  // Trickle (RFC 8838 §8): without end-of-candidates, "failed" is declared only when every pair has failed
  // and no new remote candidate came for this long.
  TimeDelta end_of_candidates_timeout = TimeDelta::Seconds(10);

  // --- Limits ---
  size_t max_local_candidates = 64;  // host + srflx + relay + prflx
  size_t max_remote_candidates = 100;
  size_t max_pairs = 1000;
  size_t max_pending_transactions = 256;
  size_t max_pending_hostnames = 32;   // distinct names awaiting HandleHostnameResolved
  size_t max_resolved_hostnames = 64;  // cache of answers, so that a name seen again is not asked for again
  size_t max_early_checks = 16;  // checks remembered before the remote credentials are known (RFC 8445 §7.3)
  size_t max_stream_buffer = 128 * 1024;  // unframed bytes buffered per TURN stream
};

enum class GatheringState : uint8_t { kNew, kGathering, kComplete };
// W3C RTCIceConnectionState.
enum class ConnectionState : uint8_t {
  kNew,
  kChecking,
  kConnected,
  kCompleted,
  kFailed,
  kDisconnected,
  kClosed
};
// RFC 8445 §6.1.2.6.
enum class PairState : uint8_t { kFrozen, kWaiting, kInProgress, kSucceeded, kFailed };
const char* ToString(GatheringState state);
const char* ToString(ConnectionState state);
const char* ToString(PairState state);

// --- Events ---
// A local candidate to signal to the peer (trickle, RFC 8838 §4). Its "ufrag" extension names the generation.
struct LocalCandidate {
  Candidate candidate;
};
// kComplete means end-of-candidates for the current generation (RFC 8838 §13: signal it).
struct GatheringStateChanged {
  GatheringState state;
};
struct ConnectionStateChanged {
  ConnectionState state;
};
// The pair application data now goes over (a valid pair before nomination, RFC 8445 §12.1; the nominated one
// after).
struct SelectedPairChanged {
  Candidate local;
  Candidate remote;
};
// Open a TCP (tls=false) or TLS stream to a TURN server as `endpoint`; report HandleStreamOpened or
// HandleStreamClosed (on failure) for it.
struct OpenStream {
  EndpointId endpoint = 0;
  SocketAddress server;
  bool tls = false;
  std::string server_name;
};
// Close the stream `endpoint` (no HandleStreamClosed expected).
struct CloseStream {
  EndpointId endpoint = 0;
};
// Resolve an mDNS name (RFC 6762) and answer with HandleHostnameResolved.
struct ResolveHostname {
  std::string name;
};
// The role changed to repair a conflict (RFC 8445 §7.3.1.1, §7.2.5.1).
struct RoleChanged {
  Role role;
};
using Event = std::variant<LocalCandidate, GatheringStateChanged, ConnectionStateChanged, SelectedPairChanged,
                           OpenStream, CloseStream, ResolveHostname, RoleChanged>;

// --- Stats (W3C RTCIceCandidatePairStats / RTCIceCandidateStats shaped) ---
struct CandidatePairStats {
  std::string local_candidate_id;   // "L<n>"
  std::string remote_candidate_id;  // "R<n>"
  PairState state = PairState::kFrozen;
  bool nominated = false;
  bool valid = false;
  bool selected = false;
  uint64_t priority = 0;
  uint64_t packets_sent = 0, packets_received = 0;  // application data
  uint64_t bytes_sent = 0, bytes_received = 0;
  uint64_t requests_sent = 0, requests_received = 0;  // connectivity checks (retransmissions included)
  uint64_t responses_sent = 0, responses_received = 0;
  uint64_t consent_requests_sent = 0;
  TimeDelta current_round_trip_time;
  TimeDelta total_round_trip_time;  // sum over responses_received samples
  Timestamp last_packet_sent, last_packet_received;
};
struct CandidateStats {
  std::string id;
  Candidate candidate;
  std::string relay_protocol;  // "udp", "tcp" or "tls" for relayed local candidates
};
// Every dropped input is counted by reason.
struct Counters {
  uint64_t stun_requests_received = 0;
  uint64_t dropped_unknown_endpoint = 0;     // input for an endpoint id the agent does not know
  uint64_t dropped_malformed = 0;            // looked like STUN but did not parse
  uint64_t dropped_unknown_username = 0;     // request whose USERNAME is not "<our ufrag>:..."
  uint64_t dropped_bad_integrity = 0;        // MESSAGE-INTEGRITY missing or wrong
  uint64_t dropped_bad_fingerprint = 0;      // FINGERPRINT present but wrong
  uint64_t dropped_unknown_transaction = 0;  // response to nothing we sent
  uint64_t dropped_unexpected_stun = 0;      // other methods/classes, responses from the wrong address
  uint64_t dropped_unknown_source = 0;       // application data from a path no pair accounts for
  uint64_t dropped_not_stun = 0;             // empty datagrams
  // Remote candidates refused (component, transport, ufrag, address, limits) or peer-reflexive ones over the
  // limit.
  uint64_t dropped_remote_candidates = 0;
  uint64_t dropped_unresolved_hostnames = 0;  // .local candidates whose name did not resolve
  uint64_t dropped_pairs_limit = 0;
  uint64_t dropped_transactions_limit = 0;
  uint64_t dropped_stream_bytes = 0;  // TURN stream bytes past the buffer limit or unframeable
  uint64_t role_conflicts = 0;        // 487s sent or received
  uint64_t triggered_checks = 0;
  uint64_t consent_expirations = 0;
  uint64_t restarts = 0;
  uint64_t send_errors = 0;  // SendData without a usable pair
};
struct Stats {
  Role role = Role::kControlling;
  GatheringState gathering_state = GatheringState::kNew;
  ConnectionState connection_state = ConnectionState::kNew;
  std::vector<CandidatePairStats> pairs;
  std::vector<CandidateStats> local_candidates;
  std::vector<CandidateStats> remote_candidates;
  Counters counters;
};

class Agent {
 public:
  // `rng` (credentials, tie-breaker, transaction ids, consent jitter) must outlive the agent. Throws
  // std::invalid_argument for given credentials that break RFC 8839 §5.4.
  Agent(AgentConfig config, Rng& rng);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // The driver bound a UDP socket at `bound` (a concrete interface address, not a wildcard). Its host
  // candidate is gathered at StartGathering (or at once, when gathering already started). Earlier endpoints
  // of a family are the more preferred interfaces (RFC 8421 §4).
  EndpointId AddHostEndpoint(Timestamp now, const SocketAddress& bound);
  // Host candidates now; server-reflexive ones with STUN Binding requests (RFC 8445 §5.1.1.2); relayed ones
  // through TURN (RFC 8656). Events: LocalCandidate for each, GatheringStateChanged, OpenStream for TURN over
  // TCP/TLS.
  void StartGathering(Timestamp now);
  // The peer's ice-ufrag/ice-pwd (kInvalidArgument unless RFC 8839 §5.4: ufrag 4..256, pwd 22..256
  // ice-chars). Different ones after earlier ones mean the peer restarted ICE (RFC 8445 §9): unless Restart()
  // was called since the last remote credentials, the agent restarts itself (new local credentials: read
  // local_ufrag()/local_pwd() for the answer). Checks that arrived before the credentials (RFC 8445 §7.3) are
  // paired now.
  Status SetRemoteCredentials(Timestamp now, std::string ufrag, std::string pwd);
  // A trickled remote candidate (RFC 8838 §11); checks on its pairs start right away. Errors (the candidate
  // is not used; counted): component other than 1, non-UDP transport (ICE-TCP is not implemented), a "ufrag"
  // extension that is not the current remote ufrag, a hostname that is not mDNS, an unusable address, limits.
  // ".local" candidates are resolved through ResolveHostname first (a name resolved before is not asked for
  // again).
  Status AddRemoteCandidate(Timestamp now, const Candidate& candidate);
  // The peer signalled end-of-candidates (RFC 8838 §13) for the current generation.
  void SetRemoteEndOfCandidates(Timestamp now);

  // The stream asked for with OpenStream is connected (local = its local address, for logs).
  void HandleStreamOpened(Timestamp now, EndpointId id, const SocketAddress& local);
  // The stream failed to open or ended: its TURN allocation, and candidates and pairs over it, are gone.
  void HandleStreamClosed(Timestamp now, EndpointId id);
  // Bytes read from a stream, in order. The agent frames them (turn/framing.h); application data relayed over
  // the stream is then available from PollStreamPayload().
  void HandleStreamData(Timestamp now, EndpointId id, ByteSpan bytes);
  // Application payloads that arrived through HandleStreamData, in order; views valid until the next
  // non-const call other than PollStreamPayload itself.
  std::optional<ByteSpan> PollStreamPayload();
  // The answer to ResolveHostname: the address, or nullopt (the candidates waiting for it are dropped and
  // counted).
  void HandleHostnameResolved(Timestamp now, const std::string& name, std::optional<IpAddress> ip);

  // A datagram that arrived on host endpoint `endpoint` from `from`. STUN for ICE, STUN servers and TURN
  // servers is consumed (nullopt). Anything else is application data (DTLS, SRTP; after unwrapping TURN
  // Data/ChannelData); it is returned, as a view into `data` or into internal storage, when it came over a
  // path the agent accepts (the selected pair, any pair being checked or valid, or the previous selected pair
  // during a restart), and dropped (counted) otherwise.
  std::optional<ByteSpan> HandleReceive(Timestamp now, EndpointId endpoint, const SocketAddress& from,
                                        ByteSpan data);
  void HandleTimeout(Timestamp now);
  // Sends application data over the selected pair (wrapped for TURN when the local candidate is relayed).
  // Errors: kUnavailable when there is no selected pair or its consent expired (RFC 7675 §5.1),
  // kInvalidArgument when empty.
  Status SendData(Timestamp now, ByteSpan data);
  // RFC 8445 §9: new local credentials (the given ones, or random), a new generation of candidates (gathering
  // runs again; live TURN allocations are reused), a new checklist. Data keeps flowing over the previous
  // selected pair until a new one is selected. The peer's new credentials come with SetRemoteCredentials.
  void Restart(Timestamp now, std::string ufrag = {}, std::string pwd = {});
  // Releases TURN allocations (best effort), closes streams, stops everything: ConnectionState kClosed.
  void Close(Timestamp now);

  std::optional<Transmit> PollTransmit();
  std::optional<Event> PollEvent();
  // Earliest time HandleTimeout has work; Timestamp::Infinity() when idle.
  Timestamp PollTimeout() const;

  Stats GetStats() const;
  const Counters& counters() const;
  const std::string& local_ufrag() const;
  const std::string& local_pwd() const;
  Role role() const;
  uint64_t tie_breaker() const;
  GatheringState gathering_state() const;
  ConnectionState connection_state() const;
  // The local and remote candidates of the selected pair, when there is one.
  std::optional<std::pair<Candidate, Candidate>> selected_pair() const;
  // The current local candidates (signalled ones and local peer-reflexive ones).
  std::vector<Candidate> local_candidates() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::ice
