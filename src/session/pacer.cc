#include "session/pacer.h"

#include <algorithm>
#include <cmath>

namespace tandem::session {

Pacer::Pacer(PacerConfig config) : config_(config), pacing_rate_bps_(config.min_pacing_rate_bps) {}

void Pacer::SetTargetBitrate(int64_t target_bps) {
  const double rate = static_cast<double>(std::max<int64_t>(target_bps, 0)) * config_.pacing_factor;
  pacing_rate_bps_ = std::max(config_.min_pacing_rate_bps, static_cast<int64_t>(rate));
}

double Pacer::EffectiveRateBps() const {
  double rate = static_cast<double>(pacing_rate_bps_);
  // Never let the queue hold more than max_queue_time of data.
  const double queue_seconds = static_cast<double>(config_.max_queue_time.us()) / 1e6;
  if (queue_seconds > 0) rate = std::max(rate, static_cast<double>(queued_bytes_) * 8.0 / queue_seconds);
  return rate;
}

void Pacer::Drain(Timestamp now) {
  if (last_drain_ && now > *last_drain_) {
    const double elapsed_s = static_cast<double>((now - *last_drain_).us()) / 1e6;
    debt_bytes_ = debt_bytes_ - EffectiveRateBps() / 8.0 * elapsed_s;
    if (debt_bytes_ < 1e-3) debt_bytes_ = 0;  // rounding must not leave a sliver that never drains
  }
  if (!last_drain_ || now > *last_drain_) last_drain_ = now;
}

bool Pacer::Push(Timestamp now, PacedPacket& packet) {
  if (queued_packets() >= config_.max_packets) {
    ++stats_.overflows;
    return false;
  }
  Drain(now);
  packet.enqueued = now;
  queued_bytes_ += packet.data.size();
  queues_[static_cast<size_t>(packet.priority)].push_back(std::move(packet));
  return true;
}

std::optional<PacedPacket> Pacer::Pop(Timestamp now) {
  Drain(now);
  std::deque<PacedPacket>* queue = nullptr;
  if (!queues_[0].empty()) {
    queue = &queues_[0];  // audio: not held back by the debt
  } else if (debt_bytes_ <= 0) {
    for (size_t i = 1; i < 3; ++i) {
      if (!queues_[i].empty()) {
        queue = &queues_[i];
        break;
      }
    }
  }
  if (queue == nullptr) return std::nullopt;
  PacedPacket p = std::move(queue->front());
  queue->pop_front();
  queued_bytes_ -= p.data.size();
  debt_bytes_ += static_cast<double>(p.data.size());
  ++stats_.packets_sent;
  stats_.max_queue_delay = std::max(stats_.max_queue_delay, now - p.enqueued);
  return p;
}

Timestamp Pacer::NextSendTime() const {
  if (!queues_[0].empty()) return last_drain_.value_or(Timestamp::Zero());
  if (queues_[1].empty() && queues_[2].empty()) return Timestamp::Infinity();
  const Timestamp base = last_drain_.value_or(Timestamp::Zero());
  if (debt_bytes_ <= 0) return base;
  const double seconds = debt_bytes_ * 8.0 / EffectiveRateBps();
  // Round up so that the debt has really drained when the caller comes back.
  return base + TimeDelta::Micros(static_cast<int64_t>(std::ceil(seconds * 1e6)));
}

void Pacer::RemoveStream(StreamId stream, const std::function<void(PacedPacket&&)>& release) {
  RemoveIf([stream](const PacedPacket& p) { return p.stream == stream; }, release);
}

void Pacer::RemoveRetransmissions(StreamId stream, const std::function<void(PacedPacket&&)>& release) {
  RemoveIf([stream](const PacedPacket& p) { return p.stream == stream && p.retransmission; }, release);
}

void Pacer::RemoveIf(const std::function<bool(const PacedPacket&)>& match,
                     const std::function<void(PacedPacket&&)>& release) {
  for (auto& queue : queues_) {
    for (auto it = queue.begin(); it != queue.end();) {
      if (match(*it)) {
        queued_bytes_ -= it->data.size();
        release(std::move(*it));
        it = queue.erase(it);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace tandem::session
