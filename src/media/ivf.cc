#include "media/ivf.h"

#include <cstring>

#include "media/vp8_payload.h"

namespace tandem::media {

Result<IvfReader> IvfReader::Open(ByteSpan file) {
  if (file.size() < kIvfFileHeaderSize) return MakeError(ErrorCode::kTruncated, "IVF: short file header");
  const uint8_t* p = file.data();
  if (std::memcmp(p, "DKIF", 4) != 0) return MakeError(ErrorCode::kMalformed, "IVF: no DKIF signature");
  if (LoadLe16(p + 4) != 0) return MakeError(ErrorCode::kUnsupported, "IVF: unknown version");
  const uint16_t header_size = LoadLe16(p + 6);
  if (header_size < kIvfFileHeaderSize || header_size > file.size()) {
    return MakeError(ErrorCode::kMalformed, "IVF: bad header size");
  }
  IvfFileHeader h;
  std::memcpy(h.fourcc.data(), p + 8, 4);
  h.width = LoadLe16(p + 12);
  h.height = LoadLe16(p + 14);
  h.timebase_rate = LoadLe32(p + 16);
  h.timebase_scale = LoadLe32(p + 20);
  h.frame_count = LoadLe32(p + 24);
  if (h.timebase_rate == 0 || h.timebase_scale == 0)
    return MakeError(ErrorCode::kMalformed, "IVF: zero time base");
  return IvfReader(file, h, header_size);
}

TimeDelta IvfReader::PtsToTime(uint64_t pts) const {
  // time = pts * scale / rate seconds; computed in 128 bits so that no pts overflows.
  const unsigned __int128 us =
      static_cast<unsigned __int128>(pts) * header_.timebase_scale * 1000000u / header_.timebase_rate;
  const unsigned __int128 kMax = static_cast<unsigned __int128>(INT64_MAX / 2);
  return TimeDelta::Micros(static_cast<int64_t>(us > kMax ? kMax : us));
}

Result<std::optional<IvfFrame>> IvfReader::ReadFrame() {
  if (pos_ >= file_.size()) return std::optional<IvfFrame>();
  if (file_.size() - pos_ < kIvfFrameHeaderSize) {
    pos_ = file_.size();
    return MakeError(ErrorCode::kTruncated, "IVF: short frame header");
  }
  const uint8_t* p = file_.data() + pos_;
  const uint32_t size = LoadLe32(p);
  const uint64_t pts = LoadLe64(p + 4);
  if (size > kMaxFrameSize) {
    pos_ = file_.size();
    return MakeError(ErrorCode::kLimitExceeded, "IVF: frame too large");
  }
  if (file_.size() - pos_ - kIvfFrameHeaderSize < size) {
    pos_ = file_.size();
    return MakeError(ErrorCode::kTruncated, "IVF: short frame");
  }
  IvfFrame f;
  f.data = file_.subspan(pos_ + kIvfFrameHeaderSize, size);
  f.pts = pts;
  if (!first_pts_) first_pts_ = pts;
  f.time = pts >= *first_pts_ ? PtsToTime(pts - *first_pts_) : TimeDelta::Zero();
  pos_ += kIvfFrameHeaderSize + size;
  ++frames_read_;
  return std::optional<IvfFrame>(f);
}

void IvfReader::Rewind() {
  pos_ = first_frame_offset_;
  first_pts_.reset();
}

void IvfReader::PeekNext() {
  if (pending_ || finished_) return;
  auto f = ReadFrame();
  if (f && *f) {
    pending_ = **f;
    pending_->time = pending_->time + loop_offset_;
    if (pending_->time < last_time_) pending_->time = last_time_;  // never go back in time
    return;
  }
  // The end (or an unreadable rest): loop if asked and the file had frames, otherwise stop.
  if (f && loop_ && frames_read_ > 0) {
    loop_offset_ = last_time_ + TimeDelta::Millis(1);
    Rewind();
    auto again = ReadFrame();
    if (again && *again) {
      pending_ = **again;
      pending_->time = pending_->time + loop_offset_;
      return;
    }
  }
  finished_ = true;
}

std::optional<IvfFrame> IvfReader::PollFrame(Timestamp now) {
  if (!start_) start_ = now;
  PeekNext();
  if (!pending_ || now < *start_ + pending_->time) return std::nullopt;
  IvfFrame out = *pending_;
  last_time_ = out.time;
  pending_.reset();
  return out;
}

Timestamp IvfReader::NextDeadline() const {
  if (!start_) return Timestamp::Zero();
  if (finished_) return Timestamp::Infinity();
  if (!pending_) return *start_ + last_time_;  // ask again: PollFrame peeks the next frame
  return *start_ + pending_->time;
}

IvfWriter::IvfWriter(ByteSink& sink, const IvfFileHeader& header) : sink_(sink), header_(header) {
  if (header_.timebase_rate == 0) header_.timebase_rate = 90000;
  if (header_.timebase_scale == 0) header_.timebase_scale = 1;
}

Status IvfWriter::WriteHeader() {
  uint8_t h[kIvfFileHeaderSize] = {'D', 'K', 'I', 'F'};
  StoreLe16(h + 4, 0);  // version
  StoreLe16(h + 6, kIvfFileHeaderSize);
  std::memcpy(h + 8, header_.fourcc.data(), 4);
  StoreLe16(h + 12, header_.width);
  StoreLe16(h + 14, header_.height);
  StoreLe32(h + 16, header_.timebase_rate);
  StoreLe32(h + 20, header_.timebase_scale);
  StoreLe32(h + 24, 0);  // frame count, patched by Finish()
  StoreLe32(h + 28, 0);
  header_written_ = true;
  return sink_.Write(ByteSpan(h, sizeof(h)));
}

Status IvfWriter::WriteFrame(ByteSpan frame, uint64_t pts) {
  if (frame.empty()) return MakeError(ErrorCode::kInvalidArgument, "IVF: empty frame");
  if (frame.size() > IvfReader::kMaxFrameSize)
    return MakeError(ErrorCode::kLimitExceeded, "IVF: frame too large");
  if (!header_written_) {
    if ((header_.width == 0 || header_.height == 0) && header_.is_vp8()) {
      if (auto h = Vp8FrameHeader::Parse(frame); h && h->key_frame) {
        header_.width = static_cast<uint16_t>(h->width);
        header_.height = static_cast<uint16_t>(h->height);
      }
    }
    if (auto s = WriteHeader(); !s) return s;
  }
  uint8_t fh[kIvfFrameHeaderSize];
  StoreLe32(fh, static_cast<uint32_t>(frame.size()));
  StoreLe32(fh + 4, static_cast<uint32_t>(pts));
  StoreLe32(fh + 8, static_cast<uint32_t>(pts >> 32));
  if (auto s = sink_.Write(ByteSpan(fh, sizeof(fh))); !s) return s;
  if (auto s = sink_.Write(frame); !s) return s;
  ++frames_written_;
  return OkStatus();
}

Status IvfWriter::WriteFrame(const EncodedVideoFrame& frame) {
  if (!first_rtp_) {
    if (!frame.key_frame) return OkStatus();  // nothing decodable yet
    first_rtp_ = unwrapper_.Unwrap(frame.rtp_timestamp);
    if (header_.width == 0 && frame.width > 0) {
      header_.width = static_cast<uint16_t>(frame.width);
      header_.height = static_cast<uint16_t>(frame.height);
    }
  }
  const int64_t ts = unwrapper_.Unwrap(frame.rtp_timestamp);
  if (ts < *first_rtp_) return OkStatus();
  // 90 kHz ticks into the file's time base.
  const unsigned __int128 ticks = static_cast<unsigned __int128>(ts - *first_rtp_) * header_.timebase_rate /
                                  (static_cast<uint64_t>(kVideoClockRate) * header_.timebase_scale);
  const uint64_t pts = static_cast<uint64_t>(ticks);
  if (last_pts_ && pts < *last_pts_) return OkStatus();
  last_pts_ = pts;
  return WriteFrame(frame.data, pts);
}

Status IvfWriter::Finish() {
  if (!header_written_) {
    if (auto s = WriteHeader(); !s) return s;
  }
  uint8_t count[4];
  StoreLe32(count, frames_written_);
  (void)sink_.Patch(24, ByteSpan(count, 4));  // best effort: readers do not rely on it
  return OkStatus();
}

}  // namespace tandem::media
