#include "sctp/retransmission_queue.h"

#include <algorithm>

#include "sctp/packet.h"

namespace tandem::sctp {

void RetransmissionQueue::Reset(const Config& config, uint32_t initial_tsn, uint32_t peer_a_rwnd) {
  config_ = config;
  Clear();
  // Unwrapped TSNs live 2^32 above zero (see DataTracker::Reset).
  next_tsn_ = (uint64_t{1} << 32) + initial_tsn;
  cum_ack_ = next_tsn_ - 1;
  last_forward_tsn_point_ = cum_ack_;
  // §7.2.1: initial cwnd; ssthresh starts at the peer's advertised window.
  cwnd_ = config_.initial_cwnd_mtus * config_.mtu;
  ssthresh_ = peer_a_rwnd;
  peer_a_rwnd_ = peer_a_rwnd;
}

void RetransmissionQueue::Clear() {
  outstanding_.clear();
  to_retransmit_.clear();
  flight_size_ = 0;
  partial_bytes_acked_ = 0;
  in_fast_recovery_ = false;
  fast_retransmit_pending_ = false;
  forward_tsn_retransmit_ = false;
}

void RetransmissionQueue::Transmit(Timestamp now, OutstandingChunk& c) {
  if (c.state == OutstandingChunk::State::kToRetransmit) {
    to_retransmit_.erase(c.tsn);
    if (c.fast_retransmit) {
      ++counters_.retransmissions_fast;
      c.was_fast_retransmitted = true;
    } else {
      ++counters_.retransmissions_t3;
    }
  }
  c.state = OutstandingChunk::State::kInFlight;
  c.fast_retransmit = false;
  c.transmissions++;
  c.nacks = 0;
  c.sent_at = now;
  flight_size_ += c.size;
  ++counters_.data_chunks_sent;
  ++in_packet_;
}

bool RetransmissionQueue::CanSendData(size_t room) const {
  if (fast_retransmit_pending_) return true;
  if (flight_size_ >= cwnd_) return false;
  if (!to_retransmit_.empty()) return true;
  if (!send_queue_.HasData() || room <= DataHeaderSize()) return false;
  const size_t next = PaddedLength(DataHeaderSize() + send_queue_.NextFragmentSize(room - DataHeaderSize()));
  return flight_size_ == 0 || next <= rwnd_available();
}

bool RetransmissionQueue::WouldSendOnlySmallNewData(size_t room) const {
  if (fast_retransmit_pending_ || !to_retransmit_.empty() || room <= DataHeaderSize()) return false;
  // Nagle: a packet is "small" if everything queued would leave it less than full.
  return send_queue_.total_buffered_amount() + DataHeaderSize() < room;
}

const OutstandingChunk* RetransmissionQueue::NextChunk(Timestamp now, size_t room) {
  // §7.2.4 step 3: the first packet after chunks were marked for fast retransmit carries as many of the
  // earliest ones as fit, regardless of cwnd.
  if (fast_retransmit_pending_) {
    for (uint64_t tsn : to_retransmit_) {
      OutstandingChunk& c = At(tsn);
      if (!c.fast_retransmit) continue;
      if (c.size > room) break;
      Transmit(now, c);
      return &c;
    }
    fast_retransmit_pending_ = false;
    if (in_packet_ > 0) return nullptr;  // that packet is done; the rest waits for cwnd
  }
  // §6.1 rule B: no new transmission while the flight size is at or above cwnd (a chunk may overshoot it).
  if (flight_size_ >= cwnd_) return nullptr;
  // Retransmissions first (§6.1 C), lowest TSN first.
  if (!to_retransmit_.empty()) {
    OutstandingChunk& c = At(*to_retransmit_.begin());
    if (c.size > room) return nullptr;
    Transmit(now, c);
    return &c;
  }
  // New data. Gap ack block offsets are 16 bits: keep the outstanding window within them.
  if (!send_queue_.HasData() || room <= DataHeaderSize() + 4 || outstanding_.size() >= 65000) return nullptr;
  size_t max_payload = (room - DataHeaderSize()) & ~size_t{3};
  // Do not fragment a message that would fit whole into the next packet just to fill this one (as dcSCTP
  // does): fragments cost headers, reassembly and, without I-DATA, nothing is gained.
  const size_t full_payload = (config_.mtu - kCommonHeaderSize - DataHeaderSize()) & ~size_t{3};
  const size_t remaining = send_queue_.NextMessageRemaining();
  if (remaining > max_payload && remaining <= full_payload) return nullptr;
  // §6.1 rule A: respect the peer's window, except that one chunk may always be in flight (zero window
  // probe).
  if (flight_size_ > 0) {
    const size_t avail = rwnd_available();
    const size_t next = send_queue_.NextFragmentSize(max_payload);
    if (PaddedLength(DataHeaderSize() + next) > avail) return nullptr;
  }
  std::optional<Fragment> f = send_queue_.Produce(now, max_payload);
  if (!f) return nullptr;
  OutstandingChunk c;
  c.tsn = next_tsn_++;
  c.size = static_cast<uint32_t>(PaddedLength(DataHeaderSize() + f->length));
  if (f->end) ++counters_.messages_sent;
  c.fragment = std::move(*f);
  outstanding_.push_back(std::move(c));
  OutstandingChunk& added = outstanding_.back();
  Transmit(now, added);
  return &added;
}

bool RetransmissionQueue::ShouldAbandon(const OutstandingChunk& c, Timestamp now) const {
  if (!config_.partial_reliability) return false;
  const Fragment& f = c.fragment;
  // RFC 3758 §3.5 A2 / A3: past its lifetime, or retransmitted as often as allowed (transmissions - 1 so far,
  // and this would be one more).
  if (f.expires_at <= now) return true;
  return f.max_retransmits.has_value() && c.transmissions > *f.max_retransmits;
}

void RetransmissionQueue::AbandonMessage(const OutstandingChunk& chunk) {
  const uint64_t message_id = chunk.fragment.message_id;
  const uint16_t stream = chunk.fragment.stream;
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    OutstandingChunk& c = outstanding_[i];
    if (c.fragment.message_id != message_id || c.state == OutstandingChunk::State::kAbandoned) continue;
    if (c.state == OutstandingChunk::State::kInFlight) flight_size_ -= c.size;
    if (c.state == OutstandingChunk::State::kToRetransmit) to_retransmit_.erase(c.tsn);
    // Gap-acked fragments of the message are abandoned too: the receiver drops the partial message anyway.
    c.state = OutstandingChunk::State::kAbandoned;
    c.fast_retransmit = false;
    c.fragment.data.reset();
  }
  // The rest of the message will never be sent (its first fragments already used the SSN/MID). The receiver
  // holds the fragments it got and, if all of those end up acknowledged, would never hear that the message is
  // gone. So, like dcSCTP, give the missing end a TSN of its own, abandoned at once: the FORWARD-TSN that
  // skips it names the message's stream and SSN/MID and moves the cumulative TSN past all of its fragments.
  if (send_queue_.DiscardRemainder(stream, message_id)) {
    OutstandingChunk end;
    end.tsn = next_tsn_++;
    end.fragment.message_id = message_id;
    end.fragment.stream = stream;
    end.fragment.id = chunk.fragment.id;
    end.fragment.unordered = chunk.fragment.unordered;
    end.fragment.end = true;
    end.state = OutstandingChunk::State::kAbandoned;
    outstanding_.push_back(std::move(end));
  }
  ++counters_.abandoned_messages;
}

