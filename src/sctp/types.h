// Public value types of the SCTP association: options, messages, events and statistics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/time.h"

namespace tandem::sctp {

// Association configuration. Defaults suit WebRTC data channels with Chromium (dcSCTP) as the peer.
struct Options {
  // RFC 8841 §5 / RFC 8261: ports in the SCTP common header; both 5000 unless SDP a=sctp-port says otherwise.
  uint16_t local_port = 5000;
  uint16_t remote_port = 5000;
  // Largest SCTP packet we send (common header + chunks); DTLS adds its own overhead on top (RFC 8261 §5).
  size_t mtu = 1200;
  // Largest message we accept. A peer that sends a larger one violates the SDP max-message-size (RFC 8841 §6)
  // and the association is aborted.
  size_t max_message_size = 256 * 1024;
  // Receive buffer: the advertised receiver window (a_rwnd) counts down from this as data waits for
  // reassembly or for PollEvent. Must be >= max_message_size.
  size_t max_receive_buffer = 4 << 20;
  // Cap on bytes queued for sending across all streams; Send beyond it fails with kLimitExceeded.
  size_t max_send_buffer = 16 << 20;
  // Streams we announce in both directions (INIT OS and MIS, RFC 9260 §3.3.2).
  uint16_t announced_streams = 65535;
  // RFC 9260 §6.3.1 / §16 RTO parameters.
  TimeDelta rto_initial = TimeDelta::Millis(500);
  TimeDelta rto_min = TimeDelta::Millis(200);
  TimeDelta rto_max = TimeDelta::Seconds(60);
  // RFC 9260 §16 Association.Max.Retrans: consecutive T3/T2/heartbeat/reconfig timeouts before giving up.
  int max_retransmissions = 10;
  // RFC 9260 §16 Max.Init.Retransmits (INIT and COOKIE ECHO).
  int max_init_retransmits = 8;
  // RFC 9260 §8.3: heartbeat to an idle peer this often (plus RTO); Zero disables heartbeats.
  TimeDelta heartbeat_interval = TimeDelta::Seconds(30);
  // RFC 9260 §6.2: longest a SACK may be delayed.
  TimeDelta delayed_ack = TimeDelta::Millis(200);
  // RFC 9260 §16 Valid.Cookie.Life.
  TimeDelta cookie_lifetime = TimeDelta::Seconds(60);
  // Initial congestion window in MTUs. RFC 9260 §7.2.1 says min(4*MTU, max(2*MTU, 4380)); like dcSCTP we
  // start larger (10 MTUs, the RFC 6928 value for TCP) because the path is a DTLS flow between two browsers.
  size_t initial_cwnd_mtus = 10;
  // RFC 8260: announce I-DATA / I-FORWARD-TSN; used only if the peer announces them too.
  bool enable_interleaving = true;
  // RFC 9260 §6.1 / RFC 1122-style Nagle: hold back a packet of only new data that would not be full while
  // data is in flight. Off by default: data channel users expect each Send to leave promptly; Sends issued
  // before the next PollTransmit are bundled anyway.
  bool nagle = false;
};

// Per-message options for Association::Send.
struct SendOptions {
  // RFC 9260 §6.6: deliver as soon as complete, not in stream order.
  bool unordered = false;
  // RFC 3758 partial reliability: give up after this many retransmissions (0 = send once). Ignored (fully
  // reliable) if the peer does not support FORWARD-TSN.
  std::optional<uint16_t> max_retransmits;
  // RFC 3758: give up once the message has been queued this long (checked before the first transmission and
  // before each retransmission).
  std::optional<TimeDelta> lifetime;
};

// A received message.
struct Message {
  uint16_t stream = 0;
  uint32_t ppid = 0;  // payload protocol identifier (RFC 8831 §8: 50 DCEP, 51 string, 53 binary, ...)
  std::vector<uint8_t> payload;
  bool unordered = false;
};

// Association states (RFC 9260 §4).
enum class State {
  kClosed,
  kCookieWait,
  kCookieEchoed,
  kEstablished,
  kShutdownPending,
  kShutdownSent,
  kShutdownReceived,
  kShutdownAckSent,
};
const char* ToString(State state);

// Events, drained with Association::PollEvent.
struct ConnectedEvent {};  // the handshake completed (ESTABLISHED)
struct MessageReceivedEvent {
  Message message;
};
// The peer reset these incoming streams (RFC 6525 §5.2.2): their SSNs restart at 0. For data channels (RFC
// 8831 §6.7) this is the remote close; answer by resetting the same outgoing streams. An empty list means all
// streams.
struct IncomingStreamsResetEvent {
  std::vector<uint16_t> streams;
};
// Our ResetStreams request was performed by the peer; these outgoing streams restart at SSN 0 and accept
// Send.
struct OutgoingStreamsResetEvent {
  std::vector<uint16_t> streams;
};
// The peer refused our reset request (RFC 6525 §4.4 "Denied" or an error result); the streams are usable
// again.
struct OutgoingStreamsResetFailedEvent {
  std::vector<uint16_t> streams;
  std::string reason;
};
// A stream's buffered amount fell to or below its low threshold (the W3C `bufferedamountlow` event).
struct BufferedAmountLowEvent {
  uint16_t stream = 0;
};
// Graceful shutdown completed (RFC 9260 §9.2) or Shutdown() was called before the association was up.
struct ClosedEvent {};
// The association is gone: ABORT received or sent, too many retransmissions, or a protocol violation.
struct AbortedEvent {
  std::string reason;
  bool by_peer = false;  // true if the peer sent ABORT
};
// The peer restarted the association (RFC 9260 §5.2.4 case A): all queued and in-flight data was dropped and
// the stream sequence numbers start again at 0.
struct RestartedEvent {};
// A non-fatal problem worth telling the user about (an ERROR chunk from the peer, a message dropped because
// its stream does not exist on the negotiated association, ...).
struct ErrorEvent {
  std::string message;
};

using Event = std::variant<ConnectedEvent, MessageReceivedEvent, IncomingStreamsResetEvent,
                           OutgoingStreamsResetEvent, OutgoingStreamsResetFailedEvent, BufferedAmountLowEvent,
                           ClosedEvent, AbortedEvent, RestartedEvent, ErrorEvent>;

// Counters and current congestion state. Plain values; cheap to copy.
struct Stats {
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  uint64_t data_chunks_sent = 0;      // including retransmissions
  uint64_t data_chunks_received = 0;  // including duplicates
  uint64_t messages_sent = 0;         // messages whose last fragment was sent
  uint64_t messages_received = 0;     // messages delivered
  uint64_t retransmissions_t3 = 0;    // chunks retransmitted after a T3-rtx expiry
  uint64_t retransmissions_fast = 0;  // chunks fast-retransmitted (RFC 9260 §7.2.4)
  uint64_t t3_expirations = 0;
  uint64_t duplicate_tsns_received = 0;
  uint64_t abandoned_messages = 0;  // RFC 3758: messages given up by us as sender
  uint64_t forward_tsns_sent = 0;
  uint64_t forward_tsns_received = 0;
  uint64_t sacks_sent = 0;
  uint64_t sacks_received = 0;
  uint64_t heartbeats_sent = 0;
  uint64_t bad_checksum_packets = 0;  // dropped: CRC32c mismatch
  uint64_t malformed_packets = 0;     // dropped: framing or a chunk failed to parse
  uint64_t dropped_packets = 0;       // dropped for another reason (wrong tag, ports, out of the blue, ...)
  uint64_t dropped_data_chunks = 0;   // DATA we could not hold (buffer full, window): left unacknowledged
  uint64_t reassembly_bytes = 0;      // received bytes held for reassembly or ordering
  uint64_t rtt_us = 0;                // smoothed RTT (SRTT), 0 until measured
  uint64_t rto_us = 0;
  uint64_t cwnd = 0;
  uint64_t ssthresh = 0;
  uint64_t peer_rwnd = 0;          // last a_rwnd from the peer
  uint64_t outstanding_bytes = 0;  // bytes in flight
  uint64_t outstanding_chunks = 0;
  uint64_t queued_bytes = 0;  // not yet sent (sum of buffered amounts)
};

}  // namespace tandem::sctp
