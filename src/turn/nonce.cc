#include "turn/nonce.h"

#include <cstdio>

#include "core/crypto.h"

namespace tandem::turn {
namespace {

constexpr size_t kExpiryHexLen = 16;
constexpr size_t kMacHexLen = 24;

std::optional<uint64_t> ParseHex64(std::string_view s) {
  if (s.size() != kExpiryHexLen) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return std::string(buf, 16);
}

}  // namespace

NonceManager::NonceManager(Rng& rng, TimeDelta lifetime, uint32_t features) : lifetime_(lifetime) {
  rng.Fill(secret_);
  SetFeatures(features);
}

NonceManager::NonceManager(const std::array<uint8_t, 32>& secret, TimeDelta lifetime, uint32_t features)
    : secret_(secret), lifetime_(lifetime) {
  SetFeatures(features);
}

void NonceManager::SetFeatures(uint32_t features) {
  if (features != 0) {
    const uint8_t bits[3] = {static_cast<uint8_t>(features >> 16), static_cast<uint8_t>(features >> 8),
                             static_cast<uint8_t>(features)};
    prefix_ = std::string(kNonceCookie) + crypto::Base64Encode(bits);  // 3 bytes -> 4 characters, no padding
  }
}

std::string NonceManager::Mac(std::string_view prefix, uint64_t expiry, const IpAddress& client) const {
  uint8_t data[8 + 17];
  StoreBe32(data, static_cast<uint32_t>(expiry >> 32));
  StoreBe32(data + 4, static_cast<uint32_t>(expiry));
  const IpAddress ip = client.Unmapped();
  data[8] = static_cast<uint8_t>(ip.family());
  for (size_t i = 0; i < 16; ++i) data[9 + i] = ip.bytes()[i];
  const auto mac = crypto::HmacSha256(secret_, AsBytes(prefix), data);
  return crypto::HexEncode(ByteSpan(mac).first(kMacHexLen / 2));
}

std::string NonceManager::Make(Timestamp now, const IpAddress& client) const {
  const uint64_t expiry = static_cast<uint64_t>((now + lifetime_).us());
  return prefix_ + Hex64(expiry) + Mac(prefix_, expiry, client);
}

NonceManager::Validity NonceManager::Check(std::string_view nonce, Timestamp now,
                                           const IpAddress& client) const {
  if (nonce.size() != prefix_.size() + kExpiryHexLen + kMacHexLen) return Validity::kStale;
  if (nonce.substr(0, prefix_.size()) != prefix_) return Validity::kStale;
  const auto expiry = ParseHex64(nonce.substr(prefix_.size(), kExpiryHexLen));
  if (!expiry) return Validity::kStale;
  const std::string mac = Mac(prefix_, *expiry, client);
  if (!crypto::ConstantTimeEqual(AsBytes(mac), AsBytes(nonce.substr(prefix_.size() + kExpiryHexLen)))) {
    return Validity::kStale;
  }
  if (static_cast<int64_t>(*expiry) <= now.us()) return Validity::kStale;
  return Validity::kValid;
}

uint32_t NonceManager::Features(std::string_view nonce) {
  if (nonce.size() < kNonceCookie.size() + 4 || nonce.substr(0, kNonceCookie.size()) != kNonceCookie)
    return 0;
  const auto bits = crypto::Base64Decode(nonce.substr(kNonceCookie.size(), 4));
  if (!bits || bits->size() != 3) return 0;
  return (uint32_t{static_cast<uint8_t>((*bits)[0])} << 16) |
         (uint32_t{static_cast<uint8_t>((*bits)[1])} << 8) | uint32_t{static_cast<uint8_t>((*bits)[2])};
}

}  // namespace tandem::turn