void RetransmissionQueue::MarkForRetransmission(OutstandingChunk& c, bool fast) {
  if (c.state == OutstandingChunk::State::kInFlight) flight_size_ -= c.size;
  c.state = OutstandingChunk::State::kToRetransmit;
  c.fast_retransmit = fast;
  to_retransmit_.insert(c.tsn);
}

RetransmissionQueue::SackOutcome RetransmissionQueue::HandleSack(Timestamp now, const SackChunk& sack) {
  SackOutcome out;
  const uint64_t cum = Unwrap32(cum_ack_, sack.cumulative_tsn_ack);
  // §6.2.1 D i: a cumulative ack behind ours is stale (reordered SACK); one beyond what we sent is bogus.
  if (cum < cum_ack_ || cum >= next_tsn_) return out;
  out.accepted = true;
  const size_t flight_before = flight_size_;
  size_t bytes_acked = 0;
  uint64_t htna = 0;  // highest TSN newly acknowledged
  std::optional<Timestamp> rtt_sent_at;
  auto newly_acked = [&](OutstandingChunk& c) {
    if (c.state == OutstandingChunk::State::kInFlight) {
      flight_size_ -= c.size;
    } else if (c.state == OutstandingChunk::State::kToRetransmit) {
      to_retransmit_.erase(c.tsn);
    } else {
      return;  // already acked or abandoned
    }
    bytes_acked += c.size;
    htna = std::max(htna, c.tsn);
    // §6.3.1 C5 (Karn): only chunks sent once give an RTT sample; take the most recent one.
    if (c.transmissions == 1 && (!rtt_sent_at || c.sent_at > *rtt_sent_at)) rtt_sent_at = c.sent_at;
    c.state = OutstandingChunk::State::kAcked;
  };

  out.cum_advanced = cum > cum_ack_;
  while (!outstanding_.empty() && outstanding_.front().tsn <= cum) {
    newly_acked(outstanding_.front());
    outstanding_.pop_front();
  }
  cum_ack_ = cum;
  if (last_forward_tsn_point_ < cum_ack_) last_forward_tsn_point_ = cum_ack_;

  uint64_t highest_gap_acked = 0;
  for (const SackChunk::GapBlock& b : sack.gap_blocks) {
    if (b.start == 0 || b.start > b.end)
      continue;  // §3.3.4: offsets start at 1; malformed blocks are ignored
    const uint64_t first = cum + b.start;
    const uint64_t last = std::min<uint64_t>(cum + b.end, next_tsn_ - 1);
    for (uint64_t tsn = first; tsn <= last; ++tsn) newly_acked(At(tsn));
    if (first <= last) highest_gap_acked = std::max(highest_gap_acked, last);
  }
  out.acked_new_data = bytes_acked > 0;
  if (rtt_sent_at) out.rtt = now - *rtt_sent_at;

  // §7.2.4: miss indications per the HTNA rule; in Fast Recovery, a SACK that advances the cumulative ack
  // counts for every TSN it reports missing.
  const uint64_t miss_limit = (in_fast_recovery_ && out.cum_advanced) ? highest_gap_acked : htna;
  bool marked = false;
  for (uint64_t tsn = cum + 1; tsn < miss_limit && tsn < next_tsn_; ++tsn) {
    OutstandingChunk& c = At(tsn);
    if (c.state != OutstandingChunk::State::kInFlight) continue;
    if (++c.nacks >= 3 && !c.was_fast_retransmitted) {
      if (ShouldAbandon(c, now)) {
        AbandonMessage(c);
      } else {
        MarkForRetransmission(c, true);
        marked = true;
      }
    }
  }

  // §7.2.1 / §7.2.2: grow cwnd only when the cumulative ack advanced, cwnd was in use, and not in Fast
  // Recovery.
  const bool cwnd_fully_used = flight_before + config_.mtu >= cwnd_;
  if (out.cum_advanced && !in_fast_recovery_) {
    if (cwnd_ <= ssthresh_) {
      if (cwnd_fully_used) cwnd_ += std::min(bytes_acked, config_.mtu);  // slow start, L = 1
    } else {
      partial_bytes_acked_ += bytes_acked;
      if (partial_bytes_acked_ >= cwnd_ && cwnd_fully_used) {
        partial_bytes_acked_ -= cwnd_;
        cwnd_ += config_.mtu;  // congestion avoidance: one MTU per cwnd of data acked
      }
    }
  }
  if (in_fast_recovery_ && cum_ack_ >= fast_recovery_exit_) in_fast_recovery_ = false;
  if (marked) {
    out.fast_retransmit = true;
    fast_retransmit_pending_ = true;
    if (!in_fast_recovery_) {
      // §7.2.4 step 4 (via §7.2.3): halve, and enter Fast Recovery until everything now outstanding is acked.
      ssthresh_ = std::max(cwnd_ / 2, 4 * config_.mtu);
      cwnd_ = ssthresh_;
      partial_bytes_acked_ = 0;
      in_fast_recovery_ = true;
      fast_recovery_exit_ = next_tsn_ - 1;
    }
  }
  // §6.2.1 D iv: the peer's window less what is still in flight (computed on demand from these two).
  peer_a_rwnd_ = sack.a_rwnd;
  // RFC 3758 §3.5 C3: a SACK whose cumulative ack is still behind the Advanced.Peer.Ack.Point means the peer
  // has not (yet) acted on our FORWARD-TSN: send it again (it may have been lost).
  if (config_.partial_reliability && AdvancedPeerAckPoint() > cum_ack_) forward_tsn_retransmit_ = true;
  // §7.2.2: when all data is acknowledged partial_bytes_acked starts over.
  if (flight_size_ == 0) partial_bytes_acked_ = 0;
  return out;
}

