// Receive-side adaptive jitter buffer for Opus (RFC 7587) over RTP. Sans-IO: packets go in with their arrival
// time; PollPlayout(now) hands out, one step at a time and at the pace of the RTP timestamps, what the
// decoder should do next: decode a packet, decode the lost packet from the next packet's in-band FEC (RFC
// 6716 §2.1.7, LBRR), or conceal (packet loss concealment, or comfort noise during DTX, RFC 7587 §3.1.3).
//
// Packets are reordered by sequence number and played by timestamp. The playout delay follows the measured
// jitter (the largest recent variation of arrival time above the fastest packet, plus target_delay, clamped
// to [min_delay, max_delay]): when the buffer runs dry the playout waits (concealment without moving on),
// which stretches the delay; when the delay exceeds the target by more than a frame, a packet is discarded,
// which shrinks it. After a pause in transmission (DTX), playout jumps to the next packet's timestamp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"
#include "media/rtp_types.h"
#include "media/transit_window.h"

namespace tandem::media {

struct AudioJitterBufferConfig {
  size_t capacity = 64;                            // packets (64 x 20 ms = 1.28 s)
  TimeDelta target_delay = TimeDelta::Millis(20);  // on top of the measured jitter
  TimeDelta min_delay = TimeDelta::Millis(20);
  TimeDelta max_delay = TimeDelta::Millis(500);
  TimeDelta timing_window = TimeDelta::Seconds(4);
  // Duration assumed for a lost packet whose neighbours do not tell (48 kHz samples).
  int default_packet_samples = 960;
};

enum class AudioPlayoutKind : uint8_t {
  kPacket,   // decode `payload`
  kFec,      // the packet for this time was lost: decode `payload` (the next packet) with decode_fec=1
  kConceal,  // nothing to decode: run the decoder's loss concealment (or comfort noise when `dtx`)
};

struct AudioPlayout {
  AudioPlayoutKind kind = AudioPlayoutKind::kPacket;
  ByteSpan payload;            // valid until the next non-const call
  uint32_t rtp_timestamp = 0;  // of the audio this step produces
  int samples = 960;           // duration at 48 kHz
  bool dtx = false;            // kConceal during the sender's discontinuous transmission, not a loss
  Timestamp playout_time;
};

struct AudioJitterBufferStats {
  uint64_t packets_received = 0;
  uint64_t packets_duplicate = 0;
  uint64_t packets_late = 0;  // arrived after their playout time
  uint64_t packets_malformed = 0;
  uint64_t packets_overflow = 0;  // the buffer was full: the oldest packet was dropped
  uint64_t packets_played = 0;
  uint64_t packets_discarded = 0;  // dropped to shrink the delay
  uint64_t fec_recoveries = 0;
  uint64_t concealments = 0;  // loss concealment steps (not counting DTX or waiting)
  uint64_t stretches = 0;     // concealment while waiting for a late packet
  uint64_t dtx_steps = 0;
  TimeDelta current_delay;
  TimeDelta jitter;
};

class AudioJitterBuffer {
 public:
  enum class InsertResult : uint8_t { kInserted, kDuplicate, kLate, kMalformed };

  explicit AudioJitterBuffer(const AudioJitterBufferConfig& config = {});

  // Stores one RTP packet (copied). Hostile input is counted and dropped.
  InsertResult InsertPacket(Timestamp now, const RtpPacketInfo& info, ByteSpan payload);
  // The next playout step if its time has come. Call until nullopt.
  std::optional<AudioPlayout> PollPlayout(Timestamp now);
  // When the next step is due; Infinity before the first packet.
  Timestamp PollTimeout() const;
  const AudioJitterBufferStats& stats() const;
  size_t buffered_packets() const { return order_.size(); }
  TimeDelta current_delay() const { return target_; }

 private:
  struct Packet {
    int64_t seq = 0;
    int64_t timestamp = 0;  // unwrapped
    uint32_t rtp_timestamp = 0;
    int samples = 0;
    bool dtx = false;
    bool marker = false;  // first packet of a talkspurt (RFC 7587 §4.1)
    std::vector<uint8_t> data;
  };

  void UpdateTiming(Timestamp now, int64_t timestamp);
  TimeDelta EffectiveDelay() const;
  void Remove(size_t order_index);
  AudioPlayout Emit(AudioPlayoutKind kind, size_t order_index, int64_t timestamp, int samples);

  AudioJitterBufferConfig config_;
  std::vector<Packet> pool_;
  std::vector<size_t> free_;
  std::vector<size_t> order_;  // pool indices sorted by sequence number
  SeqNumUnwrapper seq_unwrapper_;
  RtpTimestampUnwrapper ts_unwrapper_;
  std::vector<uint8_t> out_;  // the payload handed out last

  bool started_ = false;
  int64_t next_ts_ = 0;  // unwrapped RTP timestamp of the next step
  Timestamp next_time_;  // when the next step plays
  bool stretching_ = false;
  bool last_dtx_ = false;
  int last_samples_ = 960;

  TransitWindow transit_;
  TimeDelta target_;

  mutable AudioJitterBufferStats stats_;
};

}  // namespace tandem::media
