#include "sdp/session_description.h"

#include <algorithm>

#include "sdp/text.h"

namespace tandem::sdp {
namespace {

// RFC 3551 §6 static payload types, for sections that list them without an rtpmap.
struct StaticPayloadType {
  uint8_t payload_type;
  std::string_view name;
  uint32_t clock_rate;
  uint16_t channels;
};
constexpr StaticPayloadType kStaticPayloadTypes[] = {
    {0, "PCMU", 8000, 1},   {3, "GSM", 8000, 1},    {4, "G723", 8000, 1},   {5, "DVI4", 8000, 1},
    {6, "DVI4", 16000, 1},  {7, "LPC", 8000, 1},    {8, "PCMA", 8000, 1},   {9, "G722", 8000, 1},
    {10, "L16", 44100, 2},  {11, "L16", 44100, 1},  {12, "QCELP", 8000, 1}, {13, "CN", 8000, 1},
    {14, "MPA", 90000, 1},  {15, "G728", 8000, 1},  {16, "DVI4", 11025, 1}, {17, "DVI4", 22050, 1},
    {18, "G729", 8000, 1},  {25, "CelB", 90000, 1}, {26, "JPEG", 90000, 1}, {28, "nv", 90000, 1},
    {31, "H261", 90000, 1}, {32, "MPV", 90000, 1},  {33, "MP2T", 90000, 1}, {34, "H263", 90000, 1},
};

const StaticPayloadType* FindStatic(uint8_t pt) {
  for (const StaticPayloadType& s : kStaticPayloadTypes) {
    if (s.payload_type == pt) return &s;
  }
  return nullptr;
}

template <typename Section>
const Attribute* FindIn(const Section& section, std::string_view name) {
  for (const Attribute& a : section.attributes) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

}  // namespace

std::string_view ToString(MediaType type) {
  switch (type) {
    case MediaType::kAudio:
      return "audio";
    case MediaType::kVideo:
      return "video";
    case MediaType::kApplication:
      return "application";
    case MediaType::kOther:
      return "";
  }
  return "";
}

MediaType ParseMediaType(std::string_view token) {
  if (token == "audio") return MediaType::kAudio;
  if (token == "video") return MediaType::kVideo;
  if (token == "application") return MediaType::kApplication;
  return MediaType::kOther;
}

std::string_view MediaDescription::media() const {
  return type == MediaType::kOther ? std::string_view(other_type) : ToString(type);
}

bool MediaDescription::IsRtp() const {
  return proto.rfind("RTP/", 0) == 0 || proto.find("/RTP/") != std::string::npos;
}

bool MediaDescription::IsSctp() const {
  return proto == "UDP/DTLS/SCTP" || proto == "TCP/DTLS/SCTP" || proto == "DTLS/SCTP";
}

std::vector<uint8_t> MediaDescription::PayloadTypes() const {
  std::vector<uint8_t> out;
  for (const std::string& f : formats) {
    if (auto pt = text::ParsePayloadType(f)) out.push_back(*pt);
  }
  return out;
}

std::optional<RtpCodec> MediaDescription::FindCodec(uint8_t payload_type) const {
  RtpCodec codec;
  codec.payload_type = payload_type;
  if (const RtpMap* map = FindRtpMap(payload_type)) {
    codec.name = map->encoding_name;
    codec.clock_rate = map->clock_rate;
    codec.channels = map->channels.value_or(1);
  } else if (const StaticPayloadType* s = FindStatic(payload_type)) {
    codec.name = std::string(s->name);
    codec.clock_rate = s->clock_rate;
    codec.channels = s->channels;
  } else {
    return std::nullopt;
  }
  if (const Fmtp* fmtp = FindFmtp(payload_type)) codec.parameters = fmtp->Parameters();
  for (const RtcpFeedback& fb : rtcp_feedback) {
    if (!fb.payload_type || *fb.payload_type == payload_type) codec.feedback.push_back(fb);
  }
  return codec;
}

std::vector<RtpCodec> MediaDescription::Codecs() const {
  std::vector<RtpCodec> out;
  if (!IsRtp()) return out;
  for (uint8_t pt : PayloadTypes()) {
    if (auto codec = FindCodec(pt)) out.push_back(std::move(*codec));
  }
  return out;
}

void MediaDescription::AddCodec(const RtpCodec& codec) {
  formats.push_back(std::to_string(codec.payload_type));
  RtpMap map;
  map.payload_type = codec.payload_type;
  map.encoding_name = codec.name;
  map.clock_rate = codec.clock_rate;
  // RFC 8866 §6.6: audio carries the channel count; JSEP writes "/2" for opus and nothing for mono.
  if (type == MediaType::kAudio && codec.channels > 1) map.channels = codec.channels;
  rtpmaps.push_back(std::move(map));
  for (const RtcpFeedback& fb : codec.feedback) {
    RtcpFeedback copy = fb;
    copy.payload_type = codec.payload_type;
    rtcp_feedback.push_back(std::move(copy));
  }
  if (!codec.parameters.empty()) {
    fmtps.push_back(Fmtp{codec.payload_type, FormatFmtpParameters(codec.parameters)});
  }
}

const RtpMap* MediaDescription::FindRtpMap(uint8_t payload_type) const {
  for (const RtpMap& m : rtpmaps) {
    if (m.payload_type == payload_type) return &m;
  }
  return nullptr;
}

const Fmtp* MediaDescription::FindFmtp(uint8_t payload_type) const {
  for (const Fmtp& f : fmtps) {
    if (f.payload_type == payload_type) return &f;
  }
  return nullptr;
}

const ExtMap* MediaDescription::FindExtMap(std::string_view uri) const {
  for (const ExtMap& e : extmaps) {
    if (e.uri == uri) return &e;
  }
  return nullptr;
}

std::vector<uint32_t> MediaDescription::Ssrcs() const {
  std::vector<uint32_t> out;
  for (const SsrcAttribute& a : ssrcs) {
    if (std::find(out.begin(), out.end(), a.ssrc) == out.end()) out.push_back(a.ssrc);
  }
  return out;
}

std::optional<std::string_view> MediaDescription::SsrcAttributeValue(uint32_t ssrc,
                                                                     std::string_view attribute) const {
  for (const SsrcAttribute& a : ssrcs) {
    if (a.ssrc == ssrc && a.attribute == attribute) return std::string_view(a.value);
  }
  return std::nullopt;
}

const Attribute* MediaDescription::FindAttribute(std::string_view name) const { return FindIn(*this, name); }

MediaDescription* SessionDescription::FindMedia(std::string_view mid) {
  for (MediaDescription& m : media) {
    if (!m.mid.empty() && m.mid == mid) return &m;
  }
  return nullptr;
}

const MediaDescription* SessionDescription::FindMedia(std::string_view mid) const {
  return const_cast<SessionDescription*>(this)->FindMedia(mid);
}

const Group* SessionDescription::FindGroup(std::string_view semantics) const {
  for (const Group& g : groups) {
    if (g.semantics == semantics) return &g;
  }
  return nullptr;
}

const Attribute* SessionDescription::FindAttribute(std::string_view name) const {
  return FindIn(*this, name);
}

IceParameters GetIceParameters(const SessionDescription& session, const MediaDescription& media) {
  IceParameters p;
  p.ufrag = media.ice_ufrag.empty() ? session.ice_ufrag : media.ice_ufrag;
  p.pwd = media.ice_pwd.empty() ? session.ice_pwd : media.ice_pwd;
  p.options = media.ice_options.empty() ? session.ice_options : media.ice_options;
  p.lite = session.ice_lite;
  return p;
}

std::span<const Fingerprint> GetFingerprints(const SessionDescription& session,
                                             const MediaDescription& media) {
  return media.fingerprints.empty() ? std::span<const Fingerprint>(session.fingerprints)
                                    : std::span<const Fingerprint>(media.fingerprints);
}

std::optional<Setup> GetSetup(const SessionDescription& session, const MediaDescription& media) {
  return media.setup ? media.setup : session.setup;
}

Direction GetDirection(const SessionDescription& session, const MediaDescription& media) {
  return media.direction.value_or(session.direction.value_or(Direction::kSendRecv));
}

std::optional<ConnectionData> GetConnection(const SessionDescription& session,
                                            const MediaDescription& media) {
  return media.connection ? media.connection : session.connection;
}

std::string ParseError::ToString() const {
  if (line == 0) return reason;
  return "line " + std::to_string(line) + " (\"" + line_text + "\"): " + reason;
}

std::optional<ParseError> Validate(const SessionDescription& description, const ParseLimits& limits) {
  const std::string text = Serialize(description);
  auto parsed = Parse(text, limits);
  if (!parsed.ok()) return parsed.error();
  if (*parsed == description) return std::nullopt;
  // Name the part that changed: the session level or the first media section that differs.
  std::string where = "session-level fields";
  if (parsed->media.size() == description.media.size()) {
    for (size_t i = 0; i < description.media.size(); ++i) {
      if (!(parsed->media[i] == description.media[i])) {
        where = "media section " + std::to_string(i);
        break;
      }
    }
  }
  return ParseError{0, "",
                    where +
                        " do not survive serialization unchanged (a field holds what its line cannot carry, "
                        "e.g. an upper-case fingerprint algorithm, a kOther media type without a name, "
                        "rtpmap lines in a non-RTP section)"};
}

}  // namespace tandem::sdp
