// A typed model of session descriptions as WebRTC uses them (RFC 8866 SDP, RFC 8829 JSEP), with a parser and
// a serializer:
//
//   auto parsed = sdp::Parse(text);                       // ParseResult<SessionDescription>
//   if (!parsed) log(parsed.error().ToString());          // line 7 ("m=audio x"): bad port
//   std::string out = sdp::Serialize(*parsed);            // CRLF, in the order browsers use
//
// Known attributes land in typed fields (attributes.h); everything else is kept in `attributes`, in order.
// Parse is strict where the RFCs are (line order, `type=value`, numbers, payload types, token characters, ICE
// credential lengths), tolerant of unknown attributes and of what Chromium and Firefox send, and bounded by
// `ParseLimits`. For every valid model (one that `Validate` accepts, which includes anything `Parse` returns)
// Parse(Serialize(x)) == x.
//
// Serialize writes, per section, the typed fields in Chromium's order and the unknown attributes where
// Chromium writes its one (a=rtcp-xr); for the Chromium descriptions in testdata/ Serialize(Parse(sdp)) ==
// sdp byte for byte. Candidates stay raw strings: src/ice parses them. Nothing here does I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "sdp/attributes.h"

namespace tandem::sdp {

// o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address> (RFC 8866 §5.2). JSEP keeps
// sess-id below 2^63 and increments sess-version on every new local description (RFC 8829 §5.2.1, §5.2.2).
struct Origin {
  std::string username = "-";
  uint64_t session_id = 0;
  uint64_t session_version = 0;
  std::string net_type = "IN";
  std::string addr_type = "IP4";
  std::string address = "127.0.0.1";
  bool operator==(const Origin&) const = default;
};

// c=<nettype> <addrtype> <connection-address> (RFC 8866 §5.7). The address is kept as sent (multicast TTL
// too).
struct ConnectionData {
  std::string net_type = "IN";
  std::string addr_type = "IP4";
  std::string address = "0.0.0.0";
  bool operator==(const ConnectionData&) const = default;
};

// b=<bwtype>:<bandwidth> (RFC 8866 §5.8; TIAS is RFC 3890).
struct Bandwidth {
  std::string type;  // "AS", "CT", "TIAS", ...
  uint64_t value = 0;
  bool operator==(const Bandwidth&) const = default;
};

// One time description: t= with its r= and z= lines (RFC 8866 §5.9-5.11), the latter kept raw. WebRTC uses a
// single "t=0 0".
struct Timing {
  uint64_t start_time = 0;
  uint64_t stop_time = 0;
  std::vector<std::string> repeat_times;
  std::optional<std::string> zone_adjustments;
  bool operator==(const Timing&) const = default;
};

enum class MediaType { kAudio, kVideo, kApplication, kOther };
std::string_view ToString(MediaType type);  // "audio", "video", "application", "" for kOther
MediaType ParseMediaType(std::string_view token);

// A payload type as a codec, assembled from the section's rtpmap, fmtp and rtcp-fb lines (see
// MediaDescription::Codecs). Static payload types without an rtpmap take their RFC 3551 §6 defaults.
struct RtpCodec {
  uint8_t payload_type = 0;
  std::string name;  // encoding name as sent ("VP8", "opus", "rtx")
  uint32_t clock_rate = 0;
  uint16_t channels = 1;                  // from the rtpmap's encoding parameters, 1 when absent
  std::vector<FmtpParameter> parameters;  // from the fmtp line, empty when none
  std::vector<RtcpFeedback> feedback;     // rtcp-fb for this payload type and for "*"
  bool operator==(const RtpCodec&) const = default;
};

// One m= section and its attributes (RFC 8866 §5.14).
struct MediaDescription {
  // m=<media> <port>[/<number of ports>] <proto> <fmt> ...
  MediaType type = MediaType::kAudio;
  std::string other_type;  // the media token when type is kOther ("text", "message"), otherwise empty
  uint16_t port = 9;       // 9 (discard) is what JSEP writes; 0 rejects the section (RFC 8829 §5.2.2)
  std::optional<uint16_t> port_count;
  std::string proto = "UDP/TLS/RTP/SAVPF";
  std::vector<std::string> formats;  // payload types for RTP profiles, "webrtc-datachannel" for SCTP

