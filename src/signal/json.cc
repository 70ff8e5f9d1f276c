#include "signal/json.h"

namespace tandem::signaling {

size_t JsonNestingDepth(std::string_view text, size_t max_depth) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > deepest) deepest = depth;
        if (deepest > max_depth) return max_depth + 1;
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default: break;
    }
  }
  return deepest;
}

std::optional<Json> ParseJson(std::string_view text, size_t max_depth) {
  if (JsonNestingDepth(text, max_depth) > max_depth) return std::nullopt;
  try {
    Json value = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false,
                             /*ignore_comments=*/false);
    if (value.is_discarded()) return std::nullopt;
    return value;
  } catch (const Json::exception&) {
    return std::nullopt;
  }
}

std::string DumpJson(const Json& value) {
  try {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
  } catch (const Json::exception&) {
    return "null";
  }
}

const Json* Field(const Json& object, const char* name) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

const std::string* StringField(const Json& object, const char* name) {
  const Json* f = Field(object, name);
  return f != nullptr && f->is_string() ? f->get_ptr<const std::string*>() : nullptr;
}

std::optional<int64_t> AsInt64(const Json& value) {
  if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

}  // namespace tandem::signaling
