#include "turn_client/long_term_credentials.h"

#include <algorithm>
#include <utility>

#include "turn/nonce.h"

namespace tandem::turn_client {

namespace attr = stun::attr;
using stun::PasswordAlgorithm;

constexpr size_t kMaxOfferedAlgorithms = 8;

LongTermCredentials::LongTermCredentials(std::string username, std::string password)
    : username_(std::move(username)), password_(std::move(password)) {}

LongTermCredentials::ChallengeResult LongTermCredentials::LearnChallenge(const stun::MessageView& challenge) {
  const auto realm = challenge.GetString(attr::kRealm);
  const auto nonce = challenge.GetString(attr::kNonce);
  // A 438 may omit REALM (RFC 8489 §9.2.5 only requires the new NONCE); keep the realm we know then.
  if (!nonce || nonce->empty() || (!realm && realm_.empty())) return ChallengeResult::kMalformed;
  const std::string new_realm = realm ? std::string(*realm) : realm_;
  if (new_realm.empty()) return ChallengeResult::kMalformed;

  PasswordAlgorithm algorithm = PasswordAlgorithm::kMd5;
  bool negotiated = false;
  std::vector<PasswordAlgorithm> offered;
  // RFC 8489 §9.2.1/§9.2.5: the nonce cookie announces the security features; with "Password algorithms" the
  // challenge lists the algorithms and the client takes the first one it supports.
  const uint32_t features = turn::NonceManager::Features(*nonce);
  if ((features & turn::kFeaturePasswordAlgorithms) != 0 && challenge.Has(attr::kPasswordAlgorithms)) {
    offered = challenge.GetPasswordAlgorithms();
    // Echoed in every request: a hostile list must not grow our messages (two algorithms exist, §18.5).
    if (offered.empty() || offered.size() > kMaxOfferedAlgorithms) return ChallengeResult::kMalformed;
    const auto it = std::find_if(offered.begin(), offered.end(), [](PasswordAlgorithm a) {
      return a == PasswordAlgorithm::kMd5 || a == PasswordAlgorithm::kSha256;
    });
    if (it == offered.end()) return ChallengeResult::kNoCommonAlgorithm;
    algorithm = *it;
    negotiated = true;
  }

  const bool rekey = key_.empty() || new_realm != realm_ || algorithm != algorithm_;
  realm_ = new_realm;
  nonce_ = std::string(*nonce);
  algorithm_ = algorithm;
  negotiated_ = negotiated;
  offered_ = std::move(offered);
  // MESSAGE-INTEGRITY-SHA256 with servers that speak RFC 8489's security features; plain MESSAGE-INTEGRITY
  // (RFC 5389) otherwise, which every TURN server understands.
  sha256_integrity_ = negotiated;
  if (rekey) key_ = stun::LongTermKey(username_, realm_, password_, algorithm_);
  return ChallengeResult::kUsable;
}

void LongTermCredentials::Sign(stun::MessageBuilder& builder) const {
  builder.AddString(attr::kUsername, username_);
  builder.AddString(attr::kRealm, realm_);
  builder.AddString(attr::kNonce, nonce_);
  if (negotiated_) {
    builder.AddPasswordAlgorithms(offered_);
    builder.AddPasswordAlgorithm(algorithm_);
  }
  if (sha256_integrity_) {
    builder.AddMessageIntegritySha256(key_);
  } else {
    builder.AddMessageIntegrity(key_);
  }
}

bool LongTermCredentials::VerifyResponse(const stun::MessageView& response) const {
  if (key_.empty()) return false;
  if (response.Has(attr::kMessageIntegritySha256)) return response.VerifyMessageIntegritySha256(key_);
  return response.VerifyMessageIntegrity(key_);
}

}  // namespace tandem::turn_client
