// base64url without padding (RFC 4648 §5), as JWS compact serialization requires (RFC 7515 §2). Decoding is strict:
// padding, characters outside the URL-safe alphabet, a length of 1 mod 4, and non-zero trailing bits are all
// refused, so every token has exactly one encoding.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace tandem::signaling {

std::string Base64UrlEncode(ByteSpan data);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace tandem::signaling
