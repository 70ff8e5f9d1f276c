// RTCCertificate: the DTLS identity of a peer connection (an ECDSA P-256 key and a self-signed certificate
// whose fingerprint travels in SDP, RFC 8122 §5). Generate one and reuse it to keep a stable fingerprint.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace tandem {

class Certificate {
 public:
  // ECDSA P-256, valid for 30 days (W3C generateCertificate default). Throws RtcError "OperationError" on
  // failure.
  static Certificate Generate();
  // From a PEM certificate and its PEM private key. Throws RtcError "InvalidAccessError" when they do not
  // load or do not match.
  static Certificate FromPem(std::string_view certificate_pem, std::string_view private_key_pem);

  // "sha-256 AB:CD:..." as in a=fingerprint.
  std::string fingerprint() const;
  std::string certificate_pem() const;
  std::string private_key_pem() const;
  // Expiry, seconds since the Unix epoch.
  int64_t expires() const;

  struct Impl;
  const std::shared_ptr<const Impl>& impl() const { return impl_; }

 private:
  explicit Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace tandem
