#include "signal/protocol.h"

namespace tandem::signaling {
namespace {

FrameError Refuse(Code code, const char* message, const std::optional<Json>& ref) {
  return FrameError{code, message, ref};
}

bool ValidId(const Json& id) {
  if (id.is_string()) return id.get_ref<const std::string&>().size() <= kMaxIdBytes;
  return id.is_number();
}

bool OptionalStringOrNull(const Json& object, const char* name, size_t max_bytes) {
  const Json* f = Field(object, name);
  if (f == nullptr || f->is_null()) return true;
  return f->is_string() && f->get_ref<const std::string&>().size() <= max_bytes;
}

// RTCIceCandidateInit (W3C webrtc-pc §5.6.1): candidate is required here (browsers always send it; "" is the
// end-of-candidates marker some send), the other three may be absent or null. Only these four fields are relayed.
std::optional<Json> ValidCandidate(const Json& c) {
  if (c.is_null()) return Json(nullptr);
  if (!c.is_object()) return std::nullopt;
  const std::string* text = StringField(c, "candidate");
  if (text == nullptr || text->size() > kMaxCandidateBytes) return std::nullopt;
  if (!OptionalStringOrNull(c, "sdpMid", 256) || !OptionalStringOrNull(c, "usernameFragment", 256))
    return std::nullopt;
  Json out = {{"candidate", *text}};
  if (const Json* mid = Field(c, "sdpMid")) out["sdpMid"] = *mid;
  if (const Json* index = Field(c, "sdpMLineIndex"); index != nullptr && !index->is_null()) {
    const std::optional<int64_t> v = AsInt64(*index);
    if (!v || *v < 0 || *v > 65535) return std::nullopt;
    out["sdpMLineIndex"] = *v;
  } else if (index != nullptr) {
    out["sdpMLineIndex"] = nullptr;
  }
  if (const Json* ufrag = Field(c, "usernameFragment")) out["usernameFragment"] = *ufrag;
  return out;
}

}  // namespace

const char* TypeName(ClientFrame::Type type) {
  switch (type) {
    case ClientFrame::Type::kOffer: return "offer";
    case ClientFrame::Type::kAnswer: return "answer";
    case ClientFrame::Type::kCandidate: return "candidate";
    case ClientFrame::Type::kMessage: return "message";
    case ClientFrame::Type::kPing: return "ping";
  }
  return "?";
}

ParsedFrame ParseClientFrame(std::string_view text) {
  std::optional<Json> parsed = ParseJson(text);
  if (!parsed || !parsed->is_object()) return Refuse(Code::kBadJson, "frame is not a JSON object", std::nullopt);
  Json& frame = *parsed;

  ClientFrame out;
  if (auto it = frame.find("id"); it != frame.end()) {
    if (!ValidId(*it)) return Refuse(Code::kBadRequest, "id must be a string or a number", std::nullopt);
    out.id = std::move(*it);
  }
  const std::string* type = StringField(frame, "type");
  if (type == nullptr) return Refuse(Code::kBadRequest, "missing type", out.id);

  if (*type == "offer" || *type == "answer" || *type == "candidate") {
    out.type = *type == "offer"    ? ClientFrame::Type::kOffer
               : *type == "answer" ? ClientFrame::Type::kAnswer
                                   : ClientFrame::Type::kCandidate;
    const std::string* to = StringField(frame, "to");
    if (to == nullptr) return Refuse(Code::kBadRequest, "missing or non-string 'to'", out.id);
    out.to = *to;
    if (out.type == ClientFrame::Type::kCandidate) {
      const Json* candidate = Field(frame, "candidate");
      if (candidate == nullptr) return Refuse(Code::kBadRequest, "missing candidate", out.id);
      std::optional<Json> valid = ValidCandidate(*candidate);
      if (!valid) return Refuse(Code::kBadRequest, "malformed candidate", out.id);
      out.body = std::move(*valid);
    } else {
      auto sdp = frame.find("sdp");
      if (sdp == frame.end() || !sdp->is_string())
        return Refuse(Code::kBadRequest, "missing or non-string 'sdp'", out.id);
      if (sdp->get_ref<const std::string&>().size() > kMaxSdpBytes)
        return Refuse(Code::kTooLarge, "sdp too large", out.id);
      out.body = std::move(*sdp);
    }
    return out;
  }
  if (*type == "message") {
    out.type = ClientFrame::Type::kMessage;
    if (auto to = frame.find("to"); to != frame.end()) {
      if (!to->is_string()) return Refuse(Code::kBadRequest, "'to' must be a string", out.id);
      out.to = to->get<std::string>();
    }
    auto data = frame.find("data");
    if (data == frame.end()) return Refuse(Code::kBadRequest, "missing data", out.id);
    out.body = std::move(*data);
    return out;
  }
  if (*type == "ping") {
    out.type = ClientFrame::Type::kPing;
    if (auto ts = frame.find("ts"); ts != frame.end()) {
      out.body = std::move(*ts);
    } else {
      out.body = Json(Json::value_t::discarded);
    }
    return out;
  }
  return Refuse(Code::kUnknownType, "unknown type", out.id);
}

Json IceServersJson(const std::vector<IceServer>& servers) {
  Json list = Json::array();
  for (const IceServer& s : servers) {
    Json entry = {{"urls", s.urls}};
    if (!s.username.empty()) {
      entry["username"] = s.username;
      entry["credential"] = s.credential;
    }
    list.push_back(std::move(entry));
  }
  return list;
}

std::string WelcomeFrame(std::string_view peer_id, std::string_view room, std::string_view identity,
                         const std::vector<PeerInfo>& peers, const std::vector<IceServer>& ice_servers) {
  Json list = Json::array();
  for (const PeerInfo& p : peers) list.push_back({{"peerId", p.peer_id}, {"identity", p.identity}});
  return DumpJson({{"type", "welcome"},
                   {"peerId", peer_id},
                   {"room", room},
                   {"identity", identity},
                   {"peers", std::move(list)},
                   {"iceServers", IceServersJson(ice_servers)}});
}

std::string PeerJoinedFrame(PeerInfo peer) {
  return DumpJson({{"type", "peer-joined"}, {"peer", {{"peerId", peer.peer_id}, {"identity", peer.identity}}}});
}

std::string PeerLeftFrame(std::string_view peer_id) {
  return DumpJson({{"type", "peer-left"}, {"peerId", peer_id}});
}

std::string RelayFrame(ClientFrame::Type type, std::string_view from, const Json& body) {
  const char* field = "data";
  if (type == ClientFrame::Type::kOffer || type == ClientFrame::Type::kAnswer) field = "sdp";
  if (type == ClientFrame::Type::kCandidate) field = "candidate";
  Json frame = {{"type", TypeName(type)}, {"from", from}};
  frame[field] = body;
  return DumpJson(frame);
}

std::string PongFrame(const Json& ts) {
  Json frame = {{"type", "pong"}};
  if (!ts.is_discarded()) frame["ts"] = ts;
  return DumpJson(frame);
}

std::string ErrorFrame(Code code, std::string_view message, const std::optional<Json>& ref) {
  Json frame = {{"type", "error"}, {"code", CodeName(code)}, {"message", message}};
  if (ref) frame["ref"] = *ref;
  return DumpJson(frame);
}

}  // namespace tandem::signaling
