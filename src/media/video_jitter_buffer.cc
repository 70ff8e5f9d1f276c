#include "media/video_jitter_buffer.h"

#include <algorithm>

#include "media/h264_payload.h"
#include "media/vp8_payload.h"

namespace tandem::media {
namespace {

size_t RoundCapacity(size_t n) {
  size_t c = 16;
  while (c < n && c < 4096) c <<= 1;
  return c;
}

int64_t MediaMicros(int64_t unwrapped_timestamp) {
  return unwrapped_timestamp * 1000000 / static_cast<int64_t>(kVideoClockRate);
}

}  // namespace

VideoJitterBuffer::VideoJitterBuffer(const VideoJitterBufferConfig& config, VideoCodec codec)
    : config_(config), codec_(codec), transit_(config.timing_window) {
  const size_t capacity = RoundCapacity(config.capacity);
  mask_ = capacity - 1;
  slots_.resize(capacity);
  frames_.reserve(capacity);
  current_delay_ = std::clamp(config_.target_delay, config_.min_delay, config_.max_delay);
}

const VideoJitterBufferStats& VideoJitterBuffer::stats() const {
  stats_.current_delay = current_delay_;
  stats_.jitter = transit_.jitter();
  return stats_;
}

void VideoJitterBuffer::Reset() {
  for (Slot& s : slots_) s.seq = -1;
  frames_.clear();
  have_output_ = false;
  waiting_for_key_ = true;
  boundary_seq_ = -1;
}

VideoJitterBuffer::InsertResult VideoJitterBuffer::InsertPacket(Timestamp now, const RtpPacketInfo& info,
                                                                ByteSpan payload) {
  if (payload.size() > config_.max_payload_size) {
    ++stats_.packets_malformed;
    return InsertResult::kMalformed;
  }
  const int64_t seq = seq_unwrapper_.Unwrap(info.sequence_number);
  const int64_t capacity = static_cast<int64_t>(slots_.size());
  if (!started_) {
    started_ = true;
    head_ = seq;
    highest_ = seq;
    first_packet_time_ = now;
  }
  if (seq < head_) {
    // Before anything was output or dropped, an earlier packet (reordered at the start) moves the start back.
    if (have_output_ || boundary_seq_ >= seq || highest_ - seq >= capacity) {
      ++stats_.packets_late;
      return InsertResult::kLate;
    }
    head_ = seq;
  }
  if (seq >= head_ + capacity) {
    // The packet does not fit behind what we still hold: what we hold is stuck (or the sender jumped).
    ++stats_.overflows;
    if (seq - highest_ >= capacity) {
      Reset();
      head_ = seq;
    } else {
      ReleaseThrough(seq - capacity);
      waiting_for_key_ = true;
    }
    RequestKeyFrame(now);
  }

  Slot& slot = SlotFor(seq);
  if (slot.seq == seq) {
    ++stats_.packets_duplicate;
    return InsertResult::kDuplicate;
  }
  slot.seq = -1;
  slot.data.clear();
  slot.padding = payload.empty();
  slot.frame_begin = false;
  slot.access_unit_start = false;
  slot.nal_start = false;
  slot.key_frame = false;
  slot.width = slot.height = 0;
  slot.picture_id = -1;
  slot.picture_id_mask = 0;
  if (!slot.padding) {
    if (slot.data.capacity() < 2 * config_.max_payload_size) slot.data.reserve(2 * config_.max_payload_size);
    if (codec_ == VideoCodec::kVp8) {
      auto p = DepacketizeVp8(payload);
      if (!p) {
        ++stats_.packets_malformed;
        return InsertResult::kMalformed;
      }
      slot.data.assign(p->payload.begin(), p->payload.end());
      slot.frame_begin = p->frame_begin;
      slot.key_frame = p->key_frame;
      slot.width = static_cast<uint16_t>(p->width);
      slot.height = static_cast<uint16_t>(p->height);
      if (p->descriptor.picture_id) {
        slot.picture_id = *p->descriptor.picture_id;
        slot.picture_id_mask = p->descriptor.picture_id_15bit ? kVp8PictureIdMask15 : 0x7F;
      }
    } else {
      auto p = DepacketizeH264(payload, slot.data);
      if (!p) {
        ++stats_.packets_malformed;
        return InsertResult::kMalformed;
      }
      slot.access_unit_start = p->access_unit_start;
      slot.nal_start = p->packet_type != h264::kFuA || p->fu_start;
      slot.key_frame = p->has_idr;
    }
  }
  slot.seq = seq;
  slot.raw_seq = info.sequence_number;
  slot.rtp_timestamp = info.timestamp;
  slot.timestamp = ts_unwrapper_.Unwrap(info.timestamp);
  slot.marker = info.marker;
  slot.retransmission = info.retransmission;
  slot.continuous = false;
  slot.arrival = now;
  // Progress of a key frame: its first packet (VP8) or an IDR (H.264), and any later packet of the same
  // frame.
  if (slot.key_frame) key_frame_timestamp_ = slot.timestamp;
  if (key_frame_timestamp_ && *key_frame_timestamp_ == slot.timestamp) last_key_packet_time_ = now;
  highest_ = std::max(highest_, seq);
  ++stats_.packets_received;
  if (slot.padding) ++stats_.packets_padding;

  if (codec_ == VideoCodec::kH264) {
    UpdateFrameBegin(seq);
    UpdateFrameBegin(seq + 1);
  }
  FindFrames(now, seq);
  return slot.padding ? InsertResult::kPadding : InsertResult::kInserted;
}

void VideoJitterBuffer::UpdateFrameBegin(int64_t seq) {
  // H.264 carries no frame-start flag: an access unit starts after the previous one's marker bit or timestamp
  // (RFC 6184 §5.1), which needs the previous packet; without it, fall back to the NAL-level heuristic.
  Slot* s = Find(seq);
  if (!s || s->padding) return;
  if (const Slot* prev = Find(seq - 1)) {
    s->frame_begin = prev->padding || prev->marker || prev->timestamp != s->timestamp;
  } else {
    s->frame_begin = s->access_unit_start || seq - 1 == boundary_seq_;
  }
  // An access unit cannot start inside a fragmented NAL unit (RFC 6184 §5.8).
  s->frame_begin = s->frame_begin && s->nal_start;
}

void VideoJitterBuffer::FindFrames(Timestamp now, int64_t seq) {
  // Walk forward from the new packet while packets are present: each packet is continuous when it begins a
  // frame or continues a continuous packet of the same frame; a continuous marker packet completes a frame.
  // Bounded by the buffer capacity.
  for (int64_t s = seq; s <= highest_; ++s) {
    Slot* cur = Find(s);
    if (!cur) return;
    if (cur->padding) {
      cur->continuous = true;  // belongs to no frame; the next packet begins one
      continue;
    }
    bool continuous = cur->frame_begin;
    if (!continuous) {
      const Slot* prev = Find(s - 1);
      continuous =
          prev && !prev->padding && prev->continuous && !prev->marker && prev->timestamp == cur->timestamp;
    }
    cur->continuous = continuous;
    if (!continuous) return;
    if (cur->marker) {
      // Walk back to the frame's first packet. Flags of packets before `seq` were computed earlier; if one of
      // their predecessors has since been discarded (overflow), the chain is broken and no frame is formed.
      int64_t first = s;
      const Slot* p = cur;
      while (p && !p->frame_begin && first > head_) p = Find(--first);
      if (p && p->frame_begin && p->timestamp == cur->timestamp) AddFrame(now, first, s);
    }
  }
}

void VideoJitterBuffer::AddFrame(Timestamp now, int64_t first, int64_t last) {
  FrameRecord f;
  f.first_seq = first;
  f.last_seq = last;
  const Slot* begin = Find(first);
  f.timestamp = begin->timestamp;
  f.rtp_timestamp = begin->rtp_timestamp;
  f.width = begin->width;
  f.height = begin->height;
  f.picture_id = begin->picture_id;
  f.picture_id_mask = begin->picture_id_mask;
  f.complete_time = now;
  bool retransmitted = false;
  for (int64_t s = first; s <= last; ++s) {
    const Slot* p = Find(s);
    f.size += p->data.size();
    retransmitted |= p->retransmission;
    // VP8: the key frame header is in the first packet; H.264: any IDR slice makes the access unit a key
    // frame.
    if (codec_ == VideoCodec::kH264) f.key_frame |= p->key_frame;
  }
  if (codec_ == VideoCodec::kVp8) f.key_frame = begin->key_frame;
  if (f.size > config_.max_frame_size || f.size == 0) {
    ++stats_.frames_dropped;
    return;
  }
  auto it = std::lower_bound(frames_.begin(), frames_.end(), last,
                             [](const FrameRecord& r, int64_t v) { return r.last_seq < v; });
  if (it != frames_.end() && it->last_seq == last) {
    *it = f;  // the same frame, found again with an earlier start (H.264)
    return;
  }
  ++stats_.frames_complete;
  if (!retransmitted || !transit_.valid()) UpdateTiming(now, f);
  frames_.insert(it, f);
}

void VideoJitterBuffer::UpdateTiming(Timestamp now, const FrameRecord& f) {
  transit_.Add(now, now.us() - MediaMicros(f.timestamp));
  const TimeDelta jitter = transit_.jitter();
  current_delay_ = std::clamp(config_.target_delay + jitter, config_.min_delay, config_.max_delay);
}

Timestamp VideoJitterBuffer::PlayoutTime(const FrameRecord& f) const {
  if (!transit_.valid()) return f.complete_time + current_delay_;
  return Timestamp::Micros(MediaMicros(f.timestamp) + transit_.base_transit()) + current_delay_;
}

bool VideoJitterBuffer::ContinuousWithLast(const FrameRecord& f) const {
  if (!have_output_) return false;
  if (f.first_seq == last_output_seq_ + 1) return true;
  if (f.first_seq <= last_output_seq_) return false;
  bool only_padding = true;
  for (int64_t s = last_output_seq_ + 1; s < f.first_seq; ++s) {
    const Slot* p = Find(s);
    if (!p || !p->padding) {
      only_padding = false;
      break;
    }
  }
  if (only_padding) return true;
  // VP8: the next PictureID proves that the missing sequence numbers held no frame (RFC 7741 §4.2: PictureID
  // increments by one per frame), so they were padding.
  if (codec_ == VideoCodec::kVp8 && f.picture_id >= 0 && last_output_picture_id_ >= 0 &&
      f.picture_id_mask == last_output_picture_id_mask_) {
    return f.picture_id == ((last_output_picture_id_ + 1) & f.picture_id_mask);
  }
  return false;
}

void VideoJitterBuffer::ReleaseThrough(int64_t seq) {
  for (int64_t s = head_; s <= seq; ++s) {
    if (Slot* p = Find(s)) p->seq = -1;
  }
  if (seq + 1 > head_) head_ = seq + 1;
  auto keep =
      std::find_if(frames_.begin(), frames_.end(), [seq](const FrameRecord& r) { return r.first_seq > seq; });
  frames_.erase(frames_.begin(), keep);
}

void VideoJitterBuffer::DropFront() {
  ++stats_.frames_dropped;
  const int64_t last = frames_.front().last_seq;
  ReleaseThrough(last);
  boundary_seq_ = last;
}

void VideoJitterBuffer::RequestKeyFrame(Timestamp now) {
  if (last_key_request_ && now - *last_key_request_ < config_.key_frame_request_interval) return;
  ForceKeyFrameRequest(now);
}

bool VideoJitterBuffer::TakeKeyFrameRequest() {
  const bool pending = key_request_pending_;
  key_request_pending_ = false;
  return pending;
}

void VideoJitterBuffer::OnDecodeError(Timestamp now) {
  waiting_for_key_ = true;
  RequestKeyFrame(now);
}

Timestamp VideoJitterBuffer::NextKeyFrameRequestTime() const {
  if (!started_ || !waiting_for_key_) return Timestamp::Infinity();
  for (const FrameRecord& f : frames_) {
    if (f.key_frame) return Timestamp::Infinity();  // one is on its way to the decoder
  }
  // Repeat while no key frame shows up; a key frame still arriving (its packets seen recently) gets its time.
  Timestamp t = last_key_request_ ? *last_key_request_ : first_packet_time_;
  if (last_key_packet_time_ && *last_key_packet_time_ > t) t = *last_key_packet_time_;
  return t + config_.key_frame_request_interval;
}

void VideoJitterBuffer::ForceKeyFrameRequest(Timestamp now) {
  last_key_request_ = now;
  key_request_pending_ = true;
  ++stats_.key_frame_requests;
}

void VideoJitterBuffer::HandleTimeout(Timestamp now) {
  if (now >= NextKeyFrameRequestTime()) ForceKeyFrameRequest(now);
}

std::optional<EncodedVideoFrame> VideoJitterBuffer::PollFrame(Timestamp now) {
  while (!frames_.empty()) {
    const FrameRecord& f = frames_.front();
    const bool decodable = f.key_frame || (!waiting_for_key_ && ContinuousWithLast(f));
    if (!decodable) {
      if (waiting_for_key_) {
        // It references frames the decoder never got.
        DropFront();
        RequestKeyFrame(now);
        continue;
      }
      // A key frame further on that is already due makes the gap irrelevant.
      bool later_key_due = false;
      for (size_t i = 1; i < frames_.size(); ++i) {
        if (frames_[i].key_frame) {
          later_key_due = now >= PlayoutTime(frames_[i]);
          break;
        }
      }
      if (later_key_due) {
        DropFront();
        continue;
      }
      // Something before this frame is missing: give retransmissions until shortly after its playout time.
      if (now < PlayoutTime(f) + WaitForMissing()) return std::nullopt;
      ++stats_.losses;
      waiting_for_key_ = true;
      DropFront();
      RequestKeyFrame(now);
      continue;
    }
    const Timestamp playout = PlayoutTime(f);
    if (now < playout) return std::nullopt;

    frame_buffer_.clear();
    if (frame_buffer_.capacity() < f.size) frame_buffer_.reserve(f.size);
    for (int64_t s = f.first_seq; s <= f.last_seq; ++s) {
      const Slot* p = Find(s);
      frame_buffer_.insert(frame_buffer_.end(), p->data.begin(), p->data.end());
    }
    EncodedVideoFrame out;
    out.codec = codec_;
    out.data = ByteSpan(frame_buffer_.data(), frame_buffer_.size());
    out.rtp_timestamp = f.rtp_timestamp;
    out.key_frame = f.key_frame;
    out.width = f.width;
    out.height = f.height;
    out.first_sequence_number = Find(f.first_seq)->raw_seq;
    out.last_sequence_number = Find(f.last_seq)->raw_seq;
    if (f.picture_id >= 0) out.picture_id = static_cast<uint16_t>(f.picture_id);
    out.receive_time = f.complete_time;
    out.playout_time = playout;

    have_output_ = true;
    last_output_seq_ = f.last_seq;
    last_output_picture_id_ = f.picture_id;
    last_output_picture_id_mask_ = f.picture_id_mask;
    if (f.key_frame) {
      waiting_for_key_ = false;
      ++stats_.key_frames_output;
    }
    ++stats_.frames_output;
    boundary_seq_ = f.last_seq;
    ReleaseThrough(f.last_seq);
    return out;
  }
  return std::nullopt;
}

TimeDelta VideoJitterBuffer::WaitForMissing() const {
  const TimeDelta rtt = rtt_.value_or(config_.default_rtt);
  return std::max(config_.max_wait_for_missing, rtt * config_.retransmission_round_trips);
}

Timestamp VideoJitterBuffer::PollTimeout() const {
  Timestamp t = NextKeyFrameRequestTime();
  if (frames_.empty()) return t;
  const FrameRecord& f = frames_.front();
  const bool decodable = f.key_frame || (!waiting_for_key_ && ContinuousWithLast(f));
  if (decodable) return std::min(t, PlayoutTime(f));
  if (waiting_for_key_) return std::min(t, f.complete_time);  // dropped at the next poll
  Timestamp give_up = PlayoutTime(f) + WaitForMissing();
  for (size_t i = 1; i < frames_.size(); ++i) {
    if (frames_[i].key_frame) {
      give_up = std::min(give_up, PlayoutTime(frames_[i]));
      break;
    }
  }
  return std::min(t, give_up);
}

void VideoJitterBuffer::GetMissingPackets(std::vector<uint16_t>& out) const {
  out.clear();
  if (!started_) return;
  int64_t from = head_;
  // Packets before the newest complete key frame are not needed to decode what follows it.
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    if (it->key_frame) {
      from = std::max(from, it->first_seq);
      break;
    }
  }
  for (int64_t s = from; s <= highest_ && out.size() < config_.max_missing_packets; ++s) {
    if (!Find(s)) out.push_back(static_cast<uint16_t>(s));
  }
}

}  // namespace tandem::media
