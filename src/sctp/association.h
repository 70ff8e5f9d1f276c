// tandem::sctp::Association: a sans-IO SCTP association as WebRTC data channels use it (SCTP over DTLS, RFC
// 8261; RFC 8831 §6), interoperable with Chromium's dcSCTP and with usrsctp.
//
// Drive it like every Tandem core: feed it packets (HandleReceive) and timer expiries (HandleTimeout), then
// drain PollTransmit() until it returns nullopt, PollEvent() until nullopt, and re-arm your timer with
// PollTimeout(). Nothing here blocks, reads a clock, or throws on network input: malformed packets are
// counted and dropped (RFC 9260 §6.8, §8.4).
//
// Implemented: RFC 9260 (handshake with signed state cookie incl. simultaneous open and §5.2 collision cases,
// data transfer with SACK/gap blocks/duplicates and delayed SACK, RTO, T1/T2/T3 timers, fast retransmit and
// fast recovery, congestion control, zero window probing, heartbeats, graceful shutdown, ABORT, error
// counting), RFC 3758 partial reliability (FORWARD-TSN), RFC 6525 outgoing SSN reset (RE-CONFIG), RFC 8260
// I-DATA and I-FORWARD-TSN, RFC 7053 I bit. Single-homed (there are no addresses under DTLS).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/rng.h"
#include "core/time.h"
#include "sctp/chunks.h"
#include "sctp/data_tracker.h"
#include "sctp/packet.h"
#include "sctp/reassembly_queue.h"
#include "sctp/retransmission_queue.h"
#include "sctp/ring_queue.h"
#include "sctp/rto.h"
#include "sctp/send_queue.h"
#include "sctp/state_cookie.h"
#include "sctp/types.h"

namespace tandem::sctp {

class Association {
 public:
  // `rng` must outlive the association; it provides verification tags, initial TSNs, the cookie key and
  // nonces.
  Association(const Options& options, Rng& rng);
  Association(const Association&) = delete;
  Association& operator=(const Association&) = delete;

  // Starts the handshake: sends INIT (RFC 9260 §5.1 A). In WebRTC both peers call this; the INIT collision is
  // resolved per §5.2.1/§5.2.4. An association that was never connected also accepts an incoming INIT
  // (passive open) without Connect. No-op unless closed.
  void Connect(Timestamp now);

  // One received SCTP packet (the payload of one DTLS record). Never throws; bad packets are counted in
  // stats().
  void HandleReceive(Timestamp now, ByteSpan packet);

  // Call when `now` >= PollTimeout().
  void HandleTimeout(Timestamp now);

  // Queues a message on `stream` with payload protocol identifier `ppid`. May be called before the
  // association is established (messages wait). Errors: kInvalidArgument (empty payload; stream beyond the
  // negotiated or announced count), kLimitExceeded (the total send buffer would exceed
  // Options::max_send_buffer), kUnavailable (shutting down, closed after use, or the stream is being reset).
  Status Send(Timestamp now, uint16_t stream, uint32_t ppid, ByteSpan payload,
              const SendOptions& options = {});

  // RFC 6525 / RFC 8831 §6.7: resets these outgoing streams once everything already queued on them has been
  // sent and acknowledged. Until OutgoingStreamsResetEvent (or ...FailedEvent), Send on them fails with
  // kUnavailable. Errors: kUnavailable (not established), kUnsupported (the peer did not announce RE-CONFIG).
  Status ResetStreams(std::span<const uint16_t> outgoing_streams);

  // Bytes queued on `stream` and not yet handed to the network (the W3C bufferedAmount).
  size_t buffered_amount(uint16_t stream) const { return send_queue_.buffered_amount(stream); }
  // BufferedAmountLowEvent fires when buffered_amount(stream) falls from above `bytes` to at or below it.
  void SetBufferedAmountLowThreshold(uint16_t stream, size_t bytes) {
    send_queue_.SetBufferedAmountLowThreshold(stream, bytes);
  }
  size_t total_buffered_amount() const { return send_queue_.total_buffered_amount(); }

  // Graceful shutdown (RFC 9260 §9.2): queued data is still delivered, then SHUTDOWN; ClosedEvent when done.
  // Before the association is established it just closes.
  void Shutdown(Timestamp now);
  // Sends ABORT with a User-Initiated Abort cause carrying `reason` (§9.1) and closes at once (AbortedEvent
  // with by_peer = false).
  void Abort(std::string_view reason);

