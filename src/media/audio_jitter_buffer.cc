#include "media/audio_jitter_buffer.h"

#include <algorithm>

#include "media/opus_payload.h"

namespace tandem::media {
namespace {

int64_t MediaMicros(int64_t timestamp) { return timestamp * 1000000 / static_cast<int64_t>(kOpusClockRate); }
TimeDelta SamplesToTime(int64_t samples) { return TicksToTime(samples, kOpusClockRate); }

}  // namespace

AudioJitterBuffer::AudioJitterBuffer(const AudioJitterBufferConfig& config)
    : config_(config), transit_(config.timing_window) {
  const size_t capacity = std::clamp<size_t>(config.capacity, 4, 1024);
  pool_.resize(capacity);
  free_.reserve(capacity);
  for (size_t i = capacity; i > 0; --i) free_.push_back(i - 1);
  order_.reserve(capacity);
  out_.reserve(kOpusMaxPacketBytes);
  if (config_.default_packet_samples <= 0 || config_.default_packet_samples > kOpusMaxPacketSamples48k) {
    config_.default_packet_samples = 960;
  }
  last_samples_ = config_.default_packet_samples;
  target_ = std::clamp(config_.target_delay, config_.min_delay, config_.max_delay);
}

const AudioJitterBufferStats& AudioJitterBuffer::stats() const {
  stats_.current_delay = target_;
  stats_.jitter = transit_.jitter();
  return stats_;
}

void AudioJitterBuffer::UpdateTiming(Timestamp now, int64_t timestamp) {
  transit_.Add(now, now.us() - MediaMicros(timestamp));
  const TimeDelta jitter = transit_.jitter();
  target_ = std::clamp(config_.target_delay + jitter, config_.min_delay, config_.max_delay);
}

TimeDelta AudioJitterBuffer::EffectiveDelay() const {
  return TimeDelta::Micros(next_time_.us() - (MediaMicros(next_ts_) + transit_.base_transit()));
}

AudioJitterBuffer::InsertResult AudioJitterBuffer::InsertPacket(Timestamp now, const RtpPacketInfo& info,
                                                                ByteSpan payload) {
  auto opus = OpusPacketInfo::Parse(payload);
  if (!opus) {
    ++stats_.packets_malformed;
    return InsertResult::kMalformed;
  }
  const int64_t seq = seq_unwrapper_.Unwrap(info.sequence_number);
  const int64_t ts = ts_unwrapper_.Unwrap(info.timestamp);
  for (size_t i : order_) {
    if (pool_[i].seq == seq) {
      ++stats_.packets_duplicate;
      return InsertResult::kDuplicate;
    }
  }
  UpdateTiming(now, ts);
  if (!started_) {
    started_ = true;
    next_ts_ = ts;
    next_time_ = now + target_;
  }
  if (ts < next_ts_) {
    ++stats_.packets_late;
    return InsertResult::kLate;
  }
  if (free_.empty()) {
    ++stats_.packets_overflow;
    Remove(0);
  }
  const size_t index = free_.back();
  free_.pop_back();
  Packet& p = pool_[index];
  p.seq = seq;
  p.timestamp = ts;
  p.rtp_timestamp = info.timestamp;
  p.samples = opus->samples;
  p.dtx = opus->dtx;
  p.marker = info.marker;
  p.data.assign(payload.begin(), payload.end());
  auto it = std::upper_bound(order_.begin(), order_.end(), seq,
                             [this](int64_t s, size_t i) { return s < pool_[i].seq; });
  order_.insert(it, index);
  ++stats_.packets_received;
  return InsertResult::kInserted;
}

void AudioJitterBuffer::Remove(size_t order_index) {
  free_.push_back(order_[order_index]);
  order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(order_index));
}

