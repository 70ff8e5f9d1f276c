#include "dtls/srtp.h"

namespace tandem::dtls {

const char* ToString(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kNone:
      return "NONE";
    case SrtpProfile::kAes128CmSha1_80:
      return "SRTP_AES128_CM_HMAC_SHA1_80";
    case SrtpProfile::kAes128CmSha1_32:
      return "SRTP_AES128_CM_HMAC_SHA1_32";
    case SrtpProfile::kAeadAes128Gcm:
      return "SRTP_AEAD_AES_128_GCM";
    case SrtpProfile::kAeadAes256Gcm:
      return "SRTP_AEAD_AES_256_GCM";
  }
  return "UNKNOWN";
}

std::optional<SrtpKeyLengths> KeyLengthsFor(SrtpProfile profile) {
  switch (profile) {
    case SrtpProfile::kAes128CmSha1_80:
    case SrtpProfile::kAes128CmSha1_32:
      return SrtpKeyLengths{16, 14};  // RFC 5764 §4.1.2
    case SrtpProfile::kAeadAes128Gcm:
      return SrtpKeyLengths{16, 12};  // RFC 7714 §12
    case SrtpProfile::kAeadAes256Gcm:
      return SrtpKeyLengths{32, 12};  // RFC 7714 §12
    case SrtpProfile::kNone:
      break;
  }
  return std::nullopt;
}

}  // namespace tandem::dtls
