// The media half of JSEP (RFC 8829 §5.2.1, §5.3.1): what codecs and header extensions we offer, how we answer
// an offer (the offerer's payload types and extension ids, our preference order, RFC 8829 §5.3.1), and what a
// completed negotiation means for the RTP session. Pure functions on the SDP model.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sdp/session_description.h"

namespace tandem::peer {

// One negotiated payload type, as the RTP session needs it.
struct NegotiatedCodec {
  uint8_t payload_type = 0;
  std::string name;  // "VP8", "opus", "H264"
  uint32_t clock_rate = 0;
  uint16_t channels = 1;
  std::optional<uint8_t> rtx_payload_type;  // RFC 4588 apt
  std::vector<std::pair<std::string, std::string>> fmtp;
  bool nack = false, pli = false, fir = false, transport_cc = false, remb = false;
  bool operator==(const NegotiatedCodec&) const = default;
};

// Negotiated RFC 8285 extension ids (0 = not negotiated).
struct NegotiatedExtensions {
  uint8_t mid = 0, rid = 0, repaired_rid = 0, abs_send_time = 0, transport_cc = 0, audio_level = 0,
          video_orientation = 0;
  bool operator==(const NegotiatedExtensions&) const = default;
};

// Codecs we can send (encode or pass through a file) and receive (decode, or record pass-through).
bool CanSend(std::string_view codec_name);
bool CanReceive(std::string_view codec_name);

// Fills an offered audio or video section with our codecs (with RTX for video), rtcp-fb and extmaps, our
// payload types (Chromium's numbering) and extension ids.
void AddOfferedMedia(sdp::MediaDescription& m);

// Fills an answer section from the offered one: the offered codecs we support, in our preference order, with
// the offer's payload types, their RTX, the rtcp-fb both sides support, and the offered extensions we support
// with the offer's ids. False when nothing in common (the section is then rejected).
bool AnswerMedia(const sdp::MediaDescription& offer, sdp::MediaDescription& answer);

// What the negotiated section means for RTP: the codecs (RTX folded into their media codec) and extension
// ids. `section` is the answer's section (it holds what both sides agreed on); send codec = the first.
std::vector<NegotiatedCodec> NegotiatedCodecs(const sdp::MediaDescription& section);
NegotiatedExtensions NegotiatedExtensionIds(const sdp::MediaDescription& section);

}  // namespace tandem::peer
