#include "datachannel/dcep.h"

namespace tandem::datachannel {

ChannelType ToChannelType(const Reliability& r) {
  uint8_t type = 0x00;
  if (r.max_retransmits) {
    type = 0x01;
  } else if (r.max_packet_lifetime_ms) {
    type = 0x02;
  }
  if (!r.ordered) type |= 0x80;
  return static_cast<ChannelType>(type);
}

Result<OpenMessage> OpenMessage::Parse(ByteSpan payload) {
  ByteReader reader(payload);
  uint8_t type = 0, channel_type = 0;
  uint16_t priority = 0, label_length = 0, protocol_length = 0;
  uint32_t reliability_parameter = 0;
  if (!reader.ReadU8(type) || !reader.ReadU8(channel_type) || !reader.ReadU16(priority) ||
      !reader.ReadU32(reliability_parameter) || !reader.ReadU16(label_length) ||
      !reader.ReadU16(protocol_length)) {
    return MakeError(ErrorCode::kTruncated, "DATA_CHANNEL_OPEN shorter than its 12-byte header");
  }
  if (type != kType) return MakeError(ErrorCode::kMalformed, "not a DATA_CHANNEL_OPEN");
  // RFC 8832 §5.1: label and protocol fill the rest exactly (no padding).
  if (reader.remaining() != size_t{label_length} + protocol_length) {
    return MakeError(ErrorCode::kMalformed, "DATA_CHANNEL_OPEN lengths do not match its size");
  }
  if (label_length > kMaxStringBytes || protocol_length > kMaxStringBytes) {
    return MakeError(ErrorCode::kLimitExceeded, "DATA_CHANNEL_OPEN label or protocol too long");
  }
  OpenMessage open;
  open.priority = priority;
  open.reliability.ordered = (channel_type & 0x80) == 0;
  switch (channel_type & 0x7f) {
    case 0x00:
      // §5.1: "the Reliability Parameter MUST be ignored" for reliable channels; some stacks send garbage
      // there.
      break;
    case 0x01:
      open.reliability.max_retransmits =
          static_cast<uint16_t>(std::min<uint32_t>(reliability_parameter, 0xffff));
      break;
    case 0x02:
      open.reliability.max_packet_lifetime_ms =
          static_cast<uint16_t>(std::min<uint32_t>(reliability_parameter, 0xffff));
      break;
    default:
      return MakeError(ErrorCode::kMalformed, "DATA_CHANNEL_OPEN with an unknown channel type");
  }
  ByteSpan label, protocol;
  reader.ReadBytes(label_length, label);
  reader.ReadBytes(protocol_length, protocol);
  open.label.assign(AsStringView(label));
  open.protocol.assign(AsStringView(protocol));
  return open;
}

void OpenMessage::SerializeTo(std::vector<uint8_t>& out) const {
  out.clear();
  ByteWriter w(out);
  w.WriteU8(kType);
  w.WriteU8(static_cast<uint8_t>(ToChannelType(reliability)));
  w.WriteU16(priority);
  uint32_t parameter = 0;
  if (reliability.max_retransmits) {
    parameter = *reliability.max_retransmits;
  } else if (reliability.max_packet_lifetime_ms) {
    parameter = *reliability.max_packet_lifetime_ms;
  }
  w.WriteU32(parameter);
  w.WriteU16(static_cast<uint16_t>(label.size()));
  w.WriteU16(static_cast<uint16_t>(protocol.size()));
  w.WriteBytes(AsBytes(label));
  w.WriteBytes(AsBytes(protocol));
}

}  // namespace tandem::datachannel
