// Helpers shared by the media tests: synthetic VP8 frames with valid frame tags, packet builders.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "media/rtp_types.h"

namespace tandem::media::test {

// A VP8 frame whose first bytes are a valid RFC 6386 §9.1 frame tag (and key frame start code and size),
// followed by `size - header` pseudo-random bytes. Not decodable, but every parser sees what it expects.
inline std::vector<uint8_t> FakeVp8Frame(bool key, size_t size, uint64_t seed, int width = 640,
                                         int height = 480) {
  std::vector<uint8_t> f(size);
  SeededRng rng(seed);
  rng.Fill(f);
  if (size >= 3) {
    f[0] = static_cast<uint8_t>(0x10 | (key ? 0x00 : 0x01));  // show_frame, version 0, P bit
    f[1] = 0;
    f[2] = 0;
  }
  if (key && size >= 10) {
    f[3] = 0x9d;
    f[4] = 0x01;
    f[5] = 0x2a;
    f[6] = static_cast<uint8_t>(width);
    f[7] = static_cast<uint8_t>(width >> 8);
    f[8] = static_cast<uint8_t>(height);
    f[9] = static_cast<uint8_t>(height >> 8);
  }
  return f;
}

inline RtpPacketInfo Info(uint16_t seq, uint32_t ts, bool marker) {
  RtpPacketInfo i;
  i.sequence_number = seq;
  i.timestamp = ts;
  i.marker = marker;
  i.payload_type = 96;
  i.ssrc = 0x1234;
  return i;
}

}  // namespace tandem::media::test
