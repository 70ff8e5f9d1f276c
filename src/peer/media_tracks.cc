#include "peer/media_tracks.h"

#include <chrono>

#include "core/crypto.h"
#include "core/log.h"
#include "media/byte_sink.h"
#include "tandem/peer_connection.h"

namespace tandem {

const char* ToString(MediaKind kind) { return kind == MediaKind::kAudio ? "audio" : "video"; }

const char* ToString(TransceiverDirection direction) {
  switch (direction) {
    case TransceiverDirection::kSendRecv:
      return "sendrecv";
    case TransceiverDirection::kSendOnly:
      return "sendonly";
    case TransceiverDirection::kRecvOnly:
      return "recvonly";
    case TransceiverDirection::kInactive:
      return "inactive";
    case TransceiverDirection::kStopped:
      return "stopped";
  }
  return "inactive";
}

namespace peer {

namespace {

constexpr char kLog[] = "peer.track";

int64_t SteadyMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string NewTrackId() {
  uint8_t bytes[8];
  crypto::SecureRandomBytes(bytes);
  return crypto::HexEncode(bytes);
}

// --- TrackBase
// ------------------------------------------------------------------------------------------------

void TrackBase::OnVideoFrame(std::function<void(const VideoFrame&)> sink) {
  std::lock_guard lock(mutex_);
  video_sink_ = std::move(sink);
}

void TrackBase::OnAudioFrame(std::function<void(const AudioFrame&)> sink) {
  std::lock_guard lock(mutex_);
  audio_sink_ = std::move(sink);
}

void TrackBase::OnEnded(std::function<void()> handler) {
  std::lock_guard lock(mutex_);
  ended_handler_ = std::move(handler);
}

void TrackBase::Record(const std::string& path) {
  auto file = media::FileSink::Open(path);
  if (!file.ok()) throw RtcError("InvalidAccessError", "cannot write " + path + ": " + file.error().reason);
  auto recording = std::make_unique<Recording>();
  recording->file = std::move(*file);
  std::lock_guard lock(mutex_);
  record_path_ = path;
  recording_ = std::move(recording);
}

void TrackBase::StopRecording() {
  std::unique_ptr<Recording> recording;
  {
    std::lock_guard lock(mutex_);
    recording = std::move(recording_);
  }
  if (!recording) return;
  if (recording->ivf) (void)recording->ivf->Finish();
  if (recording->ogg) (void)recording->ogg->Finish();
  (void)recording->file->Close();
}

TrackStats TrackBase::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void TrackBase::DeliverVideo(const VideoFrame& frame) {
  std::function<void(const VideoFrame&)> sink;
  {
    std::lock_guard lock(mutex_);
    sink = video_sink_;
  }
  if (sink) sink(frame);
}

void TrackBase::DeliverAudio(const AudioFrame& frame) {
  std::function<void(const AudioFrame&)> sink;
  {
    std::lock_guard lock(mutex_);
    sink = audio_sink_;
  }
  if (sink) sink(frame);
}

void TrackBase::RecordVideo(const media::EncodedVideoFrame& frame, bool h264) {
  std::lock_guard lock(mutex_);
  if (!recording_) return;
  if (h264) {
    recording_->raw = true;
    (void)recording_->file->Write(frame.data);
    return;
  }
  if (!recording_->ivf) {
    media::IvfFileHeader header;
    header.width = static_cast<uint16_t>(frame.width);
    header.height = static_cast<uint16_t>(frame.height);
    recording_->ivf = std::make_unique<media::IvfWriter>(*recording_->file, header);
  }
  (void)recording_->ivf->WriteFrame(frame);
}

void TrackBase::RecordAudio(uint32_t rtp_timestamp, ByteSpan packet) {
  std::lock_guard lock(mutex_);
  if (!recording_ || packet.empty()) return;
  if (!recording_->ogg) {
    media::OpusHead head;
    head.channels = 1;
    recording_->ogg = std::make_unique<media::OggOpusWriter>(*recording_->file, head);
  }
  (void)recording_->ogg->WriteRtpPacket(rtp_timestamp, packet);
}

void TrackBase::Count(size_t bytes, bool key_frame, int width, int height) {
  std::lock_guard lock(mutex_);
  ++stats_.frames;
  stats_.bytes += bytes;
  if (key_frame) ++stats_.key_frames;
  if (width > 0) {
    stats_.width = width;
    stats_.height = height;
  }
}

void TrackBase::CountDecodeError() {
  std::lock_guard lock(mutex_);
  ++stats_.decode_errors;
}

void TrackBase::FireEnded() {
  if (ended_.exchange(true)) return;
  StopRecording();
  std::function<void()> handler;
  {
    std::lock_guard lock(mutex_);
    handler = ended_handler_;
  }
  if (handler) handler();
}

// --- LocalTrackImpl
// -------------------------------------------------------------------------------------------

void LocalTrackImpl::Stop() { FireEnded(); }

void LocalTrackImpl::Sent(const EncodedOutput& frame) {
  Count(frame.data.size(), frame.key_frame, frame.width, frame.height);
  if (kind_ == MediaKind::kVideo) {
    media::EncodedVideoFrame encoded;
    encoded.data = frame.data;
    encoded.rtp_timestamp = frame.rtp_timestamp;
    encoded.key_frame = frame.key_frame;
    encoded.width = frame.width;
    encoded.height = frame.height;
    RecordVideo(encoded, false);
  } else {
    RecordAudio(frame.rtp_timestamp, frame.data);
  }
}

// --- RemoteTrackImpl
// ------------------------------------------------------------------------------------------

bool RemoteTrackImpl::HandleFrame(MediaFrameEvent& event) {
  if (ended()) return true;
  if (event.is_video) {
    media::EncodedVideoFrame& frame = event.video;
    frame.data = event.data;
    const bool h264 = frame.codec == media::VideoCodec::kH264;
    RecordVideo(frame, h264);
    Count(frame.data.size(), frame.key_frame, frame.width, frame.height);
    if (h264 || !enabled()) return true;  // H.264 is received pass-through: recorded, not decoded
    if (!vp8_) {
      auto decoder = media::Vp8Decoder::Create();
      if (!decoder.ok()) return true;
      vp8_ = std::move(*decoder);
    }
    auto decoded = vp8_->Decode(frame.data, video_scratch_);
    if (!decoded.ok()) {
      LOG_DEBUG(kLog, "VP8 decode error: " << decoded.error().reason);
      CountDecodeError();
      return false;
    }
    if (*decoded) {
      VideoFrame out;
      out.width = video_scratch_.width;
      out.height = video_scratch_.height;
      out.timestamp_us = SteadyMicros();
      out.i420 = video_scratch_.data;
      DeliverVideo(out);
    }
    return true;
  }
  media::AudioPlayout& step = event.audio;
  step.payload = event.data;
  if (step.kind == media::AudioPlayoutKind::kPacket) {
    RecordAudio(step.rtp_timestamp, step.payload);
    Count(step.payload.size(), false, 0, 0);
  }
  if (!enabled()) return true;
  if (!opus_) {
    auto decoder = media::OpusDecoder::Create(1);
    if (!decoder.ok()) return true;
    opus_ = std::move(*decoder);
  }
  if (Status s = opus_->Decode(step, audio_scratch_); !s.ok()) {
    CountDecodeError();
    return true;  // audio recovers by itself (concealment); no key frames to ask for
  }
  AudioFrame out;
  out.sample_rate = audio_scratch_.sample_rate;
  out.channels = audio_scratch_.channels;
  out.timestamp_us = SteadyMicros();
  out.samples = audio_scratch_.samples;
  DeliverAudio(out);
  return true;
}

void RemoteTrackImpl::End() { FireEnded(); }

// --- VideoTrackSourceImpl
// -------------------------------------------------------------------------------------

VideoTrackSourceImpl::VideoTrackSourceImpl(int fps) : queues_(std::make_shared<Queues>()) {
  // Each sender's pipeline gets its own queue; PushFrame fills all of them. The track holds the registry, so
  // it may outlive this source.
  std::shared_ptr<Queues> queues = queues_;
  track_ = std::make_shared<LocalTrackImpl>(
      MediaKind::kVideo, NewTrackId(), [queues, fps](uint32_t rtp_base) -> std::unique_ptr<SendPipeline> {
        auto queue = std::make_shared<PushedFrames>();
        {
          std::lock_guard lock(queues->mutex);
          queues->list.push_back(queue);
        }
        return MakePushedVideoPipeline(queue, fps, rtp_base);
      });
}

void VideoTrackSourceImpl::PushFrame(const VideoFrame& frame) {
  media::VideoFrame f;
  f.width = frame.width;
  f.height = frame.height;
  f.timestamp = Timestamp::Micros(frame.timestamp_us ? frame.timestamp_us : SteadyMicros());
  f.data = frame.i420;
  if (f.width <= 0 || f.height <= 0 || f.data.size() < f.y_size() + 2 * f.uv_size()) return;  // not I420
  std::lock_guard lock(queues_->mutex);
  auto& list = queues_->list;
  for (auto it = list.begin(); it != list.end();) {
    if (auto q = it->lock()) {
      q->Push(f);
      ++it;
    } else {
      it = list.erase(it);
    }
  }
}

}  // namespace peer

// --- Public factories
// -----------------------------------------------------------------------------------------

std::shared_ptr<MediaStreamTrack> CreateTestPatternTrack(const TestPatternOptions& options) {
  const peer::TestPatternSpec spec{options.width, options.height, options.fps};
  return std::make_shared<peer::LocalTrackImpl>(
      MediaKind::kVideo, peer::NewTrackId(),
      [spec](uint32_t rtp_base) { return peer::MakeTestPatternPipeline(spec, rtp_base); });
}

std::shared_ptr<MediaStreamTrack> CreateToneTrack(const ToneOptions& options) {
  const int frequency = options.frequency_hz, channels = options.channels;
  return std::make_shared<peer::LocalTrackImpl>(
      MediaKind::kAudio, peer::NewTrackId(), [frequency, channels](uint32_t rtp_base) {
        return peer::MakeTonePipeline(frequency, channels, rtp_base);
      });
}

namespace {
std::shared_ptr<const std::vector<uint8_t>> LoadFile(const std::string& path) {
  auto bytes = media::ReadFile(path);
  if (!bytes.ok()) throw RtcError("InvalidAccessError", "cannot read " + path + ": " + bytes.error().reason);
  return std::make_shared<const std::vector<uint8_t>>(std::move(*bytes));
}
}  // namespace

std::shared_ptr<MediaStreamTrack> CreateIvfFileTrack(const std::string& path, bool loop) {
  auto file = LoadFile(path);
  auto check = media::IvfReader::Open(*file);
  if (!check.ok() || !check->header().is_vp8())
    throw RtcError("InvalidAccessError", path + " is not a VP8 IVF file");
  return std::make_shared<peer::LocalTrackImpl>(
      MediaKind::kVideo, peer::NewTrackId(),
      [file, loop](uint32_t rtp_base) { return peer::MakeIvfPipeline(file, loop, rtp_base); });
}

std::shared_ptr<MediaStreamTrack> CreateOggOpusFileTrack(const std::string& path, bool loop) {
  auto file = LoadFile(path);
  if (!media::OggOpusReader::Open(*file).ok())
    throw RtcError("InvalidAccessError", path + " is not an Ogg Opus file");
  return std::make_shared<peer::LocalTrackImpl>(
      MediaKind::kAudio, peer::NewTrackId(),
      [file, loop](uint32_t rtp_base) { return peer::MakeOggOpusPipeline(file, loop, rtp_base); });
}

std::shared_ptr<VideoTrackSource> CreateVideoTrackSource(int fps) {
  return std::make_shared<peer::VideoTrackSourceImpl>(fps);
}

}  // namespace tandem
