#include "dtls/certificate.h"

#include <openssl/asn1.h>
#include <openssl/pem.h>

#include <ctime>
#include <limits>
#include <optional>

#include "core/crypto.h"
#include "dtls/certificate_internal.h"

namespace tandem::dtls {

using internal::OpenSslPtr;

struct Certificate::Impl {
  OpenSslPtr<X509> x509;
  OpenSslPtr<EVP_PKEY> key;
  std::vector<uint8_t> der;  // what fingerprints hash (RFC 8122 §5)
  UnixTime not_before;
  UnixTime not_after;
};

namespace {

std::optional<UnixTime> ToUnixTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::nullopt;
  return UnixTime{static_cast<int64_t>(timegm(&tm))};
}

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

OpenSslPtr<BIO> ReadOnlyBio(std::string_view text) {
  if (text.size() > static_cast<size_t>(std::numeric_limits<int>::max())) return nullptr;
  return OpenSslPtr<BIO>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace

X509* CertificateAccess::x509(const Certificate& certificate) {
  return certificate.impl_ ? certificate.impl_->x509.get() : nullptr;
}

EVP_PKEY* CertificateAccess::private_key(const Certificate& certificate) {
  return certificate.impl_ ? certificate.impl_->key.get() : nullptr;
}

Result<Certificate> CertificateAccess::Make(OpenSslPtr<X509> x509, OpenSslPtr<EVP_PKEY> key) {
  auto impl = std::make_shared<Certificate::Impl>();
  const int der_size = i2d_X509(x509.get(), nullptr);
  if (der_size <= 0) return MakeError(ErrorCode::kMalformed, "certificate cannot be DER-encoded");
  impl->der.resize(static_cast<size_t>(der_size));
  unsigned char* out = impl->der.data();
  if (i2d_X509(x509.get(), &out) != der_size) return MakeError(ErrorCode::kInternal, "DER encoding failed");
  auto not_before = ToUnixTime(X509_get0_notBefore(x509.get()));
  auto not_after = ToUnixTime(X509_get0_notAfter(x509.get()));
  if (!not_before || !not_after) {
    return MakeError(ErrorCode::kMalformed, "certificate validity is unreadable");
  }
  impl->not_before = *not_before;
  impl->not_after = *not_after;
  impl->x509 = std::move(x509);
  impl->key = std::move(key);
  return Certificate(std::move(impl));
}

Certificate::Certificate() = default;
Certificate::~Certificate() = default;
Certificate::Certificate(const Certificate&) = default;
Certificate& Certificate::operator=(const Certificate&) = default;
Certificate::Certificate(Certificate&&) noexcept = default;
Certificate& Certificate::operator=(Certificate&&) noexcept = default;
Certificate::Certificate(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<Certificate> Certificate::Generate(UnixTime now, Rng& rng, TimeDelta lifetime) {
  if (lifetime <= TimeDelta::Zero()) {
    return MakeError(ErrorCode::kInvalidArgument, "certificate lifetime must be > 0");
  }
  // W3C webrtc-pc §4.9.1: ECDSA on P-256 is the default; the key comes from OpenSSL's CSPRNG.
  OpenSslPtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) return MakeError(ErrorCode::kInternal, "ECDSA P-256 key generation failed");

  OpenSslPtr<X509> x509(X509_new());
  if (!x509 || X509_set_version(x509.get(), X509_VERSION_3) != 1) {
    return MakeError(ErrorCode::kInternal, "X509_new failed");
  }
  // RFC 5280 §4.1.2.2: a positive serial of at most 20 octets; 63 random bits keep it positive and non-zero.
  uint64_t serial = rng.NextU64() >> 1;
  if (serial == 0) serial = 1;
  if (ASN1_INTEGER_set_uint64(X509_get_serialNumber(x509.get()), serial) != 1) {
    return MakeError(ErrorCode::kInternal, "setting the serial number failed");
  }
  // A random common name, so that the certificate says nothing about the software or the user (as browsers
  // do).
  uint8_t cn_bytes[8];
  rng.Fill(cn_bytes);
  const std::string common_name = crypto::HexEncode(ByteSpan(cn_bytes, sizeof(cn_bytes)));
  X509_NAME* name = X509_get_subject_name(x509.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x509.get(), name) != 1) {
    return MakeError(ErrorCode::kInternal, "setting the certificate name failed");
  }
  const auto not_before = static_cast<time_t>(now.seconds - 24 * 3600);
  const auto not_after = static_cast<time_t>(now.seconds + lifetime.seconds());
  if (ASN1_TIME_set(X509_getm_notBefore(x509.get()), not_before) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x509.get()), not_after) == nullptr) {
    return MakeError(ErrorCode::kInternal, "setting the validity period failed");
  }
  if (X509_set_pubkey(x509.get(), key.get()) != 1 || X509_sign(x509.get(), key.get(), EVP_sha256()) <= 0) {
    return MakeError(ErrorCode::kInternal, "signing the certificate failed");
  }
  return CertificateAccess::Make(std::move(x509), std::move(key));
}

Result<Certificate> Certificate::FromPem(std::string_view certificate_pem, std::string_view private_key_pem) {
  ERR_clear_error();
  auto cert_bio = ReadOnlyBio(certificate_pem);
  auto key_bio = ReadOnlyBio(private_key_pem);
  if (!cert_bio || !key_bio) return MakeError(ErrorCode::kLimitExceeded, "PEM text too large");
  OpenSslPtr<X509> x509(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!x509) {
    ERR_clear_error();
    return MakeError(ErrorCode::kMalformed, "certificate PEM could not be parsed");
  }
  // An empty passphrase callback result: encrypted keys are refused instead of prompting on the terminal.
  auto no_passphrase = [](char*, int, int, void*) -> int { return 0; };
  OpenSslPtr<EVP_PKEY> key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, no_passphrase, nullptr));
  if (!key) {
    ERR_clear_error();
    return MakeError(ErrorCode::kMalformed, "private key PEM could not be parsed");
  }
  if (X509_check_private_key(x509.get(), key.get()) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "private key does not match the certificate");
  }
  return CertificateAccess::Make(std::move(x509), std::move(key));
}

std::string Certificate::CertificatePem() const {
  if (!impl_) return {};
  OpenSslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), impl_->x509.get()) != 1) return {};
  return BioToString(bio.get());
}

std::string Certificate::PrivateKeyPem() const {
  if (!impl_) return {};
  OpenSslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), impl_->key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return {};
  }
  return BioToString(bio.get());
}

const std::vector<uint8_t>& Certificate::Der() const {
  static const std::vector<uint8_t> kEmpty;
  return impl_ ? impl_->der : kEmpty;
}

Fingerprint Certificate::GetFingerprint() const {
  auto fp = GetFingerprint("sha-256");
  return fp.ok() ? std::move(fp).value() : Fingerprint{};
}

Result<Fingerprint> Certificate::GetFingerprint(std::string_view algorithm) const {
  if (!impl_) return MakeError(ErrorCode::kInvalidArgument, "empty certificate");
  return ComputeFingerprint(algorithm, impl_->der);
}

UnixTime Certificate::not_before() const { return impl_ ? impl_->not_before : UnixTime{}; }
UnixTime Certificate::expires() const { return impl_ ? impl_->not_after : UnixTime{}; }

}  // namespace tandem::dtls
