// Receiver side of transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3):
// records the arrival time of every packet carrying the transport-wide sequence number extension and
// periodically reports them in TransportFeedback packets (every `interval`, by default 100 ms, as libwebrtc
// does). Sans-IO: OnPacket / HandleTimeout(now) in, PollFeedback / PollTimeout out.
//
// A packet that arrives after its sequence number was already reported (reordered past a feedback) moves the
// start of the next report back to it, so the sender learns it was not lost; packets reported before stay
// remembered for `max_history` to be reported again in that case.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>

#include "core/time.h"
#include "rtp/sequence.h"
#include "rtp/transport_feedback.h"

namespace tandem::rtp {

struct TwccReceiverConfig {
  uint32_t sender_ssrc = 0;  // our RTCP SSRC
  uint32_t media_ssrc = 0;  // the draft leaves it to the sender; libwebrtc sends the SSRC of one media stream
  TimeDelta interval = TimeDelta::Millis(100);
  size_t max_packet_size = TransportFeedback::kDefaultMaxSize;
  TimeDelta max_history = TimeDelta::Millis(500);
  size_t max_tracked_packets = 8192;  // arrival records kept at most (hostile sequence numbers)
};

struct TwccReceiverStats {
  uint64_t packets = 0;
  uint64_t duplicates = 0;
  uint64_t late = 0;  // arrived after their sequence number was reported
  uint64_t feedback_packets = 0;
  uint64_t dropped_records = 0;  // records evicted by max_tracked_packets before being reported
};

class TwccReceiver {
 public:
  explicit TwccReceiver(TwccReceiverConfig config = {}) : config_(config) {}

  void OnPacket(Timestamp arrival, uint16_t transport_sequence_number);
  // Builds the feedback due at `now` (possibly several packets when one would outgrow max_packet_size).
  void HandleTimeout(Timestamp now);
  std::optional<TransportFeedback> PollFeedback();
  // The next report time while there is something to report, else Infinity.
  Timestamp PollTimeout() const;

  const TwccReceiverStats& stats() const { return stats_; }

 private:
  bool HasUnreported() const;
  void Prune(Timestamp now);

  TwccReceiverConfig config_;
  SeqNumUnwrapper unwrapper_;
  std::map<int64_t, Timestamp> arrivals_;  // by unwrapped transport sequence number
  std::optional<int64_t> next_report_;     // first sequence number the next feedback covers
  Timestamp next_send_ = Timestamp::Infinity();
  uint8_t feedback_count_ = 0;
  std::deque<TransportFeedback> out_;
  TwccReceiverStats stats_;
};

}  // namespace tandem::rtp
