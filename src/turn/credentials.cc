#include "turn/credentials.h"

#include <charconv>

#include "core/crypto.h"

namespace tandem::turn {

std::vector<std::vector<uint8_t>> CredentialStore::LookupKeys(std::string_view username,
                                                              std::string_view realm,
                                                              stun::PasswordAlgorithm algorithm) {
  std::vector<std::vector<uint8_t>> keys;
  if (auto key = LookupKey(username, realm, algorithm)) keys.push_back(std::move(*key));
  return keys;
}

namespace {

// The expiry of a coturn-style time-limited username ("expiry:user", or just "expiry"): the decimal Unix time
// before the first ':' (coturn's default --rest-api-separator).
std::optional<int64_t> TimeLimitedExpiry(std::string_view username) {
  const size_t colon = username.find(':');
  const std::string_view digits = username.substr(0, colon);
  if (digits.empty() || digits.size() > 18) return std::nullopt;
  int64_t expiry = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), expiry);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || expiry < 0) return std::nullopt;
  return expiry;
}

}  // namespace

StaticCredentialStore::StaticCredentialStore(WallClock& clock) : clock_(clock) {}

void StaticCredentialStore::AddUser(std::string username, std::string password) {
  users_[std::move(username)] = std::move(password);
  userhashes_valid_ = false;
}

void StaticCredentialStore::AddSharedSecret(std::string secret) { secrets_.push_back(std::move(secret)); }

std::string StaticCredentialStore::TimeLimitedPassword(std::string_view secret, std::string_view username) {
  const crypto::Sha1Digest mac = crypto::HmacSha1(AsBytes(secret), AsBytes(username));
  return crypto::Base64Encode(mac);
}

std::vector<std::vector<uint8_t>> StaticCredentialStore::LookupKeys(std::string_view username,
                                                                    std::string_view realm,
                                                                    stun::PasswordAlgorithm algorithm) {
  std::vector<std::vector<uint8_t>> keys;
  if (auto it = users_.find(std::string(username)); it != users_.end()) {
    keys.push_back(stun::LongTermKey(username, realm, it->second, algorithm));
  }
  if (!secrets_.empty()) {
    // coturn treats a credential whose timestamp has passed as unknown (TURN REST API draft, §2.2).
    if (auto expiry = TimeLimitedExpiry(username); expiry && *expiry >= clock_.Now().seconds) {
      for (const std::string& secret : secrets_) {
        keys.push_back(stun::LongTermKey(username, realm, TimeLimitedPassword(secret, username), algorithm));
      }
    }
  }
  return keys;
}

std::optional<std::vector<uint8_t>> StaticCredentialStore::LookupKey(std::string_view username,
                                                                     std::string_view realm,
                                                                     stun::PasswordAlgorithm algorithm) {
  auto keys = LookupKeys(username, realm, algorithm);
  if (keys.empty()) return std::nullopt;
  return std::move(keys.front());
}

std::optional<std::string> StaticCredentialStore::LookupUserHash(std::span<const uint8_t> userhash,
                                                                 std::string_view realm) {
  if (userhash.size() != 32) return std::nullopt;
  if (!userhashes_valid_ || userhash_realm_ != realm) {
    userhashes_.clear();
    for (const auto& [name, password] : users_) {
      const auto hash = stun::UserHash(name, realm);
      userhashes_[std::string(AsStringView(hash))] = name;
    }
    userhash_realm_ = std::string(realm);
    userhashes_valid_ = true;
  }
  auto it = userhashes_.find(std::string(AsStringView(userhash)));
  if (it == userhashes_.end()) return std::nullopt;
  return it->second;
}

}  // namespace tandem::turn
