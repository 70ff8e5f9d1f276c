// Stateless NONCEs for the long-term credential mechanism (RFC 8489 §9.2): nothing is stored per client, so a
// flood of unauthenticated requests costs no memory. A nonce is
//   [nonce cookie "obMatJos2" + 4 base64 chars of security features]  (only when the features are offered,
//   §9.2) 16 hex digits of the expiry (monotonic microseconds) 24 hex digits of HMAC-SHA256(server secret,
//   prefix | expiry | client IP), truncated to 96 bits
// The MAC binds the nonce to the client's IP and to the advertised features (bid-down protection, §9.2.1).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"

namespace tandem::turn {

inline constexpr std::string_view kNonceCookie = "obMatJos2";  // RFC 8489 §9.2

// STUN Security Feature bits (RFC 8489 §18.1, IANA "STUN Security Features"), bit 0 being the most
// significant of the 24-bit set.
inline constexpr uint32_t kFeaturePasswordAlgorithms = 1u << 23;
inline constexpr uint32_t kFeatureUsernameAnonymity = 1u << 22;

class NonceManager {
 public:
  enum class Validity { kValid, kStale };

  NonceManager(Rng& rng, TimeDelta lifetime, uint32_t features);
  // With a given secret: managers sharing it accept each other's nonces (the workers of one server).
  NonceManager(const std::array<uint8_t, 32>& secret, TimeDelta lifetime, uint32_t features);

  std::string Make(Timestamp now, const IpAddress& client) const;
  // kStale for an expired nonce and for one this server did not issue to this IP (RFC 8489 §9.2.4: the client
  // gets a 438 with a fresh nonce either way).
  Validity Check(std::string_view nonce, Timestamp now, const IpAddress& client) const;
  // The security features a nonce advertises (0 without the cookie).
  static uint32_t Features(std::string_view nonce);

 private:
  void SetFeatures(uint32_t features);
  std::string Mac(std::string_view prefix, uint64_t expiry, const IpAddress& client) const;

  std::array<uint8_t, 32> secret_{};
  TimeDelta lifetime_;
  std::string prefix_;  // cookie + features, or empty
};

}  // namespace tandem::turn
