// RTCP framing shared by every packet type (RFC 3550 §6.4.1 common header, RFC 4585 §6.1 feedback header) and
// an allocation-free iterator over the packets of a compound packet (RFC 3550 §6.1, RFC 5506 reduced size).
//
//    0                   1                   2                   3
//    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//   |V=2|P|  RC/FMT |      PT       |      length (words - 1)       |
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/bytes.h"

namespace tandem::rtp {

inline constexpr size_t kRtcpHeaderSize = 4;
inline constexpr size_t kRtcpFeedbackHeaderSize =
    12;                                      // common header + sender SSRC + media SSRC (RFC 4585 §6.1)
inline constexpr size_t kMaxRtcpCount = 31;  // the 5-bit RC/SC field
inline constexpr size_t kMaxRtcpPacketSize = 65536 * 4;  // the 16-bit length counts words minus one

// RTCP packet types (IANA "RTCP Control Packet Types").
namespace rtcp_type {
inline constexpr uint8_t kSenderReport = 200;    // RFC 3550 §6.4.1
inline constexpr uint8_t kReceiverReport = 201;  // RFC 3550 §6.4.2
inline constexpr uint8_t kSdes = 202;            // RFC 3550 §6.5
inline constexpr uint8_t kBye = 203;             // RFC 3550 §6.6
inline constexpr uint8_t kApp = 204;             // RFC 3550 §6.7
inline constexpr uint8_t kRtpFeedback = 205;     // RFC 4585 §6.2 (RTPFB)
inline constexpr uint8_t kPsFeedback = 206;      // RFC 4585 §6.3 (PSFB)
inline constexpr uint8_t kExtendedReport = 207;  // RFC 3611 (XR)
}  // namespace rtcp_type

// FMT values of RTPFB (RFC 4585 §6.2, draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
namespace rtpfb_fmt {
inline constexpr uint8_t kNack = 1;
inline constexpr uint8_t kTransportFeedback = 15;
}  // namespace rtpfb_fmt

// FMT values of PSFB (RFC 4585 §6.3, RFC 5104 §4.3.1).
namespace psfb_fmt {
inline constexpr uint8_t kPli = 1;
inline constexpr uint8_t kFir = 4;
inline constexpr uint8_t kApplicationLayer = 15;  // AFB: REMB lives here
}  // namespace psfb_fmt

// One packet of a compound packet.
struct RtcpHeader {
  uint8_t count = 0;  // RC, SC or FMT (5 bits)
  uint8_t packet_type = 0;
  bool padding = false;
  ByteSpan payload;  // after the 4-byte header, padding removed
  ByteSpan packet;   // the whole packet as on the wire (header, payload, padding)
};

// Iterates over a compound packet. Framing (RFC 3550 §6.4.1, Appendix A.2): version 2, each length inside the
// buffer, the lengths adding up to the whole, a padding count of at least 1 that stays inside its packet. We
// accept padding on any packet (not only the last, as RFC 3550 asks) because feedback senders set it on
// packets that later get compounded.
class RtcpPacketIterator {
 public:
  explicit RtcpPacketIterator(ByteSpan compound) : rest_(compound) {}
  // The next packet, or nullopt at the end or at a framing error (error() then tells which).
  std::optional<RtcpHeader> Next();
  bool error() const { return error_; }

 private:
  ByteSpan rest_;
  bool error_ = false;
};

// True when the whole buffer is a well-framed compound of one or more RTCP packets.
bool IsValidRtcpCompound(ByteSpan compound);

// Appends a common header for a packet whose payload (after the header) is `payload_size` bytes, a multiple
// of 4.
void WriteRtcpHeader(ByteWriter& w, uint8_t count, uint8_t packet_type, size_t payload_size);

// The two SSRCs every RFC 4585 feedback message starts with.
struct FeedbackSsrcs {
  uint32_t sender_ssrc = 0;
  uint32_t media_ssrc = 0;
};
// Reads them from a feedback packet's payload; nullopt when shorter than 8 bytes.
std::optional<FeedbackSsrcs> ReadFeedbackSsrcs(ByteSpan payload);

}  // namespace tandem::rtp
