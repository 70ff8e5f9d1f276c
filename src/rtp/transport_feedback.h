// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): RTPFB
// FMT 15, reporting for a range of transport-wide sequence numbers which arrived and when.
//
//   |V=2|P|  FMT=15 |    PT=205     |           length              |
//   |                     SSRC of packet sender                     |
//   |                      SSRC of media source                     |
//   |      base sequence number     |      packet status count      |
//   |                 reference time                | fb pkt. count |
//   |          packet chunk         |         packet chunk          |  ...
//   |         packet chunk          |  recv delta   |  recv delta   |  ...
//   |           recv delta          |  recv delta   | zero padding  |
//
// Packet chunks (§3.1.3, §3.1.4) are run-length chunks (0 | 2-bit symbol | 13-bit run) or status vector
// chunks (1 | S | 14 one-bit or 7 two-bit symbols). Symbols (§3.1.1): 00 not received, 01 received with a
// small delta (one unsigned byte), 10 received with a large or negative delta (two signed bytes), 11 reserved
// (refused). Deltas are in 250 µs; the first is relative to the reference time (signed 24 bits, 64 ms units),
// each next one to the previous received packet.
//
// The same class parses (Parse) and builds (SetBase, then AddReceivedPacket in sequence order). Building
// follows the encoder every deployed receiver uses: symbols collect in a pending chunk that is emitted as a
// run, a 14-symbol one-bit vector or a 7-symbol two-bit vector, whichever keeps the most symbols.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"
#include "rtp/rtcp_common.h"

namespace tandem::rtp {

class TransportFeedback {
 public:
  static constexpr int64_t kDeltaTickUs = 250;            // §3.1.5
  static constexpr int64_t kReferenceTimeTickUs = 64000;  // §3.1
  static constexpr int64_t kReferenceTimeWrapUs = kReferenceTimeTickUs << 24;
  static constexpr size_t kMaxStatusCount = 0xFFFF;
  // Bound on what one packet we build may grow to (feedback goes in one datagram with SRTCP overhead).
  static constexpr size_t kDefaultMaxSize = 1200;

  enum class Status : uint8_t { kNotReceived = 0, kSmallDelta = 1, kLargeDelta = 2 };

  struct ReceivedPacket {
    uint16_t sequence_number = 0;
    int32_t delta_ticks = 0;  // from the previous received packet (the first: from the reference time)
    bool operator==(const ReceivedPacket&) const = default;
  };

  TransportFeedback() = default;
  TransportFeedback(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t feedback_count,
                    size_t max_size = kDefaultMaxSize)
      : sender_ssrc_(sender_ssrc),
        media_ssrc_(media_ssrc),
        feedback_count_(feedback_count),
        max_size_(max_size) {}

  // --- building ---
  // Starts the report at `base_sequence_number` with a reference time of `reference` rounded down to 64 ms.
  void SetBase(uint16_t base_sequence_number, Timestamp reference);
  // Appends a received packet. `sequence_number` must come after the previously added one (the first may
  // equal the base); skipped numbers are reported as not received. False, changing nothing, when the packet
  // does not fit: its delta is not representable in 16 bits, the status count would pass 0xFFFF, or the
  // packet would outgrow max_size. The caller then sends this one and starts the next at that sequence
  // number.
  bool AddReceivedPacket(uint16_t sequence_number, Timestamp arrival);

  // --- parsing ---
  static std::optional<TransportFeedback> Parse(const RtcpHeader& h);

  size_t SerializedSize() const;
  bool SerializeTo(ByteWriter& w) const;

  uint32_t sender_ssrc() const { return sender_ssrc_; }
  uint32_t media_ssrc() const { return media_ssrc_; }
  uint16_t base_sequence_number() const { return base_sequence_number_; }
  uint16_t packet_status_count() const { return status_count_; }
  int32_t reference_time() const { return reference_time_; }  // 64 ms ticks, 24-bit signed as on the wire
  uint8_t feedback_count() const { return feedback_count_; }
  const std::vector<ReceivedPacket>& received_packets() const { return received_; }
  bool empty() const { return received_.empty(); }
  // The reference time in microseconds (an arbitrary, receiver-chosen epoch: only differences matter).
  int64_t BaseTimeUs() const { return int64_t{reference_time_} * kReferenceTimeTickUs; }
  // The difference of this packet's reference time from an earlier one's, across the 24-bit wrap.
  int64_t BaseDeltaUs(const TransportFeedback& earlier) const;
  // The status of the i-th sequence number after the base (i < packet_status_count()).
  std::vector<Status> Statuses() const;

  bool operator==(const TransportFeedback& o) const {
    return sender_ssrc_ == o.sender_ssrc_ && media_ssrc_ == o.media_ssrc_ &&
           base_sequence_number_ == o.base_sequence_number_ && status_count_ == o.status_count_ &&
           reference_time_ == o.reference_time_ && feedback_count_ == o.feedback_count_ &&
           received_ == o.received_;
  }

  // Packs symbols into 16-bit chunks (exposed for tests of the draft's chunk examples).
  class ChunkEncoder {
   public:
    // Adds one symbol; may first emit a full chunk into `out` (when non-null).
    void Add(Status s, std::vector<uint16_t>* out);
    // Emits what is pending.
    void Finish(std::vector<uint16_t>* out);
    size_t emitted() const { return emitted_; }
    bool has_pending() const { return size_ > 0; }

   private:
    static constexpr size_t kOneBitCapacity = 14;
    static constexpr size_t kTwoBitCapacity = 7;
    static constexpr size_t kMaxRunLength = 0x1FFF;
    bool CanAdd(Status s) const;
    void Emit(std::vector<uint16_t>* out);
    void Push(uint16_t chunk, std::vector<uint16_t>* out);

    std::array<Status, kOneBitCapacity> symbols_{};
    size_t size_ = 0;
    bool all_same_ = true;
    bool has_large_ = false;
    size_t emitted_ = 0;
  };

 private:
  static Status StatusOf(int32_t delta_ticks) {
    return delta_ticks >= 0 && delta_ticks <= 0xFF ? Status::kSmallDelta : Status::kLargeDelta;
  }
  size_t DeltaBytes() const { return delta_bytes_; }

  uint32_t sender_ssrc_ = 0;
  uint32_t media_ssrc_ = 0;
  uint16_t base_sequence_number_ = 0;
  uint16_t status_count_ = 0;
  int32_t reference_time_ = 0;
  uint8_t feedback_count_ = 0;
  size_t max_size_ = kDefaultMaxSize;
  std::vector<ReceivedPacket> received_;

  // Builder state.
  int64_t last_time_us_ = 0;  // the reconstructed arrival time of the last added packet (rounding included)
  size_t delta_bytes_ = 0;
  ChunkEncoder size_encoder_;  // tracks how many chunks the statuses so far need
};

}  // namespace tandem::rtp
