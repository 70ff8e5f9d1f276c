#include "rtp/rtx.h"

#include <cstring>

namespace tandem::rtp {
namespace {

// Changes the id of extension element `from` to `to` in `packet` (a copy of the header `view` was parsed
// from), if the form allows `to`. RFC 8285 §4.2: one-byte element header ID(4)|L(4) right before the value;
// §4.3: ID(8), L(8).
void RelabelExtension(MutableByteSpan packet, const RtpPacketView& view, uint8_t from, uint8_t to) {
  if (from == 0 || to == 0 || view.FindExtension(to) != nullptr) return;
  const ExtensionElement* e = view.FindExtension(from);
  if (e == nullptr) return;
  if (view.extension_form() == ExtensionForm::kOneByte) {
    if (to > kMaxOneByteExtensionId) return;
    uint8_t& b = packet[e->offset - 1];
    b = static_cast<uint8_t>((to << 4) | (b & 0x0F));
  } else if (view.extension_form() == ExtensionForm::kTwoByte) {
    packet[e->offset - 2] = to;
  }
}

}  // namespace

Result<size_t> BuildRtxPacket(const RtpPacketView& original, const RtxParams& rtx, MutableByteSpan out,
                              const ExtensionMap* map) {
  const size_t header = original.header_size();
  const size_t size = header + 2 + original.payload_size();
  if (size > out.size() || size > kMaxPacketSize) {
    return MakeError(ErrorCode::kLimitExceeded, "rtx: buffer too small");
  }
  std::memcpy(out.data(), original.bytes().data(), header);
  out[0] &= static_cast<uint8_t>(~0x20);  // the original's padding is not carried
  WritePayloadType(out, rtx.payload_type);
  WriteSequenceNumber(out, rtx.sequence_number);
  WriteSsrc(out, rtx.ssrc);
  StoreBe16(&out[header], original.sequence_number());  // RFC 4588 §4: OSN
  if (original.payload_size() > 0) {
    std::memcpy(&out[header + 2], original.payload().data(), original.payload_size());
  }
  if (map != nullptr) {
    RelabelExtension(out, original, map->IdOf(ExtensionType::kRtpStreamId),
                     map->IdOf(ExtensionType::kRepairedRtpStreamId));
  }
  return size;
}

Result<size_t> RestoreFromRtx(const RtpPacketView& rtx, uint32_t media_ssrc, uint8_t media_payload_type,
                              MutableByteSpan out, const ExtensionMap* map) {
  if (rtx.payload_size() < 2) return MakeError(ErrorCode::kTruncated, "rtx: no original sequence number");
  const size_t header = rtx.header_size();
  const size_t size = rtx.header_size() + rtx.payload_size() - 2;
  if (size > out.size()) return MakeError(ErrorCode::kLimitExceeded, "rtx: buffer too small");
  std::memcpy(out.data(), rtx.bytes().data(), header);
  out[0] &= static_cast<uint8_t>(~0x20);  // the RTX packet's own padding is not the original's
  WritePayloadType(out, media_payload_type);
  WriteSequenceNumber(out, LoadBe16(rtx.payload().data()));
  WriteSsrc(out, media_ssrc);
  if (rtx.payload_size() > 2) std::memcpy(&out[header], rtx.payload().data() + 2, rtx.payload_size() - 2);
  if (map != nullptr) {
    RelabelExtension(out, rtx, map->IdOf(ExtensionType::kRepairedRtpStreamId),
                     map->IdOf(ExtensionType::kRtpStreamId));
  }
  return size;
}

Result<size_t> RtxSender::Packetize(ByteSpan original, MutableByteSpan out) {
  auto view = RtpPacketView::Parse(original);
  if (!view.ok()) return view.error();
  const int16_t rtx_pt = rtx_pt_[view->payload_type()];
  if (rtx_pt < 0) return MakeError(ErrorCode::kNotFound, "rtx: no RTX payload type for this payload type");
  auto size = BuildRtxPacket(*view, {ssrc_, static_cast<uint8_t>(rtx_pt), next_seq_}, out, &map_);
  if (size.ok()) ++next_seq_;
  return size;
}

}  // namespace tandem::rtp
