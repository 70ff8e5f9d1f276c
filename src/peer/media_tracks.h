// The MediaStreamTrack implementations behind include/tandem/media.h: local tracks (a factory of send
// pipelines, one per sender) and remote tracks (decode what a receiver gets, feed sinks, record). Handlers
// and recording run on the connection's loop thread; the public methods may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "media/ivf.h"
#include "media/ogg_opus.h"
#include "media/opus_codec.h"
#include "media/vp8_codec.h"
#include "peer/media_pipeline.h"
#include "peer/peer_core.h"
#include "tandem/media.h"

namespace tandem::peer {

// What a track does with encoded media it records, and frames it hands to sinks (shared by local and remote).
class TrackBase : public MediaStreamTrack {
 public:
  TrackBase(MediaKind kind, std::string id) : kind_(kind), id_(std::move(id)) {}
  MediaKind kind() const override { return kind_; }
  std::string id() const override { return id_; }
  bool enabled() const override { return enabled_.load(); }
  void set_enabled(bool enabled) override { enabled_ = enabled; }
  bool ended() const override { return ended_.load(); }
  void OnVideoFrame(std::function<void(const VideoFrame&)> sink) override;
  void OnAudioFrame(std::function<void(const AudioFrame&)> sink) override;
  void OnEnded(std::function<void()> handler) override;
  void Record(const std::string& path) override;
  void StopRecording() override;
  TrackStats stats() const override;

 protected:
  void DeliverVideo(const VideoFrame& frame);
  void DeliverAudio(const AudioFrame& frame);
  // Encoded media to the recording, if any: a video frame (VP8 into IVF from its first key frame, H.264
  // appended as Annex B) or an Opus packet at its RTP timestamp (48 kHz).
  void RecordVideo(const media::EncodedVideoFrame& frame, bool h264);
  void RecordAudio(uint32_t rtp_timestamp, ByteSpan packet);
  void Count(size_t bytes, bool key_frame, int width, int height);
  void CountDecodeError();
  void FireEnded();

  const MediaKind kind_;
  const std::string id_;
  std::atomic<bool> enabled_{true};
  std::atomic<bool> ended_{false};

 private:
  struct Recording {
    std::unique_ptr<media::FileSink> file;
    std::unique_ptr<media::IvfWriter> ivf;
    std::unique_ptr<media::OggOpusWriter> ogg;
    bool raw = false;  // H.264 Annex B appended as is
  };
  mutable std::mutex mutex_;
  std::function<void(const VideoFrame&)> video_sink_;
  std::function<void(const AudioFrame&)> audio_sink_;
  std::function<void()> ended_handler_;
  std::string record_path_;
  std::unique_ptr<Recording> recording_;
  TrackStats stats_;
};

class LocalTrackImpl final : public TrackBase {
 public:
  using Factory = std::function<std::unique_ptr<SendPipeline>(uint32_t rtp_base)>;
  LocalTrackImpl(MediaKind kind, std::string id, Factory factory)
      : TrackBase(kind, std::move(id)), factory_(std::move(factory)) {}
  void Stop() override;
  std::unique_ptr<SendPipeline> MakePipeline(uint32_t rtp_base) const { return factory_(rtp_base); }
  // What a sender sent (for the track's stats and local recording).
  void Sent(const EncodedOutput& frame);

 private:
  Factory factory_;
};

class RemoteTrackImpl final : public TrackBase {
 public:
  RemoteTrackImpl(MediaKind kind, std::string id) : TrackBase(kind, std::move(id)) {}
  void Stop() override { End(); }
  // A received frame (video) or playout step (audio): record, decode, deliver. Returns false when decoding
  // failed (the receiver then asks for a key frame).
  bool HandleFrame(MediaFrameEvent& event);
  void End();

 private:
  std::unique_ptr<media::Vp8Decoder> vp8_;
  std::unique_ptr<media::OpusDecoder> opus_;
  media::VideoFrame video_scratch_;
  media::AudioFrame audio_scratch_;
};

// A VideoTrackSource: the application's frames, encoded with VP8 by each sender's pipeline.
class VideoTrackSourceImpl final : public VideoTrackSource {
 public:
  explicit VideoTrackSourceImpl(int fps);
  void PushFrame(const VideoFrame& frame) override;
  std::shared_ptr<MediaStreamTrack> track() override { return track_; }

 private:
  struct Queues {
    std::mutex mutex;
    std::vector<std::weak_ptr<PushedFrames>> list;  // one per sender pipeline
  };
  std::shared_ptr<Queues> queues_;
  std::shared_ptr<LocalTrackImpl> track_;
};

std::string NewTrackId();

}  // namespace tandem::peer
