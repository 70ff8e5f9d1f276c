#include "ice/candidate.h"

#include <algorithm>
#include <charconv>
#include <limits>

namespace tandem::ice {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 8839 §5.1 uses RFC 4566 token for transport-extension and extension-att-name: visible characters except
// a few separators. We accept the RFC 4566 token-char set.
bool IsTokenChar(char c) {
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  return !s.empty() && s.size() <= kMaxExtensionTokenLength && std::all_of(s.begin(), s.end(), IsTokenChar);
}

// RFC 4566 byte-string without spaces (what a cand-extension value can be on one attribute line): any visible
// character.
bool IsExtensionValue(std::string_view s) {
  if (s.empty() || s.size() > kMaxExtensionTokenLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

template <typename T>
bool ParseDecimal(std::string_view s, size_t max_digits, T& out) {
  if (s.empty() || s.size() > max_digits) return false;
  if (!std::all_of(s.begin(), s.end(), IsDigit)) return false;
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return false;
  if (v > std::numeric_limits<T>::max()) return false;
  out = static_cast<T>(v);
  return true;
}

// A DNS name as a connection-address (RFC 8839 §5.1 allows an FQDN): labels of letters, digits and hyphens.
bool IsHostname(std::string_view s) {
  if (s.empty() || s.size() > kMaxHostnameLength) return false;
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    if (!(IsAlpha(c) || IsDigit(c) || c == '-' || c == '_')) return false;
    if (++label > 63) return false;
  }
  return label > 0 || s.size() > 1;  // a trailing dot is fine, an empty last label after a non-dot is not
}

std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::optional<CandidateType> ParseType(std::string_view s) {
  if (s == "host") return CandidateType::kHost;
  if (s == "srflx") return CandidateType::kServerReflexive;
  if (s == "prflx") return CandidateType::kPeerReflexive;
  if (s == "relay") return CandidateType::kRelayed;
  return std::nullopt;
}

}  // namespace

const char* ToString(CandidateType type) {
  switch (type) {
    case CandidateType::kHost:
      return "host";
    case CandidateType::kServerReflexive:
      return "srflx";
    case CandidateType::kPeerReflexive:
      return "prflx";
    case CandidateType::kRelayed:
      return "relay";
  }
  return "host";
}

bool IsIceChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '+' || c == '/'; }
bool IsIceString(std::string_view s) { return std::all_of(s.begin(), s.end(), IsIceChar); }

Result<Candidate> Candidate::Parse(std::string_view text) {
  if (text.size() > kMaxCandidateLength) return MakeError(ErrorCode::kLimitExceeded, "candidate: too long");
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (text.substr(0, 2) == "a=") text.remove_prefix(2);
  constexpr std::string_view kPrefix = "candidate:";
  if (text.size() < kPrefix.size() || !EqualsIgnoreCase(text.substr(0, kPrefix.size()), kPrefix)) {
    return MakeError(ErrorCode::kMalformed, "candidate: missing 'candidate:' prefix");
  }
  text.remove_prefix(kPrefix.size());
  const std::vector<std::string_view> t = SplitSpaces(text);
  if (t.size() < 8) return MakeError(ErrorCode::kTruncated, "candidate: fewer than 8 fields");

  Candidate c;
  // foundation = 1*32ice-char
  if (t[0].empty() || t[0].size() > kMaxFoundationLength || !IsIceString(t[0])) {
    return MakeError(ErrorCode::kMalformed, "candidate: bad foundation");
  }
  c.foundation = std::string(t[0]);
  // component-id = 1*3DIGIT (1..256, RFC 8445 §5.1.2.1)
  if (!ParseDecimal(t[1], 3, c.component) || c.component < 1 || c.component > 256) {
    return MakeError(ErrorCode::kMalformed, "candidate: bad component id");
  }
  // transport = "UDP" / transport-extension (token)
  if (!IsToken(t[2]) || t[2].size() > 32) return MakeError(ErrorCode::kMalformed, "candidate: bad transport");
  c.transport = std::string(t[2]);
  // priority = 1*10DIGIT, 1..2^31-1 per RFC 8445 §5.1.2.1 but browsers stay within 32 bits; accept 32 bits.
  if (!ParseDecimal(t[3], 10, c.priority)) return MakeError(ErrorCode::kMalformed, "candidate: bad priority");
  // connection-address: IPv4, IPv6 (no brackets, no zone) or FQDN
  uint16_t port = 0;
  if (!ParseDecimal(t[5], 5, port)) return MakeError(ErrorCode::kMalformed, "candidate: bad port");
  if (auto ip = IpAddress::Parse(t[4])) {
    c.address = SocketAddress(*ip, port);
  } else if (t[4].find(':') != std::string_view::npos || t[4].find('%') != std::string_view::npos) {
    return MakeError(ErrorCode::kMalformed, "candidate: bad IPv6 address");
  } else if (IsHostname(t[4]) &&
             !std::all_of(t[4].begin(), t[4].end(), [](char ch) { return IsDigit(ch) || ch == '.'; })) {
    c.hostname = std::string(t[4]);
    c.address = SocketAddress(IpAddress(), port);  // the port travels with an unspecified address
  } else {
    return MakeError(ErrorCode::kMalformed, "candidate: bad connection address");
  }
  if (t[6] != "typ") return MakeError(ErrorCode::kMalformed, "candidate: missing 'typ'");
  auto type = ParseType(t[7]);
  if (!type) return MakeError(ErrorCode::kUnsupported, "candidate: unknown candidate type");
  c.type = *type;

  size_t i = 8;
  std::optional<IpAddress> raddr;
  std::optional<uint16_t> rport;
  while (i < t.size()) {
    if (i + 1 >= t.size()) return MakeError(ErrorCode::kMalformed, "candidate: extension without a value");
    const std::string_view name = t[i];
    const std::string_view value = t[i + 1];
    i += 2;
    if (name == "raddr") {
      if (raddr || !c.extensions.empty() || !c.tcp_type.empty()) {
        return MakeError(ErrorCode::kMalformed, "candidate: misplaced raddr");
      }
      raddr = IpAddress::Parse(value);
      if (!raddr) return MakeError(ErrorCode::kMalformed, "candidate: bad raddr");
    } else if (name == "rport") {
      if (!raddr || rport) return MakeError(ErrorCode::kMalformed, "candidate: rport without raddr");
      uint16_t p = 0;
      if (!ParseDecimal(value, 5, p)) return MakeError(ErrorCode::kMalformed, "candidate: bad rport");
      rport = p;
    } else if (name == "tcptype") {
      if (!c.tcp_type.empty() || !c.extensions.empty()) {
        return MakeError(ErrorCode::kMalformed, "candidate: misplaced tcptype");
      }
      if (value != "active" && value != "passive" && value != "so") {
        return MakeError(ErrorCode::kMalformed, "candidate: bad tcptype");
      }
      c.tcp_type = std::string(value);
    } else {
      if (!IsToken(name) || !IsExtensionValue(value)) {
        return MakeError(ErrorCode::kMalformed, "candidate: bad extension");
      }
      if (c.extensions.size() >= kMaxCandidateExtensions) {
        return MakeError(ErrorCode::kLimitExceeded, "candidate: too many extensions");
      }
      c.extensions.emplace_back(std::string(name), std::string(value));
    }
  }
  if (raddr && !rport) return MakeError(ErrorCode::kMalformed, "candidate: raddr without rport");
  if (raddr) c.related = SocketAddress(*raddr, *rport);
  if (!c.tcp_type.empty() && !c.IsTcp())
    return MakeError(ErrorCode::kMalformed, "candidate: tcptype on non-TCP");
  return c;
}

