#include "rtp/transport_feedback.h"

#include <cstdlib>
#include <limits>

namespace tandem::rtp {
namespace {

constexpr size_t kFixedSize = kRtcpHeaderSize + 8 + 8;  // header, SSRCs, base/count, reference time/fb count
constexpr int64_t kReferenceTimeModulus = int64_t{1} << 24;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Sign-extends a 24-bit two's complement value.
int32_t SignExtend24(uint32_t v) {
  v &= 0xFFFFFF;
  return (v & 0x800000) ? static_cast<int32_t>(v) - 0x1000000 : static_cast<int32_t>(v);
}

}  // namespace

// --- ChunkEncoder: §3.1.3 run-length and §3.1.4 status vector chunks ---

bool TransportFeedback::ChunkEncoder::CanAdd(Status s) const {
  if (size_ < kTwoBitCapacity) return true;
  if (size_ < kOneBitCapacity && !has_large_ && s != Status::kLargeDelta) return true;
  if (size_ < kMaxRunLength && all_same_ && symbols_[0] == s) return true;
  return false;
}

void TransportFeedback::ChunkEncoder::Add(Status s, std::vector<uint16_t>* out) {
  if (!CanAdd(s)) Emit(out);
  if (size_ < kOneBitCapacity) symbols_[size_] = s;
  all_same_ = size_ == 0 || (all_same_ && s == symbols_[0]);
  has_large_ = has_large_ || s == Status::kLargeDelta;
  ++size_;
}

void TransportFeedback::ChunkEncoder::Push(uint16_t chunk, std::vector<uint16_t>* out) {
  if (out != nullptr) out->push_back(chunk);
  ++emitted_;
}

void TransportFeedback::ChunkEncoder::Emit(std::vector<uint16_t>* out) {
  if (all_same_) {
    // §3.1.3: 0 | S (2 bits) | run length (13 bits).
    Push(static_cast<uint16_t>((static_cast<uint16_t>(symbols_[0]) << 13) | size_), out);
    size_ = 0;
    all_same_ = true;
    has_large_ = false;
    return;
  }
  if (size_ == kOneBitCapacity) {
    // §3.1.4 with S = 0: 14 one-bit symbols, 1 = received (small delta).
    uint16_t chunk = 0x8000;
    for (size_t i = 0; i < kOneBitCapacity; ++i) {
      if (symbols_[i] != Status::kNotReceived) chunk = static_cast<uint16_t>(chunk | (1u << (13 - i)));
    }
    Push(chunk, out);
    size_ = 0;
    all_same_ = true;
    has_large_ = false;
    return;
  }
  // §3.1.4 with S = 1: the first seven symbols, two bits each; the rest stays pending.
  uint16_t chunk = 0xC000;
  const size_t n = size_ < kTwoBitCapacity ? size_ : kTwoBitCapacity;
  for (size_t i = 0; i < n; ++i) {
    chunk = static_cast<uint16_t>(chunk | (static_cast<uint16_t>(symbols_[i]) << (12 - 2 * i)));
  }
  Push(chunk, out);
  const size_t rest = size_ - n;
  for (size_t i = 0; i < rest; ++i) symbols_[i] = symbols_[n + i];
  size_ = rest;
  all_same_ = true;
  has_large_ = false;
  for (size_t i = 0; i < size_; ++i) {
    all_same_ = all_same_ && symbols_[i] == symbols_[0];
    has_large_ = has_large_ || symbols_[i] == Status::kLargeDelta;
  }
}

void TransportFeedback::ChunkEncoder::Finish(std::vector<uint16_t>* out) {
  if (size_ == 0) return;
  if (all_same_) {
    Emit(out);
  } else if (size_ <= kTwoBitCapacity) {
    Emit(out);  // a two-bit vector padded with "not received" beyond the status count
  } else {
    // More than seven mixed symbols can only be small/not received (CanAdd): a one-bit vector, zero-filled.
    for (size_t i = size_; i < kOneBitCapacity; ++i) symbols_[i] = Status::kNotReceived;
    size_ = kOneBitCapacity;
    Emit(out);
  }
  size_ = 0;
}

// --- building ---

void TransportFeedback::SetBase(uint16_t base_sequence_number, Timestamp reference) {
  base_sequence_number_ = base_sequence_number;
  status_count_ = 0;
  received_.clear();
  delta_bytes_ = 0;
  size_encoder_ = ChunkEncoder();
  const int64_t ticks = FloorDiv(reference.us(), kReferenceTimeTickUs);
  reference_time_ = SignExtend24(static_cast<uint32_t>(
      ((ticks % kReferenceTimeModulus) + kReferenceTimeModulus) % kReferenceTimeModulus));
  last_time_us_ = ticks * kReferenceTimeTickUs;
}

bool TransportFeedback::AddReceivedPacket(uint16_t sequence_number, Timestamp arrival) {
  const uint16_t index = static_cast<uint16_t>(sequence_number - base_sequence_number_);
  if (!received_.empty() && index < status_count_) return false;  // not after the previous one
  if (size_t{index} + 1 > kMaxStatusCount) return false;

  // Round to the nearest 250 µs tick and keep the rounding error from accumulating: the next delta is taken
  // from the time the receiver of this feedback will reconstruct, not from the true arrival.
  const int64_t delta_us = arrival.us() - last_time_us_;
  const int64_t ticks =
      (delta_us >= 0 ? delta_us + kDeltaTickUs / 2 : delta_us - kDeltaTickUs / 2) / kDeltaTickUs;
  if (ticks < std::numeric_limits<int16_t>::min() || ticks > std::numeric_limits<int16_t>::max())
    return false;
  const Status status = StatusOf(static_cast<int32_t>(ticks));
  const size_t delta_size = status == Status::kSmallDelta ? 1 : 2;

  ChunkEncoder encoder = size_encoder_;
  for (size_t i = status_count_; i < index; ++i) encoder.Add(Status::kNotReceived, nullptr);
  encoder.Add(status, nullptr);
  const size_t chunks = encoder.emitted() + (encoder.has_pending() ? 1 : 0);
  const size_t size = kFixedSize + 2 * chunks + delta_bytes_ + delta_size;
  if (((size + 3) & ~size_t{3}) > max_size_) return false;

  size_encoder_ = encoder;
  received_.push_back({sequence_number, static_cast<int32_t>(ticks)});
  status_count_ = static_cast<uint16_t>(index + 1);
  delta_bytes_ += delta_size;
  last_time_us_ += ticks * kDeltaTickUs;
  return true;
}

std::vector<TransportFeedback::Status> TransportFeedback::Statuses() const {
  std::vector<Status> statuses(status_count_, Status::kNotReceived);
  for (const ReceivedPacket& p : received_) {
    const uint16_t index = static_cast<uint16_t>(p.sequence_number - base_sequence_number_);
    if (index < statuses.size()) statuses[index] = StatusOf(p.delta_ticks);
  }
  return statuses;
}

int64_t TransportFeedback::BaseDeltaUs(const TransportFeedback& earlier) const {
  const int64_t diff =
      ((int64_t{reference_time_} - earlier.reference_time_) % kReferenceTimeModulus + kReferenceTimeModulus) %
      kReferenceTimeModulus;
  const int64_t signed_diff = diff >= kReferenceTimeModulus / 2 ? diff - kReferenceTimeModulus : diff;
  return signed_diff * kReferenceTimeTickUs;
}

// --- parsing ---

std::optional<TransportFeedback> TransportFeedback::Parse(const RtcpHeader& h) {
  if (h.packet_type != rtcp_type::kRtpFeedback || h.count != rtpfb_fmt::kTransportFeedback)
    return std::nullopt;
  const ByteSpan p = h.payload;
  if (p.size() < kFixedSize - kRtcpHeaderSize) return std::nullopt;
  TransportFeedback fb;
  fb.sender_ssrc_ = LoadBe32(&p[0]);
  fb.media_ssrc_ = LoadBe32(&p[4]);
  fb.base_sequence_number_ = LoadBe16(&p[8]);
  fb.status_count_ = LoadBe16(&p[10]);
  fb.reference_time_ = SignExtend24(LoadBe32(&p[12]) >> 8);
  fb.feedback_count_ = p[15];
  if (fb.status_count_ == 0) return std::nullopt;  // nothing to report is not a feedback message

  // Chunks until every status is known; symbols past the count in the last chunk are ignored.
  std::vector<uint8_t> symbols;
  symbols.reserve(fb.status_count_);
  size_t pos = 16;
  while (symbols.size() < fb.status_count_) {
    if (pos + 2 > p.size()) return std::nullopt;
    const uint16_t chunk = LoadBe16(&p[pos]);
    pos += 2;
    const size_t left = fb.status_count_ - symbols.size();
    if ((chunk & 0x8000) == 0) {
      const uint8_t symbol = (chunk >> 13) & 0x03;
      const size_t run = chunk & 0x1FFF;
      const size_t n = run < left ? run : left;
      symbols.insert(symbols.end(), n, symbol);
    } else if ((chunk & 0x4000) == 0) {
      for (size_t i = 0; i < 14 && symbols.size() < fb.status_count_; ++i) {
        symbols.push_back((chunk >> (13 - i)) & 0x01);
      }
    } else {
      for (size_t i = 0; i < 7 && symbols.size() < fb.status_count_; ++i) {
        symbols.push_back((chunk >> (12 - 2 * i)) & 0x03);
      }
    }
  }
  // Receive deltas, one per received packet, in order.
  for (size_t i = 0; i < symbols.size(); ++i) {
    int32_t delta = 0;
    switch (symbols[i]) {
      case 0:
        continue;
      case 1:
        if (pos + 1 > p.size()) return std::nullopt;
        delta = p[pos];
        pos += 1;
        fb.delta_bytes_ += 1;
        break;
      case 2:
        if (pos + 2 > p.size()) return std::nullopt;
        delta = static_cast<int16_t>(LoadBe16(&p[pos]));
        pos += 2;
        fb.delta_bytes_ += 2;
        break;
      default:
        return std::nullopt;  // §3.1.1: 11 is reserved
    }
    fb.received_.push_back({static_cast<uint16_t>(fb.base_sequence_number_ + i), delta});
  }
  // Whatever follows (zero padding without the P bit) is ignored.
  return fb;
}

size_t TransportFeedback::SerializedSize() const {
  ChunkEncoder encoder;
  for (Status s : Statuses()) encoder.Add(s, nullptr);
  encoder.Finish(nullptr);
  size_t delta_bytes = 0;
  for (const ReceivedPacket& r : received_)
    delta_bytes += StatusOf(r.delta_ticks) == Status::kSmallDelta ? 1 : 2;
  return (kFixedSize + 2 * encoder.emitted() + delta_bytes + 3) & ~size_t{3};
}

bool TransportFeedback::SerializeTo(ByteWriter& w) const {
  if (status_count_ == 0) return false;
  std::vector<uint16_t> chunks;
  ChunkEncoder encoder;
  for (Status s : Statuses()) encoder.Add(s, &chunks);
  encoder.Finish(&chunks);
  size_t delta_bytes = 0;
  for (const ReceivedPacket& r : received_) {
    if (r.delta_ticks < std::numeric_limits<int16_t>::min() ||
        r.delta_ticks > std::numeric_limits<int16_t>::max()) {
      return false;
    }
    delta_bytes += StatusOf(r.delta_ticks) == Status::kSmallDelta ? 1 : 2;
  }
  const size_t unpadded = kFixedSize + 2 * chunks.size() + delta_bytes;
  const size_t padded = (unpadded + 3) & ~size_t{3};
  if (padded > kMaxRtcpPacketSize) return false;
  const size_t pad = padded - unpadded;
  // Padding as libwebrtc sends it: the P bit and a count in the last byte (RFC 3550 §6.4.1).
  w.WriteU8(static_cast<uint8_t>(0x80 | (pad > 0 ? 0x20 : 0) | rtpfb_fmt::kTransportFeedback));
  w.WriteU8(rtcp_type::kRtpFeedback);
  w.WriteU16(static_cast<uint16_t>(padded / 4 - 1));
  w.WriteU32(sender_ssrc_);
  w.WriteU32(media_ssrc_);
  w.WriteU16(base_sequence_number_);
  w.WriteU16(status_count_);
  w.WriteU32((static_cast<uint32_t>(reference_time_) << 8) | feedback_count_);
  for (uint16_t c : chunks) w.WriteU16(c);
  for (const ReceivedPacket& r : received_) {
    if (StatusOf(r.delta_ticks) == Status::kSmallDelta) {
      w.WriteU8(static_cast<uint8_t>(r.delta_ticks));
    } else {
      w.WriteU16(static_cast<uint16_t>(static_cast<int16_t>(r.delta_ticks)));
    }
  }
  if (pad > 0) {
    w.WriteZeros(pad - 1);
    w.WriteU8(static_cast<uint8_t>(pad));
  }
  return true;
}

}  // namespace tandem::rtp
