#include "signal/names.h"

#include <cstdint>

namespace tandem::signaling {
namespace {

// Decodes one code point at text[i]; returns its length, or 0 when the sequence is not valid UTF-8.
size_t DecodeUtf8(std::string_view text, size_t i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(text[k]); };
  const uint8_t b0 = byte(i);
  size_t len;
  uint32_t min, value;
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, min = 0x80, value = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min = 0x800, value = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min = 0x10000, value = b0 & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const uint8_t b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *cp = value;
  return len;
}

}  // namespace

bool IsValidRoomName(std::string_view room) {
  if (room.empty() || room.size() > kMaxNameChars) return false;
  for (char c : room) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool IsValidUtf8(std::string_view text, size_t* code_points) {
  size_t count = 0;
  for (size_t i = 0; i < text.size();) {
    uint32_t cp;
    const size_t len = DecodeUtf8(text, i, &cp);
    if (len == 0) return false;
    i += len;
    ++count;
  }
  if (code_points != nullptr) *code_points = count;
  return true;
}

bool IsValidIdentity(std::string_view identity) {
  // 64 code points are at most 256 bytes: a cheap bound before decoding.
  if (identity.empty() || identity.size() > 4 * kMaxNameChars) return false;
  size_t count = 0;
  for (size_t i = 0; i < identity.size();) {
    uint32_t cp;
    const size_t len = DecodeUtf8(identity, i, &cp);
    if (len == 0) return false;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F)) return false;
    i += len;
    if (++count > kMaxNameChars) return false;
  }
  return true;
}

}  // namespace tandem::signaling