AudioPlayout AudioJitterBuffer::Emit(AudioPlayoutKind kind, size_t order_index, int64_t timestamp,
                                     int samples) {
  AudioPlayout out;
  out.kind = kind;
  out.rtp_timestamp = static_cast<uint32_t>(timestamp);
  out.samples = samples;
  out.playout_time = next_time_;
  if (kind == AudioPlayoutKind::kPacket) {
    // Hand the packet's buffer out and keep the previous one for the pool: no copy, no allocation.
    Packet& p = pool_[order_[order_index]];
    std::swap(out_, p.data);
    last_dtx_ = p.dtx;
    Remove(order_index);
    ++stats_.packets_played;
    stretching_ = false;
    next_ts_ = timestamp + samples;
  } else if (kind == AudioPlayoutKind::kFec) {
    const Packet& p = pool_[order_[order_index]];
    out_.assign(p.data.begin(), p.data.end());
    ++stats_.fec_recoveries;
    next_ts_ = timestamp + samples;
  } else {
    out_.clear();
  }
  out.payload = ByteSpan(out_.data(), out_.size());
  last_samples_ = samples;
  next_time_ = next_time_ + SamplesToTime(samples);
  return out;
}

std::optional<AudioPlayout> AudioJitterBuffer::PollPlayout(Timestamp now) {
  if (!started_ || now < next_time_) return std::nullopt;
  while (true) {
    // Packets whose time has passed (possible after a jump) are late.
    for (size_t i = 0; i < order_.size();) {
      if (pool_[order_[i]].timestamp < next_ts_) {
        ++stats_.packets_late;
        Remove(i);
      } else {
        ++i;
      }
    }
    std::optional<size_t> exact, earliest;
    for (size_t i = 0; i < order_.size(); ++i) {
      const Packet& p = pool_[order_[i]];
      if (p.timestamp == next_ts_) exact = i;
      if (!earliest || p.timestamp < pool_[order_[*earliest]].timestamp) earliest = i;
    }

    if (exact) {
      const Packet& p = pool_[order_[*exact]];
      const TimeDelta frame = SamplesToTime(p.samples);
      // Shrink: more delay than the jitter needs, and more audio queued behind this packet.
      if (EffectiveDelay() > target_ + frame && order_.size() > 1) {
        ++stats_.packets_discarded;
        next_ts_ = p.timestamp + p.samples;
        Remove(*exact);
        continue;
      }
      // Grow: the jitter estimate rose above the delay we run at; wait one frame (concealment) before
      // playing.
      if (EffectiveDelay() + frame <= target_) {
        const bool dtx = last_dtx_;
        ++(dtx ? stats_.dtx_steps : stats_.stretches);
        AudioPlayout out = Emit(AudioPlayoutKind::kConceal, 0, next_ts_, p.samples);
        out.dtx = dtx;  // next_ts_ is unchanged: the packet plays at a later step
        return out;
      }
      return Emit(AudioPlayoutKind::kPacket, *exact, p.timestamp, p.samples);
    }

    if (!earliest) {
      // Nothing buffered: the packet is late or the sender is silent (DTX). Conceal and wait, which stretches
      // the delay if it was just late.
      const bool dtx = last_dtx_;
      if (dtx) {
        ++stats_.dtx_steps;
      } else {
        ++stats_.stretches;
      }
      AudioPlayout out = Emit(AudioPlayoutKind::kConceal, 0, next_ts_, last_samples_);
      out.dtx = dtx;
      stretching_ = true;
      return out;
    }

    const Packet& next = pool_[order_[*earliest]];
    if (stretching_ || last_dtx_ || next.marker) {
      // Resuming after waiting, after DTX or at a new talkspurt: the timestamp jump is a pause, not a loss.
      // Move the timeline to the packet; the delay rules above then play it now or wait until it is due.
      next_ts_ = next.timestamp;
      continue;
    }
    // The packet for this time is lost and a later one is here. When that one directly follows, its in-band
    // FEC (LBRR) describes the lost audio (RFC 6716 §2.1.7).
    const int64_t gap = next.timestamp - next_ts_;
    if (gap == next.samples) {
      return Emit(AudioPlayoutKind::kFec, *earliest, next_ts_, static_cast<int>(gap));
    }
    ++stats_.concealments;
    const int samples = static_cast<int>(std::min<int64_t>(gap, last_samples_));
    AudioPlayout out = Emit(AudioPlayoutKind::kConceal, 0, next_ts_, samples);
    next_ts_ += samples;
    return out;
  }
}

Timestamp AudioJitterBuffer::PollTimeout() const { return started_ ? next_time_ : Timestamp::Infinity(); }

}  // namespace tandem::media
