#include "rtp/rtp_packet.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace tandem::rtp {

Result<RtpPacketView> RtpPacketView::Parse(ByteSpan packet) {
  if (packet.size() < kFixedHeaderSize) return MakeError(ErrorCode::kTruncated, "rtp: shorter than 12 bytes");
  if (packet.size() > kMaxPacketSize)
    return MakeError(ErrorCode::kLimitExceeded, "rtp: larger than 65535 bytes");
  if ((packet[0] >> 6) != 2) return MakeError(ErrorCode::kMalformed, "rtp: version is not 2");

  RtpPacketView v;
  v.bytes_ = packet;
  size_t pos = kFixedHeaderSize + 4 * (packet[0] & 0x0F);
  if (pos > packet.size()) return MakeError(ErrorCode::kTruncated, "rtp: CSRC list past the end");

  if (packet[0] & 0x10) {
    // RFC 3550 §5.3.1: 16-bit profile-defined field, 16-bit length in 32-bit words (header word excluded).
    if (pos + 4 > packet.size())
      return MakeError(ErrorCode::kTruncated, "rtp: extension header past the end");
    const uint16_t profile = LoadBe16(&packet[pos]);
    const size_t block = size_t{LoadBe16(&packet[pos + 2])} * 4;
    pos += 4;
    if (pos + block > packet.size())
      return MakeError(ErrorCode::kTruncated, "rtp: extension block past the end");
    v.extension_profile_ = profile;
    v.extension_offset_ = static_cast<uint16_t>(pos);
    v.extension_size_ = static_cast<uint16_t>(block);
    if (profile == kOneByteExtensionProfile) {
      v.form_ = ExtensionForm::kOneByte;
    } else if ((profile & 0xFFF0) == kTwoByteExtensionProfile) {
      v.form_ = ExtensionForm::kTwoByte;
    } else {
      v.form_ = ExtensionForm::kOther;
    }
    size_t i = pos;
    const size_t end = pos + block;
    while (v.form_ != ExtensionForm::kOther && i < end) {
      uint8_t id = 0;
      size_t size = 0;
      if (v.form_ == ExtensionForm::kOneByte) {
        const uint8_t b = packet[i];
        if (b == 0) {  // RFC 8285 §4.2: a zero byte is padding
          ++i;
          continue;
        }
        id = b >> 4;
        size = static_cast<size_t>(b & 0x0F) + 1;
        // RFC 8285 §4.2: id 15 ends processing; an id-0 byte with a length is not padding either.
        if (id == 15 || id == 0) break;
        ++i;
      } else {
        id = packet[i];
        if (id == 0) {  // RFC 8285 §4.3: padding is a single zero byte
          ++i;
          continue;
        }
        if (i + 2 > end) {
          v.extensions_truncated_ = true;
          break;
        }
        size = packet[i + 1];
        i += 2;
      }
      if (i + size > end) {
        v.extensions_truncated_ = true;
        break;
      }
      if (v.element_count_ == kMaxExtensionElements) {
        return MakeError(ErrorCode::kLimitExceeded, "rtp: too many header extension elements");
      }
      v.elements_[v.element_count_++] = {id, static_cast<uint8_t>(size), static_cast<uint16_t>(i)};
      i += size;
    }
    pos = end;
  }

  size_t padding = 0;
  if (packet[0] & 0x20) {
    // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
    padding = packet.back();
    if (padding == 0) return MakeError(ErrorCode::kMalformed, "rtp: zero padding count");
    if (pos + padding > packet.size())
      return MakeError(ErrorCode::kMalformed, "rtp: padding past the header");
  }
  v.header_size_ = static_cast<uint16_t>(pos);
  v.padding_size_ = static_cast<uint8_t>(padding);
  v.payload_size_ = static_cast<uint16_t>(packet.size() - pos - padding);
  return v;
}

