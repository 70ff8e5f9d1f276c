// Receiver-side NACK generation (RFC 4585 §6.2.1 Generic NACK, sent as RTCP feedback; RFC 4588 retransmission
// answers it). Sans-IO: it watches the sequence numbers of one media SSRC, keeps a list of missing packets,
// asks for each as soon as it is found missing (after an optional reordering delay), asks again once per
// round-trip time up to max_retries, and gives up; when too much is missing for retransmission to help it
// asks for a key frame instead (RFC 4585 §6.3.1 PLI is the caller's message).
//
//   nack.OnPacket(now, seq, is_key_frame, is_retransmission);   // or HandleTimeout(now) at PollTimeout()
//   if (nack.PollNack(seqs)) send Nack{..., seqs};
//   if (nack.PollKeyFrameRequest()) send Pli{...};
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "core/time.h"
#include "rtp/sequence.h"

namespace tandem::rtp {

struct NackConfig {
  // Missing packets tracked at most. Beyond: drop those older than the last key frame; if still too many,
  // clear the list and ask for a key frame.
  size_t max_nack_list = 1000;
  // Missing packets further than this behind the newest received are dropped (they could not be used anyway).
  int64_t max_packet_age = 10000;
  // A packet is requested at most this many times, then given up.
  int max_retries = 10;
  // Retry spacing: the RTT (UpdateRtt), default_rtt until known, never less than min_retry_interval. On a
  // short path the floor decides: senders (libwebrtc) ignore a NACK for a packet they resent less than an RTT
  // ago, and their pacer takes a few ms, so 10 retries 15 ms apart give a loss 150 ms of repair (the video
  // jitter buffer's wait) instead of 50 ms of NACKs that the sender drops as too soon.
  TimeDelta default_rtt = TimeDelta::Millis(100);
  TimeDelta min_retry_interval = TimeDelta::Millis(15);
  // Wait this long before the first request (reordering); 0 asks at once, as libwebrtc does.
  TimeDelta initial_delay = TimeDelta::Zero();
  // Ask for a key frame when a packet is given up (its frame cannot be decoded).
  bool key_frame_on_give_up = true;
  // Key frame requests closer together than this are merged.
  TimeDelta min_key_frame_request_interval = TimeDelta::Millis(200);
};

struct NackStats {
  uint64_t packets_missing = 0;     // gaps detected, in packets
  uint64_t nacks_requested = 0;     // sequence numbers put in NACKs, retries included
  uint64_t recovered = 0;           // missing packets that arrived later (retransmitted or reordered)
  uint64_t given_up = 0;            // dropped after max_retries
  uint64_t dropped_too_old = 0;     // dropped by max_packet_age or key-frame trimming
  uint64_t list_overflows = 0;      // the list was cleared because too much was missing
  uint64_t key_frame_requests = 0;  // requests handed out by PollKeyFrameRequest
};

class NackGenerator {
 public:
  explicit NackGenerator(NackConfig config = {});

  // A packet of the stream arrived (RTX-restored ones too, with is_retransmission).
  void OnPacket(Timestamp now, uint16_t sequence_number, bool is_key_frame = false,
                bool is_retransmission = false);
  void UpdateRtt(TimeDelta rtt) { rtt_ = rtt; }
  void HandleTimeout(Timestamp now);

  // Sequence numbers to request now, oldest first, into `out` (cleared first). False when there are none.
  bool PollNack(std::vector<uint16_t>& out);
  // Forgets every missing packet: the receiver gave up on them and waits for a key frame, so asking for
  // them again would only take bandwidth from that key frame.
  void ClearMissing();
  // True once per key frame request.
  bool PollKeyFrameRequest();
  // When HandleTimeout must run next (a retry is due), Infinity when idle.
  Timestamp PollTimeout() const;

  size_t missing_count() const { return missing_.size(); }
  const NackStats& stats() const { return stats_; }

 private:
  struct Entry {
    Timestamp next_send;
    int sends = 0;
  };
  TimeDelta RetryInterval() const;
  void Collect(Timestamp now);
  void RequestKeyFrame(Timestamp now);
  void TrimByAge();
  void TrimOverflow(Timestamp now);

  NackConfig config_;
  SeqNumUnwrapper unwrapper_;
  bool initialized_ = false;
  int64_t newest_ = 0;
  std::map<int64_t, Entry> missing_;  // by unwrapped sequence number
  std::set<int64_t> key_frames_;      // recent key frame starts, for trimming on overflow
  std::vector<uint16_t> pending_;     // collected and not yet polled
  bool key_frame_pending_ = false;
  bool have_key_frame_request_ = false;
  Timestamp last_key_frame_request_;
  TimeDelta rtt_;
  NackStats stats_;
};

}  // namespace tandem::rtp
