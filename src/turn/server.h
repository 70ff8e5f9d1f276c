// The TURN/STUN server core (RFC 8656, RFC 8489, RFC 6062, RFC 5780): a sans-IO state machine. The IO layer feeds it
// datagrams/frames from clients and peers plus the time, and it answers through a ServerOutput. It opens no socket,
// starts no thread and reads no clock; relay addresses come from an injected RelayProvider, wall-clock time (for
// time-limited credentials) from an injected WallClock, randomness from an injected Rng.
//
// One TurnServer per worker thread (shared-nothing); what must be shared across workers (allocation quotas) is
// behind the AllocationQuota interface.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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
  virtual void Close(RelayId id) = 0;
};

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
};

class TurnServer {
 public:
  // The injected interfaces must outlive the server. ServerOutput's methods may not call back into the server.
  TurnServer(ServerConfig config, CredentialStore& credentials, RelayProvider& relays, AllocationQuota& quota,
             WallClock& wall_clock, Rng& rng, ServerOutput& output);
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
