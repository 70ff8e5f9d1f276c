#include "dtls/fingerprint.h"

#include <openssl/evp.h>

#include <array>
#include <cctype>

namespace tandem::dtls {
namespace {

struct Algorithm {
  std::string_view sdp_name;
  const char* openssl_name;
  size_t length;
};

// Strongest first: MatchesAnyFingerprint picks the first one the remote offered.
constexpr std::array<Algorithm, 5> kAlgorithms = {{
    {"sha-512", "SHA512", 64},
    {"sha-384", "SHA384", 48},
    {"sha-256", "SHA256", 32},
    {"sha-224", "SHA224", 28},
    {"sha-1", "SHA1", 20},
}};

const Algorithm* FindAlgorithm(std::string_view lower_name) {
  for (const auto& a : kAlgorithms) {
    if (a.sdp_name == lower_name) return &a;
  }
  return nullptr;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::optional<size_t> Fingerprint::DigestLength(std::string_view algorithm) {
  const Algorithm* a = FindAlgorithm(algorithm);
  if (a == nullptr) return std::nullopt;
  return a->length;
}

const std::vector<std::string_view>& Fingerprint::SupportedAlgorithms() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (const auto& a : kAlgorithms) names.push_back(a.sdp_name);
    return names;
  }();
  return kNames;
}

std::optional<Fingerprint> Fingerprint::Parse(std::string_view algorithm, std::string_view hex_colon) {
  if (algorithm.size() > 16) return std::nullopt;
  std::string lower;
  for (char c : algorithm) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  const Algorithm* a = FindAlgorithm(lower);
  if (a == nullptr) return std::nullopt;
  // RFC 8122 §5: fingerprint = 2UHEX *(":" 2UHEX), so exactly 3 * length - 1 characters.
  if (hex_colon.size() != a->length * 3 - 1) return std::nullopt;
  Fingerprint fp;
  fp.algorithm = std::move(lower);
  fp.value.reserve(a->length);
  for (size_t i = 0; i < hex_colon.size(); i += 3) {
    const int hi = HexValue(hex_colon[i]);
    const int lo = HexValue(hex_colon[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i + 2 < hex_colon.size() && hex_colon[i + 2] != ':') return std::nullopt;
    fp.value.push_back(static_cast<uint8_t>((hi << 4) | lo));
  }
  return fp;
}

std::optional<Fingerprint> Fingerprint::ParseAttribute(std::string_view attribute_value) {
  attribute_value = Trim(attribute_value);
  const size_t space = attribute_value.find_first_of(" \t");
  if (space == std::string_view::npos) return std::nullopt;
  return Parse(attribute_value.substr(0, space), Trim(attribute_value.substr(space)));
}

std::string Fingerprint::ValueString() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (size_t i = 0; i < value.size(); ++i) {
    if (i != 0) out.push_back(':');
    out.push_back(kHex[value[i] >> 4]);
    out.push_back(kHex[value[i] & 0xf]);
  }
  return out;
}

std::string Fingerprint::ToString() const { return algorithm + " " + ValueString(); }

Result<Fingerprint> ComputeFingerprint(std::string_view algorithm, ByteSpan certificate_der) {
  const Algorithm* a = FindAlgorithm(algorithm);
  if (a == nullptr) return MakeError(ErrorCode::kUnsupported, "unsupported fingerprint hash function");
  const EVP_MD* md = EVP_get_digestbyname(a->openssl_name);
  if (md == nullptr) return MakeError(ErrorCode::kUnsupported, "digest not available in OpenSSL");
  Fingerprint fp;
  fp.algorithm = std::string(a->sdp_name);
  fp.value.resize(EVP_MAX_MD_SIZE);
  unsigned int length = 0;
  if (EVP_Digest(certificate_der.data(), certificate_der.size(), fp.value.data(), &length, md, nullptr) !=
          1 ||
      length != a->length) {
    return MakeError(ErrorCode::kInternal, "digest failed");
  }
  fp.value.resize(length);
  return fp;
}

bool MatchesAnyFingerprint(ByteSpan certificate_der, const std::vector<Fingerprint>& fingerprints) {
  for (const auto& a : kAlgorithms) {
    bool offered = false;
    for (const auto& fp : fingerprints) offered = offered || fp.algorithm == a.sdp_name;
    if (!offered) continue;
    auto ours = ComputeFingerprint(a.sdp_name, certificate_der);
    if (!ours.ok()) return false;
    for (const auto& fp : fingerprints) {
      if (fp.algorithm == a.sdp_name && fp.value == ours->value) return true;
    }
    return false;  // only the strongest offered algorithm counts
  }
  return false;
}

}  // namespace tandem::dtls
