#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <string>

#include "media/byte_sink.h"
#include "media/ivf.h"
#include "media/media_test_util.h"
#include "media/media_test_util_audio.h"
#include "media/ogg_opus.h"
#include "media/opus_codec.h"
#include "media/opus_payload.h"
#include "media/test_sources.h"
#include "media/vp8_codec.h"

namespace tandem::media {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "tandem_media_" + std::to_string(::getpid()) + "_" + name;
}

// ---- IVF ----

TEST(Ivf, WriteReadRoundTrip) {
  VectorSink sink;
  IvfFileHeader header;
  header.width = 320;
  header.height = 240;
  header.timebase_rate = 30;
  header.timebase_scale = 1;
  IvfWriter writer(sink, header);
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 5; ++i) {
    frames.push_back(test::FakeVp8Frame(i == 0, 100 + 50 * i, i));
    ASSERT_TRUE(writer.WriteFrame(frames.back(), static_cast<uint64_t>(i)).ok());
  }
  ASSERT_TRUE(writer.Finish().ok());
  const auto& bytes = sink.bytes();
  ASSERT_GE(bytes.size(), kIvfFileHeaderSize);
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "DKIF");
  EXPECT_EQ(std::string(bytes.begin() + 8, bytes.begin() + 12), "VP80");

  auto reader = IvfReader::Open(bytes);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(reader->header().is_vp8());
  EXPECT_EQ(reader->header().width, 320);
  EXPECT_EQ(reader->header().height, 240);
  EXPECT_EQ(reader->header().timebase_rate, 30u);
  EXPECT_EQ(reader->header().frame_count, 5u) << "patched by Finish()";
  for (int i = 0; i < 5; ++i) {
    auto f = reader->ReadFrame();
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(f->has_value());
    EXPECT_EQ(std::vector<uint8_t>((*f)->data.begin(), (*f)->data.end()), frames[i]);
    EXPECT_EQ((*f)->pts, static_cast<uint64_t>(i));
    EXPECT_EQ((*f)->time, TimeDelta::Micros(33333 * i + (i > 0 ? i / 3 : 0)));
  }
  auto end = reader->ReadFrame();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  reader->Rewind();
  auto again = reader->ReadFrame();
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->pts, 0u);
}

TEST(Ivf, ReaderRefusesDamagedFiles) {
  VectorSink sink;
  IvfWriter writer(sink);
  ASSERT_TRUE(writer.WriteFrame(test::FakeVp8Frame(true, 200, 1), 0).ok());
  ASSERT_TRUE(writer.WriteFrame(test::FakeVp8Frame(false, 200, 2), 3000).ok());
  std::vector<uint8_t> good = sink.bytes();

  auto bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_EQ(IvfReader::Open(bad_magic).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(IvfReader::Open(ByteSpan(good.data(), 31)).error().code, ErrorCode::kTruncated);
  auto bad_header_size = good;
  bad_header_size[6] = 8;
  EXPECT_FALSE(IvfReader::Open(bad_header_size).ok());
  auto zero_rate = good;
  zero_rate[16] = zero_rate[17] = zero_rate[18] = zero_rate[19] = 0;
  EXPECT_FALSE(IvfReader::Open(zero_rate).ok());

  // Cut inside the second frame: the first reads, the second is an error, then the end.
  auto truncated = std::vector<uint8_t>(good.begin(), good.end() - 10);
  auto r = IvfReader::Open(truncated);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->ReadFrame().ok());
  auto second = r->ReadFrame();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kTruncated);
  auto after = r->ReadFrame();
  ASSERT_TRUE(after.ok());
  EXPECT_FALSE(after->has_value());

  // A frame size beyond the limit.
  auto huge = good;
  StoreLe32(&huge[kIvfFileHeaderSize], 0x7FFFFFFF);
  auto h = IvfReader::Open(huge);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->ReadFrame().error().code, ErrorCode::kLimitExceeded);
}

