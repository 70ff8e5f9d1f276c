// The public API's small value types: enum names (the W3C strings) and the stats report helpers.
#include <nlohmann/json.hpp>

#include "tandem/peer_connection.h"

namespace tandem {

const char* ToString(SdpType type) {
  switch (type) {
    case SdpType::kOffer:
      return "offer";
    case SdpType::kPranswer:
      return "pranswer";
    case SdpType::kAnswer:
      return "answer";
    case SdpType::kRollback:
      return "rollback";
  }
  return "offer";
}

std::optional<SdpType> ParseSdpType(std::string_view text) {
  if (text == "offer") return SdpType::kOffer;
  if (text == "pranswer") return SdpType::kPranswer;
  if (text == "answer") return SdpType::kAnswer;
  if (text == "rollback") return SdpType::kRollback;
  return std::nullopt;
}

const char* ToString(SignalingState state) {
  switch (state) {
    case SignalingState::kStable:
      return "stable";
    case SignalingState::kHaveLocalOffer:
      return "have-local-offer";
    case SignalingState::kHaveRemoteOffer:
      return "have-remote-offer";
    case SignalingState::kHaveLocalPranswer:
      return "have-local-pranswer";
    case SignalingState::kHaveRemotePranswer:
      return "have-remote-pranswer";
    case SignalingState::kClosed:
      return "closed";
  }
  return "closed";
}

const char* ToString(IceGatheringState state) {
  switch (state) {
    case IceGatheringState::kNew:
      return "new";
    case IceGatheringState::kGathering:
      return "gathering";
    case IceGatheringState::kComplete:
      return "complete";
  }
  return "new";
}

const char* ToString(IceConnectionState state) {
  switch (state) {
    case IceConnectionState::kNew:
      return "new";
    case IceConnectionState::kChecking:
      return "checking";
    case IceConnectionState::kConnected:
      return "connected";
    case IceConnectionState::kCompleted:
      return "completed";
    case IceConnectionState::kDisconnected:
      return "disconnected";
    case IceConnectionState::kFailed:
      return "failed";
    case IceConnectionState::kClosed:
      return "closed";
  }
  return "new";
}

const char* ToString(PeerConnectionState state) {
  switch (state) {
    case PeerConnectionState::kNew:
      return "new";
    case PeerConnectionState::kConnecting:
      return "connecting";
    case PeerConnectionState::kConnected:
      return "connected";
    case PeerConnectionState::kDisconnected:
      return "disconnected";
    case PeerConnectionState::kFailed:
      return "failed";
    case PeerConnectionState::kClosed:
      return "closed";
  }
  return "new";
}

const char* ToString(DataChannelState state) {
  switch (state) {
    case DataChannelState::kConnecting:
      return "connecting";
    case DataChannelState::kOpen:
      return "open";
    case DataChannelState::kClosing:
      return "closing";
    case DataChannelState::kClosed:
      return "closed";
  }
  return "closed";
}

std::optional<double> RtcStats::Number(const std::string& name) const {
  auto it = members.find(name);
  if (it == members.end()) return std::nullopt;
  return std::visit(
      [](const auto& v) -> std::optional<double> {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::string>) {
          return std::nullopt;
        } else {
          return static_cast<double>(v);
        }
      },
      it->second);
}

std::optional<std::string> RtcStats::String(const std::string& name) const {
  auto it = members.find(name);
  if (it == members.end()) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(&it->second)) return *s;
  return std::nullopt;
}

std::vector<const RtcStats*> StatsReport::OfType(std::string_view type) const {
  std::vector<const RtcStats*> out;
  for (const auto& [id, s] : stats) {
    if (s.type == type) out.push_back(&s);
  }
  return out;
}

const RtcStats* StatsReport::SelectedCandidatePair() const {
  for (const RtcStats* t : OfType("transport")) {
    if (auto id = t->String("selectedCandidatePairId")) {
      auto it = stats.find(*id);
      if (it != stats.end()) return &it->second;
    }
  }
  return nullptr;
}

std::string StatsReport::ToJson() const {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [id, s] : stats) {
    nlohmann::json entry = {{"id", s.id}, {"type", s.type}, {"timestamp", s.timestamp_ms}};
    for (const auto& [name, value] : s.members) {
      std::visit([&](const auto& v) { entry[name] = v; }, value);
    }
    out[id] = std::move(entry);
  }
  return out.dump();
}

}  // namespace tandem