  // The next packet to send, built lazily as cwnd and the peer's window allow. The view is valid until the
  // next non-const call. Call until it returns nullopt.
  std::optional<ByteSpan> PollTransmit(Timestamp now);
  std::optional<Event> PollEvent();
  // Earliest timer deadline; Timestamp::Infinity() when idle.
  Timestamp PollTimeout() const;

  State state() const { return state_; }
  Stats stats() const;
  // True when both sides announced I-DATA and I-FORWARD-TSN (RFC 8260) and Options::enable_interleaving is
  // set.
  bool peer_supports_interleaving() const { return interleaving_; }
  // True when the peer announced FORWARD-TSN (RFC 3758): partial reliability is in effect.
  bool peer_supports_partial_reliability() const { return partial_reliability_; }
  // min(our OS, peer's MIS) once known (RFC 9260 §5.1.1); 0 before.
  uint16_t negotiated_outbound_streams() const { return outbound_streams_; }
  uint16_t negotiated_inbound_streams() const { return inbound_streams_; }
  const Options& options() const { return options_; }

 private:
  struct Timer {
    Timestamp deadline = Timestamp::Infinity();
    TimeDelta duration;
    int expirations = 0;
    bool running() const { return !deadline.IsInfinite(); }
    void Start(Timestamp now, TimeDelta d) {
      duration = d;
      deadline = now + d;
    }
    void Stop() {
      deadline = Timestamp::Infinity();
      expirations = 0;
    }
    bool Expired(Timestamp now) const { return deadline <= now; }
  };
  struct PendingReset {
    uint32_t request_sequence = 0;
    std::vector<uint16_t> streams;
    Timer timer;
  };

  // ---- receive path ----
  bool CheckVerificationTag(const PacketView& packet);
  void HandleOutOfTheBlue(const PacketView& packet);
  void HandleInit(Timestamp now, const PacketView& packet, const ChunkView& chunk);
  void HandleInitAck(Timestamp now, const ChunkView& chunk);
  // Returns false if the rest of the packet must be discarded.
  bool HandleCookieEcho(Timestamp now, const PacketView& packet, const ChunkView& chunk);
  void HandleCookieAck(Timestamp now);
  void HandleData(Timestamp now, const ChunkView& chunk, bool& immediate);
  void HandleSack(Timestamp now, const ChunkView& chunk);
  void HandleHeartbeat(const ChunkView& chunk);
  void HandleHeartbeatAck(Timestamp now, const ChunkView& chunk);
  void HandleAbort(const ChunkView& chunk);
  void HandleError(Timestamp now, const ChunkView& chunk);
  void HandleShutdown(Timestamp now, const ChunkView& chunk);
  void HandleShutdownAck(Timestamp now, const PacketView& packet);
  void HandleShutdownComplete();
  void HandleForwardTsn(Timestamp now, const ChunkView& chunk);
  void HandleReConfig(Timestamp now, const ChunkView& chunk);
  void HandleOutgoingResetRequest(Timestamp now, const OutgoingSsnResetRequest& request,
                                  std::vector<ReConfigChunk::Parameter>& responses);
  void HandleReconfigResponse(Timestamp now, const ReconfigurationResponse& response);
  // Returns false if the rest of the packet must be discarded (RFC 9260 §3.2 "stop processing" types).
  bool HandleUnrecognizedChunk(const ChunkView& chunk);

  // ---- association lifecycle ----
  void SendInit(Timestamp now);
  void SetupTcb(uint32_t peer_tag, uint32_t peer_initial_tsn, uint32_t peer_a_rwnd, uint16_t peer_os,
                uint16_t peer_mis, bool forward_tsn, bool reconfig, bool interleaving);
  void EnterEstablished(Timestamp now);
  void MaybeProgressShutdown(Timestamp now);
  void MaybeSendReconfig(Timestamp now);
  void SendShutdown(Timestamp now);
  void SendShutdownAck(Timestamp now);
  void CloseWithEvent(Event event);
  // Sends ABORT with `cause` and closes with an AbortedEvent.
  void AbortWithCause(ErrorCause cause, std::string reason);
  void ResetAssociationState();
  bool IncrementErrorCounter(const char* what);  // returns false if the association was aborted
  std::vector<uint8_t> BuildInitChunkBytes(uint8_t type, uint32_t tag, uint32_t initial_tsn,
                                           std::optional<std::vector<uint8_t>> cookie,
                                           const std::vector<std::vector<uint8_t>>& unrecognized) const;

