// IVF, the simple container libvpx tools write for VP8/VP9: a 32-byte file header ("DKIF", version 0, header
// size, fourcc, width, height, time base as rate/scale, frame count) and a 12-byte header per frame (size,
// 64-bit pts), all little-endian. The reader works on a byte span (hostile input: bounded, never overruns);
// the writer on a ByteSink.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "media/byte_sink.h"
#include "media/media_frame.h"
#include "media/rtp_types.h"

namespace tandem::media {

inline constexpr size_t kIvfFileHeaderSize = 32;
inline constexpr size_t kIvfFrameHeaderSize = 12;

struct IvfFileHeader {
  std::array<char, 4> fourcc = {'V', 'P', '8', '0'};
  uint16_t width = 0;
  uint16_t height = 0;
  uint32_t timebase_rate = 90000;  // pts units per `timebase_scale` seconds (libvpx: g_timebase.den)
  uint32_t timebase_scale = 1;     // (g_timebase.num)
  uint32_t frame_count = 0;        // as written; writers that cannot seek leave 0

  bool is_vp8() const { return fourcc == std::array<char, 4>{'V', 'P', '8', '0'}; }
};

struct IvfFrame {
  ByteSpan data;  // a view into the file bytes
  uint64_t pts = 0;
  TimeDelta time;  // pts converted through the time base, relative to the first frame's pts
};

class IvfReader {
 public:
  static constexpr size_t kMaxFrameSize = 16 * 1024 * 1024;

  // Checks the file header ("DKIF", version 0, header size >= 32, a non-zero time base). `file` must outlive
  // the reader. Other fourccs are accepted (header().is_vp8() tells).
  static Result<IvfReader> Open(ByteSpan file);

  const IvfFileHeader& header() const { return header_; }
  // The next frame; nullopt at the end of the file. kTruncated for a frame header or body cut short (the rest
  // of the file is then unreadable), kLimitExceeded above kMaxFrameSize.
  Result<std::optional<IvfFrame>> ReadFrame();
  void Rewind();
  uint64_t frames_read() const { return frames_read_; }

  // Paced playback (a file source for a MediaStream): frame i is due at (first call's now) + its time.
  // Returns the next due frame or nullopt (not yet due, or the end / an error). With `loop`, playback
  // restarts at the end with times continuing.
  std::optional<IvfFrame> PollFrame(Timestamp now);
  Timestamp NextDeadline() const;
  void set_loop(bool loop) { loop_ = loop; }
  bool finished() const { return finished_; }

  TimeDelta PtsToTime(uint64_t pts) const;

 private:
  IvfReader(ByteSpan file, const IvfFileHeader& header, size_t header_size)
      : file_(file), header_(header), first_frame_offset_(header_size), pos_(header_size) {}
  void PeekNext();

  ByteSpan file_;
  IvfFileHeader header_;
  size_t first_frame_offset_;
  size_t pos_;
  std::optional<uint64_t> first_pts_;
  uint64_t frames_read_ = 0;
  // Pacing.
  std::optional<Timestamp> start_;
  TimeDelta loop_offset_;
  TimeDelta last_time_;
  std::optional<IvfFrame> pending_;
  bool loop_ = false;
  bool finished_ = false;
};

// Writes VP8 frames to IVF (fourcc VP80). Width and height may be left 0: the first key frame's header fills
// them. The frame count is patched into the header by Finish() when the sink can seek.
class IvfWriter {
 public:
  explicit IvfWriter(ByteSink& sink, const IvfFileHeader& header = {});

  // Appends one frame at `pts` (in the header's time base). kInvalidArgument for an empty frame.
  Status WriteFrame(ByteSpan frame, uint64_t pts);
  // Records a received frame: waits for the first key frame (a decoder needs one to start), then writes
  // frames with pts = RTP timestamp (90 kHz) relative to that first frame. Frames whose timestamp goes
  // backwards are skipped.
  Status WriteFrame(const EncodedVideoFrame& frame);
  Status Finish();
  uint32_t frames_written() const { return frames_written_; }

 private:
  Status WriteHeader();

  ByteSink& sink_;
  IvfFileHeader header_;
  bool header_written_ = false;
  uint32_t frames_written_ = 0;
  RtpTimestampUnwrapper unwrapper_;
  std::optional<int64_t> first_rtp_;
  std::optional<uint64_t> last_pts_;
};

}  // namespace tandem::media
