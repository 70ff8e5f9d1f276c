// Media for Tandem's native peer: tracks (W3C MediaStreamTrack), their sources and sinks, and the
// transceivers of a PeerConnection (W3C RTCRtpTransceiver / RTCRtpSender / RTCRtpReceiver).
//
//   auto video = tandem::CreateTestPatternTrack({.width = 640, .height = 480, .fps = 30});
//   auto audio = tandem::CreateToneTrack({.frequency_hz = 440});
//   pc.AddTrack(video, {"stream"});
//   pc.AddTrack(audio, {"stream"});
//   pc.OnTrack([](const tandem::TrackEvent& e) {
//     e.track->OnVideoFrame([](const tandem::VideoFrame& f) { ... });   // decoded I420
//     e.track->Record("/tmp/out.ivf");                                  // VP8 into IVF, Opus into Ogg, no
//     re-encode
//   });
//
// Codecs: Opus (48 kHz) and VP8 are encoded and decoded with libopus and libvpx; H.264 is received
// pass-through (recordable, not decoded). Threading as for PeerConnection: frames and events come on the
// connection's loop thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tandem {

enum class MediaKind { kAudio, kVideo };
const char* ToString(MediaKind kind);  // "audio", "video"

// A decoded video frame: I420 (Y plane width*height, then U and V planes of ((width+1)/2)*((height+1)/2)
// each).
struct VideoFrame {
  int width = 0;
  int height = 0;
  int64_t timestamp_us = 0;  // capture (local) or receive (remote) time, monotonic microseconds
  std::vector<uint8_t> i420;
};

// Decoded audio: interleaved 16-bit samples.
struct AudioFrame {
  int sample_rate = 48000;
  int channels = 1;
  int64_t timestamp_us = 0;
  std::vector<int16_t> samples;
};

// Counters of a track (local: what was captured and encoded; remote: what was received and decoded).
struct TrackStats {
  uint64_t frames = 0;  // video frames / audio packets produced (local) or decoded (remote)
  uint64_t key_frames = 0;
  uint64_t bytes = 0;         // encoded bytes
  int width = 0, height = 0;  // last video frame
  uint64_t decode_errors = 0;
};

// W3C MediaStreamTrack. A local track wraps a source; a remote one (from OnTrack) delivers what arrives.
class MediaStreamTrack {
 public:
  virtual ~MediaStreamTrack() = default;
  virtual MediaKind kind() const = 0;
  virtual std::string id() const = 0;
  // A disabled track sends black frames / silence (local) or delivers nothing (remote), as in the W3C API.
  virtual bool enabled() const = 0;
  virtual void set_enabled(bool enabled) = 0;
  // "live" or "ended". Stop() ends a local track (its senders send nothing more).
  virtual bool ended() const = 0;
  virtual void Stop() = 0;

  // Decoded frames (remote tracks; also local tracks: what is captured). Run on the connection's loop thread.
  virtual void OnVideoFrame(std::function<void(const VideoFrame&)> sink) = 0;
  virtual void OnAudioFrame(std::function<void(const AudioFrame&)> sink) = 0;
  // Remote tracks: the track ended (the sender was removed or the transceiver stopped receiving).
  virtual void OnEnded(std::function<void()> handler) = 0;
  // Records the encoded media as it arrives (remote) or is sent (local), without re-encoding: VP8 into IVF,
  // Opus into Ogg (RFC 7845), H.264 into an Annex B file. Throws RtcError "InvalidAccessError" when the file
  // cannot be written. The file is finished when the track ends, when the connection closes, or with
  // StopRecording().
  virtual void Record(const std::string& path) = 0;
  virtual void StopRecording() = 0;
  virtual TrackStats stats() const = 0;
};

struct TestPatternOptions {
  int width = 640;
  int height = 480;
  int fps = 30;
};
// Moving color bars with a frame counter (deterministic; decoders can read the counter back).
std::shared_ptr<MediaStreamTrack> CreateTestPatternTrack(const TestPatternOptions& options = {});

struct ToneOptions {
  int frequency_hz = 440;
  int channels = 1;
};
// A sine tone (Opus-encoded at 48 kHz).
std::shared_ptr<MediaStreamTrack> CreateToneTrack(const ToneOptions& options = {});

// Plays a VP8 IVF file or an Ogg Opus file (RFC 7845) at its own pace, sending its packets as they are (no
// re-encoding), looping when `loop`. Throws RtcError "InvalidAccessError" for a missing or unreadable file.
std::shared_ptr<MediaStreamTrack> CreateIvfFileTrack(const std::string& path, bool loop = true);
std::shared_ptr<MediaStreamTrack> CreateOggOpusFileTrack(const std::string& path, bool loop = true);

// A video track fed by the application: PushFrame() I420 frames (any thread); they are encoded with VP8.
class VideoTrackSource {
 public:
  virtual ~VideoTrackSource() = default;
  virtual void PushFrame(const VideoFrame& frame) = 0;
  virtual std::shared_ptr<MediaStreamTrack> track() = 0;
};
std::shared_ptr<VideoTrackSource> CreateVideoTrackSource(int fps = 30);

enum class TransceiverDirection { kSendRecv, kSendOnly, kRecvOnly, kInactive, kStopped };
const char* ToString(TransceiverDirection direction);  // "sendrecv", ...

class RtpSender {
 public:
  virtual ~RtpSender() = default;
  virtual std::shared_ptr<MediaStreamTrack> track() const = 0;
  // W3C replaceTrack: swaps what is sent without renegotiation (same kind; null sends nothing).
  virtual void ReplaceTrack(std::shared_ptr<MediaStreamTrack> track) = 0;
};

class RtpReceiver {
 public:
  virtual ~RtpReceiver() = default;
  virtual std::shared_ptr<MediaStreamTrack> track() const = 0;
};

class RtpTransceiver {
 public:
  virtual ~RtpTransceiver() = default;
  virtual MediaKind kind() const = 0;
  virtual std::optional<std::string> mid() const = 0;  // once negotiated
  virtual TransceiverDirection direction() const = 0;
  // Changes the desired direction; renegotiation is needed (OnNegotiationNeeded fires).
  virtual void SetDirection(TransceiverDirection direction) = 0;
  virtual std::optional<TransceiverDirection> current_direction() const = 0;
  virtual std::shared_ptr<RtpSender> sender() const = 0;
  virtual std::shared_ptr<RtpReceiver> receiver() const = 0;
  virtual void Stop() = 0;
};

struct TransceiverInit {
  TransceiverDirection direction = TransceiverDirection::kSendRecv;
  std::vector<std::string> stream_ids;
};

// RTCTrackEvent.
struct TrackEvent {
  std::shared_ptr<MediaStreamTrack> track;
  std::shared_ptr<RtpReceiver> receiver;
  std::shared_ptr<RtpTransceiver> transceiver;
  std::vector<std::string> stream_ids;
};

}  // namespace tandem
