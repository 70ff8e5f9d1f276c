// Thin wrappers over OpenSSL 3 for the primitives the protocols need. No home-made crypto: every digest and MAC here
// is OpenSSL's. CRC-32 (STUN FINGERPRINT) is a checksum, not crypto; it is table-driven here.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/bytes.h"

namespace tandem::crypto {

using Sha1Digest = std::array<uint8_t, 20>;
using Sha256Digest = std::array<uint8_t, 32>;
using Md5Digest = std::array<uint8_t, 16>;

Sha1Digest HmacSha1(ByteSpan key, ByteSpan data);
Sha256Digest HmacSha256(ByteSpan key, ByteSpan data);
// HMAC over the concatenation of two buffers without copying them together.
Sha1Digest HmacSha1(ByteSpan key, ByteSpan data1, ByteSpan data2);
Sha256Digest HmacSha256(ByteSpan key, ByteSpan data1, ByteSpan data2);
Md5Digest Md5(ByteSpan data);
Sha256Digest Sha256(ByteSpan data);

// Constant-time comparison for MACs.
bool ConstantTimeEqual(ByteSpan a, ByteSpan b);

// CRC-32 (ISO-HDLC, the zlib polynomial) as STUN FINGERPRINT requires (RFC 8489 §14.7).
uint32_t Crc32(ByteSpan data);
// CRC-32C (Castagnoli), for SCTP (RFC 9260 Appendix A).
uint32_t Crc32c(ByteSpan data);

std::string Base64Encode(ByteSpan data);
std::optional<std::string> Base64Decode(std::string_view text);
std::string HexEncode(ByteSpan data);

// Cryptographically secure random bytes from OpenSSL. Cores take an Rng instead; this backs the production Rng.
void SecureRandomBytes(MutableByteSpan out);

}  // namespace tandem::crypto
