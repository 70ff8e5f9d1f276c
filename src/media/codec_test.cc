#include <gtest/gtest.h>

#include "core/rng.h"
#include "media/media_test_util_audio.h"
#include "media/opus_codec.h"
#include "media/test_sources.h"
#include "media/vp8_codec.h"
#include "media/vp8_payload.h"

namespace tandem::media {
namespace {

std::unique_ptr<Vp8Encoder> MakeEncoder(int w, int h, uint32_t bps) {
  Vp8EncoderConfig c;
  c.width = w;
  c.height = h;
  c.bitrate_bps = bps;
  auto e = Vp8Encoder::Create(c);
  EXPECT_TRUE(e.ok());
  return std::move(*e);
}

TEST(Vp8Codec, EncodeDecodeKeepsSizeAndQuality) {
  TestPatternSource source({320, 240, 30});
  auto encoder = MakeEncoder(320, 240, 800'000);
  auto decoder = Vp8Decoder::Create();
  ASSERT_TRUE(decoder.ok());
  VideoFrame reference, decoded;
  double min_psnr = 1000;
  for (uint64_t i = 0; i < 30; ++i) {
    source.Render(i, reference);
    reference.timestamp = Timestamp::Micros(static_cast<int64_t>(i) * 33333);
    auto out = encoder->Encode(reference);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(out->has_value()) << "no frame dropped at this bitrate";
    const Vp8EncodedFrame& f = **out;
    EXPECT_EQ(f.key_frame, i == 0);
    auto header = Vp8FrameHeader::Parse(f.data);
    ASSERT_TRUE(header.has_value());
    EXPECT_EQ(header->key_frame, i == 0);
    if (i == 0) {
      EXPECT_EQ(header->width, 320);
      EXPECT_EQ(header->height, 240);
    }
    auto r = (*decoder)->Decode(f.data, decoded);
    ASSERT_TRUE(r.ok());
    ASSERT_TRUE(*r);
    EXPECT_EQ(decoded.width, 320);
    EXPECT_EQ(decoded.height, 240);
    const double psnr = *LumaPsnr(reference, decoded);
    if (i >= 3) min_psnr = std::min(min_psnr, psnr);
    EXPECT_EQ(TestPatternSource::ReadCounter(decoded), static_cast<uint16_t>(i));
  }
  EXPECT_GT(min_psnr, 32.0);
  EXPECT_EQ(encoder->frames_encoded(), 30u);
  EXPECT_EQ((*decoder)->frames_decoded(), 30u);
}

TEST(Vp8Codec, KeyFrameOnRequest) {
  TestPatternSource source({160, 120, 30});
  auto encoder = MakeEncoder(160, 120, 300'000);
  VideoFrame frame;
  std::vector<bool> keys;
  for (uint64_t i = 0; i < 10; ++i) {
    if (i == 6) encoder->RequestKeyFrame();
    source.Render(i, frame);
    auto out = encoder->Encode(frame);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(out->has_value());
    keys.push_back((*out)->key_frame);
  }
  EXPECT_EQ(keys, (std::vector<bool>{true, false, false, false, false, false, true, false, false, false}));
}

TEST(Vp8Codec, BitrateChangesTakeEffect) {
  TestPatternSource source({320, 240, 30});
  auto encoder = MakeEncoder(320, 240, 2'000'000);
  VideoFrame frame;
  SeededRng rng(11);
  auto run = [&](uint64_t from, uint64_t count) {
    size_t bytes = 0;
    for (uint64_t i = from; i < from + count; ++i) {
      source.Render(i, frame);
      // Noise makes the picture expensive, so that the encoder spends whatever budget it is given.
      for (size_t k = 0; k < frame.y_size(); ++k)
        frame.data[k] = static_cast<uint8_t>(frame.data[k] ^ (rng.NextU32() & 0x1F));
      auto out = encoder->Encode(frame);
      EXPECT_TRUE(out.ok());
      if (out.ok() && out->has_value()) bytes += (*out)->data.size();
    }
    return bytes;
  };
  run(0, 30);  // settle past the key frame
  const size_t high = run(30, 60);
  ASSERT_TRUE(encoder->SetBitrate(100'000).ok());
  run(90, 30);  // let the rate controller adapt
  const size_t low = run(120, 60);
  EXPECT_LT(low * 3, high) << "high " << high << " low " << low;
  // About 100 kbit/s for 2 s = 25 kB (frame drops allowed).
  EXPECT_LT(low, 40'000u);
}

TEST(Vp8Codec, ResolutionChangeRestartsWithAKeyFrame) {
  auto encoder = MakeEncoder(320, 240, 500'000);
  auto decoder = Vp8Decoder::Create();
  ASSERT_TRUE(decoder.ok());
  TestPatternSource small({320, 240, 30}), large({640, 360, 30});
  VideoFrame frame, decoded;
  for (uint64_t i = 0; i < 6; ++i) {
    auto& src = i < 3 ? small : large;
    src.Render(i, frame);
    auto out = encoder->Encode(frame);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE(out->has_value());
    EXPECT_EQ((*out)->key_frame, i == 0 || i == 3);
    ASSERT_TRUE((*decoder)->Decode((*out)->data, decoded).ok());
    EXPECT_EQ(decoded.width, i < 3 ? 320 : 640);
    EXPECT_EQ(decoded.height, i < 3 ? 240 : 360);
  }
}

TEST(Vp8Codec, RejectsBadInput) {
  EXPECT_FALSE(Vp8Encoder::Create({.width = 0}).ok());
  EXPECT_FALSE(Vp8Encoder::Create({.fps = 0}).ok());
  auto encoder = MakeEncoder(64, 64, 100'000);
  VideoFrame empty;
  EXPECT_FALSE(encoder->Encode(empty).ok());
  auto decoder = Vp8Decoder::Create();
  ASSERT_TRUE(decoder.ok());
  VideoFrame out;
  std::vector<uint8_t> garbage(500);
  SeededRng rng(3);
  rng.Fill(garbage);
  garbage[0] = 0x10;  // a "key frame" tag with no valid start code
  EXPECT_FALSE((*decoder)->Decode(garbage, out).ok());
  EXPECT_FALSE((*decoder)->Decode({}, out).ok());
  EXPECT_EQ((*decoder)->errors(), 2u);
}

std::vector<int16_t> DecodeTone(OpusEncoder& enc, OpusDecoder& dec, ToneSource& tone, int frames,
                                std::vector<size_t>* sizes = nullptr) {
  std::vector<int16_t> pcm;
  AudioFrame in, out;
  for (int i = 0; i < frames; ++i) {
    tone.Render(static_cast<uint64_t>(i), in);
    auto packet = enc.Encode(in);
    EXPECT_TRUE(packet.ok());
    if (!packet.ok()) break;
    if (sizes) sizes->push_back(packet->size());
    EXPECT_TRUE(dec.Decode(*packet, out).ok());
    EXPECT_EQ(out.samples_per_channel(), 960u);
    pcm.insert(pcm.end(), out.samples.begin(), out.samples.end());
  }
  return pcm;
}

TEST(OpusCodec, ToneSurvivesEncodeDecode) {
  for (int channels : {1, 2}) {
    OpusEncoderConfig config;
    config.channels = channels;
    config.bitrate_bps = 48'000;
    auto enc = OpusEncoder::Create(config);
    ASSERT_TRUE(enc.ok());
    auto dec = OpusDecoder::Create(channels);
    ASSERT_TRUE(dec.ok());
    EXPECT_GT((*enc)->lookahead(), 0);
    ToneSource tone({.frequency_hz = 440, .amplitude = 0.5, .channels = channels});
    auto pcm = DecodeTone(**enc, **dec, tone, 50);
    // Skip the first 100 ms (encoder warm-up).
    std::span<const int16_t> steady(pcm.data() + 4800 * channels, pcm.size() - 4800 * channels);
    EXPECT_NEAR(test::ZeroCrossingFrequency(steady, channels, 48000), 440.0, 5.0) << channels;
    EXPECT_NEAR(test::Rms(steady), 0.5 * 32767 / std::sqrt(2.0), 2500.0);
  }
}

TEST(OpusCodec, BitrateIsSettable) {
  OpusEncoderConfig config;
  config.voip = false;
  config.bitrate_bps = 16'000;
  auto enc = OpusEncoder::Create(config);
  ASSERT_TRUE(enc.ok());
  auto dec = OpusDecoder::Create(1);
  ToneSource tone({.frequency_hz = 1000});
  std::vector<size_t> low, high;
  DecodeTone(**enc, **dec, tone, 25, &low);
  ASSERT_TRUE((*enc)->SetBitrate(128'000).ok());
  DecodeTone(**enc, **dec, tone, 25, &high);
  size_t low_sum = 0, high_sum = 0;
  for (size_t i = 5; i < 25; ++i) {
    low_sum += low[i];
    high_sum += high[i];
  }
  // 16 kbit/s is 40 bytes per 20 ms; VBR on a pure tone lands near it.
  EXPECT_LT(static_cast<double>(low_sum) / 20, 70.0);
  EXPECT_GT(high_sum, 3 * low_sum);
}

TEST(OpusCodec, ConcealmentAndFecFillLostPackets) {
  OpusEncoderConfig config;
  config.inband_fec = true;
  config.expected_loss_percent = 20;
  config.bitrate_bps = 32'000;
  auto enc = OpusEncoder::Create(config);
  ASSERT_TRUE(enc.ok());
  auto dec = OpusDecoder::Create(1);
  ASSERT_TRUE(dec.ok());
  ToneSource tone({.frequency_hz = 300, .amplitude = 0.4});
  AudioFrame in, out;
  std::vector<std::vector<uint8_t>> packets;
  for (int i = 0; i < 30; ++i) {
    tone.Render(static_cast<uint64_t>(i), in);
    auto p = (*enc)->Encode(in);
    ASSERT_TRUE(p.ok());
    packets.emplace_back(p->begin(), p->end());
  }
  std::vector<int16_t> pcm;
  for (int i = 0; i < 30; ++i) {
    if (i == 10) {
      ASSERT_TRUE((*dec)->Conceal(960, out).ok());  // lost, nothing after it yet
    } else if (i == 20) {
      ASSERT_TRUE((*dec)->DecodeFec(packets[21], 960, out).ok());  // lost, recovered from 21's LBRR
    } else {
      ASSERT_TRUE((*dec)->Decode(packets[i], out).ok());
    }
    EXPECT_EQ(out.samples.size(), 960u) << i;
    pcm.insert(pcm.end(), out.samples.begin(), out.samples.end());
  }
  // Concealed and recovered stretches still carry the tone.
  std::span<const int16_t> concealed(pcm.data() + 10 * 960, 960), recovered(pcm.data() + 20 * 960, 960);
  EXPECT_GT(test::Rms(concealed), 1000.0);
  EXPECT_GT(test::Rms(recovered), 3000.0);
  EXPECT_NEAR(test::ZeroCrossingFrequency(recovered, 1, 48000), 300.0, 40.0);
  // AudioPlayout dispatch.
  AudioPlayout step;
  step.kind = AudioPlayoutKind::kConceal;
  step.samples = 480;
  step.rtp_timestamp = 1234;
  ASSERT_TRUE((*dec)->Decode(step, out).ok());
  EXPECT_EQ(out.samples.size(), 480u);
  EXPECT_EQ(out.rtp_timestamp, 1234u);
}

TEST(OpusCodec, RejectsBadInput) {
  EXPECT_FALSE(OpusEncoder::Create({.channels = 3}).ok());
  EXPECT_FALSE(OpusEncoder::Create({.frame_ms = 15}).ok());
  EXPECT_FALSE(OpusDecoder::Create(0).ok());
  auto enc = OpusEncoder::Create({});
  ASSERT_TRUE(enc.ok());
  std::vector<int16_t> short_pcm(100);
  EXPECT_FALSE((*enc)->Encode(short_pcm).ok());
  AudioFrame wrong_rate;
  wrong_rate.sample_rate = 44100;
  wrong_rate.samples.resize(960);
  EXPECT_FALSE((*enc)->Encode(wrong_rate).ok());
  auto dec = OpusDecoder::Create(1);
  AudioFrame out;
  const uint8_t bad[] = {0xFB};  // code 3 without a count byte
  EXPECT_FALSE((*dec)->Decode(bad, out).ok());
  EXPECT_FALSE((*dec)->Decode(ByteSpan(), out).ok());
}

}  // namespace
}  // namespace tandem::media
