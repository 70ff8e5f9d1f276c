#include "media/vp8_payload.h"

#include <algorithm>
#include <cstring>

namespace tandem::media {
namespace {

// Required byte (RFC 7741 §4.2).
constexpr uint8_t kXBit = 0x80;
constexpr uint8_t kNBit = 0x20;
constexpr uint8_t kSBit = 0x10;
constexpr uint8_t kPidMask = 0x07;
// Extension byte.
constexpr uint8_t kIBit = 0x80;
constexpr uint8_t kLBit = 0x40;
constexpr uint8_t kTBit = 0x20;
constexpr uint8_t kKBit = 0x10;
// PictureID byte.
constexpr uint8_t kMBit = 0x80;
// T/K byte.
constexpr uint8_t kYBit = 0x20;
constexpr uint8_t kKeyIdxMask = 0x1F;

}  // namespace

Result<Vp8PayloadDescriptor> Vp8PayloadDescriptor::Parse(ByteSpan payload, size_t* size) {
  ByteReader r(payload);
  Vp8PayloadDescriptor d;
  uint8_t b0 = 0;
  if (!r.ReadU8(b0)) return MakeError(ErrorCode::kTruncated, "VP8 descriptor: empty payload");
  d.non_reference = (b0 & kNBit) != 0;
  d.start_of_partition = (b0 & kSBit) != 0;
  d.partition_id = b0 & kPidMask;
  if (b0 & kXBit) {
    uint8_t x = 0;
    if (!r.ReadU8(x)) return MakeError(ErrorCode::kTruncated, "VP8 descriptor: missing extension byte");
    if (x & kIBit) {
      uint8_t p0 = 0;
      if (!r.ReadU8(p0)) return MakeError(ErrorCode::kTruncated, "VP8 descriptor: missing PictureID");
      if (p0 & kMBit) {
        uint8_t p1 = 0;
        if (!r.ReadU8(p1))
          return MakeError(ErrorCode::kTruncated, "VP8 descriptor: missing PictureID byte 2");
        d.picture_id = static_cast<uint16_t>(((p0 & 0x7F) << 8) | p1);
        d.picture_id_15bit = true;
      } else {
        d.picture_id = p0 & 0x7F;
        d.picture_id_15bit = false;
      }
    }
    if (x & kLBit) {
      uint8_t tl0 = 0;
      if (!r.ReadU8(tl0)) return MakeError(ErrorCode::kTruncated, "VP8 descriptor: missing TL0PICIDX");
      d.tl0_pic_idx = tl0;
    }
    if (x & (kTBit | kKBit)) {
      uint8_t tk = 0;
      if (!r.ReadU8(tk)) return MakeError(ErrorCode::kTruncated, "VP8 descriptor: missing T/K byte");
      if (x & kTBit) {
        d.temporal_id = static_cast<uint8_t>(tk >> 6);
        d.layer_sync = (tk & kYBit) != 0;
      }
      if (x & kKBit) d.key_idx = tk & kKeyIdxMask;
    }
  }
  *size = r.position();
  return d;
}

size_t Vp8PayloadDescriptor::Size() const {
  size_t n = 1;
  const bool extended = picture_id || tl0_pic_idx || temporal_id || key_idx;
  if (!extended) return n;
  ++n;
  if (picture_id) n += picture_id_15bit ? 2 : 1;
  if (tl0_pic_idx) ++n;
  if (temporal_id || key_idx) ++n;
  return n;
}

void Vp8PayloadDescriptor::SerializeTo(uint8_t* out) const {
  const bool extended = picture_id || tl0_pic_idx || temporal_id || key_idx;
  uint8_t b0 = static_cast<uint8_t>(partition_id & kPidMask);
  if (extended) b0 |= kXBit;
  if (non_reference) b0 |= kNBit;
  if (start_of_partition) b0 |= kSBit;
  *out++ = b0;
  if (!extended) return;
  uint8_t x = 0;
  if (picture_id) x |= kIBit;
  if (tl0_pic_idx) x |= kLBit;
  if (temporal_id) x |= kTBit;
  if (key_idx) x |= kKBit;
  *out++ = x;
  if (picture_id) {
    if (picture_id_15bit) {
      const uint16_t id = *picture_id & kVp8PictureIdMask15;
      *out++ = static_cast<uint8_t>(kMBit | (id >> 8));
      *out++ = static_cast<uint8_t>(id);
    } else {
      *out++ = static_cast<uint8_t>(*picture_id & 0x7F);
    }
  }
  if (tl0_pic_idx) *out++ = *tl0_pic_idx;
  if (temporal_id || key_idx) {
    uint8_t tk = 0;
    if (temporal_id) tk |= static_cast<uint8_t>((*temporal_id & 0x03) << 6) | (layer_sync ? kYBit : 0);
    if (key_idx) tk |= *key_idx & kKeyIdxMask;
    *out++ = tk;
  }
}

std::optional<Vp8FrameHeader> Vp8FrameHeader::Parse(ByteSpan f) {
  // RFC 6386 §9.1: size0(3) H(1) VER(3) P(1) in the first byte, LSB first; size1, size2 follow.
  if (f.size() < 3) return std::nullopt;
  Vp8FrameHeader h;
  h.key_frame = (f[0] & 0x01) == 0;
  h.version = (f[0] >> 1) & 0x07;
  h.show_frame = (f[0] & 0x10) != 0;
  h.first_partition_size = (uint32_t{f[0]} >> 5) | (uint32_t{f[1]} << 3) | (uint32_t{f[2]} << 11);
  if (!h.key_frame) return h;
  // RFC 6386 §9.1: key frames continue with the start code 0x9d 0x01 0x2a and two 16-bit little-endian fields
  // of 14 bits of size and 2 bits of scale.
  if (f.size() < 10 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a) return std::nullopt;
  const uint16_t w = static_cast<uint16_t>(f[6] | (f[7] << 8));
  const uint16_t hh = static_cast<uint16_t>(f[8] | (f[9] << 8));
  h.width = w & 0x3FFF;
  h.horizontal_scale = static_cast<uint8_t>(w >> 14);
  h.height = hh & 0x3FFF;
  h.vertical_scale = static_cast<uint8_t>(hh >> 14);
  return h;
}

Vp8Packetizer::Vp8Packetizer(size_t max_payload_size, uint16_t initial_picture_id)
    : max_payload_size_(max_payload_size), picture_id_(initial_picture_id & kVp8PictureIdMask15) {}

Status Vp8Packetizer::Packetize(ByteSpan frame, uint32_t rtp_timestamp, bool non_reference) {
  ranges_.clear();
  buffer_.clear();
  next_ = 0;
  if (frame.empty()) return MakeError(ErrorCode::kInvalidArgument, "VP8 packetizer: empty frame");
  if (frame.size() > kMaxFrameSize)
    return MakeError(ErrorCode::kLimitExceeded, "VP8 packetizer: frame too large");

  Vp8PayloadDescriptor desc;
  desc.non_reference = non_reference;
  desc.picture_id = picture_id_;
  desc.picture_id_15bit = true;
  const size_t header = desc.Size();
  if (max_payload_size_ <= header) {
    return MakeError(ErrorCode::kInvalidArgument, "VP8 packetizer: max payload size leaves no room for data");
  }
  const size_t capacity = max_payload_size_ - header;
  const size_t count = (frame.size() + capacity - 1) / capacity;
  // Balanced split: the first `frame.size() % count` payloads carry one byte more.
  const size_t base = frame.size() / count;
  const size_t larger = frame.size() % count;

  buffer_.resize(frame.size() + count * header);
  ranges_.reserve(count);
  size_t in = 0, out = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t n = base + (i < larger ? 1 : 0);
    desc.start_of_partition = (i == 0);
    desc.partition_id = 0;
    desc.SerializeTo(&buffer_[out]);
    std::memcpy(&buffer_[out + header], frame.data() + in, n);
    ranges_.push_back({out, header + n});
    in += n;
    out += header + n;
  }
  rtp_timestamp_ = rtp_timestamp;
  picture_id_ = static_cast<uint16_t>((picture_id_ + 1) & kVp8PictureIdMask15);
  return OkStatus();
}

