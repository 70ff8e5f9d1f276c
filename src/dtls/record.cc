#include "dtls/record.h"

namespace tandem::dtls {

std::optional<RecordHeader> RecordHeader::Parse(ByteSpan data) {
  ByteReader reader(data);
  uint8_t type = 0;
  uint16_t version = 0, epoch = 0, length = 0, seq_high = 0;
  uint32_t seq_low = 0;
  if (!reader.ReadU8(type) || !reader.ReadU16(version) || !reader.ReadU16(epoch) ||
      !reader.ReadU16(seq_high) || !reader.ReadU32(seq_low) || !reader.ReadU16(length)) {
    return std::nullopt;
  }
  if (type < static_cast<uint8_t>(ContentType::kChangeCipherSpec) ||
      type > static_cast<uint8_t>(ContentType::kApplicationData)) {
    return std::nullopt;  // includes heartbeat (24, RFC 6520) and the DTLS 1.3 unified header (RFC 9147 §4)
  }
  if ((version >> 8) != 0xFE) return std::nullopt;
  if (length > kMaxFragment || reader.remaining() < length) return std::nullopt;
  RecordHeader h;
  h.type = static_cast<ContentType>(type);
  h.version = version;
  h.epoch = epoch;
  h.sequence_number = (uint64_t{seq_high} << 32) | seq_low;
  h.length = length;
  return h;
}

bool IsWellFormedRecord(const RecordHeader& header, ByteSpan record) {
  if (header.epoch != 0) return true;
  ByteReader reader(record.subspan(RecordHeader::kSize));
  switch (header.type) {
    case ContentType::kChangeCipherSpec:
      return header.length == 1 && record[RecordHeader::kSize] == 1;
    case ContentType::kAlert: {
      const uint8_t level = record[RecordHeader::kSize];
      return header.length == 2 && (level == 1 || level == 2);
    }
    case ContentType::kApplicationData:
      return false;
    case ContentType::kHandshake: {
      // RFC 6347 §4.2.2: msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3).
      constexpr size_t kHandshakeHeader = 12;
      uint8_t msg_type = 0;
      uint16_t seq = 0;
      uint8_t b[3];
      auto read24 = [&reader, &b](uint32_t& out) {
        if (!reader.ReadU8(b[0]) || !reader.ReadU8(b[1]) || !reader.ReadU8(b[2])) return false;
        out = (uint32_t{b[0]} << 16) | (uint32_t{b[1]} << 8) | b[2];
        return true;
      };
      uint32_t length = 0, offset = 0, fragment_length = 0;
      if (header.length < kHandshakeHeader || !reader.ReadU8(msg_type) || !read24(length) ||
          !reader.ReadU16(seq) || !read24(offset) || !read24(fragment_length)) {
        return false;
      }
      return fragment_length == header.length - kHandshakeHeader && offset <= length &&
             fragment_length <= length - offset;
    }
  }
  return false;
}

}  // namespace tandem::dtls
