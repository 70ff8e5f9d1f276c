// Send-side reliability and congestion control: TSN assignment, the outstanding (sent, unacknowledged)
// chunks, SACK processing with gap blocks (RFC 9260 §6.2.1), fast retransmit and fast recovery (§7.2.4),
// T3-rtx expiry (§6.3.3), congestion control (§7.2: slow start, congestion avoidance,
// cwnd/ssthresh/partial_bytes_acked), the peer's receive window (§6.1 rules A and B), and RFC 3758 partial
// reliability (abandoning messages, the Advanced Peer Ack Point and FORWARD-TSN / I-FORWARD-TSN contents).
#pragma once

#include <cstdint>
#include <optional>
#include <set>

#include "core/time.h"
#include "sctp/chunks.h"
#include "sctp/ring_queue.h"
#include "sctp/send_queue.h"
#include "sctp/sequence.h"

namespace tandem::sctp {

struct OutstandingChunk {
  enum class State : uint8_t {
    kInFlight,      // sent, counted in the flight size
    kToRetransmit,  // marked for retransmission (fast retransmit or T3), not in flight
    kAcked,         // acknowledged by a gap ack block (kept until the cumulative ack passes it)
    kAbandoned,     // RFC 3758: given up; skipped with FORWARD-TSN
  };
  uint64_t tsn = 0;
  Fragment fragment;
  Timestamp sent_at;
  uint16_t transmissions = 0;
  uint8_t nacks = 0;  // miss indications (§7.2.4)
  State state = State::kInFlight;
  bool fast_retransmit = false;  // marked by fast retransmit, to go in the next packet regardless of cwnd
  bool was_fast_retransmitted = false;  // §7.2.4: fast-retransmit a chunk at most once
  uint32_t size = 0;                    // the chunk's size on the wire (header + padded payload)
};

class RetransmissionQueue {
 public:
  struct Config {
    size_t mtu = 1200;
    size_t initial_cwnd_mtus = 10;
    bool interleaved = false;          // I-DATA chunks (20-byte header) and I-FORWARD-TSN
    bool partial_reliability = false;  // the peer supports FORWARD-TSN (RFC 3758 §3.1)
  };
  struct SackOutcome {
    bool accepted = false;  // false: stale or invalid SACK, ignored
    bool cum_advanced = false;
    bool acked_new_data = false;   // any chunk newly acknowledged (cumulatively or by gap block)
    std::optional<TimeDelta> rtt;  // Karn-safe RTT sample
    bool fast_retransmit = false;  // chunks were marked for fast retransmit
  };
  struct Counters {
    uint64_t retransmissions_fast = 0;
    uint64_t retransmissions_t3 = 0;
    uint64_t abandoned_messages = 0;
    uint64_t data_chunks_sent = 0;
    uint64_t messages_sent = 0;
  };

  explicit RetransmissionQueue(SendQueue& send_queue) : send_queue_(send_queue) {}

  // Starts a fresh association: our initial TSN and the peer's initial a_rwnd (which is also ssthresh,
  // §7.2.1).
  void Reset(const Config& config, uint32_t initial_tsn, uint32_t peer_a_rwnd);
  // Drops everything outstanding (restart, close).
  void Clear();

  // Packet assembly. Call BeginPacket before filling each packet, then NextChunk until it returns nullptr.
  // Returns the chunk to serialize next (already accounted as sent), whose serialized size is <= `room`,
  // honoring cwnd and the peer's window; retransmissions come before new data, which is cut from the send
  // queue on demand. The pointer is valid until the next call into this object.
  void BeginPacket() { in_packet_ = 0; }
  const OutstandingChunk* NextChunk(Timestamp now, size_t room);
  // True if NextChunk could return a chunk for an empty packet (used to decide SACK bundling and Nagle).
  bool CanSendData(size_t room) const;
  // True if the next packet would carry only new data less than `room` (for Nagle).
  bool WouldSendOnlySmallNewData(size_t room) const;

  // RFC 9260 §6.2.1 / §7.2.4: processes a SACK.
  SackOutcome HandleSack(Timestamp now, const SackChunk& sack);
  // RFC 9260 §6.3.3 / §7.2.3: T3-rtx expired.
  void HandleT3Expiry(Timestamp now);

  // RFC 3758 §3.5: true if a FORWARD-TSN (or I-FORWARD-TSN) should be sent now.
  bool ShouldSendForwardTsn() const;
  void BuildForwardTsn(ForwardTsnChunk& out);
  void BuildIForwardTsn(IForwardTsnChunk& out);

  bool has_outstanding() const { return !outstanding_.empty(); }
  // True if chunks of `stream` are sent but not yet acknowledged (or marked for retransmission).
  bool HasUnackedData(uint16_t stream) const;
  uint64_t next_tsn() const { return next_tsn_; }
  uint64_t cumulative_tsn_ack() const { return cum_ack_; }
  uint32_t last_assigned_tsn() const { return Wrap32(next_tsn_ - 1); }
  size_t flight_size() const { return flight_size_; }
  size_t cwnd() const { return cwnd_; }
  size_t ssthresh() const { return ssthresh_; }
  size_t peer_rwnd() const { return peer_a_rwnd_; }
  size_t outstanding_chunks() const { return outstanding_.size(); }
  const Counters& counters() const { return counters_; }

 private:
  size_t DataHeaderSize() const { return config_.interleaved ? kIDataChunkHeaderSize : kDataChunkHeaderSize; }
  size_t rwnd_available() const { return peer_a_rwnd_ > flight_size_ ? peer_a_rwnd_ - flight_size_ : 0; }
  OutstandingChunk& At(uint64_t tsn) { return outstanding_[tsn - cum_ack_ - 1]; }
  void Transmit(Timestamp now, OutstandingChunk& c);
  void MarkForRetransmission(OutstandingChunk& c, bool fast);
  bool ShouldAbandon(const OutstandingChunk& c, Timestamp now) const;
  void AbandonMessage(const OutstandingChunk& c);
  uint64_t AdvancedPeerAckPoint() const;

  SendQueue& send_queue_;
  Config config_;
  RingQueue<OutstandingChunk> outstanding_;  // TSNs cum_ack_+1 .. next_tsn_-1, in order
  std::set<uint64_t> to_retransmit_;         // TSNs in state kToRetransmit
  uint64_t next_tsn_ = 0;
  uint64_t cum_ack_ = 0;
  size_t flight_size_ = 0;
  size_t cwnd_ = 0;
  size_t ssthresh_ = 0;
  size_t partial_bytes_acked_ = 0;
  size_t peer_a_rwnd_ = 0;
  bool in_fast_recovery_ = false;
  uint64_t fast_recovery_exit_ = 0;
  bool fast_retransmit_pending_ = false;  // the next packet carries fast retransmissions regardless of cwnd
  size_t in_packet_ = 0;                  // chunks NextChunk returned for the current packet
  uint64_t last_forward_tsn_point_ = 0;   // the Advanced.Peer.Ack.Point last sent in a FORWARD-TSN
  bool forward_tsn_retransmit_ = false;   // T3 expired with an unacknowledged FORWARD-TSN
  Counters counters_;
};

}  // namespace tandem::sctp
