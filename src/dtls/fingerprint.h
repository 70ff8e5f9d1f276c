// Certificate fingerprints as SDP carries them: `a=fingerprint:sha-256 AB:CD:...` (RFC 8122 §5). In WebRTC
// the peer's certificate is authenticated by this fingerprint alone, never by a CA chain (RFC 8827 §6.5, RFC
// 5763 §5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/result.h"

namespace tandem::dtls {

struct Fingerprint {
  std::string algorithm;  // lower case: "sha-1", "sha-224", "sha-256", "sha-384" or "sha-512"
  std::vector<uint8_t> value;

  // Parses the two halves of the attribute value. The hash function token is case-insensitive (RFC 8122 §5 is
  // ABNF, whose literals are case-insensitive) and is stored lower case. RFC 8122 §5 writes the value as
  // upper-case hex pairs separated by colons; lower-case hex is accepted too, as some implementations send
  // it. The value must have the digest length of the algorithm. MD2 and MD5 are refused (RFC 8122 §5 forbids
  // generating them).
  static std::optional<Fingerprint> Parse(std::string_view algorithm, std::string_view hex_colon);
  // Parses a whole attribute value, "sha-256 AB:CD:...", tolerating surrounding and repeated spaces.
  static std::optional<Fingerprint> ParseAttribute(std::string_view attribute_value);

  std::string ValueString() const;  // "AB:CD:..." upper case
  std::string ToString() const;     // "sha-256 AB:CD:...", the SDP attribute value

  bool operator==(const Fingerprint&) const = default;

  // Digest length in bytes of a supported (lower-case) algorithm name; nullopt when unsupported.
  static std::optional<size_t> DigestLength(std::string_view algorithm);
  // The supported algorithms, strongest first.
  static const std::vector<std::string_view>& SupportedAlgorithms();
};

// Digest of a DER-encoded certificate with `algorithm` (RFC 8122 §5: the hash is over the DER form).
Result<Fingerprint> ComputeFingerprint(std::string_view algorithm, ByteSpan certificate_der);

// Whether `certificate_der` matches the remote SDP fingerprints. RFC 8122 §5: when several hash functions are
// offered, use the strongest one we support and accept the certificate if it matches any fingerprint made
// with it. False when none of the fingerprints uses a supported algorithm.
bool MatchesAnyFingerprint(ByteSpan certificate_der, const std::vector<Fingerprint>& fingerprints);

}  // namespace tandem::dtls