  std::optional<std::string> title;  // i=
  std::optional<ConnectionData> connection;
  std::vector<Bandwidth> bandwidths;
  std::optional<std::string> encryption_key;  // k= (obsolete, RFC 8866 §5.12), kept raw

  std::string mid;  // a=mid (RFC 5888 §4), empty when absent
  bool bundle_only = false;
  std::optional<Direction> direction;  // sendrecv when neither this nor the session sets one

  // ICE (RFC 8839 §5): empty when absent (the session-level values apply then).
  std::string ice_ufrag;
  std::string ice_pwd;
  std::vector<std::string> ice_options;
  std::vector<std::string> candidates;  // each a=candidate: value, raw; src/ice parses them
  bool end_of_candidates = false;       // RFC 8840 §8.2

  // DTLS (RFC 8122, RFC 5763): empty/absent means the session-level values apply.
  std::vector<Fingerprint> fingerprints;
  std::optional<Setup> setup;

  // RTP/RTCP.
  std::optional<RtcpAddress> rtcp;  // a=rtcp (RFC 3605)
  bool rtcp_mux = false;            // RFC 5761 §5.1.1
  bool rtcp_mux_only = false;       // RFC 8858
  bool rtcp_rsize = false;          // RFC 5506 §5
  bool extmap_allow_mixed = false;  // RFC 8285 §6
  std::vector<ExtMap> extmaps;
  std::vector<RtpMap> rtpmaps;
  std::vector<Fmtp> fmtps;
  std::vector<RtcpFeedback> rtcp_feedback;
  std::vector<Msid> msids;
  std::vector<SsrcGroup> ssrc_groups;
  std::vector<SsrcAttribute> ssrcs;
  std::vector<Rid> rids;
  std::optional<Simulcast> simulcast;

  // SCTP (RFC 8841): a=sctp-port and a=max-message-size (0 = no limit, §6.1), or legacy a=sctpmap.
  std::optional<uint16_t> sctp_port;
  std::optional<uint64_t> max_message_size;
  std::optional<SctpMap> sctpmap;

  std::vector<Attribute> attributes;  // unknown attributes, in order

  // The m= media token: "audio", ..., or other_type.
  std::string_view media() const;
  // RTP profiles: "RTP/AVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVPF", "TCP/TLS/RTP/SAVPF", ...
  bool IsRtp() const;
  // "UDP/DTLS/SCTP", "TCP/DTLS/SCTP" (RFC 8841 §4.1) or legacy "DTLS/SCTP".
  bool IsSctp() const;
  // Port 0 without a=bundle-only (RFC 8829 §5.2.2, RFC 8843 §6).
  bool IsRejected() const { return port == 0 && !bundle_only; }
  // The formats that are payload types (0-127), in m= order.
  std::vector<uint8_t> PayloadTypes() const;

  // Codecs in m= order. Payload types with neither an rtpmap nor an RFC 3551 static assignment are skipped.
  std::vector<RtpCodec> Codecs() const;
  std::optional<RtpCodec> FindCodec(uint8_t payload_type) const;
  // Appends the payload type to `formats` and its rtpmap, rtcp-fb and fmtp (when it has parameters) lines.
  void AddCodec(const RtpCodec& codec);

  const RtpMap* FindRtpMap(uint8_t payload_type) const;
  const Fmtp* FindFmtp(uint8_t payload_type) const;
  const ExtMap* FindExtMap(std::string_view uri) const;
  // Distinct SSRCs of a=ssrc lines in order, and the value of one of their attributes ("cname").
  std::vector<uint32_t> Ssrcs() const;
  std::optional<std::string_view> SsrcAttributeValue(uint32_t ssrc, std::string_view attribute) const;
  const Attribute* FindAttribute(std::string_view name) const;

  bool operator==(const MediaDescription&) const = default;
};

struct SessionDescription {
  Origin origin;
  std::string session_name = "-";          // s=; "-" as JSEP writes it (RFC 8829 §5.2.1)
  std::optional<std::string> information;  // i=
  std::optional<std::string> uri;          // u=
  std::vector<std::string> emails;         // e=
  std::vector<std::string> phones;         // p=
  std::optional<ConnectionData> connection;
  std::vector<Bandwidth> bandwidths;
  std::vector<Timing> timings{Timing{}};      // at least one; "t=0 0"
  std::optional<std::string> encryption_key;  // k=, raw

