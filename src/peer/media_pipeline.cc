#include "peer/media_pipeline.h"

#include <algorithm>

#include "core/log.h"
#include "media/ivf.h"
#include "media/ogg_opus.h"
#include "media/opus_codec.h"
#include "media/test_sources.h"
#include "media/vp8_codec.h"

namespace tandem::peer {

namespace {

constexpr char kLog[] = "peer.media";
constexpr size_t kMaxPushedFrames = 4;

uint32_t Ticks(TimeDelta d, uint32_t clock_rate) {
  return static_cast<uint32_t>(d.us() * static_cast<int64_t>(clock_rate) / 1000000);
}

// Encodes raw I420 frames with VP8, following the bitrate and key frame requests.
class Vp8Stage {
 public:
  explicit Vp8Stage(int fps) : fps_(fps) {}
  std::optional<EncodedOutput> Encode(const media::VideoFrame& frame, uint32_t rtp_timestamp) {
    if (!encoder_ || frame.width != width_ || frame.height != height_) {
      media::Vp8EncoderConfig config;
      config.width = width_ = frame.width;
      config.height = height_ = frame.height;
      config.fps = fps_;
      config.bitrate_bps = bitrate_;
      auto created = media::Vp8Encoder::Create(config);
      if (!created.ok()) {
        LOG_WARN(kLog, "VP8 encoder: " << created.error().reason);
        return std::nullopt;
      }
      encoder_ = std::move(*created);
    }
    if (key_frame_requested_) {
      encoder_->RequestKeyFrame();
      key_frame_requested_ = false;
    }
    auto encoded = encoder_->Encode(frame);
    if (!encoded.ok() || !encoded->has_value()) return std::nullopt;  // dropped by rate control
    const media::Vp8EncodedFrame& f = **encoded;
    return EncodedOutput{std::vector<uint8_t>(f.data.begin(), f.data.end()), rtp_timestamp, f.key_frame,
                         f.width, f.height};
  }
  void RequestKeyFrame() { key_frame_requested_ = true; }
  void SetBitrate(uint32_t bps) {
    bitrate_ = bps;
    if (encoder_) (void)encoder_->SetBitrate(bps);
  }

 private:
  int fps_;
  int width_ = 0, height_ = 0;
  uint32_t bitrate_ = 600'000;  // until the first estimate
  bool key_frame_requested_ = false;
  std::unique_ptr<media::Vp8Encoder> encoder_;
};

class TestPatternPipeline final : public SendPipeline {
 public:
  TestPatternPipeline(const TestPatternSpec& spec, uint32_t rtp_base)
      : source_(media::TestPatternConfig{spec.width, spec.height, spec.fps}),
        vp8_(spec.fps),
        rtp_base_(rtp_base) {}
  sdp::MediaType kind() const override { return sdp::MediaType::kVideo; }
  Timestamp NextDeadline() const override { return source_.NextDeadline(); }
  std::optional<EncodedOutput> Poll(Timestamp now) override {
    const media::VideoFrame* frame = source_.PollFrame(now);
    if (!frame) return std::nullopt;
    if (!first_) first_ = frame->timestamp;
    return vp8_.Encode(*frame, rtp_base_ + Ticks(frame->timestamp - *first_, 90000));
  }
  void RequestKeyFrame() override { vp8_.RequestKeyFrame(); }
  void SetTargetBitrate(uint32_t bps) override { vp8_.SetBitrate(bps); }

