// The TURN/STUN server core (RFC 8656, RFC 8489, RFC 6062, RFC 5780): a sans-IO state machine. The IO layer feeds it
// datagrams/frames from clients and peers plus the time, and it answers through a ServerOutput. It opens no socket,
// starts no thread and reads no clock; relay addresses come from an injected RelayProvider, wall-clock time (for
// time-limited credentials) from an injected WallClock, randomness from an injected Rng.
//
// One TurnServer per worker thread (shared-nothing); what must be shared across workers (allocation quotas) is
// behind the AllocationQuota interface.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "turn/credentials.h"
#include "turn/peer_policy.h"

namespace tandem::turn {

enum class ClientTransport : uint8_t { kUdp, kTcp, kTls };

// Where a client's packets come from and where answers go. UDP flows are identified by the 5-tuple; TCP/TLS flows by
// the connection id the IO layer assigned (addresses are carried for logs and XOR-MAPPED-ADDRESS).
struct ClientFlow {
  ClientTransport transport = ClientTransport::kUdp;
  SocketAddress client;        // the client's address as seen by the server
  SocketAddress local;         // the server address the packet arrived on
  uint64_t connection_id = 0;  // 0 for UDP; unique per TCP/TLS connection otherwise

  bool operator==(const ClientFlow&) const = default;
};
struct ClientFlowHash {
  size_t operator()(const ClientFlow& f) const noexcept;
};

// Handle for a relay transport address, chosen by the RelayProvider.
using RelayId = uint32_t;

// Opens and closes relayed transport addresses (in production: UDP sockets bound in [min-port, max-port] on the
// relay IP; in tests: a fake). Cf. Pion's RelayAddressGenerator.
class RelayProvider {
 public:
  virtual ~RelayProvider() = default;
  struct Relay {
    RelayId id = 0;
    SocketAddress address;  // the XOR-RELAYED-ADDRESS to advertise
  };
  struct Opened {
    Relay relay;
    // EVEN-PORT with R=1 (RFC 8656 §7.2): port+1 is held by the provider until an Allocate presents this
    // RESERVATION-TOKEN — possibly on another worker, which is why the provider, shared by the workers, owns
    // reservations — or until the reservation expires (about 30 s).
    std::optional<uint64_t> reservation_token;
  };
  // `even_port`: the port must be even (RFC 8656 §7.2 step on EVEN-PORT); `reserve_next`: also hold port+1.
  // Errors: kUnsupported for a family the server has no relay address for (→ 440), kUnavailable when no port is
  // free (→ 508).
  virtual Result<Opened> Open(AddressFamily family, bool even_port, bool reserve_next) = 0;
  // Opens the relay held for `token` (RFC 8656 §7.2). kNotFound when the token is unknown, used or expired.
  virtual Result<Relay> OpenReserved(uint64_t token) = 0;
  // RFC 6062 §5.1: a TCP relayed transport address, i.e. a listening TCP socket on the relay IP (port from the
  // same range) that accepts peers' connections (reported with TurnServer::HandlePeerConnectionAccepted) and from
  // which the server opens connections to peers (ServerOutput::ConnectToPeer). Errors as Open(); kUnsupported
  // when the provider has no TCP relaying at all is answered like a missing family (the default).
  virtual Result<Relay> OpenTcp(AddressFamily family) {
    return MakeError(ErrorCode::kUnsupported, "no TCP relaying");
  }
  // Closes a UDP or TCP relay (for a TCP relay: the listener; its connections are closed one by one with
  // ServerOutput::ClosePeerConnection).
  virtual void Close(RelayId id) = 0;
};

// RFC 6062 CONNECTION-ID (§6.2.1): 32 bits on the wire, chosen at random by the core (unguessable: a
// ConnectionBind also needs the allocation owner's credentials).
using ConnectionId = uint32_t;

// Peer connections of TCP allocations that wait for their ConnectionBind (RFC 6062 §5.2-§5.4), shared by the
// workers: the ConnectionBind arrives on a new client connection, which the kernel may have given to any worker.
// The IO layer provides a thread-safe one; tests a plain one (MakeLocalConnectionRegistry). Touched when a peer
// connection is set up or torn down, never per byte.
class ConnectionRegistry {
 public:
  virtual ~ConnectionRegistry() = default;
  // Reserves `id` for a connection of `username`'s allocation (not yet claimable). False when the id is taken.
  virtual bool Reserve(ConnectionId id, std::string_view username) = 0;
  // The peer connection is established: from now on Claim may take it.
  virtual void Publish(ConnectionId id) = 0;
  // ConnectionBind: takes a published connection reserved by the same user. Returns an opaque token naming the
  // worker that holds the peer connection (passed on in ServerOutput::BindDataConnection); nullopt when the id is
  // unknown, not yet established, already claimed or another user's.
  virtual std::optional<uint32_t> Claim(ConnectionId id, std::string_view username) = 0;
  // The reserving worker gives the id up (failure, timeout, allocation deleted). False when a Claim took it first
  // (the connection is being bound on some worker).
  virtual bool Withdraw(ConnectionId id) = 0;
};
// A single-threaded registry whose Claim always names owner 0.
std::unique_ptr<ConnectionRegistry> MakeLocalConnectionRegistry();

// Cross-worker allocation accounting (per user and total). The IO layer provides a thread-safe one; tests a plain one.
class AllocationQuota {
 public:
  virtual ~AllocationQuota() = default;
  virtual bool TryAcquire(std::string_view username) = 0;
  virtual void Release(std::string_view username) = 0;
};
// A single-threaded quota with per-user and total limits (0 = unlimited).
std::unique_ptr<AllocationQuota> MakeLocalQuota(uint32_t max_total, uint32_t max_per_user);

// What the core asks the IO layer to do.
class ServerOutput {
 public:
  virtual ~ServerOutput() = default;
  // Sends to a client. The message is the concatenation head + payload + tail (gather I/O: relayed data is never
  // copied into a new buffer). For a UDP flow with a `local` that differs from the one the request arrived on
  // (RFC 5780 CHANGE-REQUEST), send from that address.
  virtual void SendToClient(const ClientFlow& flow, ByteSpan head, ByteSpan payload = {}, ByteSpan tail = {}) = 0;
  // Sends `payload` from the relay address `relay` to `peer` (RFC 8656 §11.3, §12.5).
  virtual void SendToPeer(RelayId relay, const SocketAddress& peer, ByteSpan payload, bool dont_fragment) = 0;
  // Closes a TCP/TLS client connection (allocation over it deleted, or an abusive stream).
  virtual void CloseClient(const ClientFlow& flow) {}

