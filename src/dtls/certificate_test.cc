// Certificate: generation (W3C webrtc-pc §4.9 defaults), PEM round trips, fingerprints against the openssl
// CLI.
#include "dtls/certificate.h"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/rng.h"
#include "dtls/certificate_internal.h"

namespace tandem::dtls {
namespace {

constexpr UnixTime kNow{1767225600};  // 2026-01-01T00:00:00Z

std::string ReadFile(const std::string& name) {
  std::ifstream in(std::string(TANDEM_DTLS_TESTDATA) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(CertificateTest, GenerateMakesSelfSignedEcdsaP256WithSha256) {
  SeededRng rng(1);
  auto cert = Certificate::Generate(kNow, rng);
  ASSERT_TRUE(cert.ok());
  X509* x509 = CertificateAccess::x509(*cert);
  ASSERT_NE(x509, nullptr);
  EXPECT_EQ(X509_get_version(x509), X509_VERSION_3);
  EXPECT_EQ(X509_get_signature_nid(x509), NID_ecdsa_with_SHA256);
  EVP_PKEY* key = X509_get0_pubkey(x509);
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
  char group[64] = {};
  size_t group_len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof(group), &group_len), 1);
  EXPECT_STREQ(group, "prime256v1");
  // Self-signed: issuer == subject and the signature verifies with its own key.
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x509), X509_get_issuer_name(x509)), 0);
  EXPECT_EQ(X509_verify(x509, key), 1);
  // Valid from a day before `now` to 30 days after.
  EXPECT_EQ(cert->not_before().seconds, kNow.seconds - 24 * 3600);
  EXPECT_EQ(cert->expires().seconds, kNow.seconds + 30 * 24 * 3600);
}

TEST(CertificateTest, SerialAndNameComeFromTheRngAndKeysDiffer) {
  SeededRng rng1(1), rng2(1), rng3(2);
  auto a = Certificate::Generate(kNow, rng1).value();
  auto b = Certificate::Generate(kNow, rng2).value();
  auto c = Certificate::Generate(kNow, rng3).value();
  auto serial = [](const Certificate& x) {
    uint64_t v = 0;
    ASN1_INTEGER_get_uint64(&v, X509_get0_serialNumber(CertificateAccess::x509(x)));
    return v;
  };
  auto cn = [](const Certificate& x) {
    char buf[128] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(CertificateAccess::x509(x)), NID_commonName, buf,
                              sizeof(buf));
    return std::string(buf);
  };
  EXPECT_EQ(serial(a), serial(b));  // same seed
  EXPECT_NE(serial(a), serial(c));
  EXPECT_GT(serial(a), 0u);
  EXPECT_LT(serial(a), uint64_t{1} << 63);
  EXPECT_EQ(cn(a), cn(b));
  EXPECT_NE(cn(a), cn(c));
  EXPECT_EQ(cn(a).size(), 16u);
  // The key never comes from the seeded Rng.
  EXPECT_NE(a.GetFingerprint(), b.GetFingerprint());
}

TEST(CertificateTest, CustomLifetime) {
  SeededRng rng(3);
  auto cert = Certificate::Generate(kNow, rng, TimeDelta::Seconds(3600)).value();
  EXPECT_EQ(cert.expires().seconds, kNow.seconds + 3600);
  EXPECT_FALSE(Certificate::Generate(kNow, rng, TimeDelta::Zero()).ok());
}

TEST(CertificateTest, PemRoundTrip) {
  SeededRng rng(4);
  auto cert = Certificate::Generate(kNow, rng).value();
  const std::string cert_pem = cert.CertificatePem();
  const std::string key_pem = cert.PrivateKeyPem();
  EXPECT_EQ(cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0), 0u);
  EXPECT_EQ(key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);  // PKCS#8
  auto loaded = Certificate::FromPem(cert_pem, key_pem);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->Der(), cert.Der());
  EXPECT_EQ(loaded->GetFingerprint(), cert.GetFingerprint());
  EXPECT_EQ(loaded->expires().seconds, cert.expires().seconds);
  EXPECT_EQ(loaded->PrivateKeyPem(), key_pem);
}

