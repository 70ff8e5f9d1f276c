#include "media/ogg_opus.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "media/opus_payload.h"

namespace tandem::media {
namespace {

constexpr size_t kCrcOffset = 22;
constexpr uint64_t kNoGranule = ~uint64_t{0};
constexpr size_t kMaxPageBody = 60000;
constexpr uint64_t kMaxPageSamples =
    48000;  // about one second of audio per page (RFC 7845 §6 suggests <= 1 s)

std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t r = i << 24;
    for (int k = 0; k < 8; ++k) r = (r & 0x80000000u) ? (r << 1) ^ 0x04c11db7u : (r << 1);
    t[i] = r;
  }
  return t;
}

uint32_t CrcUpdate(uint32_t crc, ByteSpan data) {
  static const std::array<uint32_t, 256> kTable = MakeCrcTable();
  for (uint8_t b : data) crc = (crc << 8) ^ kTable[((crc >> 24) ^ b) & 0xFF];
  return crc;
}

bool HasMagic(ByteSpan packet, const char* magic) {
  return packet.size() >= 8 && std::memcmp(packet.data(), magic, 8) == 0;
}

}  // namespace

uint32_t OggCrc32(ByteSpan data) { return CrcUpdate(0, data); }

Result<OggPage> OggPage::Parse(ByteSpan d) {
  if (d.size() < kOggPageHeaderSize) return MakeError(ErrorCode::kTruncated, "Ogg: short page header");
  if (std::memcmp(d.data(), "OggS", 4) != 0)
    return MakeError(ErrorCode::kMalformed, "Ogg: no capture pattern");
  if (d[4] != 0) return MakeError(ErrorCode::kUnsupported, "Ogg: unknown stream structure version");
  OggPage p;
  p.header_type = d[5];
  p.granule_position = LoadLe64(&d[6]);
  p.serial = LoadLe32(&d[14]);
  p.sequence = LoadLe32(&d[18]);
  const uint32_t crc = LoadLe32(&d[kCrcOffset]);
  const size_t segments = d[26];
  if (d.size() < kOggPageHeaderSize + segments)
    return MakeError(ErrorCode::kTruncated, "Ogg: short segment table");
  p.segment_table = d.subspan(kOggPageHeaderSize, segments);
  size_t body = 0;
  for (uint8_t l : p.segment_table) body += l;
  const size_t total = kOggPageHeaderSize + segments + body;
  if (d.size() < total) return MakeError(ErrorCode::kTruncated, "Ogg: short page body");
  p.body = d.subspan(kOggPageHeaderSize + segments, body);
  p.size = total;
  static constexpr uint8_t kZeros[4] = {0, 0, 0, 0};
  uint32_t computed = CrcUpdate(0, d.subspan(0, kCrcOffset));
  computed = CrcUpdate(computed, ByteSpan(kZeros, 4));
  computed = CrcUpdate(computed, d.subspan(kCrcOffset + 4, total - kCrcOffset - 4));
  if (computed != crc) return MakeError(ErrorCode::kMalformed, "Ogg: CRC mismatch");
  return p;
}

Result<OpusHead> OpusHead::Parse(ByteSpan packet) {
  // RFC 7845 §5.1: magic, version, channel count, pre-skip, input sample rate, output gain, mapping family.
  if (!HasMagic(packet, "OpusHead")) return MakeError(ErrorCode::kMalformed, "OpusHead: bad magic");
  if (packet.size() < 19) return MakeError(ErrorCode::kTruncated, "OpusHead: too short");
  OpusHead h;
  h.version = packet[8];
  // §5.1: the upper four bits are the major version; only major version 0 (versions 1..15) is understood.
  if (h.version == 0 || (h.version & 0xF0) != 0)
    return MakeError(ErrorCode::kUnsupported, "OpusHead: version");
  h.channels = packet[9];
  if (h.channels == 0) return MakeError(ErrorCode::kMalformed, "OpusHead: zero channels");
  h.pre_skip = LoadLe16(&packet[10]);
  h.input_sample_rate = LoadLe32(&packet[12]);
  h.output_gain = static_cast<int16_t>(LoadLe16(&packet[16]));
  h.mapping_family = packet[18];
  if (h.mapping_family == 0) {
    // §5.1.1.1: mono or stereo, one stream.
    if (h.channels > 2)
      return MakeError(ErrorCode::kMalformed, "OpusHead: family 0 with more than 2 channels");
    h.stream_count = 1;
    h.coupled_count = h.channels == 2 ? 1 : 0;
    return h;
  }
  // §5.1.1: stream count, coupled count, one mapping byte per channel.
  if (packet.size() < 21u + h.channels)
    return MakeError(ErrorCode::kTruncated, "OpusHead: short mapping table");
  h.stream_count = packet[19];
  h.coupled_count = packet[20];
  if (h.stream_count == 0 || h.coupled_count > h.stream_count ||
      int{h.stream_count} + h.coupled_count > 255) {
    return MakeError(ErrorCode::kMalformed, "OpusHead: bad stream counts");
  }
  h.mapping.assign(packet.begin() + 21, packet.begin() + 21 + h.channels);
  for (uint8_t m : h.mapping) {
    if (m != 255 && m >= h.stream_count + h.coupled_count) {
      return MakeError(ErrorCode::kMalformed, "OpusHead: mapping beyond the streams");
    }
  }
  return h;
}

