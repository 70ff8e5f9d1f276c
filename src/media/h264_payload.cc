#include "media/h264_payload.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace tandem::media {
namespace {

constexpr uint8_t kStartCode[4] = {0, 0, 0, 1};
constexpr uint8_t kFuStartBit = 0x80;  // RFC 6184 §5.8 FU header S
constexpr uint8_t kFuEndBit = 0x40;    // E
constexpr size_t kStapALengthSize = 2;
constexpr size_t kFuAHeaderSize = 2;  // FU indicator + FU header

// A slice NAL unit's slice header starts with first_mb_in_slice as ue(v); 0 is coded as the single bit '1'
// (H.264 §9.1), so the first payload byte after the NAL header has its top bit set exactly when the slice is
// the first of its picture.
bool FirstSliceOfPicture(uint8_t first_slice_byte) { return (first_slice_byte & 0x80) != 0; }

bool StartsAccessUnit(uint8_t nal_type, ByteSpan after_header) {
  switch (nal_type) {
    case h264::kAud:
    case h264::kSps:
    case h264::kPps:
    case h264::kSei:
      return true;
    case h264::kSlice:
    case h264::kIdr:
      return !after_header.empty() && FirstSliceOfPicture(after_header[0]);
    default:
      return false;
  }
}

void NoteNalType(uint8_t type, H264DepacketizedPacket& p) {
  if (type == h264::kIdr) p.has_idr = true;
  if (type == h264::kSps) p.has_sps = true;
  if (type == h264::kPps) p.has_pps = true;
}

void AppendNal(std::vector<uint8_t>& out, ByteSpan nal) {
  out.insert(out.end(), kStartCode, kStartCode + sizeof(kStartCode));
  out.insert(out.end(), nal.begin(), nal.end());
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// constraint_setN_flag is bit (7 - N) of profile-iop (RFC 6184 §8.1).
constexpr uint8_t kConstraintSet0 = 0x80;
constexpr uint8_t kConstraintSet1 = 0x40;
constexpr uint8_t kConstraintSet3 = 0x10;
constexpr uint8_t kConstraintSet4 = 0x08;
constexpr uint8_t kConstraintSet5 = 0x04;

bool IsBaselineFamily(uint8_t profile_idc) {
  return profile_idc == 66 || profile_idc == 77 || profile_idc == 88;
}

}  // namespace

void SplitAnnexB(ByteSpan s, std::vector<ByteSpan>& nalus) {
  const size_t n = s.size();
  size_t i = 0;
  // Find the first start code.
  size_t nal_begin = SIZE_MAX;
  while (i + 3 <= n) {
    if (s[i] == 0 && s[i + 1] == 0 && s[i + 2] == 1) {
      nal_begin = i + 3;
      i += 3;
      break;
    }
    ++i;
  }
  if (nal_begin == SIZE_MAX) return;
  while (true) {
    size_t next = SIZE_MAX;
    size_t j = nal_begin;
    while (j + 3 <= n) {
      if (s[j + 2] > 1) {
        j += 3;  // no start code can begin at j, j+1 or j+2 ending before j+3
        continue;
      }
      if (s[j] == 0 && s[j + 1] == 0 && s[j + 2] == 1) {
        next = j;
        break;
      }
      ++j;
    }
    size_t end = next == SIZE_MAX ? n : next;
    // Zero bytes before a start code are trailing_zero_8bits / the 4-byte form's leading zero (Annex B.1).
    if (next != SIZE_MAX) {
      while (end > nal_begin && s[end - 1] == 0) --end;
    }
    if (end > nal_begin) nalus.push_back(s.subspan(nal_begin, end - nal_begin));
    if (next == SIZE_MAX) break;
    nal_begin = next + 3;
  }
}

H264Packetizer::H264Packetizer(size_t max_payload_size) : max_payload_size_(max_payload_size) {}

void H264Packetizer::AddSingle(ByteSpan nalu) {
  const size_t offset = buffer_.size();
  buffer_.insert(buffer_.end(), nalu.begin(), nalu.end());
  ranges_.push_back({offset, nalu.size()});
}

void H264Packetizer::AddStapA(const std::vector<ByteSpan>& nalus, size_t begin, size_t end) {
  // RFC 6184 §5.7: F is the OR of the aggregated F bits, NRI their maximum.
  uint8_t f = 0, nri = 0;
  for (size_t i = begin; i < end; ++i) {
    f |= nalus[i][0] & h264::kForbiddenBit;
    nri = std::max<uint8_t>(nri, nalus[i][0] & h264::kNriMask);
  }
  const size_t offset = buffer_.size();
  buffer_.push_back(static_cast<uint8_t>(f | nri | h264::kStapA));
  for (size_t i = begin; i < end; ++i) {
    const size_t len = nalus[i].size();
    buffer_.push_back(static_cast<uint8_t>(len >> 8));
    buffer_.push_back(static_cast<uint8_t>(len));
    buffer_.insert(buffer_.end(), nalus[i].begin(), nalus[i].end());
  }
  ranges_.push_back({offset, buffer_.size() - offset});
}

void H264Packetizer::AddFuA(ByteSpan nalu) {
  // RFC 6184 §5.8: the NAL header is not sent; its F and NRI go into the FU indicator and its type into the
  // FU header of every fragment.
  const uint8_t indicator =
      static_cast<uint8_t>((nalu[0] & (h264::kForbiddenBit | h264::kNriMask)) | h264::kFuA);
  const uint8_t type = h264::NalType(nalu[0]);
  const ByteSpan body = nalu.subspan(1);
  const size_t capacity = max_payload_size_ - kFuAHeaderSize;
  const size_t count = (body.size() + capacity - 1) / capacity;
  const size_t base = body.size() / count;
  const size_t larger = body.size() % count;
  size_t in = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t len = base + (i < larger ? 1 : 0);
    uint8_t header = type;
    if (i == 0) header |= kFuStartBit;
    if (i + 1 == count) header |= kFuEndBit;
    const size_t offset = buffer_.size();
    buffer_.push_back(indicator);
    buffer_.push_back(header);
    buffer_.insert(buffer_.end(), body.begin() + in, body.begin() + in + len);
    ranges_.push_back({offset, kFuAHeaderSize + len});
    in += len;
  }
}

