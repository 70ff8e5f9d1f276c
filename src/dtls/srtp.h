// DTLS-SRTP protection profiles and the keying material exported for them (RFC 5764 §4.1.2, §4.2; RFC 7714
// §14.2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace tandem::dtls {

// The use_srtp extension's protection profile identifiers (IANA "DTLS-SRTP Protection Profiles" registry).
enum class SrtpProfile : uint16_t {
  kNone = 0,
  kAes128CmSha1_80 = 0x0001,  // RFC 5764 §4.1.2 SRTP_AES128_CM_HMAC_SHA1_80
  kAes128CmSha1_32 = 0x0002,  // RFC 5764 §4.1.2 SRTP_AES128_CM_HMAC_SHA1_32
  kAeadAes128Gcm = 0x0007,    // RFC 7714 §14.2 SRTP_AEAD_AES_128_GCM
  kAeadAes256Gcm = 0x0008,    // RFC 7714 §14.2 SRTP_AEAD_AES_256_GCM
};

// The registry name ("SRTP_AEAD_AES_128_GCM"); "NONE" for kNone, "UNKNOWN" otherwise.
const char* ToString(SrtpProfile profile);

// Master key and master salt lengths of a profile: RFC 5764 §4.1.2 (128-bit key, 112-bit salt for the AES-CM
// profiles) and RFC 7714 §12 (96-bit salt for the AEAD profiles). nullopt for kNone and unknown values.
struct SrtpKeyLengths {
  size_t key = 0;
  size_t salt = 0;
};
std::optional<SrtpKeyLengths> KeyLengthsFor(SrtpProfile profile);

// Keys for one SRTP session in both directions, already assigned to this endpoint: `local_*` protect what we
// send, `remote_*` what we receive. On the other endpoint the two halves are swapped.
struct SrtpKeyingMaterial {
  SrtpProfile profile = SrtpProfile::kNone;
  std::vector<uint8_t> local_key;
  std::vector<uint8_t> local_salt;
  std::vector<uint8_t> remote_key;
  std::vector<uint8_t> remote_salt;
};

}  // namespace tandem::dtls