TEST(Ivf, PacedPlaybackAndLoop) {
  VectorSink sink;
  IvfWriter writer(sink);  // 90 kHz
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(writer.WriteFrame(test::FakeVp8Frame(i == 0, 50, i), 9000u * i).ok());
  auto reader = IvfReader::Open(sink.bytes());
  ASSERT_TRUE(reader.ok());
  const Timestamp t0 = Timestamp::Seconds(5);
  auto f = reader->PollFrame(t0);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->pts, 0u);
  EXPECT_FALSE(reader->PollFrame(t0 + TimeDelta::Millis(99)).has_value());
  EXPECT_EQ(reader->NextDeadline(), t0 + TimeDelta::Millis(100));
  f = reader->PollFrame(t0 + TimeDelta::Millis(100));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->pts, 9000u);
  f = reader->PollFrame(t0 + TimeDelta::Millis(250));
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->pts, 18000u);
  EXPECT_FALSE(reader->PollFrame(t0 + TimeDelta::Seconds(10)).has_value());
  EXPECT_TRUE(reader->finished());
  EXPECT_EQ(reader->NextDeadline(), Timestamp::Infinity());

  auto looping = IvfReader::Open(sink.bytes());
  ASSERT_TRUE(looping.ok());
  looping->set_loop(true);
  int count = 0;
  for (int ms = 0; ms <= 1000; ms += 10) {
    while (looping->PollFrame(t0 + TimeDelta::Millis(ms))) ++count;
  }
  // Frames at 0, 100, 200 ms, then again from ~201 ms: about 3 per 201 ms -> 15 in one second.
  EXPECT_GE(count, 14);
  EXPECT_LE(count, 16);
}

TEST(Ivf, RecordingReceivedFramesStartsAtAKeyFrame) {
  VectorSink sink;
  IvfWriter writer(sink);
  auto delta = test::FakeVp8Frame(false, 80, 1);
  auto key = test::FakeVp8Frame(true, 80, 2, 352, 288);
  EncodedVideoFrame f;
  f.data = delta;
  f.rtp_timestamp = 0xFFFFF000;
  ASSERT_TRUE(writer.WriteFrame(f).ok());
  EXPECT_EQ(writer.frames_written(), 0u) << "nothing decodable before a key frame";
  f.data = key;
  f.key_frame = true;
  f.rtp_timestamp = 0xFFFFF000 + 3000;
  ASSERT_TRUE(writer.WriteFrame(f).ok());
  f.data = delta;
  f.key_frame = false;
  f.rtp_timestamp += 3000;  // wraps past 2^32
  ASSERT_TRUE(writer.WriteFrame(f).ok());
  f.rtp_timestamp -= 6000;  // older than the first: skipped
  ASSERT_TRUE(writer.WriteFrame(f).ok());
  EXPECT_EQ(writer.frames_written(), 2u);
  auto reader = IvfReader::Open(sink.bytes());
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->header().width, 352) << "taken from the key frame";
  EXPECT_EQ(reader->header().height, 288);
  EXPECT_EQ((*reader->ReadFrame())->pts, 0u);
  EXPECT_EQ((*reader->ReadFrame())->pts, 3000u);
}

