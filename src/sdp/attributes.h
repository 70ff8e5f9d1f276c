// Typed values of the SDP attributes WebRTC uses. Each type parses the text after "a=<name>:" (`Parse`) and
// formats it back (`ToString`), so that one attribute's grammar lives in one place, with the RFC section that
// defines it. Parsing is strict about what the grammar says and returns an Error with a static reason; the
// session parser (session_description.h) adds the line number and text.
//
// Formatting assumes a valid value (for example a token where the grammar wants a token); `Validate` in
// session_description.h checks a whole description.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tandem::sdp {

// RFC 8866 §9: token = 1*token-char (the characters allowed in attribute names, mids, semantics, ...).
bool IsTokenChar(char c);
bool IsToken(std::string_view text);
// RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/" (ufrag, pwd, ice-option-tag).
bool IsIceChars(std::string_view text);

// Media direction, RFC 8866 §6.7 (also the optional direction of an extmap, RFC 8285 §8). When a section has
// none, the session-level one applies, and without either it is sendrecv.
enum class Direction { kSendRecv, kSendOnly, kRecvOnly, kInactive };
std::string_view ToString(Direction direction);
std::optional<Direction> ParseDirection(std::string_view text);
// The direction seen from the other side: sendonly <-> recvonly (what an answer mirrors, RFC 8829 §5.3.1).
Direction Reverse(Direction direction);
bool Sends(Direction direction);
bool Receives(Direction direction);

// a=setup (RFC 4145 §4, used for DTLS by RFC 5763 §5).
enum class Setup { kActive, kPassive, kActPass, kHoldConn };
std::string_view ToString(Setup setup);
std::optional<Setup> ParseSetup(std::string_view text);

// a=fingerprint:<hash-func> <XX:XX:...> (RFC 8122 §5). The algorithm is kept lower case (the registry's names
// are; the comparison is case-insensitive, so Parse folds it); the bytes are accepted in upper or lower hex
// and formatted in upper hex as the RFC's UHEX asks. At most 64 bytes (SHA-512); the length must match the
// known hash functions (sha-1 20, sha-224 28, sha-256 32, sha-384 48, sha-512 64, md5/md2 16).
struct Fingerprint {
  static constexpr size_t kMaxBytes = 64;

  std::string algorithm;  // "sha-256"
  std::vector<uint8_t> bytes;

  static Result<Fingerprint> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const Fingerprint&) const = default;
};

// a=group:<semantics> *(SP <mid>) (RFC 5888 §5); BUNDLE is RFC 8843.
struct Group {
  std::string semantics;  // "BUNDLE", "LS", ...
  std::vector<std::string> mids;

  static Result<Group> Parse(std::string_view value);
  std::string ToString() const;
  bool Contains(std::string_view mid) const;
  bool operator==(const Group&) const = default;
};

// a=msid-semantic: WMS [ids | *] — from the drafts before RFC 8830, which browsers still send. Chromium
// writes a space after the colon; both forms parse.
struct MsidSemantic {
  std::string semantic = "WMS";
  std::vector<std::string> ids;  // stream ids or "*"

  static Result<MsidSemantic> Parse(std::string_view value);
  std::string ToString() const;  // " WMS id..." (with Chromium's leading space)
  bool operator==(const MsidSemantic&) const = default;
};

// a=rtcp:<port> [<nettype> <addrtype> <address>] (RFC 3605 §2.1).
struct RtcpAddress {
  uint16_t port = 9;
  std::string net_type;  // the three are all empty or all set
  std::string addr_type;
  std::string address;

  static Result<RtcpAddress> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const RtcpAddress&) const = default;
};

// a=rtpmap:<pt> <encoding name>/<clock rate>[/<encoding parameters>] (RFC 8866 §6.6). For audio the encoding
// parameter is the channel count (one when omitted).
struct RtpMap {
  uint8_t payload_type = 0;
  std::string encoding_name;  // as sent ("opus", "VP8"); compare case-insensitively (RFC 4855 §3)
  uint32_t clock_rate = 0;
  std::optional<uint16_t> channels;

  static Result<RtpMap> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const RtpMap&) const = default;
};

// One `name=value` of a format-specific parameter string. A segment without "=" (red's "111/111",
// telephone-event's "0-15") has an empty name and the segment as value.
struct FmtpParameter {
  std::string name;
  std::string value;
  bool operator==(const FmtpParameter&) const = default;
};
// Splits "k=v;k=v" (whitespace around segments, names and values is dropped; empty segments are skipped).
std::vector<FmtpParameter> ParseFmtpParameters(std::string_view parameters);
std::string FormatFmtpParameters(std::span<const FmtpParameter> parameters);
// The value of the first parameter called `name` (case-insensitive, RFC 6838 §4.3), if any.
std::optional<std::string_view> FindFmtpParameter(std::span<const FmtpParameter> parameters,
                                                  std::string_view name);