  // --- RFC 6062 TCP relaying. Peer connections are named by their CONNECTION-ID. ---
  // Opens a TCP connection from the TCP relay `relay` (its address as the source) to `peer` (RFC 6062 §5.2). The
  // outcome is reported exactly once with TurnServer::HandlePeerConnectResult (later, never from inside this
  // call) unless ClosePeerConnection(id) comes first. The core runs the timeout. Until the connection is bound, the
  // IO layer reads nothing from it (§5.2: the kernel buffers and the TCP window closes).
  virtual void ConnectToPeer(ConnectionId id, RelayId relay, const SocketAddress& peer) {}
  // Closes (or abandons the connecting of) the peer connection `id`, and its client data connection when it is
  // bound, wherever that lives. No HandlePeerConnectionClosed is expected for it afterwards.
  virtual void ClosePeerConnection(ConnectionId id) {}
  // A ConnectionBind on `flow` succeeded (RFC 6062 §5.4; the success response was just sent to `flow`): from the
  // end of that request on, `flow`'s bytes go as-is to peer connection `id` and back, with no more STUN framing.
  // `owner` is the token ConnectionRegistry::Claim returned (the worker that holds the peer connection). When
  // either side ends, the IO layer closes the other and reports HandlePeerConnectionClosed(id) to the owner's core.
  virtual void BindDataConnection(const ClientFlow& flow, ConnectionId id, uint32_t owner) {}
};

struct ServerConfig {
  std::string realm = "tandem";
  std::string software = "Tandem";  // SOFTWARE attribute; empty to omit
  // Allocation lifetimes (RFC 8656 §3.2: default 10 min; the server may cap the maximum).
  TimeDelta default_lifetime = TimeDelta::Seconds(600);
  TimeDelta max_lifetime = TimeDelta::Seconds(3600);
  TimeDelta permission_lifetime = TimeDelta::Seconds(300);  // RFC 8656 §9: 300 s, not configurable by clients
  TimeDelta channel_lifetime = TimeDelta::Seconds(600);     // RFC 8656 §12: 10 min
  TimeDelta nonce_lifetime = TimeDelta::Seconds(600);

