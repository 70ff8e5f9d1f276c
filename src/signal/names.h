// Well-formedness of the names the protocol carries (docs/signaling.md "Identities, rooms and peers").
#pragma once

#include <string_view>

namespace tandem::signaling {

inline constexpr size_t kMaxNameChars = 64;

// 1-64 characters from [A-Za-z0-9_.-].
bool IsValidRoomName(std::string_view room);
// 1-64 characters (code points) of valid UTF-8 with no control characters (C0, DEL, C1).
bool IsValidIdentity(std::string_view identity);
// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). Counts code points.
bool IsValidUtf8(std::string_view text, size_t* code_points = nullptr);

}  // namespace tandem::signaling
