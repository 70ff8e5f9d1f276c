#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace tandem::crypto {
namespace {

// HMAC through OpenSSL 3's EVP_MAC with the algorithm fetched once and one context per thread and digest, reused
// for every call: OpenSSL's one-shot HMAC() fetches the implementation on each call, which dominated the cost of
// verifying MESSAGE-INTEGRITY on every authenticated STUN request.
class HmacContext {
 public:
  explicit HmacContext(const char* digest) {
    mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    ctx_ = mac_ ? EVP_MAC_CTX_new(mac_) : nullptr;
    if (ctx_ == nullptr) throw std::runtime_error("OpenSSL HMAC unavailable");
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>(digest), 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(ctx_, params) != 1) throw std::runtime_error("OpenSSL HMAC digest unavailable");
  }
  ~HmacContext() {
    EVP_MAC_CTX_free(ctx_);
    EVP_MAC_free(mac_);
  }
  template <size_t N>
  std::array<uint8_t, N> Compute(ByteSpan key, ByteSpan d1, ByteSpan d2) {
    std::array<uint8_t, N> out{};
    // An empty key is legal HMAC; OpenSSL wants a non-null pointer for it.
    static const uint8_t kEmpty = 0;
    const uint8_t* k = key.empty() ? &kEmpty : key.data();
    size_t len = 0;
    if (EVP_MAC_init(ctx_, k, key.size(), nullptr) != 1 || EVP_MAC_update(ctx_, d1.data(), d1.size()) != 1 ||
        (!d2.empty() && EVP_MAC_update(ctx_, d2.data(), d2.size()) != 1) ||
        EVP_MAC_final(ctx_, out.data(), &len, out.size()) != 1 || len != N) {
      throw std::runtime_error("OpenSSL HMAC failed");  // only on OpenSSL misconfiguration, never on input
    }
    return out;
  }

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* ctx_ = nullptr;
};

template <size_t N>
std::array<uint8_t, N> Hmac(const char* digest, ByteSpan key, ByteSpan d1, ByteSpan d2) {
  if constexpr (N == 20) {
    thread_local HmacContext ctx("SHA1");
    return ctx.Compute<N>(key, d1, d2);
  } else {
    thread_local HmacContext ctx("SHA256");
    return ctx.Compute<N>(key, d1, d2);
  }
}

template <uint32_t kPolyReflected>
struct CrcTable {
  std::array<uint32_t, 256> t{};
  constexpr CrcTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (kPolyReflected ^ (c >> 1)) : (c >> 1);
      t[i] = c;
    }
  }
};
constexpr CrcTable<0xEDB88320u> kCrc32Table;
constexpr CrcTable<0x82F63B78u> kCrc32cTable;

template <const auto& kTable>
uint32_t Crc(ByteSpan data) {
  uint32_t c = 0xffffffffu;
  for (uint8_t b : data) c = kTable.t[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

}  // namespace

Sha1Digest HmacSha1(ByteSpan key, ByteSpan data) { return Hmac<20>("SHA1", key, data, {}); }
Sha256Digest HmacSha256(ByteSpan key, ByteSpan data) { return Hmac<32>("SHA256", key, data, {}); }
Sha1Digest HmacSha1(ByteSpan key, ByteSpan d1, ByteSpan d2) { return Hmac<20>("SHA1", key, d1, d2); }
Sha256Digest HmacSha256(ByteSpan key, ByteSpan d1, ByteSpan d2) { return Hmac<32>("SHA256", key, d1, d2); }

Md5Digest Md5(ByteSpan data) {
  Md5Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

Sha256Digest Sha256(ByteSpan data) {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

bool ConstantTimeEqual(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

uint32_t Crc32(ByteSpan data) { return Crc<kCrc32Table>(data); }
uint32_t Crc32c(ByteSpan data) { return Crc<kCrc32cTable>(data); }

std::string Base64Encode(ByteSpan data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding bytes as output; trim them.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') ++pad;
  if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

std::string HexEncode(ByteSpan data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

void SecureRandomBytes(MutableByteSpan out) {
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) throw std::runtime_error("RAND_bytes failed");
}

}  // namespace tandem::crypto