  // When false, TURN requests are refused (STUN-only mode: Binding still answered).
  bool enable_turn = true;
  // Long-term credentials are required for TURN unless explicitly turned off (testing only).
  bool require_auth = true;
  // Offer the RFC 8489 §9.2 security features (PASSWORD-ALGORITHMS, SHA-256, USERHASH) in the nonce cookie.
  bool enable_sha256 = true;

  PeerPolicy peer_policy;  // which peer addresses may be relayed to (secure by default)

  // Limits. 0 = unlimited.
  uint64_t bandwidth_bytes_per_second_per_allocation = 0;
  uint32_t max_permissions_per_allocation = 64;
  uint32_t max_channels_per_allocation = 64;
  // Unauthenticated (401-bound) requests per second per source IP; further ones are dropped silently.
  uint32_t unauthenticated_requests_per_second_per_ip = 50;
  uint32_t rate_limit_table_size = 65536;  // bounded memory for the per-IP buckets
  uint32_t max_allocations_per_worker = 1000000;

  // RFC 6062 TCP allocations (REQUESTED-TRANSPORT=TCP over a TCP/TLS control connection). When false they get
  // 442.
  bool enable_tcp_relay = true;
  // RFC 6062 §5.2: how long a Connect may take before 447; the RFC asks for at least 30 s.
  TimeDelta tcp_connect_timeout = TimeDelta::Seconds(30);
  // RFC 6062 §5.2, §5.3: a peer connection not bound by a ConnectionBind within 30 s is closed.
  TimeDelta tcp_bind_timeout = TimeDelta::Seconds(30);
  // Peer connections (connecting, pending and bound) per TCP allocation; more: Connect gets 508 and incoming
  // connections are refused.
  uint32_t max_tcp_connections_per_allocation = 64;
  // The secret behind the stateless NONCEs. Workers given the same one accept each other's nonces, so that an RFC
  // 6062 client data connection landing on another worker can reuse the control connection's nonce. Unset: drawn
  // from the Rng.
  std::optional<std::array<uint8_t, 32>> nonce_secret;

