// Media-layer benchmarks (Google Benchmark), one core:
//   BM_Vp8ReceiveToFrame   RTP payload -> VP8 depacketizer -> jitter buffer -> assembled frame, packets/s,
//   for a
//                          720p-like stream (2.5 Mbit/s at 30 fps: ~9 packets per delta frame, ~45 per key
//                          frame)
//   BM_H264ReceiveToFrame  the same for H.264 (FU-A fragments, Annex B output)
//   BM_Vp8Packetize        frame -> RTP payloads, packets/s
//   BM_Vp8Encode/Decode    libvpx at 640x480 (real time settings), frames/s, for reference
//   BM_OpusEncode/Decode   libopus 20 ms mono frames, frames/s
#include <benchmark/benchmark.h>

#include <vector>

#include "core/rng.h"
#include "media/h264_payload.h"
#include "media/opus_codec.h"
#include "media/test_sources.h"
#include "media/video_jitter_buffer.h"
#include "media/vp8_codec.h"
#include "media/vp8_payload.h"

namespace {

using namespace tandem;         // NOLINT(google-build-using-namespace): benchmark only
using namespace tandem::media;  // NOLINT(google-build-using-namespace)

struct Packet {
  std::vector<uint8_t> payload;
  bool marker;
  uint32_t frame;  // index of the frame it belongs to
};

std::vector<uint8_t> RandomFrame(bool key, size_t size, uint64_t seed) {
  std::vector<uint8_t> f(size);
  SeededRng rng(seed);
  rng.Fill(f);
  f[0] = key ? 0x10 : 0x11;  // RFC 6386 §9.1 frame tag: show_frame, P bit
  if (key) {
    const uint8_t start[] = {0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02};  // 1280x720
    std::copy(std::begin(start), std::end(start), f.begin() + 3);
  }
  return f;
}

// 300 frames of a 2.5 Mbit/s, 30 fps stream with a key frame every 100 frames.
std::vector<Packet> Vp8Stream() {
  Vp8Packetizer packetizer(1200);
  std::vector<Packet> packets;
  for (uint32_t i = 0; i < 300; ++i) {
    const bool key = i % 100 == 0;
    auto frame = RandomFrame(key, key ? 52000 : 10400, i);
    (void)packetizer.Packetize(frame, i * 3000);
    while (auto p = packetizer.NextPayload()) {
      packets.push_back({{p->payload.begin(), p->payload.end()}, p->marker, i});
    }
  }
  return packets;
}

std::vector<Packet> H264Stream() {
  H264Packetizer packetizer(1200);
  std::vector<Packet> packets;
  for (uint32_t i = 0; i < 300; ++i) {
    const bool key = i % 100 == 0;
    std::vector<uint8_t> au;
    auto slice = RandomFrame(false, key ? 52000 : 10400, i);
    for (auto& b : slice) b = b == 0 ? 1 : b;  // no start code inside
    slice[0] = key ? 0x65 : 0x41;
    if (key)
      au.insert(au.end(), {0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0xda, 0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80});
    au.insert(au.end(), {0, 0, 0, 1});
    au.insert(au.end(), slice.begin(), slice.end());
    (void)packetizer.Packetize(au, i * 3000);
    while (auto p = packetizer.NextPayload()) {
      packets.push_back({{p->payload.begin(), p->payload.end()}, p->marker, i});
    }
  }
  return packets;
}

void ReceiveToFrame(benchmark::State& state, VideoCodec codec, const std::vector<Packet>& packets) {
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Zero();  // frames are due as soon as they complete
  VideoJitterBuffer jb(config, codec);
  uint16_t seq = 0;
  uint32_t ts_base = 0;
  Timestamp now = Timestamp::Seconds(1);
  int64_t frames = 0, bytes = 0;
  for (auto _ : state) {
    for (const Packet& p : packets) {
      RtpPacketInfo info;
      info.sequence_number = seq++;
      info.timestamp = ts_base + p.frame * 3000;
      info.marker = p.marker;
      if (p.marker) now = now + TimeDelta::Micros(33333);
      jb.InsertPacket(now, info, p.payload);
      while (auto f = jb.PollFrame(now)) {
        ++frames;
        bytes += static_cast<int64_t>(f->data.size());
      }
    }
    ts_base += 300 * 3000;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(packets.size()));
  state.counters["frames"] = benchmark::Counter(static_cast<double>(frames), benchmark::Counter::kIsRate);
  state.counters["dropped"] = static_cast<double>(jb.stats().frames_dropped);
  state.SetBytesProcessed(bytes);
}

void BM_Vp8ReceiveToFrame(benchmark::State& state) {
  static const std::vector<Packet> packets = Vp8Stream();
  ReceiveToFrame(state, VideoCodec::kVp8, packets);
}
BENCHMARK(BM_Vp8ReceiveToFrame);

void BM_H264ReceiveToFrame(benchmark::State& state) {
  static const std::vector<Packet> packets = H264Stream();
  ReceiveToFrame(state, VideoCodec::kH264, packets);
}
BENCHMARK(BM_H264ReceiveToFrame);

void BM_Vp8Packetize(benchmark::State& state) {
  Vp8Packetizer packetizer(1200);
  auto frame = RandomFrame(false, 10400, 1);
  int64_t packets = 0;
  for (auto _ : state) {
    (void)packetizer.Packetize(frame, 0);
    while (auto p = packetizer.NextPayload()) {
      benchmark::DoNotOptimize(p->payload.data());
      ++packets;
    }
  }
  state.SetItemsProcessed(packets);
}
BENCHMARK(BM_Vp8Packetize);

void BM_Vp8Encode(benchmark::State& state) {
  TestPatternSource source({640, 480, 30});
  auto encoder = Vp8Encoder::Create({.width = 640, .height = 480, .bitrate_bps = 1'000'000});
  std::vector<VideoFrame> frames(60);
  for (size_t i = 0; i < frames.size(); ++i) source.Render(i, frames[i]);
  size_t i = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    VideoFrame& f = frames[i % frames.size()];
    f.timestamp = Timestamp::Micros(static_cast<int64_t>(i) * 33333);
    auto out = (*encoder)->Encode(f);
    if (out.ok() && out->has_value()) bytes += static_cast<int64_t>((*out)->data.size());
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["kbit/s"] =
      static_cast<double>(bytes) * 8 * 30 / 1000 / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Vp8Encode)->Unit(benchmark::kMillisecond);

void BM_Vp8Decode(benchmark::State& state) {
  TestPatternSource source({640, 480, 30});
  auto encoder = Vp8Encoder::Create({.width = 640, .height = 480, .bitrate_bps = 1'000'000});
  std::vector<std::vector<uint8_t>> encoded;
  VideoFrame f;
  for (uint64_t i = 0; i < 90; ++i) {
    if (i % 30 == 0) (*encoder)->RequestKeyFrame();  // so the loop can restart at a key frame
    source.Render(i, f);
    auto out = (*encoder)->Encode(f);
    if (out.ok() && out->has_value()) encoded.emplace_back((*out)->data.begin(), (*out)->data.end());
  }
  auto decoder = Vp8Decoder::Create();
  VideoFrame decoded;
  size_t i = 0;
  for (auto _ : state) {
    (void)(*decoder)->Decode(encoded[i % encoded.size()], decoded);
    ++i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Vp8Decode)->Unit(benchmark::kMillisecond);

void BM_OpusEncode(benchmark::State& state) {
  auto encoder = OpusEncoder::Create({});
  ToneSource tone({});
  AudioFrame frame;
  tone.Render(0, frame);
  for (auto _ : state) {
    auto p = (*encoder)->Encode(frame);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpusEncode);

void BM_OpusDecode(benchmark::State& state) {
  auto encoder = OpusEncoder::Create({});
  auto decoder = OpusDecoder::Create(1);
  ToneSource tone({});
  AudioFrame frame, out;
  std::vector<std::vector<uint8_t>> packets;
  for (uint64_t i = 0; i < 50; ++i) {
    tone.Render(i, frame);
    auto p = (*encoder)->Encode(frame);
    packets.emplace_back(p->begin(), p->end());
  }
  size_t i = 0;
  for (auto _ : state) (void)(*decoder)->Decode(packets[i++ % packets.size()], out);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_OpusDecode);

}  // namespace

BENCHMARK_MAIN();