TEST(CertificateTest, FromPemErrors) {
  SeededRng rng(5);
  auto a = Certificate::Generate(kNow, rng).value();
  auto b = Certificate::Generate(kNow, rng).value();
  EXPECT_EQ(Certificate::FromPem("garbage", a.PrivateKeyPem()).error().code, ErrorCode::kMalformed);
  EXPECT_EQ(Certificate::FromPem(a.CertificatePem(), "garbage").error().code, ErrorCode::kMalformed);
  EXPECT_EQ(Certificate::FromPem(a.CertificatePem(), b.PrivateKeyPem()).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(Certificate::FromPem("", "").error().code, ErrorCode::kMalformed);
  // An encrypted key is refused instead of prompting for a passphrase.
  internal::OpenSslPtr<BIO> bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_PrivateKey(bio.get(), CertificateAccess::private_key(a), EVP_aes_128_cbc(),
                                     reinterpret_cast<const unsigned char*>("pw"), 2, nullptr, nullptr),
            1);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  EXPECT_EQ(
      Certificate::FromPem(a.CertificatePem(), std::string(data, static_cast<size_t>(size))).error().code,
      ErrorCode::kMalformed);
}

TEST(CertificateTest, FingerprintsMatchTheOpensslCli) {
  // Reference values printed by `openssl x509 -noout -fingerprint -sha256|-sha1|-sha512`
  // (testdata/README.md).
  auto cert = Certificate::FromPem(ReadFile("openssl_cli_cert.pem"), ReadFile("openssl_cli_key.pem"));
  ASSERT_TRUE(cert.ok()) << cert.error().ToString();
  EXPECT_EQ(
      cert->GetFingerprint().ToString(),
      "sha-256 "
      "D2:EE:C6:4D:78:2F:16:9A:FB:DB:7C:4D:86:A1:BA:EF:DC:E0:3B:69:F0:28:54:3A:F4:01:C8:6E:AC:75:24:CC");
  EXPECT_EQ(cert->GetFingerprint("sha-1")->ValueString(),
            "C5:D5:FE:09:8D:B7:2E:E9:BC:21:85:F3:F3:5B:30:3A:18:44:86:D8");
  EXPECT_EQ(cert->GetFingerprint("sha-512")->ValueString(),
            "F3:CA:E5:01:29:2D:3E:A4:4B:CA:14:F7:89:8B:39:74:F3:4E:96:C0:1D:CC:9F:DB:95:EA:EC:EF:F8:41:96:82:"
            "01:89:F0:"
            "A0:7F:C3:76:FF:0C:00:CE:9C:D2:9A:F2:A5:49:0E:2D:CB:39:0F:FA:B5:C4:59:D6:9E:F7:15:5F:8A");
  EXPECT_EQ(cert->GetFingerprint("sha-384")->value.size(), 48u);
  EXPECT_EQ(cert->GetFingerprint("sha-224")->value.size(), 28u);
  EXPECT_EQ(cert->GetFingerprint("md5").error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(cert->expires().seconds, 4949369091);  // notAfter=Nov  3 08:44:51 2126 GMT
}

TEST(CertificateTest, EmptyCertificate) {
  Certificate empty;
  EXPECT_FALSE(empty.valid());
  EXPECT_TRUE(empty.CertificatePem().empty());
  EXPECT_TRUE(empty.Der().empty());
  EXPECT_FALSE(empty.GetFingerprint("sha-256").ok());
}

TEST(CertificateTest, CopiesShareAndAreUsableFromSeveralThreads) {
  SeededRng rng(6);
  const auto cert = Certificate::Generate(kNow, rng).value();
  const Fingerprint expected = cert.GetFingerprint();
  std::vector<std::thread> threads;
  std::atomic<int> matches{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([cert, &expected, &matches] {
      for (int j = 0; j < 50; ++j) {
        matches += cert.GetFingerprint() == expected && !cert.CertificatePem().empty();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(matches.load(), 200);
  Certificate copy = cert;
  EXPECT_EQ(CertificateAccess::x509(copy), CertificateAccess::x509(cert));
}

}  // namespace
}  // namespace tandem::dtls
