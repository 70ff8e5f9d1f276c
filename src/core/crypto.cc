#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace tandem::crypto {
namespace {

// EVP_MAC would be the OpenSSL-3 way, but HMAC() is a single call with no context allocation beyond OpenSSL's own,
// and it is what the hot path (MESSAGE-INTEGRITY on every authenticated request) wants.
template <size_t N>
std::array<uint8_t, N> Hmac(const EVP_MD* md, ByteSpan key, ByteSpan d1, ByteSpan d2) {
  std::array<uint8_t, N> out{};
  if (d2.empty()) {
    unsigned int len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()), d1.data(), d1.size(), out.data(), &len);
    return out;
  }
  HMAC_CTX* ctx = HMAC_CTX_new();
  unsigned int len = 0;
  HMAC_Init_ex(ctx, key.data(), static_cast<int>(key.size()), md, nullptr);
  HMAC_Update(ctx, d1.data(), d1.size());
  HMAC_Update(ctx, d2.data(), d2.size());
  HMAC_Final(ctx, out.data(), &len);
  HMAC_CTX_free(ctx);
  return out;
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

Sha1Digest HmacSha1(ByteSpan key, ByteSpan data) { return Hmac<20>(EVP_sha1(), key, data, {}); }
Sha256Digest HmacSha256(ByteSpan key, ByteSpan data) { return Hmac<32>(EVP_sha256(), key, data, {}); }
Sha1Digest HmacSha1(ByteSpan key, ByteSpan d1, ByteSpan d2) { return Hmac<20>(EVP_sha1(), key, d1, d2); }
Sha256Digest HmacSha256(ByteSpan key, ByteSpan d1, ByteSpan d2) { return Hmac<32>(EVP_sha256(), key, d1, d2); }

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
