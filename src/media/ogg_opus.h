// Ogg Opus files (RFC 7845) over Ogg pages (RFC 3533): a reader that turns pages into Opus packets with their
// timing, and a writer that records Opus packets (from an encoder or received over RTP) into playable files.
// The reader works on a byte span and treats the file as hostile (CRC checked, every length bounded,
// resynchronises on the capture pattern); the writer writes to a ByteSink.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "core/time.h"
#include "media/byte_sink.h"
#include "media/rtp_types.h"

namespace tandem::media {

inline constexpr size_t kOggPageHeaderSize = 27;  // RFC 3533 §6
inline constexpr size_t kOggMaxPageSize = kOggPageHeaderSize + 255 + 255 * 255;
inline constexpr uint8_t kOggContinued = 0x01;
inline constexpr uint8_t kOggBeginOfStream = 0x02;
inline constexpr uint8_t kOggEndOfStream = 0x04;

// The Ogg CRC-32 (RFC 3533 §6: generator 0x04c11db7, not reflected, initial value 0, no final XOR), over the
// whole page with its CRC field zeroed.
uint32_t OggCrc32(ByteSpan data);

// One Ogg page (RFC 3533 §6): capture pattern "OggS", version 0, header type, granule position, serial
// number, page sequence number, CRC, segment table, body.
struct OggPage {
  uint8_t header_type = 0;
  uint64_t granule_position = 0;  // ~0 when no packet ends on this page
  uint32_t serial = 0;
  uint32_t sequence = 0;
  ByteSpan segment_table;  // lacing values
  ByteSpan body;
  size_t size = 0;  // of the whole page

  bool continued() const { return header_type & kOggContinued; }
  bool bos() const { return header_type & kOggBeginOfStream; }
  bool eos() const { return header_type & kOggEndOfStream; }
  // Parses the page at the front of `data` and verifies its CRC.
  static Result<OggPage> Parse(ByteSpan data);
};

// RFC 7845 §5.1 identification header.
struct OpusHead {
  uint8_t version = 1;
  uint8_t channels = 1;
  uint16_t pre_skip = 312;  // samples at 48 kHz to drop at the start (the encoder's lookahead)
  uint32_t input_sample_rate = 48000;
  int16_t output_gain = 0;  // Q7.8 dB
  uint8_t mapping_family = 0;
  uint8_t stream_count = 1;   // family != 0 only
  uint8_t coupled_count = 0;  // family != 0 only
  std::vector<uint8_t> mapping;

  // "OpusHead", major version 0 (version 1..15), channels >= 1, family 0 with 1-2 channels, or a channel
  // mapping table with valid counts (§5.1.1).
  static Result<OpusHead> Parse(ByteSpan packet);
  void SerializeTo(std::vector<uint8_t>& out) const;
};

// RFC 7845 §5.2 comment header.
struct OpusTags {
  std::string vendor = "tandem";
  std::vector<std::string> comments;  // "NAME=value"

  static constexpr size_t kMaxComments = 1024;
  static Result<OpusTags> Parse(ByteSpan packet);
  void SerializeTo(std::vector<uint8_t>& out) const;
};

struct OggOpusPacket {
  ByteSpan data;    // valid until the next call on the reader
  int samples = 0;  // duration at 48 kHz, from the TOC (RFC 6716 §3.1)
  // 48 kHz sample index of the packet's first sample from the start of the stream (pre-skip included).
  uint64_t position = 0;
  // Output time of the packet's first sample: (position - pre_skip) / 48 kHz (zero during the pre-skip).
  TimeDelta time;
  // Samples to discard at the end of this packet, from the end-of-stream page's granule position (§4.4).
  int end_trim = 0;
};

class OggOpusReader {
 public:
  static constexpr size_t kMaxHeaderPacketSize =
      256 * 1024;  // OpusTags can carry cover art; we do not need it

  // Reads OpusHead and OpusTags from the start of `file` (which must outlive the reader).
  static Result<OggOpusReader> Open(ByteSpan file);

  const OpusHead& head() const { return head_; }
  const OpusTags& tags() const { return tags_; }
  // The next audio packet; nullopt at the end. Damaged pages are skipped (counted in crc_errors/resyncs) and
  // a packet broken by one is dropped. kMalformed for audio that is not an Opus packet is not fatal: the
  // packet is skipped and counted in bad_packets.
  Result<std::optional<OggOpusPacket>> ReadPacket();
  void Rewind();

