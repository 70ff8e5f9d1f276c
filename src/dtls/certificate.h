// The local identity of a DTLS endpoint: an X.509 certificate and its private key. WebRTC uses self-signed
// certificates whose fingerprint travels in SDP (RFC 8827 §6.5, RFC 8122 §5); W3C webrtc-pc §4.9 generates
// ECDSA P-256 by default and expires them after 30 days.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/rng.h"
#include "core/time.h"
#include "dtls/fingerprint.h"

namespace tandem::dtls {

struct CertificateAccess;  // internal: hands the OpenSSL objects to the transport (certificate_internal.h)

// Immutable and cheap to copy: copies share one OpenSSL certificate and key, which OpenSSL allows to be used
// from several threads at once. A default-constructed Certificate is empty (valid() is false).
class Certificate {
 public:
  static constexpr TimeDelta kDefaultLifetime = TimeDelta::Seconds(30 * 24 * 3600);

  Certificate();
  ~Certificate();
  Certificate(const Certificate&);
  Certificate& operator=(const Certificate&);
  Certificate(Certificate&&) noexcept;
  Certificate& operator=(Certificate&&) noexcept;

  // A fresh ECDSA P-256 key and a self-signed X.509 v3 certificate signed with ECDSA-SHA256. `now` is
  // wall-clock time (cores never read a clock); the certificate is valid from one day before `now`
  // (tolerating peers with slow clocks) until `now + lifetime`. `rng` picks the 63-bit serial number and the
  // random common name. The private key itself always comes from OpenSSL's CSPRNG: a key drawn from a test
  // Rng would be guessable.
  static Result<Certificate> Generate(UnixTime now, Rng& rng, TimeDelta lifetime = kDefaultLifetime);
  // Loads a PEM certificate and its PEM private key (PKCS#8 or traditional); the key must match the
  // certificate.
  static Result<Certificate> FromPem(std::string_view certificate_pem, std::string_view private_key_pem);

  bool valid() const { return impl_ != nullptr; }
  std::string CertificatePem() const;
  std::string PrivateKeyPem() const;  // unencrypted PKCS#8
  const std::vector<uint8_t>& Der() const;

  // The SDP fingerprint of this certificate (sha-256), or with another supported algorithm.
  Fingerprint GetFingerprint() const;
  Result<Fingerprint> GetFingerprint(std::string_view algorithm) const;

  UnixTime not_before() const;
  UnixTime expires() const;  // notAfter

 private:
  friend struct CertificateAccess;
  struct Impl;
  explicit Certificate(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tandem::dtls