std::optional<OutgoingPayload> Vp8Packetizer::NextPayload() {
  if (next_ >= ranges_.size()) return std::nullopt;
  const Range r = ranges_[next_++];
  OutgoingPayload p;
  p.payload = ByteSpan(buffer_.data() + r.offset, r.size);
  p.marker = (next_ == ranges_.size());
  p.rtp_timestamp = rtp_timestamp_;
  return p;
}

Result<Vp8DepacketizedPacket> DepacketizeVp8(ByteSpan payload) {
  size_t header = 0;
  auto desc = Vp8PayloadDescriptor::Parse(payload, &header);
  if (!desc) return desc.error();
  if (header >= payload.size()) return MakeError(ErrorCode::kMalformed, "VP8: no data after the descriptor");
  Vp8DepacketizedPacket p;
  p.descriptor = *desc;
  p.payload = payload.subspan(header);
  p.frame_begin = desc->start_of_partition && desc->partition_id == 0;
  if (p.frame_begin) {
    // §4.3: the VP8 payload header is only present at the start of partition 0.
    if (auto fh = Vp8FrameHeader::Parse(p.payload)) {
      p.key_frame = fh->key_frame;
      p.width = fh->width;
      p.height = fh->height;
    }
  }
  return p;
}

}  // namespace tandem::media