  // Paced playback: packet i is due at (first call's now) + its time.
  std::optional<OggOpusPacket> PollPacket(Timestamp now);
  Timestamp NextDeadline() const;

  uint64_t pages_read() const { return pages_read_; }
  uint64_t crc_errors() const { return crc_errors_; }
  uint64_t bad_packets() const { return bad_packets_; }

 private:
  explicit OggOpusReader(ByteSpan file) : file_(file) {}
  // Next raw packet of our logical stream; nullopt at the end.
  std::optional<ByteSpan> NextRawPacket(size_t max_size);
  bool LoadPage();

  ByteSpan file_;
  OpusHead head_;
  OpusTags tags_;
  uint32_t serial_ = 0;
  size_t pos_ = 0;
  size_t audio_start_pos_ = 0;
  std::optional<OggPage> page_;
  size_t segment_ = 0;
  size_t body_offset_ = 0;
  std::vector<uint8_t> partial_;
  bool have_partial_ = false;
  bool partial_broken_ = false;  // the packet being assembled lost a piece: drop it when it ends
  bool last_packet_on_eos_page_ = false;
  uint64_t page_granule_ = 0;
  uint64_t position_ = 0;
  uint64_t pages_read_ = 0;
  uint64_t crc_errors_ = 0;
  uint64_t bad_packets_ = 0;
  // Pacing.
  std::optional<Timestamp> start_;
  std::optional<OggOpusPacket> pending_;
  bool finished_ = false;
};

// Records Opus packets into an Ogg Opus file: OpusHead alone on the first page (BOS), OpusTags on the second,
// audio from the third page on with granule positions counting 48 kHz samples (§4), pages of at most about
// one second, the last page flagged EOS.
class OggOpusWriter {
 public:
  // `head.pre_skip` should be the encoder's lookahead (OpusEncoder::lookahead()); for received audio whose
  // encoder is unknown, 312 (libopus at 48 kHz) is the usual value.
  OggOpusWriter(ByteSink& sink, const OpusHead& head, const OpusTags& tags = {},
                uint32_t serial = 0x546e646d);

  // Appends a packet right after the previous one. kMalformed when it is not a valid Opus packet.
  Status WritePacket(ByteSpan packet);
  // Appends a packet whose first sample is at `sample_position` (48 kHz, from the stream start). A gap since
  // the previous packet (loss, DTX) is filled with empty Opus frames (a TOC byte alone: the decoder
  // conceals), so that the file keeps time. Packets before the current end are dropped (kInvalidArgument).
  Status WritePacketAt(uint64_t sample_position, ByteSpan packet);
  // WritePacketAt with the position taken from the RTP timestamp (48 kHz, RFC 7587 §4.1) relative to the
  // first.
  Status WriteRtpPacket(uint32_t rtp_timestamp, ByteSpan payload);
  // Writes the last page with EOS. With `total_samples` (the real length of the input, pre-skip excluded),
  // the final granule position trims the encoder's padding (§4.4).
  Status Finish(std::optional<uint64_t> total_samples = std::nullopt);

  uint64_t granule_position() const { return granule_; }
  uint64_t packets_written() const { return packets_written_; }
  uint64_t filler_packets() const { return filler_packets_; }

  // Gaps longer than this are not filled (the file's timeline then closes the gap).
  static constexpr uint64_t kMaxGapSamples = uint64_t{48000} * 600;

 private:
  Status WriteHeaders();
  Status AddPacket(ByteSpan packet, int samples);
  Status FlushPage(bool eos, std::optional<uint64_t> granule_override = std::nullopt);
  Status WritePage(uint8_t header_type, uint64_t granule, ByteSpan lacing, ByteSpan body);
  Status FillGap(uint64_t samples);

  ByteSink& sink_;
  OpusHead head_;
  OpusTags tags_;
  uint32_t serial_;
  uint32_t page_sequence_ = 0;
  bool headers_written_ = false;
  bool finished_ = false;
  uint64_t granule_ = 0;
  uint64_t page_samples_ = 0;
  std::vector<uint8_t> lacing_;
  std::vector<uint8_t> body_;
  std::vector<uint8_t> page_;
  uint64_t packets_written_ = 0;
  uint64_t filler_packets_ = 0;
  RtpTimestampUnwrapper unwrapper_;
  std::optional<int64_t> first_rtp_;
  uint8_t last_toc_stereo_ = 0;
};

}  // namespace tandem::media
