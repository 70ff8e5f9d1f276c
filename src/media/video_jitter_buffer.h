// Receive-side video jitter buffer and frame assembler for VP8 (RFC 7741) and H.264 (RFC 6184) RTP payloads.
// Sans-IO: packets go in with their arrival time; complete, decodable frames come out in order when their
// playout time comes; the buffer says which packets are missing (for NACK, RFC 4585 §6.2.1) and when it needs
// a key frame (for PLI, RFC 4585 §6.3.1). No clock reads, no allocation per packet once warmed up.
//
//   VideoJitterBuffer jb(config, VideoCodec::kVp8);
//   jb.InsertPacket(now, info, payload);           // for every RTP packet of the stream
//   jb.HandleTimeout(now);                          // at jb.PollTimeout() and after inserting
//   while (auto frame = jb.PollFrame(now)) decode(*frame);
//   if (jb.TakeKeyFrameRequest()) send_pli();
//   jb.GetMissingPackets(nack_list);                // when building a NACK
//
// Frames (RFC 7741 §4.5; RFC 6184 §5.1): a VP8 frame starts with S=1, PID=0 and ends at the marker bit. An
// H.264 access unit ends at the marker bit and starts after the previous packet's marker or timestamp change;
// when that packet is lost, a packet that begins with AUD/SPS/PPS/SEI or a first slice starts the access
// unit. Completeness: every sequence number from the first packet to the marker is present. Decodability: a
// key frame always; another frame only when it follows the last output frame with nothing lost in between
// (consecutive sequence numbers, or consecutive VP8 PictureIDs, which prove that only padding was lost).
// After a loss the buffer waits up to max_wait_for_missing past the next frame's playout time for
// retransmissions, then drops the frames that reference the missing one, asks for a key frame and resumes at
// the next key frame. Playout: a frame is released at its RTP timestamp mapped to local time through the
// fastest recent frame, plus a delay of target_delay + the largest recent delay variation (jitter), clamped
// to [min_delay, max_delay].
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/time.h"
#include "media/media_frame.h"
#include "media/rtp_types.h"
#include "media/transit_window.h"

namespace tandem::media {

struct VideoJitterBufferConfig {
  // Packet slots; rounded up to a power of two in [16, 4096]. 1024 holds about a second of 720p at 8 Mbit/s.
  size_t capacity = 1024;
  // Largest payload kept per packet; larger ones are dropped as malformed.
  size_t max_payload_size = 1500;
  // Largest assembled frame; bigger frames are dropped.
  size_t max_frame_size = 4 * 1024 * 1024;
  TimeDelta target_delay = TimeDelta::Millis(20);  // added on top of the measured jitter
  TimeDelta min_delay = TimeDelta::Zero();
  TimeDelta max_delay = TimeDelta::Millis(1000);
  // How long a frame after a gap may wait (past its playout time) for the missing packets to be
  // retransmitted: at least max_wait_for_missing, and at least retransmission_round_trips round trips (the
  // measured RTT, default_rtt until UpdateRtt), so that a retransmission lost in turn can be asked for again.
  TimeDelta max_wait_for_missing = TimeDelta::Millis(150);
  int retransmission_round_trips = 4;
  TimeDelta default_rtt = TimeDelta::Millis(100);
  // Minimum spacing of key frame requests, and how often they are repeated while no key frame arrives.
  TimeDelta key_frame_request_interval = TimeDelta::Millis(250);
  // The window over which the fastest frame (the delay baseline) and the largest delay variation are taken.
  TimeDelta timing_window = TimeDelta::Seconds(4);
  // At most this many sequence numbers are reported by GetMissingPackets.
  size_t max_missing_packets = 512;
};

struct VideoJitterBufferStats {
  uint64_t packets_received = 0;  // accepted into the buffer
  uint64_t packets_duplicate = 0;
  uint64_t packets_late = 0;       // older than the last frame output (or dropped)
  uint64_t packets_malformed = 0;  // depacketizer refused, or larger than max_payload_size
  uint64_t packets_padding = 0;    // empty payloads (RTP padding-only packets)
  uint64_t frames_complete = 0;
  uint64_t frames_output = 0;
  uint64_t key_frames_output = 0;
  uint64_t frames_dropped = 0;  // complete but not decodable (a reference was lost), or too large
  uint64_t losses = 0;          // times the buffer gave up waiting for missing packets
  uint64_t key_frame_requests = 0;
  uint64_t overflows = 0;  // packets too far ahead: older packets were discarded
  TimeDelta current_delay;
  TimeDelta jitter;
};

class VideoJitterBuffer {
 public:
  enum class InsertResult : uint8_t { kInserted, kDuplicate, kLate, kMalformed, kPadding };

  VideoJitterBuffer(const VideoJitterBufferConfig& config, VideoCodec codec);

