#include "signal/ice_servers.h"

#include "core/crypto.h"

namespace tandem::signaling {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

std::string TurnRestCredential(std::string_view secret, std::string_view username) {
  return crypto::Base64Encode(crypto::HmacSha1(AsBytes(secret), AsBytes(username)));
}

std::vector<IceServer> BuildIceServers(const IceServersConfig& config, std::string_view identity, UnixTime now) {
  IceServer stun, turn;
  for (const std::string& url : config.urls) {
    if (StartsWith(url, "stun:") || StartsWith(url, "stuns:")) {
      stun.urls.push_back(url);
    } else if ((StartsWith(url, "turn:") || StartsWith(url, "turns:")) && !config.turn_secret.empty()) {
      turn.urls.push_back(url);
    }
  }
  std::vector<IceServer> out;
  if (!stun.urls.empty()) out.push_back(std::move(stun));
  if (!turn.urls.empty()) {
    turn.username = std::to_string(now.seconds + config.credential_ttl_seconds) + ":" + std::string(identity);
    turn.credential = TurnRestCredential(config.turn_secret, turn.username);
    out.push_back(std::move(turn));
  }
  return out;
}

}  // namespace tandem::signaling
