#include "media/opus_payload.h"

namespace tandem::media {
namespace {

// RFC 6716 §3.2.1: a frame length is one byte (0..251) or two (252..255 then a second byte: 4*second +
// first).
bool ReadFrameLength(ByteReader& r, size_t& length) {
  uint8_t b0 = 0;
  if (!r.ReadU8(b0)) return false;
  if (b0 < 252) {
    length = b0;
    return true;
  }
  uint8_t b1 = 0;
  if (!r.ReadU8(b1)) return false;
  length = size_t{b1} * 4 + b0;
  return true;
}

}  // namespace

int OpusSamplesPerFrame(uint8_t config) {
  // RFC 6716 §3.1 Table 2: configs 0-11 SILK-only (10/20/40/60 ms), 12-15 Hybrid (10/20 ms), 16-31 CELT-only
  // (2.5/5/10/20 ms), each group cycling through its frame sizes.
  config &= 0x1F;
  if (config < 12) {
    static constexpr int kSilk[4] = {480, 960, 1920, 2880};
    return kSilk[config % 4];
  }
  if (config < 16) return (config % 2) ? 960 : 480;
  static constexpr int kCelt[4] = {120, 240, 480, 960};
  return kCelt[config % 4];
}

Result<OpusPacketInfo> OpusPacketInfo::Parse(ByteSpan packet) {
  // R1: at least one byte.
  if (packet.empty()) return MakeError(ErrorCode::kTruncated, "Opus: empty packet");
  if (packet.size() > kOpusMaxPacketBytes)
    return MakeError(ErrorCode::kLimitExceeded, "Opus: packet too large");
  OpusPacketInfo info;
  const uint8_t toc = packet[0];
  info.config = toc >> 3;
  info.stereo = (toc & 0x04) != 0;
  info.frame_count_code = toc & 0x03;
  info.samples_per_frame = OpusSamplesPerFrame(info.config);
  info.dtx = packet.size() <= kOpusDtxMaxBytes;
  ByteReader r(packet.subspan(1));
  switch (info.frame_count_code) {
    case 0:  // §3.2.2: one frame, the rest of the packet (R2)
      if (r.remaining() > kOpusMaxFrameBytes) return MakeError(ErrorCode::kMalformed, "Opus: frame too long");
      info.frame_count = 1;
      break;
    case 1:  // §3.2.3: two frames of equal size (R3)
      if (r.remaining() % 2 != 0) return MakeError(ErrorCode::kMalformed, "Opus: odd CBR two-frame packet");
      if (r.remaining() / 2 > kOpusMaxFrameBytes)
        return MakeError(ErrorCode::kMalformed, "Opus: frame too long");
      info.frame_count = 2;
      break;
    case 2: {  // §3.2.4: two frames, the first length coded (R4)
      size_t first = 0;
      if (!ReadFrameLength(r, first)) return MakeError(ErrorCode::kTruncated, "Opus: missing frame length");
      if (first > r.remaining() || first > kOpusMaxFrameBytes || r.remaining() - first > kOpusMaxFrameBytes) {
        return MakeError(ErrorCode::kMalformed, "Opus: bad frame length");
      }
      info.frame_count = 2;
      break;
    }
    case 3: {  // §3.2.5: M frames with optional padding, CBR or VBR (R5-R7)
      uint8_t fc = 0;
      if (!r.ReadU8(fc)) return MakeError(ErrorCode::kTruncated, "Opus: missing frame count byte");
      const bool vbr = (fc & 0x80) != 0;
      const bool padded = (fc & 0x40) != 0;
      const int m = fc & 0x3F;
      if (m == 0) return MakeError(ErrorCode::kMalformed, "Opus: zero frames");
      if (m * info.samples_per_frame > kOpusMaxPacketSamples48k) {
        return MakeError(ErrorCode::kMalformed, "Opus: packet longer than 120 ms");
      }
      size_t padding = 0;
      if (padded) {
        // Padding length bytes: 255 means 254 bytes and another length byte follows.
        while (true) {
          uint8_t p = 0;
          if (!r.ReadU8(p)) return MakeError(ErrorCode::kTruncated, "Opus: truncated padding length");
          if (p == 255) {
            padding += 254;
          } else {
            padding += p;
            break;
          }
        }
      }
      if (padding > r.remaining()) return MakeError(ErrorCode::kMalformed, "Opus: padding exceeds packet");
      size_t data = r.remaining() - padding;
      if (vbr) {
        size_t used = 0;
        for (int i = 0; i + 1 < m; ++i) {
          size_t len = 0;
          const size_t before = r.remaining();
          if (!ReadFrameLength(r, len)) return MakeError(ErrorCode::kTruncated, "Opus: missing VBR length");
          const size_t header_bytes = before - r.remaining();
          if (header_bytes > data) return MakeError(ErrorCode::kMalformed, "Opus: VBR lengths exceed packet");
          data -= header_bytes;
          if (len > kOpusMaxFrameBytes) return MakeError(ErrorCode::kMalformed, "Opus: frame too long");
          used += len;
        }
        if (used > data || data - used > kOpusMaxFrameBytes) {
          return MakeError(ErrorCode::kMalformed, "Opus: VBR frames exceed packet");
        }
      } else {
        if (data % static_cast<size_t>(m) != 0)
          return MakeError(ErrorCode::kMalformed, "Opus: uneven CBR frames");
        if (data / m > kOpusMaxFrameBytes) return MakeError(ErrorCode::kMalformed, "Opus: frame too long");
      }
      info.frame_count = m;
      break;
    }
  }
  info.samples = info.frame_count * info.samples_per_frame;
  return info;
}

std::optional<OutgoingPayload> OpusPacketizer::Packetize(ByteSpan packet, uint32_t rtp_timestamp) {
  auto info = OpusPacketInfo::Parse(packet);
  if (!info) return std::nullopt;
  if (suppress_dtx_ && info->dtx) {
    ++suppressed_;
    in_dtx_ = true;
    return std::nullopt;
  }
  OutgoingPayload p;
  p.payload = packet;
  p.rtp_timestamp = rtp_timestamp;
  p.marker = in_dtx_;  // RFC 7587 §4.1: first packet of a talkspurt
  in_dtx_ = false;
  return p;
}

}  // namespace tandem::media
