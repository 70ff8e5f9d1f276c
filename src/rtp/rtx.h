// RTP retransmission payload format (RFC 4588 §4): a retransmission travels on its own SSRC ("session
// multiplexing" with an SSRC of its own, as WebRTC negotiates it with a=ssrc-group:FID or repaired-rid) and
// its own payload type (a=fmtp:<rtx> apt=<media>), with its own sequence numbers; the payload starts with the
// original sequence number (OSN) followed by the original payload.
//
//   |V=2|P|X|  CC   |M|     PT      |       sequence number         |   RTX PT, RTX sequence number
//   |                           timestamp                           |   the original's
//   |           synchronization source (SSRC) identifier            |   RTX SSRC
//   |   (CSRCs and header extensions as in the original)            |
//   |            OSN                |                               |
//   |                  original RTP packet payload                  |
//
// The original's padding is not copied. A RID in the original is relabeled to repaired-rid when the extension
// map has both ids in a compatible form (RFC 8852 §3.2), in place, without re-encoding the header.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/bytes.h"
#include "core/result.h"
#include "rtp/header_extensions.h"
#include "rtp/rtp_packet.h"

namespace tandem::rtp {

struct RtxParams {
  uint32_t ssrc = 0;
  uint8_t payload_type = 0;
  uint16_t sequence_number = 0;
};

// Writes the RTX packet for `original` into `out` (which needs original header + 2 + payload bytes) and
// returns its length. `map` (optional) enables the rid -> repaired-rid relabeling.
Result<size_t> BuildRtxPacket(const RtpPacketView& original, const RtxParams& rtx, MutableByteSpan out,
                              const ExtensionMap* map = nullptr);

// RFC 4588 §4 on receive: rebuilds the original packet from an RTX packet (sequence number from the OSN, the
// media SSRC and payload type given by the caller from its FID/apt mapping). An RTX packet without an OSN (a
// padding-only probe) is kTruncated. `map` (optional) relabels repaired-rid back to rid.
Result<size_t> RestoreFromRtx(const RtpPacketView& rtx, uint32_t media_ssrc, uint8_t media_payload_type,
                              MutableByteSpan out, const ExtensionMap* map = nullptr);

// The sending side of one RTX stream: its SSRC, its sequence numbers, and the apt mapping of media payload
// types to RTX payload types.
class RtxSender {
 public:
  RtxSender(uint32_t rtx_ssrc, uint16_t first_sequence_number)
      : ssrc_(rtx_ssrc), next_seq_(first_sequence_number) {
    rtx_pt_.fill(-1);
  }
  // a=fmtp:<rtx_pt> apt=<media_pt>.
  void SetPayloadTypeMapping(uint8_t media_pt, uint8_t rtx_pt) { rtx_pt_[media_pt & 0x7F] = rtx_pt & 0x7F; }
  void SetExtensionMap(const ExtensionMap& map) { map_ = map; }

  // Builds the RTX packet for a stored original (from RtpPacketHistory). kNotFound when its payload type has
  // no RTX mapping; the RTX sequence number advances only on success.
  Result<size_t> Packetize(ByteSpan original, MutableByteSpan out);

  uint32_t ssrc() const { return ssrc_; }
  uint16_t next_sequence_number() const { return next_seq_; }

 private:
  uint32_t ssrc_;
  uint16_t next_seq_;
  std::array<int16_t, 128> rtx_pt_{};
  ExtensionMap map_;
};

}  // namespace tandem::rtp
