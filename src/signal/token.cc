#include "signal/token.h"

#include <stdexcept>

#include "core/crypto.h"
#include "signal/base64url.h"
#include "signal/json.h"
#include "signal/names.h"

namespace tandem::signaling {
namespace {

constexpr char kIssuer[] = "tandem";
constexpr size_t kMaxJtiBytes = 128;

Failure Bad(const char* why) { return Failure{Code::kBadToken, why}; }

std::string EncodedHeader() {
  static const std::string header = Base64UrlEncode(AsBytes(R"({"alg":"HS256","typ":"JWT"})"));
  return header;
}

}  // namespace

uint8_t PermissionFromName(std::string_view name) {
  if (name == "join") return kPermJoin;
  if (name == "send") return kPermSend;
  return 0;
}

TokenCodec::TokenCodec(std::string secret, TokenLimits limits) : secret_(std::move(secret)), limits_(limits) {
  if (secret_.empty()) throw std::invalid_argument("token secret must not be empty");
}

std::string TokenCodec::Mint(const TokenClaims& claims) const {
  Json perms = Json::array();
  if (claims.can_join()) perms.push_back("join");
  if (claims.can_send()) perms.push_back("send");
  Json payload = {{"iss", kIssuer},           {"sub", claims.identity},     {"room", claims.room},
                  {"perms", std::move(perms)}, {"iat", claims.issued_at},    {"exp", claims.expires_at},
                  {"jti", claims.jti}};
  std::string signing_input = EncodedHeader() + "." + Base64UrlEncode(AsBytes(DumpJson(payload)));
  const crypto::Sha256Digest mac = crypto::HmacSha256(AsBytes(secret_), AsBytes(signing_input));
  return signing_input + "." + Base64UrlEncode(mac);
}

Checked<TokenClaims> TokenCodec::Verify(std::string_view token, UnixTime now) const {
  if (token.empty() || token.size() > limits_.max_token_bytes) return Bad("token missing or too long");
  // JWS compact serialization: exactly three base64url parts (RFC 7515 §7.1). A JWE (five parts) is refused too.
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Bad("malformed token");
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return Bad("malformed token");
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  // The signature first: nothing an attacker wrote is parsed until it is known to come from a secret holder.
  // An "alg":"none" token has an empty signature and fails here.
  const std::optional<std::string> signature = Base64UrlDecode(signature_b64);
  if (!signature || signature->size() != crypto::Sha256Digest{}.size()) return Bad("bad signature");
  const crypto::Sha256Digest expected =
      crypto::HmacSha256(AsBytes(secret_), AsBytes(token.substr(0, dot2)));
  if (!crypto::ConstantTimeEqual(expected, AsBytes(*signature))) return Bad("bad signature");

  // RFC 7515 §4.1.1: the algorithm is the header's; we accept exactly one, so a token minted for another key type
  // can never be checked with our secret as if it were HS256. §4.1.11: "crit" names extensions we do not
  // implement, so a token carrying it must be refused.
  const std::optional<std::string> header_text = Base64UrlDecode(header_b64);
  if (!header_text) return Bad("malformed header");
  const std::optional<Json> header = ParseJson(*header_text, 2);
  if (!header || !header->is_object()) return Bad("malformed header");
  const std::string* alg = StringField(*header, "alg");
  if (alg == nullptr || *alg != "HS256") return Bad("algorithm must be HS256");
  if (const Json* typ = Field(*header, "typ"); typ != nullptr && (!typ->is_string() || *typ != "JWT"))
    return Bad("typ must be JWT");
  if (Field(*header, "crit") != nullptr) return Bad("unsupported critical header");

  const std::optional<std::string> payload_text = Base64UrlDecode(payload_b64);
  if (!payload_text) return Bad("malformed payload");
  const std::optional<Json> payload = ParseJson(*payload_text, 2);
  if (!payload || !payload->is_object()) return Bad("malformed payload");

  const std::string* iss = StringField(*payload, "iss");
  if (iss == nullptr || *iss != kIssuer) return Bad("wrong issuer");
  TokenClaims claims;
  const std::string* sub = StringField(*payload, "sub");
  if (sub == nullptr || !IsValidIdentity(*sub)) return Bad("bad identity");
  claims.identity = *sub;
  const std::string* room = StringField(*payload, "room");
  if (room == nullptr || !IsValidRoomName(*room)) return Bad("bad room");
  claims.room = *room;
  const Json* perms = Field(*payload, "perms");
  if (perms == nullptr || !perms->is_array() || perms->empty() || perms->size() > 2) return Bad("bad perms");
  claims.perms = 0;
  for (const Json& p : *perms) {
    const uint8_t bit = p.is_string() ? PermissionFromName(p.get_ref<const std::string&>()) : 0;
    if (bit == 0 || (claims.perms & bit) != 0) return Bad("bad perms");
    claims.perms |= bit;
  }
  const Json* iat = Field(*payload, "iat");
  const Json* exp = Field(*payload, "exp");
  if (iat == nullptr || exp == nullptr) return Bad("missing iat/exp");
  const std::optional<int64_t> iat_value = AsInt64(*iat);
  const std::optional<int64_t> exp_value = AsInt64(*exp);
  if (!iat_value.has_value() || !exp_value.has_value()) return Bad("bad iat/exp");
  claims.issued_at = iat_value.value();
  claims.expires_at = exp_value.value();
  if (claims.issued_at < 0) return Bad("bad iat");
  if (claims.expires_at <= claims.issued_at || claims.expires_at - claims.issued_at > limits_.max_lifetime_seconds)
    return Bad("bad token lifetime");
  const std::string* jti = StringField(*payload, "jti");
  if (jti == nullptr || jti->empty() || jti->size() > kMaxJtiBytes) return Bad("bad jti");
  claims.jti = *jti;

  // RFC 7519 §4.1.4/§4.1.6 with a small leeway for clock skew between the minting and the verifying host.
  if (claims.issued_at > now.seconds + limits_.clock_skew_seconds) return Bad("token issued in the future");
  if (now.seconds >= claims.expires_at + limits_.clock_skew_seconds)
    return Failure{Code::kTokenExpired, "token expired"};
  return claims;
}

}  // namespace tandem::signaling
