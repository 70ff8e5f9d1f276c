// A leaky-bucket pacer for outgoing RTP: packets leave no faster than the pacing rate (by default 2.5 x the
// bandwidth estimate, as libwebrtc paces), so that a large key frame is spread over time instead of being
// burst into the bottleneck queue at once (a burst would read as congestion to the delay-based estimator and
// overflow shallow router queues). Priorities: audio goes out at once (it is small and latency-critical, and
// it still adds to the debt that video then waits out), then retransmissions (a receiver is waiting for
// them), then new video, each FIFO.
//
// Media debt model: every packet sent adds its size to the debt, which drains at the pacing rate; a paced
// packet may leave when the debt is zero. When the queue holds more than max_queue_time of data at that rate,
// the rate is raised to drain it within max_queue_time (a low estimate must not make latency grow without
// bound). Sans-IO: Pop(now) / NextSendTime().
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "core/time.h"
#include "session/session_types.h"

namespace tandem::session {

enum class PacketPriority : uint8_t { kAudio = 0, kRetransmission = 1, kVideo = 2 };

// One RTP packet waiting in the pacer: plaintext, with room after it for the SRTP tag in `data`'s capacity.
struct PacedPacket {
  std::vector<uint8_t> data;
  StreamId stream = 0;
  PacketPriority priority = PacketPriority::kVideo;
  bool rtx = false;             // travels on the stream's RTX SSRC (RFC 4588)
  bool retransmission = false;  // answers a NACK (RTX or a plain resend)
  Timestamp enqueued;
  Timestamp capture_time;  // when the frame was handed to SendFrame (for the SR's NTP/RTP mapping)
  uint32_t rtp_timestamp = 0;
  size_t payload_size = 0;  // media payload bytes (for RTX: without the OSN)
};

struct PacerConfig {
  double pacing_factor = 2.5;
  int64_t min_pacing_rate_bps = 50'000;
  TimeDelta max_queue_time = TimeDelta::Seconds(1);
  size_t max_packets = 4096;
};

struct PacerStats {
  uint64_t packets_sent = 0;
  uint64_t overflows = 0;  // packets refused because the queue was full
  TimeDelta max_queue_delay;
};

class Pacer {
 public:
  explicit Pacer(PacerConfig config = {});

  // The bandwidth estimate the pacing rate follows (pacing_factor x, at least min_pacing_rate_bps).
  void SetTargetBitrate(int64_t target_bps);
  int64_t pacing_rate_bps() const { return pacing_rate_bps_; }

  // Queues a packet. False (the packet is handed back untouched in `packet`) when the queue is full.
  bool Push(Timestamp now, PacedPacket& packet);
  // The next packet allowed to leave at `now`, if any (its size is added to the debt).
  std::optional<PacedPacket> Pop(Timestamp now);
  // When Pop next has something; Infinity when the queue is empty.
  Timestamp NextSendTime() const;

  // Removes every queued packet of a stream (calling `release` with each so buffers can be recycled).
  void RemoveStream(StreamId stream, const std::function<void(PacedPacket&&)>& release);
  // Removes a stream's queued retransmissions only: after a key frame request the receiver restarts at the
  // coming key frame, and repairs of older frames would only delay it.
  void RemoveRetransmissions(StreamId stream, const std::function<void(PacedPacket&&)>& release);

  size_t queued_packets() const { return queues_[0].size() + queues_[1].size() + queues_[2].size(); }
  size_t queued_bytes() const { return queued_bytes_; }
  const PacerStats& stats() const { return stats_; }

 private:
  void RemoveIf(const std::function<bool(const PacedPacket&)>& match,
                const std::function<void(PacedPacket&&)>& release);
  void Drain(Timestamp now);
  double EffectiveRateBps() const;

  PacerConfig config_;
  int64_t pacing_rate_bps_;
  std::deque<PacedPacket> queues_[3];  // by PacketPriority
  size_t queued_bytes_ = 0;
  double debt_bytes_ = 0;
  std::optional<Timestamp> last_drain_;
  PacerStats stats_;
};

}  // namespace tandem::session
