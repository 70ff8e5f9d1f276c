// A sans-IO TURN client (RFC 8656) on the project's STUN codec (src/stun): one allocation on one TURN server,
// with its permissions and channels, for the ICE agent's relayed candidates (RFC 8445 §5.1.1.2).
//
// The client opens no socket and reads no clock. The driver (the ICE agent, or a test) feeds it what the
// server sent with HandleReceive(now, bytes) and the time with HandleTimeout(now), and drains PollTransmit()
// (messages to send to Config::server), PollEvent() and PollTimeout(). Every transmit goes to the one server;
// the driver owns the socket (UDP) or the stream (TCP/TLS) towards it.
//
// Over TCP/TLS (RFC 8656 §3.1, §12.5) the transmits are whole frames to be written to the stream in order,
// and ChannelData is padded to a multiple of 4 bytes; the driver cuts the received byte stream into frames
// with turn::NextFrameLength (turn/framing.h) and feeds one frame per HandleReceive call.
//
// Authentication: long-term credentials (RFC 8489 §9.2), either static or TURN REST API ones ("expiry:user"
// and base64(HMAC-SHA1(secret, user)), computed by whoever hands out the credentials). The first Allocate
// goes without credentials; the 401 brings REALM and NONCE (and, with the RFC 8489 §9.2.1 nonce cookie,
// PASSWORD-ALGORITHMS: the first one listed that we support, SHA-256 or MD5, and then
// MESSAGE-INTEGRITY-SHA256 for every signed request). 438 Stale Nonce is retried with the new nonce.
// Responses are accepted only when they match an outstanding transaction and, once the client holds a key,
// carry a valid MESSAGE-INTEGRITY(-SHA256) (RFC 8489 §9.2.5).
//
// Hostile input (unknown transaction ids, bad integrity, malformed messages, data from peers without
// permission) is dropped and counted in Stats; nothing here throws on input from the network.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/bytes.h"
#include "core/result.h"
#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "stun/message.h"
#include "turn_client/stun_transaction.h"

namespace tandem::turn_client {

// How the client reaches the server (RFC 8656 §3.1). kTcp and kTls behave alike here (TLS is the driver's):
// the messages travel framed on a stream and requests are not retransmitted (RFC 8489 §6.2.2).
enum class Transport { kUdp, kTcp, kTls };

struct Config {
  SocketAddress server;  // where every transmit goes (the driver's concern; kept for events and logs)
  Transport transport = Transport::kUdp;
  // Long-term credentials (RFC 8489 §9.2): static, or TURN REST API ones (username "expiry:user").
  std::string username;
  std::string password;
  // REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6): IPv4 (the default; then the attribute is omitted, §7.1) or
  // IPv6.
  AddressFamily relay_family = AddressFamily::kIPv4;
  // LIFETIME requested in Allocate and Refresh (RFC 8656 §7.1, §8.1); the server's answer wins.
  TimeDelta lifetime = TimeDelta::Seconds(600);
  std::string software = "tandem";  // SOFTWARE attribute; empty to omit
  // Attach FINGERPRINT to requests (RFC 8489 §14.7); Send indications, the data path, go without. Received
  // FINGERPRINTs are always checked.
  bool fingerprint = true;
  // Limits on what a caller may ask for (the server caps them too; RFC 8656 leaves the numbers to it).
  size_t max_permissions = 256;
  size_t max_channels = 256;  // at most 4096 (0x4000-0x4FFF, RFC 8656 §12)
  // STUN retransmission over UDP (RFC 8489 §6.2.1) and the single timeout over TCP/TLS (§6.2.2).
  RetransmissionPolicy retransmission;
};

// Peer data received through the relay (RFC 8656 §11.4 Data indication, §12.6 ChannelData).
struct PeerData {
  SocketAddress peer;
  ByteSpan data;  // a view into the message passed to HandleReceive
};

struct Event {
  enum Kind {
    kAllocated,          // relayed and mapped are set; lifetime is what the server granted
    kAllocateFailed,     // error_code (0 on timeout), reason; 300 Try Alternate: alternate_server is set
    kPermissionFailed,   // peer (port 0) is the IP whose CreatePermission failed (or refresh failed)
    kChannelBound,       // peer, channel
    kChannelBindFailed,  // peer, channel, error_code; the peer keeps using Send indications
    kAllocationLost,     // a Refresh failed or timed out (error_code, reason): relayed is dead
    kReleased,           // the Refresh with LIFETIME 0 was answered (or timed out)
  } kind = kAllocated;
  SocketAddress relayed;
  SocketAddress mapped;
  SocketAddress peer;
  uint16_t error_code = 0;
  std::string reason;
  SocketAddress alternate_server;  // ALTERNATE-SERVER of a 300 (RFC 8489 §10)
  uint16_t channel = 0;
  TimeDelta lifetime;
};

enum class State {
  kIdle,        // before Start
  kAllocating,  // Allocate outstanding (including the 401/438 round trips)
  kAllocated,   // the allocation lives; permissions, channels and data work
  kReleasing,   // Refresh LIFETIME 0 outstanding
  kReleased,    // released by Release()
  kFailed,      // Allocate failed or the allocation was lost
};
const char* ToString(State state);

// Counters; every dropped message is counted by reason.
struct Stats {
  uint64_t requests_sent = 0;  // first transmissions of requests
  uint64_t retransmissions = 0;
  uint64_t transactions_timed_out = 0;
  uint64_t responses_received = 0;  // accepted responses
  uint64_t error_responses = 0;     // accepted error responses (401/438 challenges included)
  uint64_t stale_nonces = 0;
  uint64_t allocate_refreshes = 0;    // successful Refresh transactions
  uint64_t permission_refreshes = 0;  // successful CreatePermission transactions after the first
  uint64_t channel_refreshes = 0;     // successful ChannelBind transactions after the first
  uint64_t send_indications = 0;
  uint64_t channel_data_sent = 0;
  uint64_t data_indications_received = 0;
  uint64_t channel_data_received = 0;
  uint64_t bytes_sent = 0;                   // peer payload bytes handed to Send
  uint64_t bytes_received = 0;               // peer payload bytes returned by HandleReceive
  uint64_t dropped_malformed = 0;            // neither a valid STUN message nor ChannelData
  uint64_t dropped_unknown_transaction = 0;  // response matching no outstanding request
  uint64_t dropped_bad_integrity = 0;  // response without a valid MESSAGE-INTEGRITY(-SHA256) or FINGERPRINT
  uint64_t dropped_unexpected = 0;     // a request, an unknown indication, data in the wrong state
  uint64_t dropped_no_permission = 0;  // data from a peer we installed no permission for
  uint64_t dropped_unknown_channel = 0;
};

class TurnClient {
 public:
  // `rng` (transaction ids, channel numbers) must outlive the client.
  TurnClient(Config config, Rng& rng);
  ~TurnClient();
  TurnClient(const TurnClient&) = delete;
  TurnClient& operator=(const TurnClient&) = delete;