  // ---- send path ----
  static constexpr size_t kMaxQueuedControlChunks = 256;
  // Queues a complete packet (built now) for PollTransmit; `tag_reflected` only documents the caller's
  // intent.
  void QueuePacket(uint32_t verification_tag, ByteSpan chunk_bytes);
  template <typename Chunk>
  void QueueControlChunk(const Chunk& chunk) {
    if (control_chunks_.size() >= kMaxQueuedControlChunks) return;  // a flood of requests for replies
    std::vector<uint8_t> bytes;
    ByteWriter w(bytes);
    chunk.SerializeTo(w);
    control_chunks_.push_back(std::move(bytes));
  }
  void AddSack(PacketBuilder& builder);
  void AddDataChunk(PacketBuilder& builder, const OutstandingChunk& chunk, bool immediate);
  uint32_t AdvertisedReceiveWindow() const;
  void ScheduleSackAfterData(Timestamp now, bool immediate);
  void EmitEvent(Event event);
  void OnMessageReassembled(Message&& message);

  Options options_;
  Rng& rng_;
  std::array<uint8_t, 32> cookie_key_{};
  State state_ = State::kClosed;
  bool used_ = false;  // an association existed and ended: Send is refused until a new one is established
  bool tcb_ = false;   // peer parameters known (from INIT ACK or a cookie)

  // Handshake.
  uint32_t my_tag_ = 0;
  uint32_t peer_tag_ = 0;
  uint32_t my_initial_tsn_ = 0;
  uint32_t peer_initial_tsn_ = 0;
  std::vector<uint8_t> cookie_echo_;  // the peer's cookie we echo (COOKIE-ECHOED)
  bool cookie_echo_pending_ = false;
  Timer t1_init_;
  Timer t1_cookie_;

  // Negotiated.
  bool interleaving_ = false;
  bool partial_reliability_ = false;
  bool reconfig_supported_ = false;
  uint16_t outbound_streams_ = 0;
  uint16_t inbound_streams_ = 0;

  // Data.
  RtoEstimator rto_;
  SendQueue send_queue_;
  RetransmissionQueue rtx_;
  DataTracker tracker_;
  ReassemblyQueue reassembly_;
  Timer t3_rtx_;
  Timer delayed_ack_;
  bool sack_now_ = false;
  bool sack_pending_ = false;  // data received since the last SACK (delayed)
  int data_packets_since_sack_ = 0;
  int error_count_ = 0;               // §8.1 association error counter
  bool sack_since_t3_start_ = false;  // a SACK arrived since T3 last expired (zero window probing)

  // Shutdown.
  Timer t2_shutdown_;
  bool shutdown_pending_send_ = false;      // SHUTDOWN to go in the next packet
  bool shutdown_ack_pending_send_ = false;  // SHUTDOWN-ACK to go in the next packet

  // Heartbeat (§8.3).
  Timer heartbeat_interval_;
  Timer heartbeat_timeout_;
  uint64_t heartbeat_nonce_ = 0;

  // Stream reset (RFC 6525).
  std::set<uint16_t> closing_streams_;      // Send refused until the reset completes
  std::vector<uint16_t> streams_to_reset_;  // waiting for their data to drain before the request
  std::optional<PendingReset> reset_in_flight_;
  Timestamp reset_retry_at_ = Timestamp::Infinity();  // "In progress": ask again then
  uint32_t next_reconfig_request_sequence_ = 0;
  uint32_t peer_next_request_sequence_ = 0;  // the peer's next expected request sequence number
  std::optional<ReconfigurationResponse::Result> last_peer_request_result_;

  // Output.
  RingQueue<std::vector<uint8_t>> packets_;         // complete packets (INIT, INIT ACK, ABORT, OOTB replies)
  RingQueue<std::vector<uint8_t>> control_chunks_;  // serialized chunks to bundle into the next packets
  std::vector<uint8_t> tx_buffer_;
  SackChunk sack_scratch_;
  RingQueue<Event> events_;
  size_t pending_event_bytes_ =
      0;  // payload bytes of undelivered MessageReceivedEvents (count against a_rwnd)
  uint32_t last_advertised_rwnd_ = 0;

  Stats stats_;
};

}  // namespace tandem::sctp