Status H264Packetizer::Packetize(ByteSpan access_unit, uint32_t rtp_timestamp) {
  ranges_.clear();
  buffer_.clear();
  nalus_.clear();
  next_ = 0;
  if (access_unit.size() > kMaxAccessUnitSize) {
    return MakeError(ErrorCode::kLimitExceeded, "H.264 packetizer: access unit too large");
  }
  if (max_payload_size_ <= kFuAHeaderSize) {
    return MakeError(ErrorCode::kInvalidArgument, "H.264 packetizer: max payload size too small");
  }
  SplitAnnexB(access_unit, nalus_);
  if (nalus_.empty()) return MakeError(ErrorCode::kInvalidArgument, "H.264 packetizer: no NAL unit");
  if (nalus_.size() > kMaxNalUnits) {
    return MakeError(ErrorCode::kLimitExceeded, "H.264 packetizer: too many NALs");
  }
  for (ByteSpan nal : nalus_) {
    // Types 0 and 24-31 are unspecified in H.264 and mean aggregation/fragmentation units in RTP (RFC 6184
    // §5.2): sent as single NAL unit packets they would be misread.
    const uint8_t type = h264::NalType(nal[0]);
    if (type == 0 || type >= h264::kStapA) {
      return MakeError(ErrorCode::kInvalidArgument, "H.264 packetizer: NAL unit type 0 or 24-31");
    }
  }
  buffer_.reserve(access_unit.size() + nalus_.size() * 4 + access_unit.size() / max_payload_size_ * 2 + 16);

  size_t i = 0;
  while (i < nalus_.size()) {
    const ByteSpan nal = nalus_[i];
    if (nal.size() > max_payload_size_) {
      if (nal.size() < 2) return MakeError(ErrorCode::kInvalidArgument, "H.264 packetizer: NAL too short");
      AddFuA(nal);
      ++i;
      continue;
    }
    // Greedily aggregate the following NAL units that fit together into one STAP-A (§5.7.1).
    size_t j = i;
    size_t size = 1;  // STAP-A NAL header
    while (j < nalus_.size() && size + kStapALengthSize + nalus_[j].size() <= max_payload_size_ &&
           nalus_[j].size() <= 0xFFFF) {
      size += kStapALengthSize + nalus_[j].size();
      ++j;
    }
    if (j - i >= 2) {
      AddStapA(nalus_, i, j);
      i = j;
    } else {
      AddSingle(nal);
      ++i;
    }
  }
  rtp_timestamp_ = rtp_timestamp;
  return OkStatus();
}

