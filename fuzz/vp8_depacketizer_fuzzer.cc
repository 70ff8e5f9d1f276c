// libFuzzer harness for the VP8 RTP depacketizer (src/media/vp8_payload.h) and the video jitter buffer's
// frame assembly (src/media/video_jitter_buffer.h). The input is a script of packets: for each, a header byte
// (marker, sequence/timestamp steps, time advance) then a length-prefixed payload. Every payload goes through
// DepacketizeVp8 (whose descriptor must re-serialize to the bytes it was parsed from, reserved bits aside)
// and into a small jitter buffer that is polled as the fake clock advances; frames that come out must be
// sane.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "media/video_jitter_buffer.h"
#include "media/vp8_payload.h"

namespace {

using namespace tandem;         // NOLINT(google-build-using-namespace): harness only
using namespace tandem::media;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

void CheckDescriptor(ByteSpan payload) {
  auto p = DepacketizeVp8(payload);
  if (!p) return;
  const size_t header = payload.size() - p->payload.size();
  FUZZ_CHECK(header >= 1 && header <= kVp8MaxDescriptorSize);
  FUZZ_CHECK(p->payload.data() == payload.data() + header);
  FUZZ_CHECK(!p->key_frame || p->frame_begin);
  // Re-serialize: the same length, and the same bits except the reserved ones (RFC 7741 §4.2).
  uint8_t out[kVp8MaxDescriptorSize];
  FUZZ_CHECK(p->descriptor.Size() <= header);
  p->descriptor.SerializeTo(out);
  size_t size = 0;
  auto again = Vp8PayloadDescriptor::Parse(ByteSpan(out, p->descriptor.Size()), &size);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == p->descriptor);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(ByteSpan(data, size));
  VideoJitterBufferConfig config;
  config.capacity = 64;
  config.max_frame_size = 64 * 1024;
  VideoJitterBuffer jb(config, VideoCodec::kVp8);
  Timestamp now = Timestamp::Seconds(1);
  uint16_t seq = 65500;
  uint32_t ts = 0xFFFFF000;
  std::vector<uint16_t> missing;
  int packets = 0;
  while (!r.empty() && packets++ < 2000) {
    uint8_t op = 0, len = 0;
    if (!r.ReadU8(op) || !r.ReadU8(len)) break;
    ByteSpan payload;
    if (!r.ReadBytes(len, payload)) payload = r.Rest();
    // op: bit 7 marker, bits 6-5 sequence step (0: same/duplicate, 1: +1, 2: +2, 3: -3), bit 4 new timestamp,
    // bits 3-0 milliseconds to advance (x8).
    const int steps[] = {0, 1, 2, -3};
    seq = static_cast<uint16_t>(seq + steps[(op >> 5) & 3]);
    if (op & 0x10) ts += 3000;
    now = now + TimeDelta::Millis((op & 0x0F) * 8);
    CheckDescriptor(payload);
    RtpPacketInfo info;
    info.sequence_number = seq;
    info.timestamp = ts;
    info.marker = (op & 0x80) != 0;
    info.retransmission = (len & 1) != 0;
    jb.InsertPacket(now, info, payload);
    jb.HandleTimeout(now);
    while (auto f = jb.PollFrame(now)) {
      FUZZ_CHECK(!f->data.empty());
      FUZZ_CHECK(f->data.size() <= config.max_frame_size);
      FUZZ_CHECK(f->playout_time <= now);
      volatile uint8_t sink = f->data[0] ^ f->data[f->data.size() - 1];
      (void)sink;
    }
    (void)jb.TakeKeyFrameRequest();
    jb.GetMissingPackets(missing);
    FUZZ_CHECK(missing.size() <= config.max_missing_packets);
    const Timestamp next = jb.PollTimeout();
    FUZZ_CHECK(next.IsInfinite() || next.us() >= 0);
  }
  // Drain: time passes, everything due comes out or is dropped.
  for (int i = 0; i < 20; ++i) {
    now = now + TimeDelta::Millis(100);
    jb.HandleTimeout(now);
    while (jb.PollFrame(now)) {
    }
  }
  return 0;
}