TEST(Ivf, EncodedFileDecodesWithLibvpx) {
  const std::string path = TempPath("pattern.ivf");
  TestPatternSource source({320, 240, 30});
  auto encoder = Vp8Encoder::Create({.width = 320, .height = 240, .bitrate_bps = 600'000});
  ASSERT_TRUE(encoder.ok());
  {
    auto file = FileSink::Open(path);
    ASSERT_TRUE(file.ok());
    IvfWriter writer(**file, {.width = 320, .height = 240, .timebase_rate = 30, .timebase_scale = 1});
    VideoFrame frame;
    for (uint64_t i = 0; i < 30; ++i) {
      source.Render(i, frame);
      auto out = (*encoder)->Encode(frame);
      ASSERT_TRUE(out.ok() && out->has_value());
      ASSERT_TRUE(writer.WriteFrame((*out)->data, i).ok());
    }
    ASSERT_TRUE(writer.Finish().ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  auto bytes = ReadFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(bytes.ok());
  auto reader = IvfReader::Open(*bytes);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->header().frame_count, 30u);
  auto decoder = Vp8Decoder::Create();
  ASSERT_TRUE(decoder.ok());
  VideoFrame decoded, reference;
  int frames = 0;
  while (true) {
    auto f = reader->ReadFrame();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) break;
    ASSERT_TRUE((*decoder)->Decode((*f)->data, decoded).ok());
    source.Render((*f)->pts, reference);
    EXPECT_GT(*LumaPsnr(reference, decoded), 30.0);
    ++frames;
  }
  EXPECT_EQ(frames, 30);
}

// ---- Ogg ----

TEST(Ogg, CrcMatchesTheOggPolynomial) {
  // CRC-32 with generator 0x04c11db7, no reflection, init 0, no final XOR: the POSIX cksum CRC before its
  // final inversion (cksum's check value for "123456789" is 0x765E7680).
  EXPECT_EQ(OggCrc32(AsBytes("123456789")), ~0x765E7680u);
  EXPECT_EQ(OggCrc32({}), 0u);
}

TEST(Ogg, HeadAndTagsRoundTrip) {
  OpusHead head;
  head.channels = 2;
  head.pre_skip = 356;
  head.input_sample_rate = 44100;
  head.output_gain = -256;
  std::vector<uint8_t> bytes;
  head.SerializeTo(bytes);
  EXPECT_EQ(bytes.size(), 19u);
  auto parsed = OpusHead::Parse(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->channels, 2);
  EXPECT_EQ(parsed->pre_skip, 356);
  EXPECT_EQ(parsed->input_sample_rate, 44100u);
  EXPECT_EQ(parsed->output_gain, -256);
  EXPECT_EQ(parsed->coupled_count, 1);

  OpusHead surround;
  surround.channels = 6;
  surround.mapping_family = 1;
  surround.stream_count = 4;
  surround.coupled_count = 2;
  surround.mapping = {0, 4, 1, 2, 3, 5};
  bytes.clear();
  surround.SerializeTo(bytes);
  parsed = OpusHead::Parse(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->mapping, surround.mapping);
  bytes[21] = 9;  // maps beyond stream_count + coupled_count
  EXPECT_FALSE(OpusHead::Parse(bytes).ok());

  std::vector<uint8_t> bad;
  OpusHead{}.SerializeTo(bad);
  bad[8] = 0x10;  // major version 1
  EXPECT_EQ(OpusHead::Parse(bad).error().code, ErrorCode::kUnsupported);
  bad[8] = 1;
  bad[9] = 3;  // family 0 with 3 channels
  EXPECT_FALSE(OpusHead::Parse(bad).ok());

  OpusTags tags;
  tags.vendor = "tandem test";
  tags.comments = {"TITLE=tone", "ARTIST=none"};
  bytes.clear();
  tags.SerializeTo(bytes);
  auto t = OpusTags::Parse(bytes);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->vendor, "tandem test");
  EXPECT_EQ(t->comments, tags.comments);
  StoreLe32(&bytes[8 + 4 + 11], 1000000);  // claim a million comments
  EXPECT_FALSE(OpusTags::Parse(bytes).ok());
}

struct EncodedTone {
  std::vector<std::vector<uint8_t>> packets;
  int pre_skip = 0;
  uint64_t samples = 0;
};

EncodedTone EncodeTone(int frames, int channels, double hz) {
  EncodedTone out;
  auto enc = OpusEncoder::Create({.channels = channels, .bitrate_bps = 48'000});
  EXPECT_TRUE(enc.ok());
  out.pre_skip = (*enc)->lookahead();
  ToneSource tone({.frequency_hz = hz, .amplitude = 0.5, .channels = channels});
  AudioFrame frame;
  for (int i = 0; i < frames; ++i) {
    tone.Render(static_cast<uint64_t>(i), frame);
    auto p = (*enc)->Encode(frame);
    EXPECT_TRUE(p.ok());
    out.packets.emplace_back(p->begin(), p->end());
    out.samples += 960;
  }
  // Flush the encoder's lookahead with a frame of silence so that the packets hold all of the input
  // (RFC 7845 §4.4: the final granule position then trims the excess).
  frame.samples.assign(frame.samples.size(), 0);
  auto p = (*enc)->Encode(frame);
  EXPECT_TRUE(p.ok());
  out.packets.emplace_back(p->begin(), p->end());
  return out;
}

std::vector<OggPage> Pages(const std::vector<uint8_t>& file) {
  std::vector<OggPage> pages;
  size_t pos = 0;
  while (pos < file.size()) {
    auto p = OggPage::Parse(ByteSpan(file).subspan(pos));
    EXPECT_TRUE(p.ok());
    if (!p.ok()) break;
    pages.push_back(*p);
    pos += p->size;
  }
  return pages;
}

TEST(Ogg, WriterProducesAValidOggOpusStream) {
  auto tone = EncodeTone(150, 1, 440);  // 3 s
  VectorSink sink;
  OpusHead head;
  head.pre_skip = static_cast<uint16_t>(tone.pre_skip);
  OggOpusWriter writer(sink, head, {.vendor = "tandem", .comments = {"ENCODER=tandem"}});
  for (const auto& p : tone.packets) ASSERT_TRUE(writer.WritePacket(p).ok());
  ASSERT_TRUE(writer.Finish(tone.samples).ok());

  auto pages = Pages(sink.bytes());
  ASSERT_GE(pages.size(), 5u);
  // RFC 7845 §3: OpusHead alone on the BOS page, OpusTags on the second page, audio from the third.
  EXPECT_TRUE(pages[0].bos());
  EXPECT_EQ(pages[0].segment_table.size(), 1u);
  EXPECT_EQ(std::string(pages[0].body.begin(), pages[0].body.begin() + 8), "OpusHead");
  EXPECT_EQ(pages[0].granule_position, 0u);
  EXPECT_EQ(std::string(pages[1].body.begin(), pages[1].body.begin() + 8), "OpusTags");
  EXPECT_EQ(pages[1].granule_position, 0u);
  uint64_t last_granule = 0;
  for (size_t i = 0; i < pages.size(); ++i) {
    EXPECT_EQ(pages[i].sequence, i);
    EXPECT_EQ(pages[i].serial, pages[0].serial);
    EXPECT_EQ(pages[i].eos(), i + 1 == pages.size());
    EXPECT_FALSE(pages[i].continued());
    EXPECT_GE(pages[i].granule_position, last_granule);
    if (i >= 2) {
      EXPECT_LE(pages[i].granule_position - last_granule, 48000u + 960u) << "about a second per page";
    }
    last_granule = pages[i].granule_position;
  }
  EXPECT_EQ(pages.back().granule_position, tone.pre_skip + tone.samples) << "§4.4 end trimming";

  auto reader = OggOpusReader::Open(sink.bytes());
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->head().pre_skip, tone.pre_skip);
  EXPECT_EQ(reader->tags().comments, std::vector<std::string>{"ENCODER=tandem"});
  for (size_t i = 0; i < tone.packets.size(); ++i) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok() && p->has_value()) << i;
    EXPECT_EQ(std::vector<uint8_t>((*p)->data.begin(), (*p)->data.end()), tone.packets[i]);
    EXPECT_EQ((*p)->samples, 960);
    EXPECT_EQ((*p)->position, 960u * i);
  }
  auto end = reader->ReadPacket();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(reader->crc_errors(), 0u);
}