  // Sends the first Allocate (RFC 8656 §7.1). Called once, in kIdle; later calls are ignored.
  void Start(Timestamp now);
  // One message from the server (a datagram, or one frame over TCP/TLS): a response, a Data indication or
  // ChannelData. Returns the peer data it carried, if any, as a view into `message`.
  std::optional<PeerData> HandleReceive(Timestamp now, ByteSpan message);
  // Retransmissions, transaction timeouts and refreshes. Call when PollTimeout() is reached.
  void HandleTimeout(Timestamp now);

  // Installs a permission for `peer` (RFC 8656 §9) and keeps it fresh (every 4 minutes; the server holds it
  // 300 s) while the allocation lives. Before the allocation exists the request is remembered and sent once
  // allocated. Errors: kLimitExceeded (max_permissions), kInvalidArgument (wrong family for the relay,
  // unspecified), kUnavailable (released or failed).
  Status CreatePermission(Timestamp now, const IpAddress& peer);
  // Binds a channel to `peer` (RFC 8656 §11), which also installs the permission for its IP (§11.2), and
  // refreshes it before its 10 minutes run out. Until kChannelBound, Send uses Send indications. A second
  // call for the same peer is a no-op. Errors as CreatePermission.
  Status BindChannel(Timestamp now, const SocketAddress& peer);
  // Sends `data` to `peer` through the relay: ChannelData when a channel is bound (RFC 8656 §12.4), else a
  // Send indication (§10.1). Errors: kUnavailable (not allocated), kForbidden (no
  // CreatePermission/BindChannel was made for the peer's IP, or it failed: the server would drop the data),
  // kInvalidArgument (peer of the wrong family), kLimitExceeded (more than 65000 bytes, or 4096 transmits
  // waiting for PollTransmit). Sending allocates nothing once the transmit buffers are warm.
  Status Send(Timestamp now, const SocketAddress& peer, ByteSpan data);
  // Deletes the allocation: Refresh with LIFETIME 0 (RFC 8656 §8). kReleased follows.
  void Release(Timestamp now);

  // The next message for the server; the view is valid until the next non-const call.
  std::optional<ByteSpan> PollTransmit();
  std::optional<Event> PollEvent();
  // Earliest time HandleTimeout has work; Timestamp::Infinity() when idle.
  Timestamp PollTimeout() const;

  State state() const;
  const Stats& stats() const;
  const Config& config() const;
  // XOR-RELAYED-ADDRESS and XOR-MAPPED-ADDRESS of the allocation (unset before kAllocated).
  const SocketAddress& relayed_address() const;
  const SocketAddress& mapped_address() const;
  // The lifetime the server granted; the allocation expires at allocated-at + lifetime unless refreshed.
  TimeDelta lifetime() const;
  // True when a CreatePermission for `peer` succeeded and has not failed since.
  bool HasPermission(const IpAddress& peer) const;
  // The channel bound to `peer`, when the ChannelBind succeeded.
  std::optional<uint16_t> BoundChannel(const SocketAddress& peer) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::turn_client
