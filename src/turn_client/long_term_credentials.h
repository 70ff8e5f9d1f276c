// Client side of the STUN long-term credential mechanism (RFC 8489 §9.2), as TURN uses it (RFC 8656 §5):
// learns REALM and NONCE (and the password algorithm) from 401/438 challenges, signs requests, and checks the
// integrity of responses with the same key.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "stun/message.h"

namespace tandem::turn_client {

class LongTermCredentials {
 public:
  LongTermCredentials(std::string username, std::string password);

  // True once a challenge gave us a realm and a nonce: requests can be signed and responses checked.
  bool has_key() const { return !key_.empty(); }
  const std::string& realm() const { return realm_; }
  const std::string& nonce() const { return nonce_; }
  stun::PasswordAlgorithm algorithm() const { return algorithm_; }
  bool uses_sha256_integrity() const { return sha256_integrity_; }

  enum class ChallengeResult {
    kUsable,             // realm/nonce learned; retry the request signed
    kMalformed,          // no REALM or NONCE, or an over-long one
    kNoCommonAlgorithm,  // PASSWORD-ALGORITHMS lists nothing we support (RFC 8489 §9.2.5)
  };
  // Learns from a 401 (Unauthenticated) or 438 (Stale Nonce) error response (RFC 8489 §9.2.5). With the nonce
  // cookie and the "Password algorithms" security feature (§9.2.1), the first algorithm of
  // PASSWORD-ALGORITHMS that we support is chosen (SHA-256 or MD5, §18.5) and MESSAGE-INTEGRITY-SHA256 is
  // used; otherwise MD5 and MESSAGE-INTEGRITY, as in RFC 5389.
  ChallengeResult LearnChallenge(const stun::MessageView& challenge);

  // Appends USERNAME, REALM, NONCE, PASSWORD-ALGORITHMS/PASSWORD-ALGORITHM (when negotiated, §9.2.3.2) and
  // the message integrity. Call after every other attribute except FINGERPRINT; requires has_key().
  void Sign(stun::MessageBuilder& builder) const;

  // A response is authentic when it carries MESSAGE-INTEGRITY-SHA256 or MESSAGE-INTEGRITY valid under our key
  // (RFC 8489 §9.2.5); the SHA-256 one is checked when present.
  bool VerifyResponse(const stun::MessageView& response) const;

 private:
  std::string username_;
  std::string password_;
  std::string realm_;
  std::string nonce_;
  stun::PasswordAlgorithm algorithm_ = stun::PasswordAlgorithm::kMd5;
  std::vector<stun::PasswordAlgorithm> offered_;  // PASSWORD-ALGORITHMS as received, echoed in requests
  bool negotiated_ = false;                       // PASSWORD-ALGORITHM(S) go into requests
  bool sha256_integrity_ = false;
  std::vector<uint8_t> key_;
};

}  // namespace tandem::turn_client