 private:
  media::TestPatternSource source_;
  Vp8Stage vp8_;
  uint32_t rtp_base_;
  std::optional<Timestamp> first_;
};

class TonePipeline final : public SendPipeline {
 public:
  TonePipeline(int frequency_hz, int channels, uint32_t rtp_base) : source_(Config(frequency_hz, channels)) {
    media::OpusEncoderConfig config;
    config.channels = channels;
    auto created = media::OpusEncoder::Create(config);
    if (created.ok()) encoder_ = std::move(*created);
    rtp_ = rtp_base;
  }
  sdp::MediaType kind() const override { return sdp::MediaType::kAudio; }
  Timestamp NextDeadline() const override {
    return encoder_ ? source_.NextDeadline() : Timestamp::Infinity();
  }
  std::optional<EncodedOutput> Poll(Timestamp now) override {
    const media::AudioFrame* frame = source_.PollFrame(now);
    if (!frame || !encoder_) return std::nullopt;
    auto packet = encoder_->Encode(*frame);
    const uint32_t ts = rtp_;
    rtp_ += static_cast<uint32_t>(frame->samples_per_channel());  // 48 kHz clock (RFC 7587 §4.1)
    if (!packet.ok()) return std::nullopt;
    return EncodedOutput{std::vector<uint8_t>(packet->begin(), packet->end()), ts, false, 0, 0};
  }
  void SetTargetBitrate(uint32_t bps) override {
    // Audio takes a small fixed share; Opus is good from 24 kbit/s and needs no more than 64 here.
    if (encoder_) (void)encoder_->SetBitrate(std::clamp<uint32_t>(bps / 10, 24'000, 64'000));
  }

 private:
  static media::ToneConfig Config(int frequency_hz, int channels) {
    media::ToneConfig c;
    c.channels = channels;
    c.frequency_hz = frequency_hz;
    return c;
  }
  media::ToneSource source_;
  std::unique_ptr<media::OpusEncoder> encoder_;
  uint32_t rtp_ = 0;
};

class IvfPipeline final : public SendPipeline {
 public:
  IvfPipeline(std::shared_ptr<const std::vector<uint8_t>> file, media::IvfReader reader, bool loop,
              uint32_t rtp_base)
      : file_(std::move(file)), reader_(std::move(reader)), rtp_base_(rtp_base) {
    reader_.set_loop(loop);
  }
  sdp::MediaType kind() const override { return sdp::MediaType::kVideo; }
  Timestamp NextDeadline() const override {
    return reader_.finished() ? Timestamp::Infinity() : reader_.NextDeadline();
  }
  std::optional<EncodedOutput> Poll(Timestamp now) override {
    auto frame = reader_.PollFrame(now);
    if (!frame) return std::nullopt;
    // RFC 7741 §4.3: the P bit of the VP8 payload header, 0 for key frames.
    const bool key = !frame->data.empty() && (frame->data[0] & 0x01) == 0;
    return EncodedOutput{std::vector<uint8_t>(frame->data.begin(), frame->data.end()),
                         rtp_base_ + Ticks(frame->time, 90000), key, reader_.header().width,
                         reader_.header().height};
  }

 private:
  std::shared_ptr<const std::vector<uint8_t>> file_;  // the reader's bytes
  media::IvfReader reader_;
  uint32_t rtp_base_;
};

class OggOpusPipeline final : public SendPipeline {
 public:
  OggOpusPipeline(std::shared_ptr<const std::vector<uint8_t>> file, media::OggOpusReader reader, bool loop,
                  uint32_t rtp_base)
      : file_(std::move(file)), reader_(std::move(reader)), loop_(loop), rtp_base_(rtp_base) {}
  sdp::MediaType kind() const override { return sdp::MediaType::kAudio; }
  Timestamp NextDeadline() const override {
    if (ended_) return Timestamp::Infinity();
    return restart_at_ ? *restart_at_ : reader_.NextDeadline();
  }
  std::optional<EncodedOutput> Poll(Timestamp now) override {
    if (restart_at_ && now >= *restart_at_) restart_at_.reset();
    if (restart_at_ || ended_) return std::nullopt;
    auto packet = reader_.PollPacket(now);
    if (!packet) {
      if (reader_.NextDeadline().IsInfinite()) {
        // The end: loop (timestamps continue) or stop.
        if (!loop_) {
          ended_ = true;
          return std::nullopt;
        }
        offset_ += last_end_;
        reader_ = *media::OggOpusReader::Open(*file_);
        restart_at_ = now + TimeDelta::Millis(20);
      }
      return std::nullopt;
    }
    const uint32_t ts = rtp_base_ + static_cast<uint32_t>(offset_ + packet->position);
    last_end_ = packet->position + static_cast<uint64_t>(packet->samples);
    return EncodedOutput{std::vector<uint8_t>(packet->data.begin(), packet->data.end()), ts, false, 0, 0};
  }

