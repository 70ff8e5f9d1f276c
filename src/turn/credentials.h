// Long-term credential lookup for TURN (RFC 8489 §9.2): static users and coturn-compatible time-limited credentials
// derived from a shared secret ("TURN REST API": username "expiry:user", password base64(HMAC-SHA1(secret,
// username))), so the signaling server can mint TURN credentials.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/time.h"
#include "stun/message.h"

namespace tandem::turn {

// Wall-clock time source, injected (fake in tests).
class WallClock {
 public:
  virtual ~WallClock() = default;
  virtual UnixTime Now() = 0;
};

class CredentialStore {
 public:
  virtual ~CredentialStore() = default;
  // The long-term key for `username` in `realm` (RFC 8489 §9.2.2), or nullopt when the user is unknown or the
  // time-limited credential has expired.
  virtual std::optional<std::vector<uint8_t>> LookupKey(std::string_view username, std::string_view realm,
                                                        stun::PasswordAlgorithm algorithm) = 0;
  // Every key that may be valid for `username` (several while shared secrets rotate: the server accepts a
  // MESSAGE-INTEGRITY that matches any of them). The default returns LookupKey's key, if any.
  virtual std::vector<std::vector<uint8_t>> LookupKeys(std::string_view username, std::string_view realm,
                                                       stun::PasswordAlgorithm algorithm);
  // For USERHASH (RFC 8489 §14.4): the username whose hash matches, if any.
  virtual std::optional<std::string> LookupUserHash(std::span<const uint8_t> userhash, std::string_view realm) = 0;
};

// Static users plus optional shared secrets. Keys are derived on lookup (one MD5/SHA-256 of a few bytes); the server
// caches the key per allocation, so lookups happen on the first Allocate only.
class StaticCredentialStore final : public CredentialStore {
 public:
  explicit StaticCredentialStore(WallClock& clock);
  void AddUser(std::string username, std::string password);
  // Enables time-limited credentials (coturn --use-auth-secret --static-auth-secret). Several secrets may be active
  // (rotation): any matches.
  void AddSharedSecret(std::string secret);

  std::optional<std::vector<uint8_t>> LookupKey(std::string_view username, std::string_view realm,
                                                stun::PasswordAlgorithm algorithm) override;
  std::vector<std::vector<uint8_t>> LookupKeys(std::string_view username, std::string_view realm,
                                               stun::PasswordAlgorithm algorithm) override;
  // Static users only: a time-limited username cannot be recovered from its hash.
  std::optional<std::string> LookupUserHash(std::span<const uint8_t> userhash, std::string_view realm) override;

  // The time-limited password for `username` ("expiry:user") under `secret`: base64(HMAC-SHA1(secret, username)).
  static std::string TimeLimitedPassword(std::string_view secret, std::string_view username);

 private:
  WallClock& clock_;
  std::unordered_map<std::string, std::string> users_;
  std::vector<std::string> secrets_;
  // USERHASH -> username for one realm, rebuilt when the realm or the users change.
  std::string userhash_realm_;
  bool userhashes_valid_ = false;
  std::unordered_map<std::string, std::string> userhashes_;
};

}  // namespace tandem::turn