const ExtensionElement* RtpPacketView::FindExtension(uint8_t id) const {
  for (size_t i = 0; i < element_count_; ++i) {
    if (elements_[i].id == id) return &elements_[i];
  }
  return nullptr;
}

std::optional<ByteSpan> RtpPacketView::GetExtension(uint8_t id) const {
  const ExtensionElement* e = FindExtension(id);
  if (e == nullptr) return std::nullopt;
  return bytes_.subspan(e->offset, e->size);
}

bool RtpPacketBuilder::AddCsrc(uint32_t csrc) {
  if (csrc_count_ == kMaxCsrcs) return false;
  csrcs_[csrc_count_++] = csrc;
  return true;
}

bool RtpPacketBuilder::SetExtension(uint8_t id, ByteSpan value) {
  if (id == 0 || value.size() > kMaxTwoByteExtensionSize) return false;
  RemoveExtension(id);
  if (extension_count_ == kMaxExtensions || extension_bytes_used_ + value.size() > kExtensionStorage)
    return false;
  Entry& e = extensions_[extension_count_++];
  e.id = id;
  e.size = static_cast<uint8_t>(value.size());
  e.offset = extension_bytes_used_;
  if (!value.empty()) std::memcpy(&extension_storage_[e.offset], value.data(), value.size());
  extension_bytes_used_ = static_cast<uint16_t>(extension_bytes_used_ + value.size());
  return true;
}

bool RtpPacketBuilder::RemoveExtension(uint8_t id) {
  for (size_t i = 0; i < extension_count_; ++i) {
    if (extensions_[i].id != id) continue;
    // Compact the storage so that repeated replacement cannot exhaust it.
    const Entry removed = extensions_[i];
    std::memmove(&extension_storage_[removed.offset], &extension_storage_[removed.offset + removed.size],
                 extension_bytes_used_ - removed.offset - removed.size);
    extension_bytes_used_ = static_cast<uint16_t>(extension_bytes_used_ - removed.size);
    for (size_t j = i; j + 1 < extension_count_; ++j) extensions_[j] = extensions_[j + 1];
    --extension_count_;
    for (size_t j = 0; j < extension_count_; ++j) {
      if (extensions_[j].offset > removed.offset) extensions_[j].offset -= removed.size;
    }
    return true;
  }
  return false;
}

ExtensionForm RtpPacketBuilder::extension_form() const {
  if (extension_count_ == 0) return ExtensionForm::kNone;
  if (force_two_byte_) return ExtensionForm::kTwoByte;
  for (size_t i = 0; i < extension_count_; ++i) {
    const Entry& e = extensions_[i];
    if (e.id > kMaxOneByteExtensionId || e.size == 0 || e.size > kMaxOneByteExtensionSize) {
      return ExtensionForm::kTwoByte;
    }
  }
  return ExtensionForm::kOneByte;
}

size_t RtpPacketBuilder::ExtensionBlockSize() const {
  const ExtensionForm form = extension_form();
  if (form == ExtensionForm::kNone) return 0;
  const size_t per_element = form == ExtensionForm::kOneByte ? 1 : 2;
  const size_t elements = per_element * extension_count_ + extension_bytes_used_;
  return 4 + ((elements + 3) & ~size_t{3});
}

size_t RtpPacketBuilder::HeaderSize() const {
  return kFixedHeaderSize + 4 * csrc_count_ + ExtensionBlockSize();
}