void RetransmissionQueue::HandleT3Expiry(Timestamp now) {
  if (outstanding_.empty()) return;
  // §7.2.3: on T3-rtx expiry ssthresh = max(cwnd/2, 4*MTU), cwnd = 1*MTU.
  ssthresh_ = std::max(cwnd_ / 2, 4 * config_.mtu);
  cwnd_ = config_.mtu;
  partial_bytes_acked_ = 0;
  in_fast_recovery_ = false;
  fast_retransmit_pending_ = false;
  // §6.3.3 E3: everything in flight is to be retransmitted (subject to cwnd now).
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    OutstandingChunk& c = outstanding_[i];
    if (c.state == OutstandingChunk::State::kInFlight || c.state == OutstandingChunk::State::kToRetransmit) {
      if (ShouldAbandon(c, now)) {
        AbandonMessage(c);
      } else {
        MarkForRetransmission(c, false);
      }
    }
  }
  // RFC 3758 §3.5 C5: a FORWARD-TSN still unacknowledged goes out again.
  if (AdvancedPeerAckPoint() > cum_ack_) forward_tsn_retransmit_ = true;
}

bool RetransmissionQueue::HasUnackedData(uint16_t stream) const {
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    const OutstandingChunk& c = outstanding_[i];
    if (c.fragment.stream == stream && (c.state == OutstandingChunk::State::kInFlight ||
                                        c.state == OutstandingChunk::State::kToRetransmit)) {
      return true;
    }
  }
  return false;
}

