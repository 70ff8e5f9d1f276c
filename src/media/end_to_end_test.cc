// Whole media paths over a simulated network (fake clock, seeded loss, delay and jitter):
//   TestPatternSource -> Vp8Sender -> network -> VideoReceiver (jitter buffer, VP8 decoder) -> sink
//   ToneSource -> OpusSender -> network -> AudioReceiver (jitter buffer, Opus decoder with FEC/PLC) -> sink
// with NACK retransmissions and PLI feedback going back to the sender, and recordings to IVF and Ogg.
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "core/rng.h"
#include "media/media_test_util.h"
#include "media/media_test_util_audio.h"
#include "media/pipelines.h"
#include "media/test_sources.h"
#include "testing/fake_clock.h"

namespace tandem::media {
namespace {

using tandem::testing::FakeClock;

struct NetPacket {
  Timestamp deliver;
  RtpPacketInfo info;
  std::vector<uint8_t> payload;
};

// One-way network: fixed delay plus uniform jitter (which reorders), random loss.
class Network {
 public:
  Network(uint64_t seed, double loss, TimeDelta delay, TimeDelta jitter)
      : rng_(seed), loss_(loss), delay_(delay), jitter_(jitter) {}
  void Send(Timestamp now, const RtpPacketInfo& info, ByteSpan payload, bool never_lose = false) {
    ++sent_;
    if (!never_lose && rng_.Uniform(0, 9999) < static_cast<uint32_t>(loss_ * 10000)) {
      ++lost_;
      return;
    }
    const TimeDelta j =
        TimeDelta::Micros(jitter_.us() > 0 ? rng_.Uniform(0, static_cast<uint32_t>(jitter_.us())) : 0);
    queue_.push_back({now + delay_ + j, info, {payload.begin(), payload.end()}});
  }
  template <typename F>
  void Deliver(Timestamp now, F&& f) {
    std::stable_sort(queue_.begin(), queue_.end(), [](auto& a, auto& b) { return a.deliver < b.deliver; });
    while (!queue_.empty() && queue_.front().deliver <= now) {
      NetPacket p = std::move(queue_.front());
      queue_.pop_front();
      f(p);
    }
  }
  int lost() const { return lost_; }
  int sent() const { return sent_; }

 private:
  SeededRng rng_;
  double loss_;
  TimeDelta delay_, jitter_;
  std::deque<NetPacket> queue_;
  int sent_ = 0, lost_ = 0;
};

class CollectingVideoSink : public VideoFrameSink {
 public:
  explicit CollectingVideoSink(TestPatternConfig config) : reference_source_(config) {}
  void OnFrame(const VideoFrame& frame) override {
    ++frames;
    if (frame.width != reference_source_.config().width ||
        frame.height != reference_source_.config().height) {
      ++wrong_size;
      return;
    }
    auto counter = TestPatternSource::ReadCounter(frame);
    ASSERT_TRUE(counter.has_value());
    if (last_counter >= 0) {
      EXPECT_GT(*counter, last_counter) << "frames come out in order";
    }
    last_counter = *counter;
    reference_source_.Render(*counter, reference_);
    const double psnr = *LumaPsnr(reference_, frame);
    min_psnr = std::min(min_psnr, psnr);
  }
  int frames = 0;
  int wrong_size = 0;
  int last_counter = -1;
  double min_psnr = 1000;

