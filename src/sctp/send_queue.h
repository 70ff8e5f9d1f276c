// Outgoing message queues: one FIFO per stream, a total byte cap, per-stream buffered amounts with
// low-threshold events, and a round-robin scheduler across streams that cuts messages into fragments on
// demand.
//
// Without I-DATA a message's fragments must take consecutive TSNs (RFC 9260 §6.9), so the scheduler moves to
// the next stream only at message boundaries; with I-DATA (RFC 8260) it moves after every fragment, so a
// large message on one stream does not hold up small ones on another.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "sctp/ring_queue.h"
#include "sctp/types.h"

namespace tandem::sctp {

// A message's bytes, shared by the queue and the in-flight fragments that reference them (one allocation per
// message; fragments are views).
using MessageBytes = std::shared_ptr<const uint8_t[]>;

// One fragment handed to the retransmission queue: everything needed to (re)serialize a DATA or I-DATA chunk.
struct Fragment {
  uint64_t message_id = 0;  // unique per message within the association
  uint16_t stream = 0;
  uint32_t ppid = 0;
  uint32_t id = 0;   // SSN (DATA, 16 bits) or MID (I-DATA)
  uint32_t fsn = 0;  // I-DATA fragment sequence number
  bool unordered = false;
  bool beginning = false;
  bool end = false;
  MessageBytes data;
  uint32_t offset = 0;
  uint32_t length = 0;
  std::optional<uint16_t> max_retransmits;
  Timestamp expires_at = Timestamp::Infinity();

  ByteSpan payload() const { return {data.get() + offset, length}; }
};

class SendQueue {
 public:
  // `on_buffered_amount_low` is called (synchronously) when a stream's buffered amount falls to or below its
  // threshold from above it.
  SendQueue(size_t capacity, std::function<void(uint16_t)> on_buffered_amount_low);

  // Queues a copy of `payload`. Errors: kLimitExceeded (total cap), kInvalidArgument (empty payload).
  Status Add(Timestamp now, uint16_t stream, uint32_t ppid, ByteSpan payload, const SendOptions& options);

  // Cuts the next fragment of at most `max_payload` bytes, choosing the stream round-robin. Messages whose
  // lifetime ended before their first fragment are dropped (counted in expired_messages()). Returns nullopt
  // if nothing is queued (or nothing fits in `max_payload`).
  std::optional<Fragment> Produce(Timestamp now, size_t max_payload);
  // True if Produce may return something.
  bool HasData() const { return !active_.empty(); }
  // Size of the next fragment Produce would cut, without cutting it (0 if nothing queued).
  size_t NextFragmentSize(size_t max_payload) const;
  // Bytes not yet cut from the message Produce would continue or start next (0 if nothing queued).
  size_t NextMessageRemaining() const;

  // Drops the unsent remainder of a partially sent message (RFC 3758 abandonment). Returns true if it was
  // found.
  bool DiscardRemainder(uint16_t stream, uint64_t message_id);
  // Drops every queued message on streams >= `stream_count` (after negotiating fewer streams than we queued
  // for); returns how many were dropped.
  size_t DiscardStreamsFrom(uint16_t stream_count);
  // Drops everything (association close).
  void Clear();
  // Association restart (RFC 9260 §5.2.4 A): every stream's sequence numbers start over; partially sent
  // messages are dropped (their first fragments went to the old association), whole queued messages are kept.
  void Restart();

  // Selects I-DATA numbering (MIDs and FSNs) and per-fragment round robin.
  void SetInterleaved(bool interleaved) { interleaved_ = interleaved; }

  // RFC 6525: after a completed outgoing reset the stream's SSN (and MIDs) restart at 0.
  void ResetSequenceNumbers(uint16_t stream);
  // True if the stream has nothing queued (including a partially sent message).
  bool IsEmpty(uint16_t stream) const;

  size_t buffered_amount(uint16_t stream) const;
  size_t total_buffered_amount() const { return total_buffered_; }
  void SetBufferedAmountLowThreshold(uint16_t stream, size_t bytes);
  size_t capacity() const { return capacity_; }
  uint64_t expired_messages() const { return expired_messages_; }

 private:
  struct QueuedMessage {
    uint64_t message_id = 0;
    uint32_t ppid = 0;
    bool unordered = false;
    MessageBytes data;
    uint32_t size = 0;
    uint32_t offset = 0;  // bytes already cut into fragments
    uint32_t next_fsn = 0;
    uint32_t id = 0;  // SSN/MID, valid once offset > 0
    std::optional<uint16_t> max_retransmits;
    Timestamp expires_at = Timestamp::Infinity();
  };
  struct OutStream {
    RingQueue<QueuedMessage> queue;
    uint16_t next_ssn = 0;
    uint32_t next_ordered_mid = 0;
    uint32_t next_unordered_mid = 0;
    size_t buffered = 0;
    size_t low_threshold = 0;
    bool active = false;  // listed in active_
  };

  void Activate(uint16_t stream, OutStream& s);
  void Deactivate(size_t active_index);
  void Decrease(uint16_t stream, OutStream& s, size_t bytes);

  size_t capacity_;
  std::function<void(uint16_t)> on_low_;
  bool interleaved_ = false;
  std::unordered_map<uint16_t, OutStream> streams_;
  std::vector<uint16_t> active_;  // streams with queued data, in round-robin order
  size_t cursor_ = 0;             // index into active_ of the stream served next
  size_t total_buffered_ = 0;
  uint64_t next_message_id_ = 1;
  uint64_t expired_messages_ = 0;
};

}  // namespace tandem::sctp
