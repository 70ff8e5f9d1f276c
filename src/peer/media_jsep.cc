#include "peer/media_jsep.h"

#include <algorithm>
#include <cctype>

namespace tandem::peer {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 8285 extension URIs.
constexpr std::string_view kMidUri = "urn:ietf:params:rtp-hdrext:sdes:mid";
constexpr std::string_view kRidUri = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
constexpr std::string_view kRepairedRidUri = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";
constexpr std::string_view kAbsSendTimeUri = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";
constexpr std::string_view kTransportCcUri =
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01";
constexpr std::string_view kAudioLevelUri = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
constexpr std::string_view kVideoOrientationUri = "urn:3gpp:video-orientation";

struct LocalExtension {
  uint16_t id;
  std::string_view uri;
  bool audio, video;
};
// Chromium's ids, so that our offers look familiar to it.
constexpr LocalExtension kExtensions[] = {
    {1, kAudioLevelUri, true, false},        {2, kAbsSendTimeUri, true, true},
    {3, kTransportCcUri, true, true},        {4, kMidUri, true, true},
    {13, kVideoOrientationUri, false, true},
};

struct LocalCodec {
  std::string_view name;
  uint32_t clock_rate;
  uint16_t channels;
  uint8_t payload_type;
  std::optional<uint8_t> rtx;
  std::string_view fmtp;
  bool video;
};
// Our preference order. H.264 (packetization-mode 1, constrained baseline) is received and recorded as it
// comes; we only encode VP8.
constexpr LocalCodec kCodecs[] = {
    {"opus", 48000, 2, 111, std::nullopt, "minptime=10;useinbandfec=1", false},
    {"VP8", 90000, 1, 96, 97, "", true},
    {"H264", 90000, 1, 102, 103, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
     true},
};

std::vector<sdp::RtcpFeedback> Feedback(uint8_t pt, bool video) {
  std::vector<sdp::RtcpFeedback> out;
  out.push_back({pt, "transport-cc", ""});
  if (video) {
    out.push_back({pt, "goog-remb", ""});
    out.push_back({pt, "ccm", "fir"});
    out.push_back({pt, "nack", ""});
    out.push_back({pt, "nack", "pli"});
  }
  return out;
}

bool IsVideo(const sdp::MediaDescription& m) { return m.type == sdp::MediaType::kVideo; }

// H.264 must be packetization-mode 1 (what our depacketizer handles, RFC 6184 §6.3).
bool AcceptableH264(const sdp::RtpCodec& c) {
  auto mode = sdp::FindFmtpParameter(c.parameters, "packetization-mode");
  return mode && *mode == "1";
}

}  // namespace

bool CanSend(std::string_view name) { return IEquals(name, "VP8") || IEquals(name, "opus"); }

bool CanReceive(std::string_view name) {
  return IEquals(name, "VP8") || IEquals(name, "opus") || IEquals(name, "H264");
}

void AddOfferedMedia(sdp::MediaDescription& m) {
  const bool video = IsVideo(m);
  m.proto = "UDP/TLS/RTP/SAVPF";
  m.rtcp_mux = true;
  m.rtcp_rsize = true;
  for (const LocalCodec& c : kCodecs) {
    if (c.video != video) continue;
    sdp::RtpCodec codec;
    codec.payload_type = c.payload_type;
    codec.name = std::string(c.name);
    codec.clock_rate = c.clock_rate;
    codec.channels = c.channels;
    if (!c.fmtp.empty()) codec.parameters = sdp::ParseFmtpParameters(c.fmtp);
    codec.feedback = Feedback(c.payload_type, video);
    m.AddCodec(codec);
    if (c.rtx) {
      sdp::RtpCodec rtx;
      rtx.payload_type = *c.rtx;
      rtx.name = "rtx";
      rtx.clock_rate = c.clock_rate;
      rtx.parameters = {{"apt", std::to_string(c.payload_type)}};
      m.AddCodec(rtx);
    }
  }
  for (const LocalExtension& e : kExtensions) {
    if (video ? e.video : e.audio)
      m.extmaps.push_back(sdp::ExtMap{e.id, std::nullopt, std::string(e.uri), ""});
  }
}