 private:
  TestPatternSource reference_source_;
  VideoFrame reference_;
};

struct VideoRun {
  int frames_sent = 0;
  int frames_decoded = 0;
  int wrong_size = 0;
  double min_psnr = 0;
  int key_requests = 0;
  int retransmissions = 0;
  int lost = 0;
  VideoReceiverStats stats;
  std::vector<uint8_t> ivf;
};

// A small MTU makes several packets per frame, so that losses hit frames in every way (first, middle, last).
VideoRun RunVideo(double loss, bool nack, uint64_t seed, size_t mtu = 300) {
  const TestPatternConfig pattern{640, 480, 30};
  FakeClock clock;
  TestPatternSource source(pattern);
  auto sender =
      Vp8Sender::Create({.width = 640, .height = 480, .bitrate_bps = 1'500'000}, mtu, 0x12345678, 321);
  EXPECT_TRUE(sender.ok());
  VideoJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(30);
  auto receiver = VideoReceiver::Create(config);
  EXPECT_TRUE(receiver.ok());
  CollectingVideoSink sink(pattern);
  VectorSink ivf_bytes;
  IvfRecorder recorder(ivf_bytes);
  (*receiver)->AddSink(&sink);
  (*receiver)->AddEncodedSink(&recorder);

  Network forward(seed, loss, TimeDelta::Millis(40), TimeDelta::Millis(15));
  Network back(seed + 1, 0.0, TimeDelta::Millis(40), TimeDelta::Zero());  // feedback path
  std::map<uint16_t, std::vector<uint8_t>> history;
  std::map<uint16_t, RtpPacketInfo> history_info;
  uint16_t seq = 60000;  // wraps during the run
  VideoRun run;
  std::vector<uint16_t> missing;
  std::map<uint16_t, Timestamp> nacked;
  const Timestamp end = clock.now() + TimeDelta::Seconds(3);
  while (clock.now() < end) {
    const Timestamp now = clock.now();
    // Sender: capture, encode, packetize, send.
    if (const VideoFrame* frame = source.PollFrame(now)) {
      auto sent = (*sender)->SendFrame(*frame);
      EXPECT_TRUE(sent.ok());
      if (sent.ok() && *sent) {
        ++run.frames_sent;
        while (auto p = (*sender)->NextPayload()) {
          RtpPacketInfo info = test::Info(seq++, p->rtp_timestamp, p->marker);
          history[info.sequence_number].assign(p->payload.begin(), p->payload.end());
          history_info[info.sequence_number] = info;
          forward.Send(now, info, p->payload);
        }
      }
    }
    // Receiver.
    forward.Deliver(now, [&](NetPacket& p) { (*receiver)->HandlePacket(now, p.info, p.payload); });
    (*receiver)->HandleTimeout(now);
    if ((*receiver)->TakeKeyFrameRequest()) {
      ++run.key_requests;
      back.Send(now, test::Info(0, 0, false), AsBytes("PLI"), true);
    }
    if (nack && now.us() % 10000 == 0) {
      (*receiver)->GetMissingPackets(missing);
      for (uint16_t s : missing) {
        // NACK each packet at most once per 100 ms (RFC 4585 §6.2.1 generic NACK, simplified).
        auto it = nacked.find(s);
        if (it != nacked.end() && now - it->second < TimeDelta::Millis(100)) continue;
        nacked[s] = now;
        back.Send(now, test::Info(s, 0, false), AsBytes("NACK"), true);
      }
    }
    // Sender side of the feedback.
    back.Deliver(now, [&](NetPacket& p) {
      if (p.payload.size() == 3) {
        (*sender)->RequestKeyFrame();
      } else if (auto h = history.find(p.info.sequence_number); h != history.end()) {
        RtpPacketInfo info = history_info[p.info.sequence_number];
        info.retransmission = true;
        ++run.retransmissions;
        forward.Send(now, info, h->second);
      }
    });
    clock.Advance(TimeDelta::Millis(1));
  }
  (void)recorder.Finish();
  run.frames_decoded = sink.frames;
  run.wrong_size = sink.wrong_size;
  run.min_psnr = sink.min_psnr;
  run.lost = forward.lost();
  run.stats = (*receiver)->stats();
  run.ivf = ivf_bytes.bytes();
  return run;
}

TEST(EndToEnd, Vp8WithoutLossDecodesEveryFrame) {
  auto run = RunVideo(0.0, false, 1, 1200);
  EXPECT_GE(run.frames_sent, 85);
  EXPECT_GE(run.frames_decoded, run.frames_sent - 5) << "all but the last few (still in flight)";
  EXPECT_EQ(run.wrong_size, 0);
  EXPECT_GT(run.min_psnr, 32.0);
  EXPECT_EQ(run.key_requests, 0);
  EXPECT_EQ(run.stats.decode_errors, 0u);
  // The IVF recording decodes frame by frame with libvpx.
  auto reader = IvfReader::Open(run.ivf);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader->header().width, 640);
  EXPECT_EQ(reader->header().height, 480);
  auto decoder = Vp8Decoder::Create();
  ASSERT_TRUE(decoder.ok());
  VideoFrame decoded;
  int frames = 0;
  while (true) {
    auto f = reader->ReadFrame();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) break;
    EXPECT_EQ((*f)->pts % 3000, 0u) << "90 kHz pts, one frame every 3000 ticks";
    ASSERT_TRUE((*decoder)->Decode((*f)->data, decoded).ok());
    ++frames;
  }
  EXPECT_EQ(frames, run.frames_decoded);
}

TEST(EndToEnd, Vp8WithLossAndNackRecoversEveryFrame) {
  auto run = RunVideo(0.05, true, 2);
  EXPECT_GT(run.lost, 10) << "the network did lose packets";
  EXPECT_GE(run.retransmissions, run.lost);
  EXPECT_GE(run.frames_decoded, run.frames_sent - 5);
  EXPECT_EQ(run.wrong_size, 0);
  EXPECT_GT(run.min_psnr, 32.0);
  EXPECT_EQ(run.stats.jitter_buffer.losses, 0u);
  EXPECT_EQ(run.stats.decode_errors, 0u);
}

