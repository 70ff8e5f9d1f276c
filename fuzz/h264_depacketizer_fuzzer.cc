// libFuzzer harness for the H.264 RTP depacketizer and packetizer (src/media/h264_payload.h) and H.264 frame
// assembly in the video jitter buffer. The first byte picks a mode:
//   even: the rest is a script of packets (as in vp8_depacketizer_fuzzer) fed to DepacketizeH264 and to a
//   jitter
//         buffer; outputs must be Annex B (start with a start code) and bounded;
//   odd:  the rest is an Annex B access unit: packetize it (mode 1), depacketize every payload, and check
//   that the
//         result is the same NAL units, each behind a 4-byte start code.
// Also parses the input as a profile-level-id string.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "media/h264_payload.h"
#include "media/video_jitter_buffer.h"

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

constexpr uint8_t kStartCode[4] = {0, 0, 0, 1};

void RoundTrip(ByteSpan au, size_t mtu) {
  H264Packetizer p(mtu);
  if (!p.Packetize(au, 1234).ok()) return;
  std::vector<uint8_t> out;
  size_t count = 0;
  while (auto payload = p.NextPayload()) {
    FUZZ_CHECK(payload->payload.size() <= mtu);
    FUZZ_CHECK(payload->marker == (p.pending_payloads() == 0));
    auto r = DepacketizeH264(payload->payload, out);
    FUZZ_CHECK(r.ok());
    ++count;
  }
  FUZZ_CHECK(count > 0);
  std::vector<ByteSpan> nalus;
  SplitAnnexB(au, nalus);
  std::vector<uint8_t> expected;
  for (ByteSpan n : nalus) {
    expected.insert(expected.end(), kStartCode, kStartCode + 4);
    expected.insert(expected.end(), n.begin(), n.end());
  }
  FUZZ_CHECK(out == expected);
}

void Script(ByteReader& r) {
  VideoJitterBufferConfig config;
  config.capacity = 64;
  config.max_frame_size = 64 * 1024;
  VideoJitterBuffer jb(config, VideoCodec::kH264);
  Timestamp now = Timestamp::Seconds(1);
  uint16_t seq = 100;
  uint32_t ts = 5;
  std::vector<uint8_t> scratch;
  std::vector<uint16_t> missing;
  int packets = 0;
  while (!r.empty() && packets++ < 2000) {
    uint8_t op = 0, len = 0;
    if (!r.ReadU8(op) || !r.ReadU8(len)) break;
    ByteSpan payload;
    if (!r.ReadBytes(len, payload)) payload = r.Rest();
    const int steps[] = {0, 1, 2, -3};
    seq = static_cast<uint16_t>(seq + steps[(op >> 5) & 3]);
    if (op & 0x10) ts += 3000;
    now = now + TimeDelta::Millis((op & 0x0F) * 8);
    scratch.assign(3, 0xAA);
    auto d = DepacketizeH264(payload, scratch);
    if (d.ok()) {
      FUZZ_CHECK(scratch.size() >= 3);
      if (d->packet_type != 28 || d->fu_start) {
        // Output starts with a start code whenever a NAL unit starts.
        FUZZ_CHECK(scratch.size() >= 3 + 4 && scratch[3] == 0 && scratch[4] == 0 && scratch[5] == 0 &&
                   scratch[6] == 1);
      }
    } else {
      FUZZ_CHECK(scratch.size() == 3);  // nothing appended on error
    }
    RtpPacketInfo info;
    info.sequence_number = seq;
    info.timestamp = ts;
    info.marker = (op & 0x80) != 0;
    jb.InsertPacket(now, info, payload);
    jb.HandleTimeout(now);
    while (auto f = jb.PollFrame(now)) {
      FUZZ_CHECK(f->data.size() >= 5 && f->data.size() <= config.max_frame_size);
      FUZZ_CHECK(f->data[0] == 0 && f->data[1] == 0 && f->data[2] == 0 && f->data[3] == 1);
    }
    (void)jb.TakeKeyFrameRequest();
    jb.GetMissingPackets(missing);
    (void)jb.PollTimeout();
  }
  for (int i = 0; i < 20; ++i) {
    now = now + TimeDelta::Millis(100);
    jb.HandleTimeout(now);
    while (jb.PollFrame(now)) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  if (size <= 16) {
    auto id = H264ProfileLevelId::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
    if (id) FUZZ_CHECK(H264ProfileLevelId::Parse(id->ToString()).has_value());
  }
  ByteSpan rest(data + 1, size - 1);
  if (data[0] & 1) {
    RoundTrip(rest, 3 + (data[0] >> 1) * 8);
  } else {
    ByteReader r(rest);
    Script(r);
  }
  return 0;
}