bool AnswerMedia(const sdp::MediaDescription& offer, sdp::MediaDescription& answer) {
  const bool video = IsVideo(offer);
  answer.proto = offer.proto;
  answer.rtcp_mux = true;
  answer.rtcp_rsize = offer.rtcp_rsize;
  const std::vector<sdp::RtpCodec> offered = offer.Codecs();
  bool any = false;
  for (const LocalCodec& local : kCodecs) {
    if (local.video != video) continue;
    for (const sdp::RtpCodec& c : offered) {
      if (!IEquals(c.name, local.name) || c.clock_rate != local.clock_rate) continue;
      if (IEquals(c.name, "H264") && !AcceptableH264(c)) continue;
      sdp::RtpCodec codec = c;
      // rtcp-fb: keep what the offer proposes and we implement (RFC 4585 §4.2: the answer may only remove).
      std::vector<sdp::RtcpFeedback> ours = Feedback(c.payload_type, video);
      codec.feedback.clear();
      for (const sdp::RtcpFeedback& fb : c.feedback) {
        const bool supported = std::any_of(ours.begin(), ours.end(), [&](const sdp::RtcpFeedback& o) {
          return o.type == fb.type && o.subtype == fb.subtype;
        });
        if (supported) codec.feedback.push_back(sdp::RtcpFeedback{c.payload_type, fb.type, fb.subtype});
      }
      answer.AddCodec(codec);
      any = true;
      // Its RTX (RFC 4588 §8.6: apt names the media payload type).
      for (const sdp::RtpCodec& r : offered) {
        if (!IEquals(r.name, "rtx")) continue;
        auto apt = sdp::FindFmtpParameter(r.parameters, "apt");
        if (apt && *apt == std::to_string(c.payload_type)) {
          sdp::RtpCodec rtx = r;
          rtx.feedback.clear();
          answer.AddCodec(rtx);
        }
      }
      if (!IEquals(c.name, "H264")) break;  // one of each name; every acceptable H.264 profile is fine
    }
  }
  for (const sdp::ExtMap& e : offer.extmaps) {
    const bool known =
        std::any_of(std::begin(kExtensions), std::end(kExtensions),
                    [&](const LocalExtension& l) { return l.uri == e.uri && (video ? l.video : l.audio); });
    if (known) answer.extmaps.push_back(sdp::ExtMap{e.id, std::nullopt, e.uri, ""});
  }
  return any;
}

std::vector<NegotiatedCodec> NegotiatedCodecs(const sdp::MediaDescription& section) {
  std::vector<NegotiatedCodec> out;
  const std::vector<sdp::RtpCodec> codecs = section.Codecs();
  for (const sdp::RtpCodec& c : codecs) {
    if (!CanReceive(c.name) && !CanSend(c.name)) continue;
    NegotiatedCodec n;
    n.payload_type = c.payload_type;
    n.name = c.name;
    n.clock_rate = c.clock_rate;
    n.channels = c.channels;
    for (const auto& p : c.parameters) n.fmtp.emplace_back(p.name, p.value);
    for (const sdp::RtcpFeedback& fb : c.feedback) {
      if (fb.type == "nack" && fb.subtype.empty()) n.nack = true;
      if (fb.type == "nack" && fb.subtype == "pli") n.pli = true;
      if (fb.type == "ccm" && fb.subtype == "fir") n.fir = true;
      if (fb.type == "transport-cc") n.transport_cc = true;
      if (fb.type == "goog-remb") n.remb = true;
    }
    for (const sdp::RtpCodec& r : codecs) {
      if (!IEquals(r.name, "rtx")) continue;
      auto apt = sdp::FindFmtpParameter(r.parameters, "apt");
      if (apt && *apt == std::to_string(c.payload_type)) n.rtx_payload_type = r.payload_type;
    }
    out.push_back(std::move(n));
  }
  return out;
}

NegotiatedExtensions NegotiatedExtensionIds(const sdp::MediaDescription& section) {
  NegotiatedExtensions ids;
  for (const sdp::ExtMap& e : section.extmaps) {
    if (e.id == 0 || e.id > 255) continue;
    const auto id = static_cast<uint8_t>(e.id);
    if (e.uri == kMidUri) ids.mid = id;
    if (e.uri == kRidUri) ids.rid = id;
    if (e.uri == kRepairedRidUri) ids.repaired_rid = id;
    if (e.uri == kAbsSendTimeUri) ids.abs_send_time = id;
    if (e.uri == kTransportCcUri) ids.transport_cc = id;
    if (e.uri == kAudioLevelUri) ids.audio_level = id;
    if (e.uri == kVideoOrientationUri) ids.video_orientation = id;
  }
  return ids;
}

}  // namespace tandem::peer