TEST(EndToEnd, Vp8WithLossAndNoNackNeverShowsABrokenFrame) {
  auto run = RunVideo(0.05, false, 3);
  EXPECT_GT(run.lost, 10);
  EXPECT_GT(run.key_requests, 0) << "losses lead to PLIs";
  EXPECT_GT(run.stats.jitter_buffer.key_frames_output, 1u) << "the sender answered with key frames";
  EXPECT_GT(run.frames_decoded, 10);
  EXPECT_LT(run.frames_decoded, run.frames_sent);
  EXPECT_EQ(run.wrong_size, 0);
  // Frames that reference lost data are never decoded: what is shown is clean.
  EXPECT_GT(run.min_psnr, 30.0);
  EXPECT_EQ(run.stats.decode_errors, 0u);
}

class CollectingAudioSink : public AudioFrameSink {
 public:
  void OnFrame(const AudioFrame& frame) override {
    EXPECT_EQ(frame.sample_rate, 48000);
    pcm.insert(pcm.end(), frame.samples.begin(), frame.samples.end());
  }
  std::vector<int16_t> pcm;
};

TEST(EndToEnd, OpusToneSurvivesLossWithFecAndConcealment) {
  FakeClock clock;
  ToneSource tone({.frequency_hz = 440, .amplitude = 0.5});
  auto sender = OpusSender::Create({.bitrate_bps = 32'000, .expected_loss_percent = 10}, 777);
  ASSERT_TRUE(sender.ok());
  AudioJitterBufferConfig config;
  config.target_delay = TimeDelta::Millis(30);
  auto receiver = AudioReceiver::Create(config, 1);
  ASSERT_TRUE(receiver.ok());
  CollectingAudioSink sink;
  VectorSink ogg_bytes;
  OggOpusRecorder recorder(ogg_bytes, 1);
  (*receiver)->AddSink(&sink);
  (*receiver)->AddEncodedSink(&recorder);
  Network net(5, 0.08, TimeDelta::Millis(30), TimeDelta::Millis(10));
  uint16_t seq = 65000;
  const Timestamp end = clock.now() + TimeDelta::Seconds(4);
  while (clock.now() < end) {
    const Timestamp now = clock.now();
    if (const AudioFrame* frame = tone.PollFrame(now)) {
      auto payload = (*sender)->SendFrame(*frame);
      ASSERT_TRUE(payload.ok());
      if (payload->has_value()) {
        net.Send(now, test::Info(seq++, (*payload)->rtp_timestamp, (*payload)->marker), (*payload)->payload);
      }
    }
    net.Deliver(now, [&](NetPacket& p) { (*receiver)->HandlePacket(now, p.info, p.payload); });
    (*receiver)->HandleTimeout(now);
    clock.Advance(TimeDelta::Millis(1));
  }
  ASSERT_TRUE(recorder.Finish().ok());
  const auto& stats = (*receiver)->stats();
  EXPECT_GT(net.lost(), 5);
  EXPECT_GT(stats.fec_recoveries, 0u);
  EXPECT_EQ((*receiver)->decode_errors(), 0u);
  // About 4 s minus the delay, played continuously.
  EXPECT_NEAR(static_cast<double>(sink.pcm.size()), 48000 * 4.0, 48000 * 0.2);
  std::span<const int16_t> steady(sink.pcm.data() + 9600, sink.pcm.size() - 9600);
  EXPECT_NEAR(test::ZeroCrossingFrequency(steady, 1, 48000), 440.0, 8.0);
  // The recording keeps time across the losses and decodes.
  auto reader = OggOpusReader::Open(ogg_bytes.bytes());
  ASSERT_TRUE(reader.ok());
  auto dec = OpusDecoder::Create(1);
  AudioFrame out;
  uint64_t samples = 0;
  while (true) {
    auto p = reader->ReadPacket();
    ASSERT_TRUE(p.ok());
    if (!p->has_value()) break;
    ASSERT_TRUE((*dec)->Decode((*p)->data, out).ok());
    samples += out.samples_per_channel();
  }
  // It spans from the first to the last packet played: the 4 s minus the playout delay.
  EXPECT_GE(samples, 48000u * 36 / 10);
  EXPECT_LE(samples, 48000u * 4);
  EXPECT_GT(recorder.writer().filler_packets(), 0u) << "losses were filled";
}

}  // namespace
}  // namespace tandem::media