void OpusHead::SerializeTo(std::vector<uint8_t>& out) const {
  const char* magic = "OpusHead";
  out.insert(out.end(), magic, magic + 8);
  out.push_back(version);
  out.push_back(channels);
  AppendLe16(out, pre_skip);
  AppendLe32(out, input_sample_rate);
  AppendLe16(out, static_cast<uint16_t>(output_gain));
  out.push_back(mapping_family);
  if (mapping_family != 0) {
    out.push_back(stream_count);
    out.push_back(coupled_count);
    for (uint8_t i = 0; i < channels; ++i) out.push_back(i < mapping.size() ? mapping[i] : i);
  }
}

Result<OpusTags> OpusTags::Parse(ByteSpan packet) {
  // RFC 7845 §5.2: magic, vendor string (32-bit length + UTF-8), comment count, comments (length + UTF-8).
  if (!HasMagic(packet, "OpusTags")) return MakeError(ErrorCode::kMalformed, "OpusTags: bad magic");
  size_t pos = 8;
  auto read_string = [&](std::string& out) -> bool {
    if (packet.size() - pos < 4) return false;
    const uint32_t len = LoadLe32(&packet[pos]);
    pos += 4;
    if (packet.size() - pos < len) return false;
    out.assign(reinterpret_cast<const char*>(&packet[pos]), len);
    pos += len;
    return true;
  };
  OpusTags t;
  if (!read_string(t.vendor)) return MakeError(ErrorCode::kTruncated, "OpusTags: bad vendor string");
  if (packet.size() - pos < 4) return MakeError(ErrorCode::kTruncated, "OpusTags: no comment count");
  const uint32_t count = LoadLe32(&packet[pos]);
  pos += 4;
  // Each comment needs at least its 4-byte length: a count beyond that is a lie.
  if (count > kMaxComments || count > (packet.size() - pos) / 4) {
    return MakeError(ErrorCode::kLimitExceeded, "OpusTags: too many comments");
  }
  t.comments.resize(count);
  for (uint32_t i = 0; i < count; ++i) {
    if (!read_string(t.comments[i])) return MakeError(ErrorCode::kTruncated, "OpusTags: bad comment");
  }
  return t;
}