std::string Candidate::ToString() const {
  std::string s;
  s.reserve(128);
  s += "candidate:";
  s += foundation;
  s += ' ';
  s += std::to_string(component);
  s += ' ';
  s += transport;
  s += ' ';
  s += std::to_string(priority);
  s += ' ';
  s += hostname.empty() ? address.ip().ToString() : hostname;
  s += ' ';
  s += std::to_string(address.port());
  s += " typ ";
  s += ice::ToString(type);
  if (related) {
    s += " raddr ";
    s += related->ip().ToString();
    s += " rport ";
    s += std::to_string(related->port());
  }
  if (!tcp_type.empty()) {
    s += " tcptype ";
    s += tcp_type;
  }
  for (const auto& [name, value] : extensions) {
    s += ' ';
    s += name;
    s += ' ';
    s += value;
  }
  return s;
}

bool Candidate::IsUdp() const { return EqualsIgnoreCase(transport, "udp"); }
bool Candidate::IsTcp() const { return EqualsIgnoreCase(transport, "tcp"); }

bool Candidate::IsMdnsHostname() const {
  constexpr std::string_view kLocal = ".local";
  std::string_view h = hostname;
  if (!h.empty() && h.back() == '.') h.remove_suffix(1);
  return h.size() > kLocal.size() && EqualsIgnoreCase(h.substr(h.size() - kLocal.size()), kLocal);
}

std::optional<std::string_view> Candidate::Extension(std::string_view name) const {
  for (const auto& [n, v] : extensions) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

void Candidate::SetExtension(std::string_view name, std::string_view value) {
  for (auto& [n, v] : extensions) {
    if (n == name) {
      v = std::string(value);
      return;
    }
  }
  extensions.emplace_back(std::string(name), std::string(value));
}

uint32_t TypePreference(CandidateType type) {
  switch (type) {
    case CandidateType::kHost:
      return kHostTypePreference;
    case CandidateType::kPeerReflexive:
      return kPeerReflexiveTypePreference;
    case CandidateType::kServerReflexive:
      return kServerReflexiveTypePreference;
    case CandidateType::kRelayed:
      return kRelayedTypePreference;
  }
  return 0;
}

uint32_t ComputePriority(uint32_t type_preference, uint32_t local_preference, uint16_t component) {
  const uint32_t comp = std::clamp<uint32_t>(component, 1, 256);
  return (std::min<uint32_t>(type_preference, 126) << 24) +
         (std::min<uint32_t>(local_preference, 65535) << 8) + (256 - comp);
}

uint32_t MultihomedLocalPreference(AddressFamily family, size_t index_in_family) {
  // Rank 0 is the best IPv6 address, 1 the best IPv4, 2 the second IPv6, ... (RFC 8421 §4).
  const uint64_t rank = 2 * uint64_t{index_in_family} + (family == AddressFamily::kIPv6 ? 0 : 1);
  return rank >= 65535 ? 0 : static_cast<uint32_t>(65535 - rank);
}

uint64_t PairPriority(uint32_t g, uint32_t d) {
  return (uint64_t{std::min(g, d)} << 32) + 2 * uint64_t{std::max(g, d)} + (g > d ? 1 : 0);
}

}  // namespace tandem::ice