Result<size_t> RtpPacketBuilder::WriteHeader(MutableByteSpan out) const {
  const size_t header = HeaderSize();
  if (out.size() < header)
    return MakeError(ErrorCode::kLimitExceeded, "rtp: buffer too small for the header");
  const ExtensionForm form = extension_form();
  out[0] = static_cast<uint8_t>(0x80 | (form != ExtensionForm::kNone ? 0x10 : 0) | csrc_count_);
  out[1] = static_cast<uint8_t>((marker_ ? 0x80 : 0) | payload_type_);
  StoreBe16(&out[2], sequence_number_);
  StoreBe32(&out[4], timestamp_);
  StoreBe32(&out[8], ssrc_);
  size_t pos = kFixedHeaderSize;
  for (size_t i = 0; i < csrc_count_; ++i, pos += 4) StoreBe32(&out[pos], csrcs_[i]);
  if (form != ExtensionForm::kNone) {
    const size_t block = ExtensionBlockSize();
    // RFC 8285 §4.3: the two-byte form's profile is 0x100 followed by 4 application bits (zero here).
    StoreBe16(&out[pos],
              form == ExtensionForm::kOneByte ? kOneByteExtensionProfile : kTwoByteExtensionProfile);
    StoreBe16(&out[pos + 2], static_cast<uint16_t>((block - 4) / 4));
    const size_t end = pos + block;
    pos += 4;
    for (size_t i = 0; i < extension_count_; ++i) {
      const Entry& e = extensions_[i];
      if (form == ExtensionForm::kOneByte) {
        out[pos++] = static_cast<uint8_t>((e.id << 4) | (e.size - 1));  // RFC 8285 §4.2: L is length - 1
      } else {
        out[pos++] = e.id;
        out[pos++] = e.size;
      }
      if (e.size > 0) std::memcpy(&out[pos], &extension_storage_[e.offset], e.size);
      pos += e.size;
    }
    std::fill(out.begin() + static_cast<ptrdiff_t>(pos), out.begin() + static_cast<ptrdiff_t>(end), 0);
    pos = end;
  }
  return pos;
}

Result<size_t> RtpPacketBuilder::Build(MutableByteSpan out, ByteSpan payload, uint8_t padding) const {
  const size_t total = HeaderSize() + payload.size() + padding;
  if (total > out.size() || total > kMaxPacketSize) {
    return MakeError(ErrorCode::kLimitExceeded, "rtp: buffer too small for the packet");
  }
  auto header = WriteHeader(out);
  if (!header.ok()) return header.error();
  size_t pos = *header;
  if (!payload.empty()) std::memcpy(&out[pos], payload.data(), payload.size());
  pos += payload.size();
  if (padding > 0) {
    out[0] |= 0x20;
    std::fill(out.begin() + static_cast<ptrdiff_t>(pos), out.begin() + static_cast<ptrdiff_t>(pos + padding),
              0);
    pos += padding;
    out[pos - 1] = padding;
  }
  return pos;
}

void WriteMarker(MutableByteSpan packet, bool marker) {
  assert(packet.size() >= kFixedHeaderSize);
  packet[1] = static_cast<uint8_t>((packet[1] & 0x7F) | (marker ? 0x80 : 0));
}
void WritePayloadType(MutableByteSpan packet, uint8_t payload_type) {
  assert(packet.size() >= kFixedHeaderSize);
  packet[1] = static_cast<uint8_t>((packet[1] & 0x80) | (payload_type & 0x7F));
}
void WriteSequenceNumber(MutableByteSpan packet, uint16_t seq) {
  assert(packet.size() >= kFixedHeaderSize);
  StoreBe16(&packet[2], seq);
}
void WriteTimestamp(MutableByteSpan packet, uint32_t timestamp) {
  assert(packet.size() >= kFixedHeaderSize);
  StoreBe32(&packet[4], timestamp);
}
void WriteSsrc(MutableByteSpan packet, uint32_t ssrc) {
  assert(packet.size() >= kFixedHeaderSize);
  StoreBe32(&packet[8], ssrc);
}

MutableByteSpan MutableExtension(MutableByteSpan packet, const RtpPacketView& view, uint8_t id) {
  const ExtensionElement* e = view.FindExtension(id);
  if (e == nullptr || packet.size() < size_t{e->offset} + e->size) return {};
  return packet.subspan(e->offset, e->size);
}

}  // namespace tandem::rtp
