// VP8 RTP payload format (RFC 7741): the payload descriptor (§4.2), the VP8 payload header a receiver reads
// for key-frame detection (§4.3, with the frame tag of RFC 6386 §9.1), a packetizer that splits one encoded
// frame into MTU-sized payloads (§4.4) and a depacketizer for one packet. Frames are rebuilt from packets by
// the jitter buffer (video_jitter_buffer.h) following §4.5: a frame starts at S=1 with PID=0 and ends at the
// RTP marker bit.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "media/rtp_types.h"

namespace tandem::media {

inline constexpr uint16_t kVp8PictureIdMask15 = 0x7FFF;  // RFC 7741 §4.2: M=1, 15-bit PictureID
inline constexpr size_t kVp8MaxDescriptorSize = 6;       // required byte, X byte, 2 PictureID, TL0PICIDX, T/K

// RFC 7741 §4.2 payload descriptor:
//      0 1 2 3 4 5 6 7
//     +-+-+-+-+-+-+-+-+
//     |X|R|N|S|R| PID | (REQUIRED)
//     +-+-+-+-+-+-+-+-+
// X:  |I|L|T|K| RSV   | (OPTIONAL)
//     +-+-+-+-+-+-+-+-+
// I:  |M| PictureID   | (OPTIONAL; M=1 adds a second byte: 15-bit PictureID)
//     +-+-+-+-+-+-+-+-+
// L:  |   TL0PICIDX   | (OPTIONAL)
//     +-+-+-+-+-+-+-+-+
// T/K:|TID|Y| KEYIDX  | (OPTIONAL)
//     +-+-+-+-+-+-+-+-+
struct Vp8PayloadDescriptor {
  bool non_reference = false;       // N: the frame can be discarded without affecting others
  bool start_of_partition = false;  // S
  uint8_t partition_id = 0;         // PID, 0..7
  std::optional<uint16_t> picture_id;
  bool picture_id_15bit = true;  // M when picture_id is set (7-bit otherwise)
  std::optional<uint8_t> tl0_pic_idx;
  std::optional<uint8_t> temporal_id;  // TID (0..3), present with T
  bool layer_sync = false;             // Y, meaningful with T
  std::optional<uint8_t> key_idx;      // KEYIDX (0..31), present with K

  // Parses the descriptor at the front of `payload`; `*size` receives its length. Reserved bits are ignored
  // (§4.2: receivers MUST ignore them). kTruncated when the optional fields run past the payload.
  static Result<Vp8PayloadDescriptor> Parse(ByteSpan payload, size_t* size);
  // Encoded length of this descriptor (1..6 bytes).
  size_t Size() const;
  // Writes Size() bytes at `out`.
  void SerializeTo(uint8_t* out) const;

  bool operator==(const Vp8PayloadDescriptor&) const = default;
};

// RFC 7741 §4.3 / RFC 6386 §9.1: the 3-byte frame tag at the start of partition 0 and, for key frames, the
// start code and dimensions that follow it.
struct Vp8FrameHeader {
  bool key_frame = false;   // P bit clear ("inverse key frame flag")
  uint8_t version = 0;      // VER
  bool show_frame = false;  // H
  uint32_t first_partition_size = 0;
  int width = 0;  // key frames only (14 bits)
  int height = 0;
  uint8_t horizontal_scale = 0;
  uint8_t vertical_scale = 0;

  // Parses the start of a VP8 frame (the first bytes of partition 0). Key frames need 10 bytes and the start
  // code 9d 01 2a; nullopt otherwise.
  static std::optional<Vp8FrameHeader> Parse(ByteSpan frame_start);
};

// Splits encoded VP8 frames into RTP payloads of at most `max_payload_size` bytes, each led by a descriptor
// with X=1, I=1, M=1 (a 15-bit PictureID that increases by one per frame, RFC 7741 §4.2) and S=1, PID=0 on
// the first packet (the whole frame is sent as one partition run, §4.4). Payload sizes are balanced (they
// differ by at most one byte) so that no tiny last packet is sent. Allocation-free after the first frames:
// payloads live in one reused buffer.
class Vp8Packetizer {
 public:
  // Frames larger than this are refused (a 4K key frame at a high bitrate stays well below it).
  static constexpr size_t kMaxFrameSize = 4 * 1024 * 1024;

  explicit Vp8Packetizer(size_t max_payload_size = 1200, uint16_t initial_picture_id = 0);

  // Packetizes one frame (replacing any payloads not yet taken). The marker bit is set on the last payload
  // (RFC 7741 §4.1). kInvalidArgument for an empty frame or a max_payload_size that leaves no room for data,
  // kLimitExceeded above kMaxFrameSize.
  Status Packetize(ByteSpan frame, uint32_t rtp_timestamp, bool non_reference = false);
  // The next payload of the current frame, in order; nullopt when all were taken. Valid until the next
  // Packetize().
  std::optional<OutgoingPayload> NextPayload();
  size_t pending_payloads() const { return ranges_.size() - next_; }
  // The PictureID the next frame will carry.
  uint16_t next_picture_id() const { return picture_id_; }
  size_t max_payload_size() const { return max_payload_size_; }
  void set_max_payload_size(size_t size) { max_payload_size_ = size; }

 private:
  struct Range {
    size_t offset;
    size_t size;
  };
  size_t max_payload_size_;
  uint16_t picture_id_;
  uint32_t rtp_timestamp_ = 0;
  std::vector<uint8_t> buffer_;
  std::vector<Range> ranges_;
  size_t next_ = 0;
};

// One depacketized VP8 packet: its descriptor, the VP8 bytes after it, and what the packet tells about its
// frame.
struct Vp8DepacketizedPacket {
  Vp8PayloadDescriptor descriptor;
  ByteSpan payload;          // VP8 bitstream bytes (a view into the input)
  bool frame_begin = false;  // S=1 and PID=0: the first packet of a frame (§4.5)
  bool key_frame = false;    // frame_begin and the P bit of the frame tag is clear (§4.3)
  int width = 0;             // from the key frame header
  int height = 0;
};

// RFC 7741 §4.2-4.3 receive side for one packet. kMalformed for a packet with no VP8 bytes after the
// descriptor.
Result<Vp8DepacketizedPacket> DepacketizeVp8(ByteSpan payload);

}  // namespace tandem::media
