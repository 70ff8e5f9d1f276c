// The Data Channel Establishment Protocol (RFC 8832) messages and the data channel payload protocol
// identifiers (RFC 8831 §8). Value types with Parse/Serialize, like every wire format in the project.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace tandem::datachannel {

// SCTP payload protocol identifiers (RFC 8831 §8, RFC 8832 §8.1).
namespace ppid {
inline constexpr uint32_t kDcep = 50;
inline constexpr uint32_t kString = 51;
inline constexpr uint32_t kBinaryPartial = 52;  // deprecated (RFC 8831 §6.6); accepted, never sent
inline constexpr uint32_t kBinary = 53;
inline constexpr uint32_t kStringPartial = 54;  // deprecated; accepted, never sent
inline constexpr uint32_t kStringEmpty = 56;    // an empty string: SCTP cannot carry an empty message
inline constexpr uint32_t kBinaryEmpty = 57;
}  // namespace ppid

// RFC 8832 §5.1: the channel type byte. The high bit selects unordered delivery.
enum class ChannelType : uint8_t {
  kReliable = 0x00,
  kReliableUnordered = 0x80,
  kPartialReliableRexmit = 0x01,
  kPartialReliableRexmitUnordered = 0x81,
  kPartialReliableTimed = 0x02,
  kPartialReliableTimedUnordered = 0x82,
};

// How a channel delivers, as RTCDataChannelInit says it (ordered, maxRetransmits, maxPacketLifeTime).
struct Reliability {
  bool ordered = true;
  std::optional<uint16_t> max_retransmits;
  std::optional<uint16_t> max_packet_lifetime_ms;
  bool operator==(const Reliability&) const = default;
};

// RFC 8832 §5.1 DATA_CHANNEL_OPEN.
struct OpenMessage {
  static constexpr uint8_t kType = 0x03;
  // Upper bound on label and protocol: the wire allows 65535 bytes each; the W3C API limits them to 65535
  // too, but nobody needs more than this, and a bound keeps hostile opens cheap.
  static constexpr size_t kMaxStringBytes = 1024;

  Reliability reliability;
  uint16_t priority = 256;  // RFC 8831 §6.4 / W3C "low" = 128, "normal" (the default) = 256
  std::string label;
  std::string protocol;

  // kMalformed: wrong type, truncated, lengths that do not match, a reliability parameter with a reliable
  // type, unknown channel type; kLimitExceeded: label or protocol above kMaxStringBytes.
  static Result<OpenMessage> Parse(ByteSpan payload);
  void SerializeTo(std::vector<uint8_t>& out) const;
  bool operator==(const OpenMessage&) const = default;
};

// RFC 8832 §5.2 DATA_CHANNEL_ACK: one byte.
struct AckMessage {
  static constexpr uint8_t kType = 0x02;
  static bool Matches(ByteSpan payload) { return payload.size() == 1 && payload[0] == kType; }
  static void SerializeTo(std::vector<uint8_t>& out) { out.assign(1, kType); }
};

ChannelType ToChannelType(const Reliability& reliability);

}  // namespace tandem::datachannel