  // RFC 5780: when set, Binding responses carry OTHER-ADDRESS and honour CHANGE-REQUEST (the IO layer listens on all
  // four combinations of primary/alternate IP and port).
  std::optional<SocketAddress> primary_address;
  std::optional<SocketAddress> alternate_address;
};

// Counters for monitoring and tests. Every dropped packet is counted by reason.
struct ServerStats {
  uint64_t binding_requests = 0;
  uint64_t allocations_created = 0;
  uint64_t allocations_expired = 0;
  uint64_t allocations_deleted = 0;  // lifetime 0 refresh or TCP close
  uint64_t allocations_active = 0;
  uint64_t permissions_active = 0;
  uint64_t channels_active = 0;
  uint64_t packets_client_to_peer = 0;
  uint64_t packets_peer_to_client = 0;
  uint64_t bytes_client_to_peer = 0;
  uint64_t bytes_peer_to_client = 0;
  uint64_t error_responses = 0;
  uint64_t auth_failures = 0;
  uint64_t stale_nonces = 0;
  uint64_t dropped_malformed = 0;        // not STUN nor ChannelData, bad length, bad attribute encoding
  uint64_t dropped_no_allocation = 0;    // indication/ChannelData with no allocation on that flow
  uint64_t dropped_no_permission = 0;    // peer data or Send without a permission
  uint64_t dropped_rate_limited = 0;     // unauthenticated request rate limit
  uint64_t dropped_bandwidth = 0;        // per-allocation bandwidth cap
  uint64_t dropped_unknown_channel = 0;
  uint64_t peer_refused = 0;             // 403 by peer policy
  // RFC 6062.
  uint64_t tcp_connections_active = 0;   // peer connections the core tracks: connecting, pending or bound
  uint64_t tcp_connects = 0;             // Connect requests that started a connection attempt
  uint64_t tcp_connect_failures = 0;     // 447: refused, unreachable or timed out
  uint64_t tcp_connections_accepted = 0; // incoming peer connections announced with ConnectionAttempt
  uint64_t tcp_connections_refused = 0;  // incoming peer connections closed (no permission, duplicate, limit)
  uint64_t tcp_connections_bound = 0;    // successful ConnectionBinds
  uint64_t tcp_bind_timeouts = 0;        // pending connections closed after tcp_bind_timeout
};

class TurnServer {
 public:
  // The injected interfaces must outlive the server. ServerOutput's methods may not call back into the server.
  TurnServer(ServerConfig config, CredentialStore& credentials, RelayProvider& relays, AllocationQuota& quota,
             WallClock& wall_clock, Rng& rng, ServerOutput& output);
  // With a ConnectionRegistry shared with other workers (RFC 6062 data connections may land on any worker); the
  // constructor above uses a private one, which binds only data connections that reach this server.
  TurnServer(ServerConfig config, CredentialStore& credentials, RelayProvider& relays, AllocationQuota& quota,
             ConnectionRegistry& connections, WallClock& wall_clock, Rng& rng, ServerOutput& output);
  // Calls nothing on the injected interfaces: relays still open and quota still held are the IO layer's to drop
  // (it is being torn down as well).
  ~TurnServer();
  TurnServer(const TurnServer&) = delete;
  TurnServer& operator=(const TurnServer&) = delete;

  // A datagram (UDP) or one framed message (TCP/TLS, see framing.h) from a client: STUN or ChannelData. Never
  // throws; malformed input is counted and dropped or answered with an error response.
  void HandleClientPacket(Timestamp now, const ClientFlow& flow, ByteSpan packet);
  // A TCP/TLS client connection ended: its allocation, if any, is deleted (RFC 8656 §3).
  void HandleClientClosed(Timestamp now, const ClientFlow& flow);
  // A datagram arriving at a relay address from a peer (RFC 8656 §11.3, §12.6).
  void HandlePeerPacket(Timestamp now, RelayId relay, const SocketAddress& peer, ByteSpan payload);
  // RFC 6062 §5.2: the outcome of ConnectToPeer(id). On success the client gets the Connect success response with
  // CONNECTION-ID and the connection waits (tcp_bind_timeout) for its ConnectionBind; on failure 447, and the IO
  // layer holds nothing under `id` any more.
  void HandlePeerConnectResult(Timestamp now, ConnectionId id, bool ok);
  // RFC 6062 §5.3: a peer connected to the TCP relay `relay`. Returns the CONNECTION-ID under which the IO layer
  // keeps the connection (not reading from it) when it is accepted — a permission exists for the peer's IP; the
  // client got a ConnectionAttempt indication — or nullopt when the IO layer must close it.
  std::optional<ConnectionId> HandlePeerConnectionAccepted(Timestamp now, RelayId relay, const SocketAddress& peer);
  // The peer connection `id` (or the client data connection bound to it) ended; the IO layer holds nothing under
  // `id` any more.
  void HandlePeerConnectionClosed(Timestamp now, ConnectionId id);
  // Expires allocations, permissions, channels. Call when NextTimeout() is reached.
  void HandleTimeout(Timestamp now);
  // The earliest time HandleTimeout has work; Timestamp::Infinity() when idle.
  Timestamp NextTimeout() const;

  const ServerStats& stats() const;
  const ServerConfig& config() const;
  // Approximate heap bytes held per allocation (for the RSS-per-allocation benchmark's sanity checks).
  size_t allocation_count() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::turn
