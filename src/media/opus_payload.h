// Opus RTP payload format (RFC 7587): one Opus packet per RTP payload (§4.2), 48 kHz RTP clock whatever the
// coded bandwidth (§4.1), and discontinuous transmission (DTX, §3.1.3). Also the Opus packet structure of RFC
// 6716 §3 (the TOC byte and frame count) that both the RTP path and the Ogg files need to know a packet's
// duration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/result.h"
#include "media/rtp_types.h"

namespace tandem::media {

inline constexpr size_t kOpusMaxFrameBytes = 1275;            // RFC 6716 §3.2.1
inline constexpr int kOpusMaxPacketSamples48k = 5760;         // 120 ms at 48 kHz (RFC 6716 §3.2.5)
inline constexpr size_t kOpusMaxPacketBytes = 6 * 1275 + 60;  // 120 ms of 20 ms frames, plus framing
// A packet this small carries no audio: libopus emits such packets in DTX and they need not be sent (RFC 7587
// §3.1.3; libopus documents "2 bytes or less" for DTX).
inline constexpr size_t kOpusDtxMaxBytes = 2;

// RFC 6716 §3.1 TOC byte and §3.2 framing, validated.
struct OpusPacketInfo {
  uint8_t config = 0;  // 0..31 (mode, bandwidth, frame size)
  bool stereo = false;
  uint8_t frame_count_code = 0;  // c: 0..3
  int frame_count = 0;
  int samples_per_frame = 0;  // at 48 kHz
  int samples = 0;            // frame_count * samples_per_frame at 48 kHz
  bool dtx = false;           // <= kOpusDtxMaxBytes: silence / comfort noise, no real audio

  // Validates a whole Opus packet against RFC 6716 §3.4 requirements R1-R7 (frame lengths, padding, the 120
  // ms limit). kMalformed/kTruncated otherwise.
  static Result<OpusPacketInfo> Parse(ByteSpan packet);
};

// Samples (48 kHz) per frame of a TOC configuration (RFC 6716 §3.1 Table 2).
int OpusSamplesPerFrame(uint8_t config);

// Send side: one packet per payload. With `suppress_dtx`, DTX packets are not sent at all (RFC 7587 §3.1.3
// allows the sender to stop during silence) and the first packet after a suppressed run gets the marker bit,
// which RFC 7587 §4.1 reserves for the first packet of a talkspurt.
class OpusPacketizer {
 public:
  explicit OpusPacketizer(bool suppress_dtx = true) : suppress_dtx_(suppress_dtx) {}
  // The payload for `packet` (a view of it), or nullopt when it is suppressed DTX or not a valid Opus packet.
  std::optional<OutgoingPayload> Packetize(ByteSpan packet, uint32_t rtp_timestamp);
  uint64_t suppressed_packets() const { return suppressed_; }

 private:
  bool suppress_dtx_;
  bool in_dtx_ = true;  // the very first packet also starts a talkspurt
  uint64_t suppressed_ = 0;
};

// Receive side: validates the payload as one Opus packet and reports its duration and DTX-ness.
inline Result<OpusPacketInfo> DepacketizeOpus(ByteSpan payload) { return OpusPacketInfo::Parse(payload); }

}  // namespace tandem::media
