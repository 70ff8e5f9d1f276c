// Compound RTCP (RFC 3550 §6.1; RFC 5506 reduced-size packets are accepted too): parse every packet we
// understand into its value type, skip the rest (APP, XR, unknown types and FMTs), and build compounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <variant>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"
#include "rtp/rtcp_common.h"
#include "rtp/rtcp_packets.h"
#include "rtp/transport_feedback.h"

namespace tandem::rtp {

using RtcpPacket =
    std::variant<SenderReport, ReceiverReport, Sdes, Bye, Nack, TransportFeedback, Pli, Fir, Remb>;

struct RtcpCompound {
  std::vector<RtcpPacket> packets;  // in wire order
  size_t skipped = 0;    // well-framed packets of a type or FMT we do not handle (APP, XR, TMMBR, ...)
  size_t malformed = 0;  // packets of a type we handle whose contents were inconsistent (dropped)
};

// Parses a compound packet. An error only when the framing is broken (RtcpPacketIterator), in which case
// nothing of it is trusted; a malformed packet inside a well-framed compound is dropped and counted.
Result<RtcpCompound> ParseRtcpCompound(ByteSpan compound);

// Appends RTCP packets to a caller-owned buffer, refusing any that would take the compound past max_size (an
// RTCP packet must fit one datagram with its SRTCP trailer). RFC 3550 §6.1 wants an SR or RR first and an
// SDES CNAME in every full compound; RFC 5506 reduced-size feedback may go alone. Order is the caller's
// choice.
class RtcpCompoundBuilder {
 public:
  explicit RtcpCompoundBuilder(std::vector<uint8_t>& out, size_t max_size = 1200)
      : out_(out), max_size_(max_size) {
    out_.clear();
  }

  // False, leaving the buffer as it was, when the packet cannot be encoded or does not fit.
  template <typename Packet>
  bool Add(const Packet& packet) {
    const size_t before = out_.size();
    if (before + packet.SerializedSize() > max_size_) return false;
    ByteWriter w(out_);
    if (!packet.SerializeTo(w)) {
      out_.resize(before);
      return false;
    }
    return true;
  }
  bool Add(const RtcpPacket& packet) {
    return std::visit([this](const auto& p) { return Add(p); }, packet);
  }

  size_t size() const { return out_.size(); }
  bool empty() const { return out_.empty(); }
  size_t remaining() const { return out_.size() >= max_size_ ? 0 : max_size_ - out_.size(); }
  ByteSpan bytes() const { return out_; }

 private:
  std::vector<uint8_t>& out_;
  size_t max_size_;
};

}  // namespace tandem::rtp
