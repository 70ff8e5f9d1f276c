// The WebSocket frames of docs/signaling.md as value types: client frames parsed (and validated) into ClientFrame,
// server frames built from typed arguments. Parsing never throws; every refusal is a FrameError with the code the
// doc names. Server frames are serialized once and shared by every recipient.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "signal/errors.h"
#include "signal/ice_servers.h"
#include "signal/json.h"

namespace tandem::signaling {

inline constexpr size_t kMaxSdpBytes = 64 * 1024;
inline constexpr size_t kMaxCandidateBytes = 2048;
inline constexpr size_t kMaxIdBytes = 128;

struct ClientFrame {
  enum class Type : uint8_t { kOffer, kAnswer, kCandidate, kMessage, kPing };
  Type type = Type::kPing;
  std::optional<Json> id;         // echoed as "ref" in error frames it causes
  std::optional<std::string> to;  // required for offer/answer/candidate; absent = broadcast for message
  // offer/answer: the sdp string; candidate: the RTCIceCandidateInit (only its four known fields) or null;
  // message: data; ping: ts (absent = discarded value).
  Json body;
};

struct FrameError {
  Code code = Code::kBadRequest;
  const char* message = "";
  std::optional<Json> ref;
};

using ParsedFrame = std::variant<ClientFrame, FrameError>;

// `text` is one WebSocket message; its size has been checked by the caller.
ParsedFrame ParseClientFrame(std::string_view text);

const char* TypeName(ClientFrame::Type type);

struct PeerInfo {
  std::string_view peer_id;
  std::string_view identity;
};

Json IceServersJson(const std::vector<IceServer>& servers);

std::string WelcomeFrame(std::string_view peer_id, std::string_view room, std::string_view identity,
                         const std::vector<PeerInfo>& peers, const std::vector<IceServer>& ice_servers);
std::string PeerJoinedFrame(PeerInfo peer);
std::string PeerLeftFrame(std::string_view peer_id);
// offer/answer/candidate: {"type", "from", <field>: body}; message: {"type":"message","from","data"}.
std::string RelayFrame(ClientFrame::Type type, std::string_view from, const Json& body);
std::string PongFrame(const Json& ts);  // ts discarded: no "ts" field
std::string ErrorFrame(Code code, std::string_view message, const std::optional<Json>& ref);

}  // namespace tandem::signaling