  // Stores one RTP packet's payload (copied; `payload` need not outlive the call). Never fails on hostile
  // input: bad packets are counted and dropped.
  InsertResult InsertPacket(Timestamp now, const RtpPacketInfo& info, ByteSpan payload);
  // Runs time-based work: repeats key frame requests while no key frame comes.
  void HandleTimeout(Timestamp now);
  // The next frame, in order, if one is complete, decodable and due at `now`. The view in the returned frame
  // is valid until the next non-const call.
  std::optional<EncodedVideoFrame> PollFrame(Timestamp now);
  // When PollFrame or HandleTimeout next have something to do; Infinity when idle.
  Timestamp PollTimeout() const;
  // True once per key frame request (the caller sends a PLI).
  bool TakeKeyFrameRequest();
  // Sequence numbers missing between the last output frame (or the newest complete key frame) and the newest
  // packet, oldest first, at most max_missing_packets. `out` is cleared first.
  void GetMissingPackets(std::vector<uint16_t>& out) const;

  // The round-trip time to the sender (from RTCP), which sets how long a gap waits for retransmissions.
  void UpdateRtt(TimeDelta rtt) { rtt_ = rtt; }
  std::vector<uint16_t> MissingPackets() const {
    std::vector<uint16_t> v;
    GetMissingPackets(v);
    return v;
  }
  // The decoder failed on the last frame: drop everything until a key frame and ask for one.
  void OnDecodeError(Timestamp now);
  // Whether the buffer is discarding frames until a key frame comes.
  bool waiting_for_key_frame() const { return waiting_for_key_; }
  TimeDelta current_delay() const { return current_delay_; }
  const VideoJitterBufferStats& stats() const;

 private:
  TimeDelta WaitForMissing() const;

  struct Slot {
    int64_t seq = -1;  // unwrapped; -1 when free
    int64_t timestamp = 0;
    uint32_t rtp_timestamp = 0;
    uint16_t raw_seq = 0;
    bool marker = false;
    bool padding = false;
    bool retransmission = false;
    bool frame_begin = false;
    bool access_unit_start = false;  // H.264 heuristic (see DepacketizeH264)
    bool nal_start = false;          // H.264: begins a NAL unit (not an FU-A continuation)
    bool key_frame = false;          // VP8: key frame header; H.264: IDR
    bool continuous = false;         // every packet from the frame's first to this one is present
    uint16_t width = 0;
    uint16_t height = 0;
    int32_t picture_id = -1;
    uint16_t picture_id_mask = 0;  // 0x7F or 0x7FFF (RFC 7741 §4.2 M bit)
    Timestamp arrival;
    std::vector<uint8_t> data;  // depacketized bytes (Annex B for H.264)
  };
  struct FrameRecord {
    int64_t first_seq = 0;
    int64_t last_seq = 0;
    int64_t timestamp = 0;  // unwrapped RTP timestamp
    uint32_t rtp_timestamp = 0;
    bool key_frame = false;
    uint16_t width = 0;
    uint16_t height = 0;
    int32_t picture_id = -1;
    uint16_t picture_id_mask = 0;
    Timestamp complete_time;
    size_t size = 0;
  };

  Slot& SlotFor(int64_t seq) { return slots_[static_cast<size_t>(seq) & mask_]; }
  const Slot* Find(int64_t seq) const {
    const Slot& s = slots_[static_cast<size_t>(seq) & mask_];
    return s.seq == seq ? &s : nullptr;
  }
  Slot* Find(int64_t seq) {
    Slot& s = slots_[static_cast<size_t>(seq) & mask_];
    return s.seq == seq ? &s : nullptr;
  }
  void UpdateFrameBegin(int64_t seq);
  void FindFrames(Timestamp now, int64_t seq);
  void AddFrame(Timestamp now, int64_t first, int64_t last);
  void UpdateTiming(Timestamp now, const FrameRecord& f);
  Timestamp PlayoutTime(const FrameRecord& f) const;
  bool ContinuousWithLast(const FrameRecord& f) const;
  void ReleaseThrough(int64_t seq);
  void DropFront();
  void RequestKeyFrame(Timestamp now);
  void ForceKeyFrameRequest(Timestamp now);
  Timestamp NextKeyFrameRequestTime() const;
  void Reset();

  VideoJitterBufferConfig config_;
  VideoCodec codec_;
  size_t mask_;
  std::vector<Slot> slots_;
  std::vector<FrameRecord> frames_;  // complete frames, ordered by last_seq
  std::vector<uint8_t> frame_buffer_;
  SeqNumUnwrapper seq_unwrapper_;
  RtpTimestampUnwrapper ts_unwrapper_;

  bool started_ = false;
  int64_t head_ = 0;     // oldest sequence number still of interest (after the last output frame)
  int64_t highest_ = 0;  // newest sequence number received
  bool have_output_ = false;
  int64_t last_output_seq_ = 0;
  int32_t last_output_picture_id_ = -1;
  uint16_t last_output_picture_id_mask_ = 0;
  int64_t boundary_seq_ = -1;  // last packet of the last frame output or dropped (a frame boundary)
  bool waiting_for_key_ = true;
  Timestamp first_packet_time_;
  std::optional<Timestamp> last_key_request_;
  std::optional<Timestamp> last_key_packet_time_;  // a packet of a key frame arrived
  std::optional<int64_t> key_frame_timestamp_;     // unwrapped RTP timestamp of the newest key frame seen
  bool key_request_pending_ = false;

  // Timing model: windowed minimum of (arrival - media time) and windowed maximum of the variation above it.
  TransitWindow transit_;
  TimeDelta current_delay_;

  mutable VideoJitterBufferStats stats_;
  std::optional<TimeDelta> rtt_;
};

}  // namespace tandem::media
