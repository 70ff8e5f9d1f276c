// Receive-side message reassembly and ordered delivery.
//
// DATA (RFC 9260 §6.9): the fragments of a message carry consecutive TSNs from the B to the E fragment;
// ordered messages are delivered in Stream Sequence Number order per stream (§6.6), unordered ones as soon as
// complete. I-DATA (RFC 8260 §2.1): fragments are identified by (stream, U, MID) and ordered by FSN; ordered
// delivery is by MID. FORWARD-TSN / I-FORWARD-TSN (RFC 3758 §3.6, RFC 8260 §2.3) skip abandoned messages; an
// incoming stream reset (RFC 6525 §5.2.2) restarts a stream's sequence at 0.
//
// In-order fragments are appended straight into the message's payload vector, so the common case costs one
// allocation per message (plus the vector's geometric growth); out-of-order fragments wait in recycled
// buffers.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "core/bytes.h"
#include "sctp/chunks.h"
#include "sctp/types.h"

namespace tandem::sctp {

// One received DATA or I-DATA chunk, as the reassembly queue needs it.
struct ReceivedFragment {
  uint64_t tsn = 0;  // unwrapped
  uint16_t stream = 0;
  bool unordered = false;
  uint32_t id = 0;    // SSN (DATA, 16 bits) or MID (I-DATA)
  uint32_t fsn = 0;   // I-DATA only
  uint32_t ppid = 0;  // DATA: every chunk; I-DATA: the B fragment
  bool beginning = false;
  bool end = false;
  ByteSpan payload;
};

class ReassemblyQueue {
 public:
  enum class AddResult {
    kAccepted,         // stored or delivered
    kMessageTooLarge,  // the message exceeds max_message_size: a protocol violation by the peer
    kNoResources,      // too many partial messages; the chunk was not stored (leave it unacknowledged)
  };
  // Bounds the number of messages being reassembled at once.
  static constexpr size_t kMaxPartialMessages = 1024;

  // `deliver` receives each message when it becomes deliverable (in order for ordered streams).
  ReassemblyQueue(size_t max_message_size, std::function<void(Message&&)> deliver);

  // Clears everything; `interleaved` selects I-DATA (RFC 8260) semantics.
  void Reset(bool interleaved);

  // Adds a new (not duplicate) fragment.
  AddResult Add(const ReceivedFragment& fragment);

  // RFC 3758 §3.6 (DATA): drops unordered fragments at or below `new_cumulative_tsn` and skips the listed
  // ordered streams up to and including the given SSN, delivering what becomes deliverable.
  void HandleForwardTsn(uint64_t new_cumulative_tsn, std::span<const ForwardTsnChunk::SkippedStream> skipped);
  // RFC 8260 §2.3.2 (I-DATA): drops the listed messages (up to the MID) and skips ordered streams past them.
  void HandleIForwardTsn(std::span<const IForwardTsnChunk::SkippedStream> skipped);

  // RFC 6525 §5.2.2: the peer reset these outgoing (our incoming) streams; their sequence restarts at 0. An
  // empty list means all streams.
  void ResetStreams(std::span<const uint16_t> streams);

  // Bytes held: fragments of incomplete messages and complete ordered messages waiting for an earlier one.
  size_t buffered_bytes() const { return buffered_bytes_; }
  size_t partial_message_count() const { return partials_.size(); }

 private:
  struct Fragment {
    uint64_t key = 0;  // TSN (DATA) or FSN (I-DATA)
    uint64_t tsn = 0;
    uint32_t ppid = 0;
    bool beginning = false;
    bool end = false;
    std::vector<uint8_t> data;
  };
  struct Partial {
    uint16_t stream = 0;
    bool unordered = false;
    uint32_t id = 0;        // SSN or MID; for unordered DATA the TSN of the B fragment
    bool orphans = false;   // unordered DATA: fragments whose B fragment has not arrived yet
    bool started = false;   // the B fragment is in `assembled`
    uint64_t next_key = 0;  // the key that would extend `assembled`
    uint32_t ppid = 0;
    uint64_t min_tsn = UINT64_MAX;
    std::vector<uint8_t> assembled;
    std::vector<Fragment> pending;  // sorted by key; not contiguous with `assembled` yet
    size_t bytes = 0;
  };
  struct InStream {
    uint64_t next_ordered = 0;                  // unwrapped next SSN/MID to deliver
    std::map<uint64_t, Message> ready;          // complete ordered messages waiting for an earlier one
    std::optional<uint32_t> unordered_skipped;  // I-DATA: unordered MIDs up to this one were skipped
    size_t size_hint = 0;  // size of the last message delivered on the stream: the next is likely similar
  };

  static constexpr uint64_t kSequenceBase = uint64_t{1} << 40;

  Partial* FindPartial(uint16_t stream, bool unordered, uint32_t id, bool orphans);
  Partial* NewPartial(uint16_t stream, bool unordered, uint32_t id, bool orphans);
  void RemovePartial(Partial* p);
  // Appends or stores `f` in `p`; completes and delivers when possible. Returns false if the message is too
  // large.
  bool AddToPartial(Partial* p, const ReceivedFragment& f, uint64_t key);
  void AppendToPrefix(Partial* p, ByteSpan data, uint64_t tsn);
  // Pulls fragments that continue `p`'s prefix from its pending list (and, for unordered DATA, from the
  // stream's orphans), completing and delivering the message when its E fragment is appended. Returns false
  // if the message grew beyond max_message_size.
  bool Drain(Partial* p);
  // Removes orphan buckets that Drain emptied.
  void PruneOrphans();
  void Complete(Partial* p);
  void Deliver(uint16_t stream, bool unordered, uint32_t id, uint32_t ppid, std::vector<uint8_t>&& payload);
  void DeliverReady(uint16_t stream, InStream& s);
  uint64_t UnwrapId(const InStream& s, uint32_t id) const;
  std::vector<uint8_t> TakeBuffer();
  void Recycle(std::vector<uint8_t>&& buffer);

  size_t max_message_size_;
  std::function<void(Message&&)> deliver_;
  bool interleaved_ = false;
  std::vector<Partial> partials_;
  std::unordered_map<uint16_t, InStream> streams_;
  std::vector<std::vector<uint8_t>> buffer_pool_;
  size_t buffered_bytes_ = 0;
};

}  // namespace tandem::sctp