TEST(Ogg, WrittenFileDecodesWithLibopus) {
  const std::string path = TempPath("tone.opus");
  auto tone = EncodeTone(100, 2, 660);
  {
    auto file = FileSink::Open(path);
    ASSERT_TRUE(file.ok());
    OpusHead head;
    head.channels = 2;
    head.pre_skip = static_cast<uint16_t>(tone.pre_skip);
    OggOpusWriter writer(**file, head);
    for (const auto& p : tone.packets) ASSERT_TRUE(writer.WritePacket(p).ok());
    ASSERT_TRUE(writer.Finish(tone.samples).ok());
    ASSERT_TRUE((*file)->Close().ok());
  }
  auto bytes = ReadFile(path);
  std::remove(path.c_str());
  ASSERT_TRUE(bytes.ok());
  auto reader = OggOpusReader::Open(*bytes);
  ASSERT_TRUE(reader.ok());
  auto dec = OpusDecoder::Create(reader->head().channels);
  ASSERT_TRUE(dec.ok());
  std::vector<int16_t> pcm;
  AudioFrame out;
  while (true) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok());
    if (!p->has_value()) break;
    ASSERT_TRUE((*dec)->Decode((*p)->data, out).ok());
    const size_t keep = (out.samples_per_channel() - static_cast<size_t>((*p)->end_trim)) * 2;
    pcm.insert(pcm.end(), out.samples.begin(), out.samples.begin() + static_cast<std::ptrdiff_t>(keep));
  }
  // RFC 7845 §4.2: drop pre-skip samples; what remains is exactly the encoded input.
  const size_t skip = static_cast<size_t>(reader->head().pre_skip) * 2;
  ASSERT_GT(pcm.size(), skip);
  std::span<const int16_t> audio(pcm.data() + skip, pcm.size() - skip);
  EXPECT_EQ(audio.size() / 2, tone.samples);
  EXPECT_NEAR(test::ZeroCrossingFrequency(audio.subspan(9600), 2, 48000), 660.0, 5.0);
}

