// Guarded JSON for the signaling core. nlohmann::json throws on bad input and recurses when dumping, so every parse
// of untrusted text goes through ParseJson (nesting depth checked before parsing, exceptions caught here, at the
// boundary) and every dump through DumpJson (never throws: invalid UTF-8 is replaced, which cannot happen for
// values that came from ParseJson but may for strings built from other input).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::signaling {

using Json = nlohmann::json;

// Deep enough for any SDP/candidate/application payload a signaling channel carries; shallow enough that
// recursive dump() and destruction stay far from the stack limit.
inline constexpr size_t kMaxJsonDepth = 32;

// Bracket nesting depth of `text`, ignoring brackets inside strings. Stops counting (returns max_depth + 1) as soon
// as it exceeds max_depth.
size_t JsonNestingDepth(std::string_view text, size_t max_depth);

// nullopt when `text` is not JSON or nests deeper than max_depth. Never throws.
std::optional<Json> ParseJson(std::string_view text, size_t max_depth = kMaxJsonDepth);

// Compact serialization; never throws.
std::string DumpJson(const Json& value);

// Typed field access that never throws: nullptr / nullopt when absent or of another type.
const Json* Field(const Json& object, const char* name);
const std::string* StringField(const Json& object, const char* name);
// An integer that fits int64_t (floats such as 1.5 or 1e3 are not integers here).
std::optional<int64_t> AsInt64(const Json& value);

}  // namespace tandem::signaling
