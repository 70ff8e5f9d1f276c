// The ICE server list handed to browsers (GET /api/ice-servers and the welcome frame): STUN URLs as they are, TURN
// URLs with a fresh time-limited credential in coturn's TURN REST scheme, which Tandem's TURN server (and coturn)
// verify with the shared secret alone: username "<expiry>:<identity>", credential
// base64(HMAC-SHA1(secret, username)) (src/turn/credentials.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"

namespace tandem::signaling {

struct IceServersConfig {
  // "stun:", "stuns:", "turn:" and "turns:" URLs (RFC 7064, RFC 7065).
  std::vector<std::string> urls;
  // The TURN server's shared secret. Without one, TURN URLs are left out: a TURN URL without a credential makes
  // RTCPeerConnection throw.
  std::string turn_secret;
  int64_t credential_ttl_seconds = 24 * 3600;
};

struct IceServer {
  std::vector<std::string> urls;
  std::string username;    // empty for STUN
  std::string credential;  // empty for STUN
};

// One entry for all STUN URLs and one for all TURN URLs (one credential covers every TURN URL), in that order;
// empty entries are omitted.
std::vector<IceServer> BuildIceServers(const IceServersConfig& config, std::string_view identity, UnixTime now);

// The TURN REST credential for `username` under `secret`.
std::string TurnRestCredential(std::string_view secret, std::string_view username);

}  // namespace tandem::signaling