TEST(Ogg, RecordingFromRtpFillsGapsWithConcealment) {
  auto tone = EncodeTone(50, 1, 440);
  tone.packets.pop_back();  // the flush packet
  VectorSink sink;
  OggOpusWriter writer(sink, OpusHead{});
  const uint32_t ts0 = 0xFFFFFF00u;  // wraps during the recording
  for (size_t i = 0; i < tone.packets.size(); ++i) {
    if (i >= 20 && i < 25) continue;  // lost (or DTX)
    ASSERT_TRUE(writer.WriteRtpPacket(ts0 + 960 * static_cast<uint32_t>(i), tone.packets[i]).ok());
  }
  EXPECT_FALSE(writer.WriteRtpPacket(ts0 + 960 * 3, tone.packets[3]).ok()) << "behind the end: refused";
  ASSERT_TRUE(writer.Finish().ok());
  EXPECT_EQ(writer.filler_packets(), 5u);
  EXPECT_EQ(writer.granule_position(), 50u * 960);

  auto reader = OggOpusReader::Open(sink.bytes());
  ASSERT_TRUE(reader.ok());
  auto dec = OpusDecoder::Create(1);
  AudioFrame out;
  uint64_t total = 0;
  int fillers = 0;
  for (int i = 0; i < 50; ++i) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok() && p->has_value()) << i;
    EXPECT_EQ((*p)->position, 960u * i);
    if ((*p)->data.size() == 1) ++fillers;
    ASSERT_TRUE((*dec)->Decode((*p)->data, out).ok()) << "a TOC-only packet decodes as concealment";
    total += out.samples_per_channel();
  }
  EXPECT_EQ(fillers, 5);
  EXPECT_EQ(total, 50u * 960);
}

TEST(Ogg, ReaderSkipsDamagedPagesAndReassemblesLargePackets) {
  auto tone = EncodeTone(250, 1, 440);  // 5 s: several audio pages
  VectorSink sink;
  OpusTags tags;
  tags.comments.push_back("PICTURE=" + std::string(100000, 'x'));  // OpusTags spans two pages
  OggOpusWriter writer(sink, OpusHead{}, tags);
  for (const auto& p : tone.packets) ASSERT_TRUE(writer.WritePacket(p).ok());
  ASSERT_TRUE(writer.Finish().ok());
  auto bytes = sink.bytes();
  auto pages = Pages(bytes);
  ASSERT_GE(pages.size(), 8u);
  EXPECT_TRUE(pages[2].continued()) << "the tags continue on a third page";

  // Intact: everything reads, tags included.
  auto reader = OggOpusReader::Open(bytes);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->tags().comments[0].size(), 100008u);
  int intact = 0;
  while (true) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok());
    if (!p->has_value()) break;
    ++intact;
  }
  EXPECT_EQ(intact, 251);

  // Flip a byte in the body of the second audio page: its CRC fails, its packets are lost, the rest reads.
  size_t offset = 0;
  for (size_t i = 0; i < 4; ++i) offset += pages[i].size;
  const size_t lost_packets = pages[4].segment_table.size();  // packets < 255 bytes: one lacing value each
  bytes[offset + pages[4].size - 5] ^= 0xFF;
  reader = OggOpusReader::Open(bytes);
  ASSERT_TRUE(reader.ok());
  int damaged = 0;
  while (true) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok());
    if (!p->has_value()) break;
    ++damaged;
  }
  EXPECT_EQ(reader->crc_errors(), 1u);
  EXPECT_EQ(static_cast<size_t>(damaged), 251 - lost_packets);

  // Truncated in the middle of a page: the packets before it read.
  auto cut = std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(offset + 100));
  reader = OggOpusReader::Open(cut);
  ASSERT_TRUE(reader.ok());
  int before_cut = 0;
  while (true) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok());
    if (!p->has_value()) break;
    ++before_cut;
  }
  EXPECT_EQ(static_cast<size_t>(before_cut), pages[3].segment_table.size());

  // Not Ogg at all, or Ogg without OpusHead.
  EXPECT_FALSE(OggOpusReader::Open(AsBytes("definitely not an ogg file, just text padding")).ok());
  auto no_bos = sink.bytes();
  no_bos[5] = 0;  // clear BOS (CRC now fails too)
  EXPECT_FALSE(OggOpusReader::Open(no_bos).ok());
}

TEST(Ogg, PacedPlayback) {
  auto tone = EncodeTone(10, 1, 440);
  VectorSink sink;
  OpusHead head;
  head.pre_skip = 0;
  OggOpusWriter writer(sink, head);
  for (const auto& p : tone.packets) ASSERT_TRUE(writer.WritePacket(p).ok());
  ASSERT_TRUE(writer.Finish().ok());
  auto reader = OggOpusReader::Open(sink.bytes());
  ASSERT_TRUE(reader.ok());
  const Timestamp t0 = Timestamp::Seconds(3);
  int n = 0;
  for (int ms = 0; ms < 100; ms += 5) {
    while (auto p = reader->PollPacket(t0 + TimeDelta::Millis(ms))) {
      EXPECT_LE(t0 + p->time, t0 + TimeDelta::Millis(ms));
      ++n;
    }
  }
  EXPECT_EQ(n, 5);  // packets at 0, 20, 40, 60, 80 ms (of 11)
  EXPECT_EQ(reader->NextDeadline(), t0 + TimeDelta::Millis(100));
}

}  // namespace
}  // namespace tandem::media
