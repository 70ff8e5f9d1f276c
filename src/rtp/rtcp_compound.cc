#include "rtp/rtcp_compound.h"

#include <optional>

namespace tandem::rtp {
namespace {

// Parses one packet into `out`; true when the type/FMT is one we handle (whether or not it parsed).
template <typename T>
bool TryParse(const RtcpHeader& h, RtcpCompound& out) {
  std::optional<T> p = T::Parse(h);
  if (p) {
    out.packets.emplace_back(std::move(*p));
  } else {
    ++out.malformed;
  }
  return true;
}

}  // namespace

Result<RtcpCompound> ParseRtcpCompound(ByteSpan compound) {
  if (compound.empty()) return MakeError(ErrorCode::kTruncated, "rtcp: empty");
  RtcpCompound out;
  RtcpPacketIterator it(compound);
  while (auto h = it.Next()) {
    switch (h->packet_type) {
      case rtcp_type::kSenderReport:
        TryParse<SenderReport>(*h, out);
        break;
      case rtcp_type::kReceiverReport:
        TryParse<ReceiverReport>(*h, out);
        break;
      case rtcp_type::kSdes:
        TryParse<Sdes>(*h, out);
        break;
      case rtcp_type::kBye:
        TryParse<Bye>(*h, out);
        break;
      case rtcp_type::kRtpFeedback:
        if (h->count == rtpfb_fmt::kNack) {
          TryParse<Nack>(*h, out);
        } else if (h->count == rtpfb_fmt::kTransportFeedback) {
          TryParse<TransportFeedback>(*h, out);
        } else {
          ++out.skipped;
        }
        break;
      case rtcp_type::kPsFeedback:
        if (h->count == psfb_fmt::kPli) {
          TryParse<Pli>(*h, out);
        } else if (h->count == psfb_fmt::kFir) {
          TryParse<Fir>(*h, out);
        } else if (h->count == psfb_fmt::kApplicationLayer) {
          // AFB carries more than REMB (RFC 4585 §6.4); only a REMB identifier makes it ours.
          if (h->payload.size() >= 12 && AsStringView(h->payload.subspan(8, 4)) == "REMB") {
            TryParse<Remb>(*h, out);
          } else {
            ++out.skipped;
          }
        } else {
          ++out.skipped;
        }
        break;
      default:
        ++out.skipped;  // APP (RFC 3550 §6.7), XR (RFC 3611) and anything newer
        break;
    }
  }
  if (it.error()) return MakeError(ErrorCode::kMalformed, "rtcp: broken compound framing");
  return out;
}

}  // namespace tandem::rtp