void OpusTags::SerializeTo(std::vector<uint8_t>& out) const {
  const char* magic = "OpusTags";
  out.insert(out.end(), magic, magic + 8);
  AppendLe32(out, static_cast<uint32_t>(vendor.size()));
  out.insert(out.end(), vendor.begin(), vendor.end());
  AppendLe32(out, static_cast<uint32_t>(comments.size()));
  for (const std::string& c : comments) {
    AppendLe32(out, static_cast<uint32_t>(c.size()));
    out.insert(out.end(), c.begin(), c.end());
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

bool OggOpusReader::LoadPage() {
  while (pos_ < file_.size()) {
    auto page = OggPage::Parse(file_.subspan(pos_));
    if (!page) {
      if (page.error().code == ErrorCode::kMalformed && std::memcmp(file_.data() + pos_, "OggS", 4) == 0) {
        ++crc_errors_;
      }
      // RFC 3533 §6: resynchronise on the next capture pattern. What was being assembled is broken.
      size_t next = pos_ + 1;
      while (next + 4 <= file_.size() && std::memcmp(file_.data() + next, "OggS", 4) != 0) ++next;
      pos_ = next + 4 <= file_.size() ? next : file_.size();
      if (have_partial_) partial_broken_ = true;
      continue;
    }
    pos_ += page->size;
    ++pages_read_;
    if (page->serial != serial_) continue;  // another logical stream multiplexed in
    if (page->continued()) {
      if (!have_partial_) {
        // The continuation of a packet whose start we never saw.
        have_partial_ = true;
        partial_broken_ = true;
        partial_.clear();
      }
    } else if (have_partial_) {
      // The previous packet never finished.
      have_partial_ = false;
      partial_broken_ = false;
      ++bad_packets_;
    }
    page_ = *page;
    segment_ = 0;
    body_offset_ = 0;
    return true;
  }
  return false;
}

std::optional<ByteSpan> OggOpusReader::NextRawPacket(size_t max_size) {
  while (true) {
    if (!page_ || segment_ >= page_->segment_table.size()) {
      if (!LoadPage()) {
        if (have_partial_) ++bad_packets_;
        have_partial_ = false;
        partial_broken_ = false;
        page_.reset();
        return std::nullopt;
      }
      continue;
    }
    // RFC 3533 §5: a packet is the run of lacing values up to the first one below 255.
    const ByteSpan table = page_->segment_table;
    size_t len = 0;
    bool complete = false;
    while (segment_ < table.size()) {
      const uint8_t l = table[segment_++];
      len += l;
      if (l < 255) {
        complete = true;
        break;
      }
    }
    const ByteSpan piece = page_->body.subspan(body_offset_, len);
    body_offset_ += len;
    const bool last_on_page = complete && segment_ == table.size();
    last_packet_on_eos_page_ = last_on_page && page_->eos();
    page_granule_ = page_->granule_position;
    if (!have_partial_ && complete) {
      if (piece.size() > max_size) {
        ++bad_packets_;
        continue;
      }
      return piece;
    }
    if (!have_partial_) {
      have_partial_ = true;
      partial_broken_ = false;
      partial_.clear();
    }
    if (!partial_broken_) {
      if (partial_.size() + piece.size() > max_size) {
        partial_broken_ = true;
      } else {
        partial_.insert(partial_.end(), piece.begin(), piece.end());
      }
    }
    if (complete) {
      have_partial_ = false;
      if (partial_broken_) {
        partial_broken_ = false;
        ++bad_packets_;
        continue;
      }
      return ByteSpan(partial_.data(), partial_.size());
    }
  }
}

Result<OggOpusReader> OggOpusReader::Open(ByteSpan file) {
  OggOpusReader r(file);
  auto first = OggPage::Parse(file);
  if (!first) return first.error();
  // RFC 7845 §3: the identification header begins the stream on a page flagged BOS.
  if (!first->bos()) return MakeError(ErrorCode::kMalformed, "Ogg Opus: first page is not BOS");
  r.serial_ = first->serial;
  auto head_packet = r.NextRawPacket(kMaxHeaderPacketSize);
  if (!head_packet) return MakeError(ErrorCode::kTruncated, "Ogg Opus: no OpusHead");
  auto head = OpusHead::Parse(*head_packet);
  if (!head) return head.error();
  r.head_ = std::move(*head);
  auto tags_packet = r.NextRawPacket(kMaxHeaderPacketSize);
  if (!tags_packet) return MakeError(ErrorCode::kTruncated, "Ogg Opus: no OpusTags");
  auto tags = OpusTags::Parse(*tags_packet);
  if (!tags) return tags.error();
  r.tags_ = std::move(*tags);
  // §3: audio begins on a fresh page.
  r.page_.reset();
  r.audio_start_pos_ = r.pos_;
  return r;
}

void OggOpusReader::Rewind() {
  pos_ = audio_start_pos_;
  page_.reset();
  segment_ = body_offset_ = 0;
  have_partial_ = partial_broken_ = false;
  position_ = 0;
  pending_.reset();
  start_.reset();
  finished_ = false;
}

Result<std::optional<OggOpusPacket>> OggOpusReader::ReadPacket() {
  while (true) {
    auto raw = NextRawPacket(kOpusMaxPacketBytes);
    if (!raw) return std::optional<OggOpusPacket>();
    auto info = OpusPacketInfo::Parse(*raw);
    if (!info) {
      ++bad_packets_;
      continue;
    }
    OggOpusPacket p;
    p.data = *raw;
    p.samples = info->samples;
    p.position = position_;
    p.time = position_ > head_.pre_skip ? TicksToTime(static_cast<int64_t>(position_ - head_.pre_skip), 48000)
                                        : TimeDelta::Zero();
    position_ += static_cast<uint64_t>(info->samples);
    // §4.4: the end-of-stream page's granule position may end before its last packet does.
    if (last_packet_on_eos_page_ && page_granule_ != kNoGranule && page_granule_ < position_) {
      p.end_trim =
          static_cast<int>(std::min<uint64_t>(position_ - page_granule_, static_cast<uint64_t>(p.samples)));
    }
    return std::optional<OggOpusPacket>(p);
  }
}

std::optional<OggOpusPacket> OggOpusReader::PollPacket(Timestamp now) {
  if (!start_) start_ = now;
  if (!pending_ && !finished_) {
    auto p = ReadPacket();
    if (p && *p) {
      pending_ = **p;
    } else {
      finished_ = true;
    }
  }
  if (!pending_ || now < *start_ + pending_->time) return std::nullopt;
  OggOpusPacket out = *pending_;
  pending_.reset();
  return out;
}

Timestamp OggOpusReader::NextDeadline() const {
  if (!start_) return Timestamp::Zero();
  if (finished_ && !pending_) return Timestamp::Infinity();
  if (!pending_)
    return *start_ +
           TicksToTime(static_cast<int64_t>(position_ > head_.pre_skip ? position_ - head_.pre_skip : 0),
                       48000);
  return *start_ + pending_->time;
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

OggOpusWriter::OggOpusWriter(ByteSink& sink, const OpusHead& head, const OpusTags& tags, uint32_t serial)
    : sink_(sink), head_(head), tags_(tags), serial_(serial) {
  last_toc_stereo_ = head_.channels >= 2 ? 0x04 : 0x00;
}

Status OggOpusWriter::WritePage(uint8_t header_type, uint64_t granule, ByteSpan lacing, ByteSpan body) {
  // RFC 3533 §6 page header, then the segment table and the body.
  uint8_t header[kOggPageHeaderSize] = {'O', 'g', 'g', 'S', 0 /* version */};
  header[5] = header_type;
  StoreLe32(header + 6, static_cast<uint32_t>(granule));
  StoreLe32(header + 10, static_cast<uint32_t>(granule >> 32));
  StoreLe32(header + 14, serial_);
  StoreLe32(header + 18, page_sequence_++);
  StoreLe32(header + kCrcOffset, 0);  // CRC, filled below
  header[26] = static_cast<uint8_t>(lacing.size());
  page_.resize(kOggPageHeaderSize + lacing.size() + body.size());
  std::memcpy(page_.data(), header, kOggPageHeaderSize);
  if (!lacing.empty()) std::memcpy(page_.data() + kOggPageHeaderSize, lacing.data(), lacing.size());
  if (!body.empty()) std::memcpy(page_.data() + kOggPageHeaderSize + lacing.size(), body.data(), body.size());
  StoreLe32(&page_[kCrcOffset], OggCrc32(page_));
  return sink_.Write(page_);
}

Status OggOpusWriter::WriteHeaders() {
  headers_written_ = true;
  // §3: OpusHead alone on the first page (BOS), granule 0.
  std::vector<uint8_t> packet;
  head_.SerializeTo(packet);
  std::vector<uint8_t> lacing(packet.size() / 255, 255);
  lacing.push_back(static_cast<uint8_t>(packet.size() % 255));
  if (auto s = WritePage(kOggBeginOfStream, 0, lacing, packet); !s) return s;
  // §3: OpusTags on the following page(s); the last of them ends with it. Large tags continue across pages.
  packet.clear();
  tags_.SerializeTo(packet);
  size_t offset = 0;
  bool continued = false;
  while (true) {
    lacing.clear();
    size_t body = 0;
    bool done = false;
    while (lacing.size() < 255) {
      const size_t left = packet.size() - offset - body;
      if (left >= 255) {
        lacing.push_back(255);
        body += 255;
      } else {
        lacing.push_back(static_cast<uint8_t>(left));
        body += left;
        done = true;
        break;
      }
    }
    const uint64_t granule = done ? 0 : kNoGranule;
    if (auto s =
            WritePage(continued ? kOggContinued : 0, granule, lacing, ByteSpan(packet.data() + offset, body));
        !s) {
      return s;
    }
    offset += body;
    continued = true;
    if (done) break;
  }
  return OkStatus();
}

Status OggOpusWriter::FlushPage(bool eos, std::optional<uint64_t> granule_override) {
  if (lacing_.empty() && !eos) return OkStatus();
  auto s = WritePage(eos ? kOggEndOfStream : 0, granule_override.value_or(granule_), lacing_, body_);
  lacing_.clear();
  body_.clear();
  page_samples_ = 0;
  return s;
}

Status OggOpusWriter::AddPacket(ByteSpan packet, int samples) {
  const size_t segments = packet.size() / 255 + 1;
  if (!lacing_.empty() && (lacing_.size() + segments > 255 || page_samples_ >= kMaxPageSamples ||
                           body_.size() + packet.size() > kMaxPageBody)) {
    if (auto s = FlushPage(false); !s) return s;
  }
  lacing_.insert(lacing_.end(), packet.size() / 255, 255);
  lacing_.push_back(static_cast<uint8_t>(packet.size() % 255));
  body_.insert(body_.end(), packet.begin(), packet.end());
  granule_ += static_cast<uint64_t>(samples);
  page_samples_ += static_cast<uint64_t>(samples);
  return OkStatus();
}

Status OggOpusWriter::FillGap(uint64_t samples) {
  if (samples > kMaxGapSamples) return OkStatus();
  // RFC 6716 §3.2.1: a frame of length zero is allowed and makes the decoder conceal. Code 0 packets of a
  // CELT-only fullband configuration (28..31: 2.5/5/10/20 ms) cover the gap exactly, in 2.5 ms steps.
  static constexpr struct {
    int samples;
    uint8_t config;
  } kFrames[] = {{960, 31}, {480, 30}, {240, 29}, {120, 28}};
  while (samples >= 120) {
    for (const auto& f : kFrames) {
      if (samples >= static_cast<uint64_t>(f.samples)) {
        const uint8_t toc = static_cast<uint8_t>((f.config << 3) | last_toc_stereo_);
        if (auto s = AddPacket(ByteSpan(&toc, 1), f.samples); !s) return s;
        ++filler_packets_;
        samples -= static_cast<uint64_t>(f.samples);
        break;
      }
    }
  }
  return OkStatus();
}

Status OggOpusWriter::WritePacket(ByteSpan packet) { return WritePacketAt(granule_, packet); }

Status OggOpusWriter::WritePacketAt(uint64_t sample_position, ByteSpan packet) {
  if (finished_) return MakeError(ErrorCode::kInvalidArgument, "Ogg Opus writer: already finished");
  auto info = OpusPacketInfo::Parse(packet);
  if (!info) return info.error();
  if (sample_position < granule_) {
    return MakeError(ErrorCode::kInvalidArgument, "Ogg Opus writer: packet overlaps what was written");
  }
  if (!headers_written_) {
    if (auto s = WriteHeaders(); !s) return s;
  }
  if (auto s = FillGap(sample_position - granule_); !s) return s;
  last_toc_stereo_ = packet[0] & 0x04;
  ++packets_written_;
  return AddPacket(packet, info->samples);
}

Status OggOpusWriter::WriteRtpPacket(uint32_t rtp_timestamp, ByteSpan payload) {
  const int64_t ts = unwrapper_.Unwrap(rtp_timestamp);
  if (!first_rtp_) first_rtp_ = ts;
  if (ts < *first_rtp_)
    return MakeError(ErrorCode::kInvalidArgument, "Ogg Opus writer: timestamp before start");
  return WritePacketAt(static_cast<uint64_t>(ts - *first_rtp_), payload);
}

Status OggOpusWriter::Finish(std::optional<uint64_t> total_samples) {
  if (finished_) return OkStatus();
  if (!headers_written_) {
    if (auto s = WriteHeaders(); !s) return s;
  }
  finished_ = true;
  std::optional<uint64_t> granule;
  if (total_samples) granule = std::min(granule_, uint64_t{head_.pre_skip} + *total_samples);
  return FlushPage(true, granule);
}

}  // namespace tandem::media