std::optional<OutgoingPayload> H264Packetizer::NextPayload() {
  if (next_ >= ranges_.size()) return std::nullopt;
  const Range r = ranges_[next_++];
  OutgoingPayload p;
  p.payload = ByteSpan(buffer_.data() + r.offset, r.size);
  p.marker = (next_ == ranges_.size());
  p.rtp_timestamp = rtp_timestamp_;
  return p;
}

Result<H264DepacketizedPacket> DepacketizeH264(ByteSpan payload, std::vector<uint8_t>& out) {
  if (payload.empty()) return MakeError(ErrorCode::kTruncated, "H.264: empty payload");
  H264DepacketizedPacket p;
  const uint8_t type = h264::NalType(payload[0]);
  p.packet_type = type;
  const size_t rollback = out.size();

  if (type >= 1 && type <= 23) {
    // §5.6 single NAL unit packet: the payload is the NAL unit.
    NoteNalType(type, p);
    p.access_unit_start = StartsAccessUnit(type, payload.subspan(1));
    p.nal_units = 1;
    AppendNal(out, payload);
    return p;
  }
  if (type == h264::kStapA) {
    // §5.7.1: STAP-A NAL header, then (16-bit size, NAL unit) repeated to the end of the payload.
    ByteReader r(payload.subspan(1));
    bool first = true;
    while (!r.empty()) {
      uint16_t len = 0;
      ByteSpan nal;
      if (!r.ReadU16(len) || len == 0 || !r.ReadBytes(len, nal)) {
        out.resize(rollback);
        return MakeError(ErrorCode::kMalformed, "H.264: bad STAP-A NAL unit size");
      }
      const uint8_t nal_type = h264::NalType(nal[0]);
      if (nal_type == 0 || nal_type >= h264::kStapA) {
        out.resize(rollback);
        return MakeError(ErrorCode::kMalformed, "H.264: STAP-A carries an aggregation or fragment unit");
      }
      NoteNalType(nal_type, p);
      if (first) p.access_unit_start = StartsAccessUnit(nal_type, nal.subspan(1));
      first = false;
      ++p.nal_units;
      AppendNal(out, nal);
    }
    if (p.nal_units == 0) return MakeError(ErrorCode::kMalformed, "H.264: empty STAP-A");
    return p;
  }
  if (type == h264::kFuA) {
    // §5.8: FU indicator, FU header (S E R Type), fragment.
    if (payload.size() < kFuAHeaderSize + 1) return MakeError(ErrorCode::kTruncated, "H.264: short FU-A");
    const uint8_t fu_header = payload[1];
    p.fu_start = (fu_header & kFuStartBit) != 0;
    p.fu_end = (fu_header & kFuEndBit) != 0;
    const uint8_t nal_type = h264::NalType(fu_header);
    if (p.fu_start && p.fu_end) return MakeError(ErrorCode::kMalformed, "H.264: FU-A with both S and E");
    if (nal_type == 0 || nal_type >= h264::kStapA) {
      return MakeError(ErrorCode::kMalformed, "H.264: FU-A carries an aggregation or fragment unit");
    }
    const ByteSpan fragment = payload.subspan(kFuAHeaderSize);
    if (p.fu_start) {
      // Rebuild the NAL header from the indicator's F and NRI and the FU header's type.
      NoteNalType(nal_type, p);
      p.access_unit_start = StartsAccessUnit(nal_type, fragment);
      p.nal_units = 1;
      out.insert(out.end(), kStartCode, kStartCode + sizeof(kStartCode));
      out.push_back(static_cast<uint8_t>((payload[0] & (h264::kForbiddenBit | h264::kNriMask)) | nal_type));
    }
    out.insert(out.end(), fragment.begin(), fragment.end());
    return p;
  }
  return MakeError(ErrorCode::kUnsupported, "H.264: payload type not allowed in packetization-mode 1");
}

