// tandem::Certificate (include/tandem/certificate.h) over dtls::Certificate.
#include "peer/certificate_impl.h"

#include <ctime>

#include "core/rng.h"
#include "tandem/peer_connection.h"

namespace tandem {

Certificate Certificate::Generate() {
  SecureRng rng;
  auto generated = dtls::Certificate::Generate(UnixTime{static_cast<int64_t>(std::time(nullptr))}, rng);
  if (!generated.ok()) throw RtcError("OperationError", generated.error().ToString());
  return Certificate(std::make_shared<const Impl>(Impl{std::move(*generated)}));
}

Certificate Certificate::FromPem(std::string_view certificate_pem, std::string_view private_key_pem) {
  auto loaded = dtls::Certificate::FromPem(certificate_pem, private_key_pem);
  if (!loaded.ok()) throw RtcError("InvalidAccessError", loaded.error().ToString());
  return Certificate(std::make_shared<const Impl>(Impl{std::move(*loaded)}));
}

std::string Certificate::fingerprint() const { return impl_->certificate.GetFingerprint().ToString(); }
std::string Certificate::certificate_pem() const { return impl_->certificate.CertificatePem(); }
std::string Certificate::private_key_pem() const { return impl_->certificate.PrivateKeyPem(); }
int64_t Certificate::expires() const { return impl_->certificate.expires().seconds; }

}  // namespace tandem
