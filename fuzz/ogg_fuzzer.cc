// libFuzzer harness for the Ogg Opus reader (src/media/ogg_opus.h): open arbitrary bytes as an Ogg Opus file
// and read every packet (CRC failures resynchronise, packets spanning pages are reassembled within limits);
// each packet must be a valid Opus packet of at most 120 ms. What was read is written back with OggOpusWriter
// and must read back identically. The raw input also goes to the page, OpusHead, OpusTags and Opus TOC
// parsers and, as a script of packets, to the audio jitter buffer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "media/audio_jitter_buffer.h"
#include "media/ogg_opus.h"
#include "media/opus_payload.h"

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

void ReadAndRewrite(ByteSpan input) {
  auto reader = OggOpusReader::Open(input);
  if (!reader) return;
  std::vector<std::vector<uint8_t>> packets;
  std::vector<uint64_t> positions;
  while (packets.size() < 20000) {
    auto p = reader->ReadPacket();
    FUZZ_CHECK(p.ok());
    if (!*p) break;
    FUZZ_CHECK((*p)->samples > 0 && (*p)->samples <= kOpusMaxPacketSamples48k);
    FUZZ_CHECK((*p)->end_trim >= 0 && (*p)->end_trim <= (*p)->samples);
    FUZZ_CHECK(OpusPacketInfo::Parse((*p)->data).ok());
    packets.emplace_back((*p)->data.begin(), (*p)->data.end());
    positions.push_back((*p)->position);
  }
  VectorSink sink;
  OggOpusWriter writer(sink, reader->head(), reader->tags());
  for (const auto& p : packets) FUZZ_CHECK(writer.WritePacket(p).ok());
  FUZZ_CHECK(writer.Finish().ok());
  auto again = OggOpusReader::Open(sink.bytes());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->head().channels == reader->head().channels);
  FUZZ_CHECK(again->tags().comments == reader->tags().comments);
  for (size_t i = 0; i < packets.size(); ++i) {
    auto p = again->ReadPacket();
    FUZZ_CHECK(p.ok() && p->has_value());
    FUZZ_CHECK(std::vector<uint8_t>((*p)->data.begin(), (*p)->data.end()) == packets[i]);
    FUZZ_CHECK((*p)->position == positions[i]);
  }
  FUZZ_CHECK(again->crc_errors() == 0);
  // Paced playback terminates.
  reader->Rewind();
  Timestamp now = Timestamp::Seconds(1);
  for (int i = 0; i < 100; ++i) {
    while (reader->PollPacket(now)) {
    }
    const Timestamp next = reader->NextDeadline();
    if (next.IsInfinite()) break;
    now = std::max(now + TimeDelta::Millis(1), next);
  }
}

void JitterBufferScript(ByteSpan input) {
  AudioJitterBuffer jb;
  ByteReader r(input);
  Timestamp now = Timestamp::Seconds(1);
  uint16_t seq = 65530;
  uint32_t ts = 0xFFFFF000;
  int packets = 0;
  while (!r.empty() && packets++ < 2000) {
    uint8_t op = 0, len = 0;
    if (!r.ReadU8(op) || !r.ReadU8(len)) break;
    ByteSpan payload;
    if (!r.ReadBytes(len % 64, payload)) payload = r.Rest();
    const int steps[] = {1, 1, 2, -1};
    seq = static_cast<uint16_t>(seq + steps[(op >> 5) & 3]);
    ts += 960 * static_cast<uint32_t>(steps[(op >> 5) & 3]);
    now = now + TimeDelta::Millis((op & 0x1F) * 2);
    RtpPacketInfo info;
    info.sequence_number = seq;
    info.timestamp = ts;
    info.marker = (op & 0x80) != 0;
    jb.InsertPacket(now, info, payload);
    int steps_out = 0;
    while (auto s = jb.PollPlayout(now)) {
      FUZZ_CHECK(s->samples > 0 && s->samples <= kOpusMaxPacketSamples48k);
      FUZZ_CHECK(++steps_out < 10000);
    }
    FUZZ_CHECK(jb.buffered_packets() <= 64);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  if (auto page = OggPage::Parse(input)) FUZZ_CHECK(page->size <= size && page->size <= kOggMaxPageSize);
  if (auto head = OpusHead::Parse(input)) {
    std::vector<uint8_t> out;
    head->SerializeTo(out);
    auto again = OpusHead::Parse(out);
    FUZZ_CHECK(again.ok() && again->channels == head->channels && again->pre_skip == head->pre_skip);
  }
  if (auto tags = OpusTags::Parse(input)) {
    std::vector<uint8_t> out;
    tags->SerializeTo(out);
    auto again = OpusTags::Parse(out);
    FUZZ_CHECK(again.ok() && again->comments == tags->comments && again->vendor == tags->vendor);
  }
  if (auto info = OpusPacketInfo::Parse(input)) {
    FUZZ_CHECK(info->frame_count >= 1 && info->samples <= kOpusMaxPacketSamples48k);
  }
  ReadAndRewrite(input);
  JitterBufferScript(input);
  return 0;
}