const char* ToString(H264Profile profile) {
  switch (profile) {
    case H264Profile::kConstrainedBaseline:
      return "constrained-baseline";
    case H264Profile::kBaseline:
      return "baseline";
    case H264Profile::kMain:
      return "main";
    case H264Profile::kExtended:
      return "extended";
    case H264Profile::kHigh:
      return "high";
    case H264Profile::kConstrainedHigh:
      return "constrained-high";
    case H264Profile::kHigh10:
      return "high-10";
    case H264Profile::kHigh422:
      return "high-4:2:2";
    case H264Profile::kHigh444:
      return "high-4:4:4-predictive";
  }
  return "?";
}

std::optional<H264ProfileLevelId> H264ProfileLevelId::Parse(std::string_view hex) {
  if (hex.size() != 6) return std::nullopt;
  uint8_t bytes[3];
  for (int i = 0; i < 3; ++i) {
    const int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  H264ProfileLevelId id;
  id.profile_idc = bytes[0];
  id.profile_iop = bytes[1];
  id.level_idc = bytes[2];
  const uint8_t iop = bytes[1];
  // H.264 Annex A.2: a bitstream that obeys the constraints of several profiles says so with constraint_set
  // flags; Constrained Baseline is what Baseline (66) with constraint_set1, Main (77) with constraint_set0,
  // or Extended (88) with constraint_set0 and constraint_set1 all describe (A.2.1.1).
  switch (id.profile_idc) {
    case 66:
      id.profile = (iop & kConstraintSet1) ? H264Profile::kConstrainedBaseline : H264Profile::kBaseline;
      break;
    case 77:
      id.profile = (iop & kConstraintSet0) ? H264Profile::kConstrainedBaseline : H264Profile::kMain;
      break;
    case 88:
      if ((iop & kConstraintSet0) && (iop & kConstraintSet1)) {
        id.profile = H264Profile::kConstrainedBaseline;
      } else if (iop & kConstraintSet0) {
        id.profile = H264Profile::kBaseline;
      } else {
        id.profile = H264Profile::kExtended;
      }
      break;
    case 100:
      // A.2.4.2 Constrained High: High with constraint_set4 and constraint_set5.
      id.profile = ((iop & kConstraintSet4) && (iop & kConstraintSet5)) ? H264Profile::kConstrainedHigh
                                                                        : H264Profile::kHigh;
      break;
    case 110:
      id.profile = H264Profile::kHigh10;
      break;
    case 122:
      id.profile = H264Profile::kHigh422;
      break;
    case 244:
      id.profile = H264Profile::kHigh444;
      break;
    default:
      return std::nullopt;
  }
  // A.3.1 / A.3.2: level 1b is level_idc 11 with constraint_set3 in the Baseline family, level_idc 9
  // elsewhere.
  id.level_1b = (IsBaselineFamily(id.profile_idc) && id.level_idc == 11 && (iop & kConstraintSet3)) ||
                (!IsBaselineFamily(id.profile_idc) && id.level_idc == 9);
  if (id.level_idc == 0) return std::nullopt;
  return id;
}

std::string H264ProfileLevelId::ToString() const {
  char buf[7];
  std::snprintf(buf, sizeof(buf), "%02x%02x%02x", profile_idc, profile_iop, level_idc);
  return buf;
}

int H264ProfileLevelId::LevelOrder() const {
  if (level_1b) return 10 * 2 + 1;
  return level_idc * 2;
}

bool H264SameProfile(const H264ProfileLevelId& a, const H264ProfileLevelId& b) {
  return a.profile == b.profile;
}

std::optional<H264ProfileLevelId> H264NegotiateProfileLevelId(const H264ProfileLevelId& offer,
                                                              const H264ProfileLevelId& local) {
  if (!H264SameProfile(offer, local)) return std::nullopt;
  H264ProfileLevelId answer = offer;
  if (local.LevelOrder() < offer.LevelOrder()) {
    answer.level_1b = local.level_1b;
    if (local.level_1b) {
      // Express 1b the way the offer's profile family does (A.3.1 / A.3.2).
      if (IsBaselineFamily(answer.profile_idc)) {
        answer.level_idc = 11;
        answer.profile_iop |= kConstraintSet3;
      } else {
        answer.level_idc = 9;
      }
    } else {
      answer.level_idc = local.level_idc;
      if (IsBaselineFamily(answer.profile_idc) && answer.level_idc == 11) {
        answer.profile_iop &= static_cast<uint8_t>(~kConstraintSet3);  // 1.1, not 1b
      }
    }
  }
  return answer;
}

}  // namespace tandem::media