 private:
  std::shared_ptr<const std::vector<uint8_t>> file_;
  media::OggOpusReader reader_;
  bool loop_;
  uint32_t rtp_base_;
  uint64_t offset_ = 0, last_end_ = 0;
  bool ended_ = false;
  std::optional<Timestamp> restart_at_;
};

class PushedVideoPipeline final : public SendPipeline {
 public:
  PushedVideoPipeline(std::shared_ptr<PushedFrames> frames, int fps, uint32_t rtp_base)
      : frames_(std::move(frames)),
        vp8_(fps),
        interval_(TimeDelta::Micros(1000000 / std::max(fps, 1))),
        rtp_base_(rtp_base) {}
  sdp::MediaType kind() const override { return sdp::MediaType::kVideo; }
  // Frames come from another thread: look for them once per frame interval.
  Timestamp NextDeadline() const override { return next_; }
  std::optional<EncodedOutput> Poll(Timestamp now) override {
    next_ = now + interval_;
    std::optional<media::VideoFrame> latest;
    while (auto f = frames_->Pop()) latest = std::move(f);
    if (!latest) return std::nullopt;
    if (!first_) first_ = latest->timestamp;
    return vp8_.Encode(*latest, rtp_base_ + Ticks(latest->timestamp - *first_, 90000));
  }
  void RequestKeyFrame() override { vp8_.RequestKeyFrame(); }
  void SetTargetBitrate(uint32_t bps) override { vp8_.SetBitrate(bps); }

 private:
  std::shared_ptr<PushedFrames> frames_;
  Vp8Stage vp8_;
  TimeDelta interval_;
  uint32_t rtp_base_;
  Timestamp next_ = Timestamp::Zero();
  std::optional<Timestamp> first_;
};

}  // namespace

void PushedFrames::Push(media::VideoFrame frame) {
  std::lock_guard lock(mutex_);
  frames_.push_back(std::move(frame));
  while (frames_.size() > kMaxPushedFrames) frames_.pop_front();
}

std::optional<media::VideoFrame> PushedFrames::Pop() {
  std::lock_guard lock(mutex_);
  if (frames_.empty()) return std::nullopt;
  media::VideoFrame f = std::move(frames_.front());
  frames_.pop_front();
  return f;
}

std::unique_ptr<SendPipeline> MakeTestPatternPipeline(const TestPatternSpec& spec, uint32_t rtp_base) {
  return std::make_unique<TestPatternPipeline>(spec, rtp_base);
}

std::unique_ptr<SendPipeline> MakeTonePipeline(int frequency_hz, int channels, uint32_t rtp_base) {
  return std::make_unique<TonePipeline>(frequency_hz, channels, rtp_base);
}

std::unique_ptr<SendPipeline> MakeIvfPipeline(std::shared_ptr<const std::vector<uint8_t>> file, bool loop,
                                              uint32_t rtp_base) {
  auto reader = media::IvfReader::Open(*file);
  if (!reader.ok()) return nullptr;
  return std::make_unique<IvfPipeline>(std::move(file), std::move(*reader), loop, rtp_base);
}

std::unique_ptr<SendPipeline> MakeOggOpusPipeline(std::shared_ptr<const std::vector<uint8_t>> file, bool loop,
                                                  uint32_t rtp_base) {
  auto reader = media::OggOpusReader::Open(*file);
  if (!reader.ok()) return nullptr;
  return std::make_unique<OggOpusPipeline>(std::move(file), std::move(*reader), loop, rtp_base);
}

std::unique_ptr<SendPipeline> MakePushedVideoPipeline(std::shared_ptr<PushedFrames> frames, int fps,
                                                      uint32_t rtp_base) {
  return std::make_unique<PushedVideoPipeline>(std::move(frames), fps, rtp_base);
}

}  // namespace tandem::peer
