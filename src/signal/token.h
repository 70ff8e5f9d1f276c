// Access tokens: JWTs (RFC 7519) in JWS compact serialization (RFC 7515 §7.1) signed with HS256 (RFC 7518 §3.2,
// HMAC-SHA256 with the server's token secret). Claims and validation rules: docs/signaling.md "Tokens".
//
// Verification is strict and fails closed: the header must name HS256 (so "alg":"none" and algorithm confusion are
// refused), carry no "crit", and the signature is compared in constant time before the claims are read. Every
// claim is required and must be well-formed. Time comes in as a parameter; the codec reads no clock.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/time.h"
#include "signal/errors.h"

namespace tandem::signaling {

enum Permission : uint8_t {
  kPermJoin = 1 << 0,  // open a socket in the room
  kPermSend = 1 << 1,  // POST messages to the room
};

struct TokenClaims {
  std::string identity;  // "sub"
  std::string room;
  uint8_t perms = kPermJoin | kPermSend;
  int64_t issued_at = 0;   // "iat", Unix seconds
  int64_t expires_at = 0;  // "exp", Unix seconds
  std::string jti;         // random id

  bool can_join() const { return (perms & kPermJoin) != 0; }
  bool can_send() const { return (perms & kPermSend) != 0; }
};

struct TokenLimits {
  int64_t max_lifetime_seconds = 24 * 3600;  // exp - iat
  int64_t clock_skew_seconds = 30;           // leeway on exp and iat
  size_t max_token_bytes = 4096;
};

class TokenCodec {
 public:
  // `secret` must not be empty (a startup error: std::invalid_argument).
  explicit TokenCodec(std::string secret, TokenLimits limits = {});

  // Signs `claims` as given (the caller fills iat/exp/jti). Identity and room should be well-formed; Verify refuses
  // tokens whose claims are not.
  std::string Mint(const TokenClaims& claims) const;

  // Code::kBadToken for anything malformed, forged or of another algorithm; Code::kTokenExpired once `now` is past
  // exp by more than the allowed clock skew.
  Checked<TokenClaims> Verify(std::string_view token, UnixTime now) const;

  const TokenLimits& limits() const { return limits_; }

 private:
  std::string secret_;
  TokenLimits limits_;
};

// Permission names on the wire ("join", "send"); 0 for an unknown name.
uint8_t PermissionFromName(std::string_view name);

}  // namespace tandem::signaling
