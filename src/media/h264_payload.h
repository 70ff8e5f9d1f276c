// H.264 RTP payload format (RFC 6184), packetization-mode 1 (non-interleaved, §6.3): single NAL unit packets
// (§5.6), STAP-A aggregation (§5.7.1) and FU-A fragmentation (§5.8). Pass-through only: Tandem has no H.264
// codec, it moves Annex B access units (ITU-T H.264 Annex B byte stream: a start code before every NAL unit)
// between an application and RTP. Also profile-level-id parsing for SDP offer/answer matching (§8.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "media/rtp_types.h"

namespace tandem::media {

// NAL unit types (H.264 Table 7-1) and the RFC 6184 §5.2 payload structure types.
namespace h264 {
inline constexpr uint8_t kSlice = 1;
inline constexpr uint8_t kIdr = 5;
inline constexpr uint8_t kSei = 6;
inline constexpr uint8_t kSps = 7;
inline constexpr uint8_t kPps = 8;
inline constexpr uint8_t kAud = 9;
inline constexpr uint8_t kStapA = 24;  // RFC 6184 §5.7.1
inline constexpr uint8_t kStapB = 25;
inline constexpr uint8_t kMtap16 = 26;
inline constexpr uint8_t kMtap24 = 27;
inline constexpr uint8_t kFuA = 28;  // RFC 6184 §5.8
inline constexpr uint8_t kFuB = 29;
inline constexpr uint8_t kTypeMask = 0x1F;
inline constexpr uint8_t kNriMask = 0x60;
inline constexpr uint8_t kForbiddenBit = 0x80;

inline uint8_t NalType(uint8_t header) { return header & kTypeMask; }
}  // namespace h264

// Splits an Annex B byte stream at its start codes (00 00 01 or 00 00 00 01) and appends a view of each NAL
// unit (without its start code; trailing zero bytes belong to the next start code) to `nalus`. Bytes before
// the first start code are ignored; empty NAL units are skipped.
void SplitAnnexB(ByteSpan stream, std::vector<ByteSpan>& nalus);

// Packetizes H.264 access units in packetization-mode 1. NAL units that fit are sent as single NAL unit
// packets, or aggregated with following small ones into STAP-A packets (§5.7.1); larger ones are split into
// FU-A fragments (§5.8). The marker bit is set on the last packet of the access unit (§5.1).
class H264Packetizer {
 public:
  static constexpr size_t kMaxAccessUnitSize = 4 * 1024 * 1024;
  static constexpr size_t kMaxNalUnits = 1024;

  explicit H264Packetizer(size_t max_payload_size = 1200);

  // `access_unit` is an Annex B byte stream. kInvalidArgument when it has no NAL unit, a NAL unit of type 0
  // or 24-31 (RTP-only types, §5.2), or the payload size is too small for an FU-A fragment; kLimitExceeded
  // above the size/count limits.
  Status Packetize(ByteSpan access_unit, uint32_t rtp_timestamp);
  std::optional<OutgoingPayload> NextPayload();
  size_t pending_payloads() const { return ranges_.size() - next_; }

 private:
  struct Range {
    size_t offset;
    size_t size;
  };
  void AddSingle(ByteSpan nalu);
  void AddStapA(const std::vector<ByteSpan>& nalus, size_t begin, size_t end);
  void AddFuA(ByteSpan nalu);

  size_t max_payload_size_;
  uint32_t rtp_timestamp_ = 0;
  std::vector<ByteSpan> nalus_;
  std::vector<uint8_t> buffer_;
  std::vector<Range> ranges_;
  size_t next_ = 0;
};

// What one depacketized H.264 packet tells about its access unit.
struct H264DepacketizedPacket {
  uint8_t packet_type = 0;  // NAL type of the payload header: 1-23, kStapA or kFuA
  size_t nal_units = 0;     // complete or starting NAL units written
  bool has_idr = false;     // an IDR slice (or the start of one) is in this packet
  bool has_sps = false;
  bool has_pps = false;
  bool fu_start = false;  // FU-A S bit
  bool fu_end = false;    // FU-A E bit
  // A heuristic start of an access unit: the packet begins with an AUD, SPS, PPS or SEI NAL unit, or with the
  // first fragment/whole of a slice whose first_mb_in_slice is 0 (its ue(v) is the single bit '1'). The
  // jitter buffer also infers starts from timestamps and marker bits; this is only used when the previous
  // packet is lost.
  bool access_unit_start = false;
};

// Depacketizes one RTP payload, appending Annex B output (a 4-byte start code before each NAL unit; FU-A
// middle and end fragments append only their bytes) to `out`. On error nothing is appended. kUnsupported for
// the interleaved-mode types (STAP-B, MTAP, FU-B) and undefined types 0, 30, 31 (§5.2: receivers ignore
// them); kMalformed for bad STAP-A lengths, an FU-A with both S and E, or an FU-A carrying an aggregation
// type.
Result<H264DepacketizedPacket> DepacketizeH264(ByteSpan payload, std::vector<uint8_t>& out);

// H.264 profiles as SDP offer/answer distinguishes them (RFC 6184 §8.1 profile-level-id: profile_idc,
// profile-iop = constraint_set0..5 flags, level_idc; profile semantics from H.264 Annex A.2).
enum class H264Profile : uint8_t {
  kConstrainedBaseline,
  kBaseline,
  kMain,
  kExtended,
  kHigh,
  kConstrainedHigh,
  kHigh10,
  kHigh422,
  kHigh444,
};
const char* ToString(H264Profile profile);

struct H264ProfileLevelId {
  H264Profile profile = H264Profile::kConstrainedBaseline;
  uint8_t profile_idc = 0x42;
  uint8_t profile_iop = 0xE0;
  uint8_t level_idc = 31;  // level * 10 (3.1 = 31)
  bool level_1b = false;   // level 1b: level_idc 11 with constraint_set3 in Baseline/Main/Extended (A.3.1)

  // Parses the 6 hex digits of profile-level-id. nullopt for a malformed value or an unknown profile.
  static std::optional<H264ProfileLevelId> Parse(std::string_view hex);
  // The 6 lowercase hex digits.
  std::string ToString() const;
  // Level as a comparable number: level_idc, with 1b placed between 1 (10) and 1.1 (11) as 10.5 -> returns
  // 10*2+1.
  int LevelOrder() const;
};

// RFC 6184 §8.2.2 offer/answer: two profile-level-ids describe the same codec when their profiles are equal;
// the level is negotiated separately (the answer's level is at most the offer's unless
// level-asymmetry-allowed).
bool H264SameProfile(const H264ProfileLevelId& a, const H264ProfileLevelId& b);
// The profile-level-id to answer with: the offer's profile with the lower of the two levels (§8.2.2 when
// level-asymmetry-allowed is not used). nullopt when the profiles differ.
std::optional<H264ProfileLevelId> H264NegotiateProfileLevelId(const H264ProfileLevelId& offer,
                                                              const H264ProfileLevelId& local);

}  // namespace tandem::media
