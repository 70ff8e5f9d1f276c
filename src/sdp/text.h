// Small text helpers shared by the SDP parser and serializer (internal to src/sdp).
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace tandem::sdp::text {

// Decimal digits only (no sign, no spaces), at least one, and the value at most `max`.
template <typename T>
std::optional<T> ParseUint(std::string_view s, T max = std::numeric_limits<T>::max()) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  if (v > static_cast<uint64_t>(max)) return std::nullopt;
  return static_cast<T>(v);
}

// RTP payload types are 7 bits (RFC 3550 §5.1).
inline std::optional<uint8_t> ParsePayloadType(std::string_view s) { return ParseUint<uint8_t>(s, 127); }

// Splits at the first `sep`: ("a b c", ' ') -> ("a", "b c"); without `sep` the second part is nullopt.
inline std::pair<std::string_view, std::optional<std::string_view>> SplitFirst(std::string_view s, char sep) {
  const size_t at = s.find(sep);
  if (at == std::string_view::npos) return {s, std::nullopt};
  return {s.substr(0, at), s.substr(at + 1)};
}

// Calls f(piece) for each `sep`-separated piece, empty pieces included; stops early when f returns false.
template <typename F>
bool ForEachPiece(std::string_view s, char sep, F&& f) {
  while (true) {
    const size_t at = s.find(sep);
    if (!f(s.substr(0, at))) return false;
    if (at == std::string_view::npos) return true;
    s.remove_prefix(at + 1);
  }
}

inline std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

inline char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

inline void Append(std::string& out, uint64_t v) { out += std::to_string(v); }

}  // namespace tandem::sdp::text