  std::vector<Group> groups;  // a=group (BUNDLE and others)
  bool extmap_allow_mixed = false;
  std::vector<MsidSemantic> msid_semantics;
  bool ice_lite = false;  // RFC 8839 §5.3
  std::string ice_ufrag;  // session-level ICE credentials and options (RFC 8839 §5.4, §5.6)
  std::string ice_pwd;
  std::vector<std::string> ice_options;
  std::vector<Fingerprint> fingerprints;
  std::optional<Setup> setup;
  std::optional<Direction> direction;
  std::vector<ExtMap> extmaps;
  bool end_of_candidates = false;
  std::vector<Attribute> attributes;  // unknown session attributes, in order

  std::vector<MediaDescription> media;

  MediaDescription* FindMedia(std::string_view mid);
  const MediaDescription* FindMedia(std::string_view mid) const;
  // The first group with these semantics (BUNDLE: RFC 8843 §7), or null.
  const Group* FindGroup(std::string_view semantics) const;
  const Attribute* FindAttribute(std::string_view name) const;

  bool operator==(const SessionDescription&) const = default;
};

// Effective values for one media section, with the session-level fallbacks the RFCs define.
struct IceParameters {
  std::string ufrag;
  std::string pwd;
  std::vector<std::string> options;
  bool lite = false;
  bool operator==(const IceParameters&) const = default;
};
// Media-level ufrag/pwd/options where present, otherwise the session's (RFC 8839 §5.4, §5.6).
IceParameters GetIceParameters(const SessionDescription& session, const MediaDescription& media);
// Media-level fingerprints if the section has any, otherwise the session's (RFC 8122 §5).
std::span<const Fingerprint> GetFingerprints(const SessionDescription& session,
                                             const MediaDescription& media);
std::optional<Setup> GetSetup(const SessionDescription& session, const MediaDescription& media);
// Media, then session, then sendrecv (RFC 8866 §6.7).
Direction GetDirection(const SessionDescription& session, const MediaDescription& media);
std::optional<ConnectionData> GetConnection(const SessionDescription& session, const MediaDescription& media);

// Where and why a description was refused. `line` is 1-based; 0 when the whole text is at fault (size limit).
struct ParseError {
  size_t line = 0;
  std::string line_text;  // the offending line, at most kMaxLineText bytes, non-printable bytes as '?'
  std::string reason;

  static constexpr size_t kMaxLineText = 64;
  // line 7 ("m=audio x"): bad port
  std::string ToString() const;
  bool operator==(const ParseError&) const = default;
};

template <typename T>
class [[nodiscard]] ParseResult {
 public:
  ParseResult(T value) : storage_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
  ParseResult(ParseError error) : storage_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return storage_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(storage_); }
  const T& value() const& { return std::get<0>(storage_); }
  T&& value() && { return std::get<0>(std::move(storage_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const ParseError& error() const { return std::get<1>(storage_); }

 private:
  std::variant<T, ParseError> storage_;
};

// Bounds on hostile input; each refusal names the limit.
struct ParseLimits {
  size_t max_size = 256 * 1024;  // bytes of SDP text
  size_t max_lines = 16384;
  size_t max_line_length = 4096;  // bytes, without the line terminator
  size_t max_media_sections = 256;
  size_t max_attributes_per_section = 1024;  // a= lines in the session part or in one m= section
  size_t max_candidates_per_section = 256;
  size_t max_formats = 128;  // formats on one m= line (RTP has 128 payload types)
};

// Parses a session description; lines end in CRLF or LF (the last one may lack it, empty lines may follow
// it).
ParseResult<SessionDescription> Parse(std::string_view text, const ParseLimits& limits = {});

// Writes the description with CRLF line ends. For a parsed description the text is at most 2 bytes per line
// longer than the input (LF becomes CRLF), so re-parsing may need limits that allow for that.
std::string Serialize(const SessionDescription& description);

// Checks that Serialize(description) parses back to the same model; the error names the serialized line at
// fault. Typical mistakes it catches: an ice-ufrag outside 4-256 ice-chars, a mid that is not a token, a
// payload type above 127, an rtpmap without a clock rate, no c= line, a BUNDLE group naming a missing mid, an
// upper-case fingerprint algorithm.
std::optional<ParseError> Validate(const SessionDescription& description, const ParseLimits& limits = {});

}  // namespace tandem::sdp
