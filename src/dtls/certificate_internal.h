// Private to src/dtls: the OpenSSL objects behind a Certificate, for the transport.
#pragma once

#include "dtls/certificate.h"
#include "dtls/openssl_internal.h"

namespace tandem::dtls {

struct CertificateAccess {
  // Borrowed pointers, valid while a copy of `certificate` lives; OpenSSL users take their own reference.
  static X509* x509(const Certificate& certificate);
  static EVP_PKEY* private_key(const Certificate& certificate);
  // Takes ownership of a certificate and its key (already checked to match).
  static Result<Certificate> Make(internal::OpenSslPtr<X509> x509, internal::OpenSslPtr<EVP_PKEY> key);
};

}  // namespace tandem::dtls