// a=fmtp:<pt> <format specific parameters> (RFC 8866 §6.15), kept as sent; `Parameters()` splits it.
struct Fmtp {
  uint8_t payload_type = 0;
  std::string parameters;  // non-empty

  static Result<Fmtp> Parse(std::string_view value);
  std::string ToString() const;
  std::vector<FmtpParameter> Parameters() const { return ParseFmtpParameters(parameters); }
  bool operator==(const Fmtp&) const = default;
};

// a=rtcp-fb:<pt | *> <type> [<subtype>] (RFC 4585 §4.2): "nack", "nack pli", "ccm fir", "transport-cc", ...
struct RtcpFeedback {
  std::optional<uint8_t> payload_type;  // nullopt: "*" (every payload type of the section)
  std::string type;                     // a token
  std::string subtype;                  // the rest of the line after one space, possibly empty ("pli")

  static Result<RtcpFeedback> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const RtcpFeedback&) const = default;
};

// a=extmap:<id>[/<direction>] <uri> [<attributes>] (RFC 8285 §8). Ids 1-255 are usable (1-14 in the one-byte
// form); 4096-4351 may appear in offers (RFC 8285 §7).
struct ExtMap {
  uint16_t id = 0;
  std::optional<Direction> direction;
  std::string uri;
  std::string attributes;  // the rest of the line after the URI and one space, possibly empty

  static Result<ExtMap> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const ExtMap&) const = default;
};

// a=msid:<stream id> [<track id>] (RFC 8830 §2): 1-64 token chars each. Chromium writes "-" for no stream.
struct Msid {
  std::string stream_id;
  std::string track_id;  // empty when absent

  static Result<Msid> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const Msid&) const = default;
};

// a=ssrc:<ssrc> <attribute>[:<value>] (RFC 5576 §4.1): "cname:...", "msid:stream track", ...
struct SsrcAttribute {
  uint32_t ssrc = 0;
  std::string attribute;  // a token
  std::string value;      // may contain spaces; empty formats as the bare attribute

  static Result<SsrcAttribute> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const SsrcAttribute&) const = default;
};

// a=ssrc-group:<semantics> *(SP <ssrc>) (RFC 5576 §4.2): "FID" (RTX, RFC 4588), "SIM", "FEC-FR".
struct SsrcGroup {
  std::string semantics;
  std::vector<uint32_t> ssrcs;

  static Result<SsrcGroup> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const SsrcGroup&) const = default;
};

// a=rid:<rid-id> <send|recv> [pt=<fmt>,...;<restriction>=<value>;...] (RFC 8851 §10).
enum class RidDirection { kSend, kRecv };
std::string_view ToString(RidDirection direction);
struct Rid {
  std::string id;  // 1-255 of ALPHA / DIGIT / "-" / "_"
  RidDirection direction = RidDirection::kSend;
  std::vector<uint8_t> payload_types;  // the pt= list, empty when absent
  // Restrictions in order ("max-width"="1280"); a restriction without "=" has an empty value.
  std::vector<FmtpParameter> restrictions;

  static Result<Rid> Parse(std::string_view value);
  std::string ToString() const;  // pt= first, then the restrictions
  bool operator==(const Rid&) const = default;
};

// a=simulcast:send <alts>[;<alts>...] [recv ...] (RFC 8853 §5.1): each stream is a list of alternative rids
// (","), streams are separated by ";", a "~" prefix marks a paused rid.
struct SimulcastRid {
  std::string rid;
  bool paused = false;
  bool operator==(const SimulcastRid&) const = default;
};
using SimulcastStream = std::vector<SimulcastRid>;  // alternatives, at least one
struct Simulcast {
  std::vector<SimulcastStream> send;
  std::vector<SimulcastStream> recv;  // at least one of send/recv is non-empty

  static Result<Simulcast> Parse(std::string_view value);
  std::string ToString() const;  // "send ..." first
  bool operator==(const Simulcast&) const = default;
};

// a=sctpmap:<port> <protocol> [<streams>] (draft-ietf-mmusic-sctp-sdp-05, before RFC 8841; legacy peers send
// "m=application 9 DTLS/SCTP 5000" with "a=sctpmap:5000 webrtc-datachannel 1024").
struct SctpMap {
  uint16_t port = 5000;
  std::string protocol = "webrtc-datachannel";
  std::optional<uint32_t> streams;

  static Result<SctpMap> Parse(std::string_view value);
  std::string ToString() const;
  bool operator==(const SctpMap&) const = default;
};

// Any other attribute, kept as sent: "a=<name>" or "a=<name>:<value>" (RFC 8866 §5.13).
struct Attribute {
  std::string name;                  // a token
  std::optional<std::string> value;  // "a=name:" has an empty value, "a=name" none

  bool operator==(const Attribute&) const = default;
};

}  // namespace tandem::sdp