uint64_t RetransmissionQueue::AdvancedPeerAckPoint() const {
  // RFC 3758 §3.5 C1/C2: move past abandoned chunks that follow the cumulative ack.
  uint64_t point = cum_ack_;
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    if (outstanding_[i].state != OutstandingChunk::State::kAbandoned) break;
    point = outstanding_[i].tsn;
  }
  return point;
}

bool RetransmissionQueue::ShouldSendForwardTsn() const {
  if (!config_.partial_reliability) return false;
  const uint64_t point = AdvancedPeerAckPoint();
  return point > cum_ack_ && (point > last_forward_tsn_point_ || forward_tsn_retransmit_);
}

void RetransmissionQueue::BuildForwardTsn(ForwardTsnChunk& out) {
  const uint64_t point = AdvancedPeerAckPoint();
  out.new_cumulative_tsn = Wrap32(point);
  out.skipped.clear();
  // RFC 3758 §3.2: for each ordered stream with skipped chunks, the largest skipped SSN.
  for (size_t i = 0; i < outstanding_.size() && outstanding_[i].tsn <= point; ++i) {
    const Fragment& f = outstanding_[i].fragment;
    if (f.unordered) continue;
    const uint16_t ssn = static_cast<uint16_t>(f.id);
    auto it = std::find_if(out.skipped.begin(), out.skipped.end(),
                           [&](const ForwardTsnChunk::SkippedStream& s) { return s.stream == f.stream; });
    if (it == out.skipped.end()) {
      out.skipped.push_back({f.stream, ssn});
    } else if (SerialLess16(it->ssn, ssn)) {
      it->ssn = ssn;
    }
  }
  last_forward_tsn_point_ = point;
  forward_tsn_retransmit_ = false;
}

void RetransmissionQueue::BuildIForwardTsn(IForwardTsnChunk& out) {
  const uint64_t point = AdvancedPeerAckPoint();
  out.new_cumulative_tsn = Wrap32(point);
  out.skipped.clear();
  // RFC 8260 §2.3.1: per (stream, U) the largest skipped MID.
  for (size_t i = 0; i < outstanding_.size() && outstanding_[i].tsn <= point; ++i) {
    const Fragment& f = outstanding_[i].fragment;
    auto it =
        std::find_if(out.skipped.begin(), out.skipped.end(), [&](const IForwardTsnChunk::SkippedStream& s) {
          return s.stream == f.stream && s.unordered == f.unordered;
        });
    if (it == out.skipped.end()) {
      out.skipped.push_back({f.stream, f.unordered, f.id});
    } else if (SerialLess32(it->mid, f.id)) {
      it->mid = f.id;
    }
  }
  last_forward_tsn_point_ = point;
  forward_tsn_retransmit_ = false;
}

}  // namespace tandem::sctp
