#include "signal/relay_fast_path.h"

#include <charconv>
#include <cstring>

#include "signal/json.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tandem::signaling {
namespace {

// A string member as scanned: its text between the quotes, its decoded length, and whether its escapes are
// all ones nlohmann::json writes itself (so the text can be copied to the output unchanged).
struct ScannedString {
  std::string_view text;
  size_t length = 0;
  bool canonical = true;
};

// What a member's value turned out to be (only the kinds the relayed fields can take are told apart).
enum class Kind : uint8_t { kNone, kString, kInteger, kNull, kObject, kOther };

struct Member {
  Kind kind = Kind::kNone;
  ScannedString string;
  int64_t integer = 0;
};

inline bool IsPlainByte(unsigned char c) { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\'; }

// Bytes from `p` that need no attention inside a string: printable ASCII (0x7F included, as JSON allows)
// other than quote and backslash.
inline const char* SkipPlain(const char* p, const char* end) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i space = _mm_set1_epi8(0x20);
  while (end - p >= 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed compare: bytes >= 0x80 are negative, so "< 0x20" also catches every non-ASCII byte.
    const __m128i special = _mm_or_si128(
        _mm_cmplt_epi8(v, space), _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
#endif
  while (p < end && IsPlainByte(static_cast<unsigned char>(*p))) ++p;
  return p;
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool AtEnd() {
    SkipSpace();
    return p_ == end_;
  }

  // The top-level object: the members the relay reads, every other member validated and skipped.
  bool Frame(Member& type, Member& to, Member& id, Member& sdp, Member& candidate_member,
             FastRelay& candidate) {
    if (!Consume('{')) return false;
    const int depth = 1;
    SkipSpace();
    if (Peek() == '}') return false;  // no type: the general path refuses it
    while (true) {
      ScannedString key;
      if (!Consume('"') || !String(key) || !Consume(':')) return false;
      SkipSpace();
      Member* slot = nullptr;
      if (key.text == "type") {
        slot = &type;
      } else if (key.text == "to") {
        slot = &to;
      } else if (key.text == "id") {
        slot = &id;
      } else if (key.text == "sdp") {
        slot = &sdp;
      } else if (key.text == "candidate") {
        slot = &candidate_member;
      }
      if (slot == nullptr) {
        if (!Value(depth)) return false;
      } else {
        if (slot->kind != Kind::kNone) return false;  // duplicate: the general path keeps the last one
        if (slot == &candidate_member && Peek() == '{') {
          if (!Candidate(depth + 1, candidate)) return false;
          slot->kind = Kind::kObject;
        } else if (!ReadMember(*slot, depth)) {
          return false;
        }
      }
      SkipSpace();
      if (Peek() == ',') {
        ++p_;
        SkipSpace();
        continue;
      }
      return Consume('}');
    }
  }

 private:
  char Peek() const { return p_ < end_ ? *p_ : '\0'; }

  void SkipSpace() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  bool Consume(char c) {
    SkipSpace();
    if (p_ >= end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // After the opening quote. Escapes other than \" \\ \/ \b \f \n \r \t (that is, \u) and any byte outside
  // printable ASCII end the fast path.
  bool String(ScannedString& out) {
    const char* start = p_;
    size_t escapes = 0;
    while (true) {
      p_ = SkipPlain(p_, end_);
      if (p_ >= end_) return false;
      const char c = *p_;
      if (c == '"') break;
      if (c != '\\' || end_ - p_ < 2) return false;
      switch (p_[1]) {
        case '"':
        case '\\':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          break;
        case '/':
          out.canonical = false;
          break;  // nlohmann writes "/" unescaped
        default:
          return false;
      }
      p_ += 2;
      ++escapes;
    }
    out.text = std::string_view(start, static_cast<size_t>(p_ - start));
    out.length = out.text.size() - escapes;
    ++p_;
    return true;
  }

  // -?(0|[1-9][0-9]*) of at most 18 digits; a fraction or exponent ends the fast path (nlohmann refuses
  // numbers that overflow a double, so they are left to it).
  bool Integer(int64_t& out) {
    const char* start = p_;
    if (Peek() == '-') ++p_;
    const char* digits = p_;
    if (Peek() == '0') {
      ++p_;
    } else {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    const size_t n = static_cast<size_t>(p_ - digits);
    if (n == 0 || n > 18) return false;
    const char next = Peek();
    if (next == '.' || next == 'e' || next == 'E' || (next >= '0' && next <= '9')) return false;
    return std::from_chars(start, p_, out).ec == std::errc();
  }

  bool Literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
      return false;
    p_ += word.size();
    return true;
  }

  // A member value the relay reads: records its kind; objects and arrays are only validated.
  bool ReadMember(Member& m, int depth) {
    const char c = Peek();
    if (c == '"') {
      ++p_;
      m.kind = Kind::kString;
      return String(m.string);
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      m.kind = Kind::kInteger;
      return Integer(m.integer);
    }
    if (c == 'n') {
      m.kind = Kind::kNull;
      return Literal("null");
    }
    m.kind = Kind::kOther;
    return Value(depth);
  }

  // Any JSON value inside the subset, validated and skipped. `depth`: open objects/arrays around it.
  bool Value(int depth) {
    switch (Peek()) {
      case '"': {
        ++p_;
        ScannedString ignored;
        return String(ignored);
      }
      case '{': {
        if (depth + 1 > static_cast<int>(kMaxJsonDepth)) return false;
        ++p_;
        SkipSpace();
        if (Peek() == '}') {
          ++p_;
          return true;
        }
        while (true) {
          ScannedString key;
          if (!Consume('"') || !String(key) || !Consume(':')) return false;
          SkipSpace();
          if (!Value(depth + 1)) return false;
          SkipSpace();
          if (Peek() == ',') {
            ++p_;
            continue;
          }
          return Consume('}');
        }
      }
      case '[': {
        if (depth + 1 > static_cast<int>(kMaxJsonDepth)) return false;
        ++p_;
        SkipSpace();
        if (Peek() == ']') {
          ++p_;
          return true;
        }
        while (true) {
          SkipSpace();
          if (!Value(depth + 1)) return false;
          SkipSpace();
          if (Peek() == ',') {
            ++p_;
            continue;
          }
          return Consume(']');
        }
      }
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default: {
        int64_t ignored;
        return Integer(ignored);
      }
    }
  }

  // The RTCIceCandidateInit object (at '{'); `depth` counts it.
  bool Candidate(int depth, FastRelay& out) {
    if (depth > static_cast<int>(kMaxJsonDepth)) return false;
    ++p_;
    Member text, mid, index, ufrag;
    SkipSpace();
    if (Peek() == '}') return false;  // no candidate string: refused by the general path
    while (true) {
      ScannedString key;
      if (!Consume('"') || !String(key) || !Consume(':')) return false;
      SkipSpace();
      Member* slot = nullptr;
      if (key.text == "candidate") {
        slot = &text;
      } else if (key.text == "sdpMid") {
        slot = &mid;
      } else if (key.text == "sdpMLineIndex") {
        slot = &index;
      } else if (key.text == "usernameFragment") {
        slot = &ufrag;
      }
      if (slot == nullptr) {
        if (!Value(depth)) return false;
      } else {
        if (slot->kind != Kind::kNone) return false;
        if (!ReadMember(*slot, depth)) return false;
      }
      SkipSpace();
      if (Peek() == ',') {
        ++p_;
        continue;
      }
      if (!Consume('}')) return false;
      break;
    }
    // The rules of ValidCandidate() (protocol.cc); anything it would refuse goes to the general path.
    if (text.kind != Kind::kString || text.string.length > kMaxCandidateBytes || !text.string.canonical)
      return false;
    out.candidate = text.string.text;
    auto optional_string = [](const Member& m, FastRelay::Presence& presence, std::string_view& value) {
      if (m.kind == Kind::kNone) return true;
      if (m.kind == Kind::kNull) {
        presence = FastRelay::Presence::kNull;
        return true;
      }
      if (m.kind != Kind::kString || m.string.length > 256 || !m.string.canonical) return false;
      presence = FastRelay::Presence::kValue;
      value = m.string.text;
      return true;
    };
    if (!optional_string(mid, out.sdp_mid, out.sdp_mid_text)) return false;
    if (!optional_string(ufrag, out.username_fragment, out.username_fragment_text)) return false;
    if (index.kind == Kind::kNull) {
      out.sdp_mline_index = FastRelay::Presence::kNull;
    } else if (index.kind == Kind::kInteger) {
      if (index.integer < 0 || index.integer > 65535) return false;
      out.sdp_mline_index = FastRelay::Presence::kValue;
      out.sdp_mline_index_value = index.integer;
    } else if (index.kind != Kind::kNone) {
      return false;
    }
    return true;
  }

  const char* p_;
  const char* end_;
};

}  // namespace

bool IsPlainJsonText(std::string_view s) {
  return SkipPlain(s.data(), s.data() + s.size()) == s.data() + s.size();
}

std::optional<FastRelay> ScanRelayFrame(std::string_view text) {
  Scanner scanner(text);
  Member type, to, id, sdp, candidate_member;
  FastRelay out;
  if (!scanner.Frame(type, to, id, sdp, candidate_member, out) || !scanner.AtEnd()) return std::nullopt;
  // The checks of ParseClientFrame, in its order; every refusal is left to it.
  if (id.kind != Kind::kNone) {
    const bool valid =
        (id.kind == Kind::kString && id.string.length <= kMaxIdBytes) || id.kind == Kind::kInteger;
    if (!valid) return std::nullopt;
  }
  if (type.kind != Kind::kString) return std::nullopt;
  const std::string_view t = type.string.text;
  if (t == "offer") {
    out.type = ClientFrame::Type::kOffer;
  } else if (t == "answer") {
    out.type = ClientFrame::Type::kAnswer;
  } else if (t == "candidate") {
    out.type = ClientFrame::Type::kCandidate;
  } else {
    return std::nullopt;
  }
  // A peer id with escapes would need decoding for the lookup: left to the general path.
  if (to.kind != Kind::kString || to.string.length != to.string.text.size()) return std::nullopt;
  out.to = to.string.text;
  if (out.type == ClientFrame::Type::kCandidate) {
    if (candidate_member.kind == Kind::kNull) {
      out.candidate_null = true;
    } else if (candidate_member.kind != Kind::kObject) {
      return std::nullopt;
    }
  } else {
    if (sdp.kind != Kind::kString || sdp.string.length > kMaxSdpBytes || !sdp.string.canonical)
      return std::nullopt;
    out.sdp = sdp.string.text;
  }
  return out;
}

void AppendRelayFrame(std::string& out, const FastRelay& f, std::string_view from) {
  // nlohmann::json objects are std::maps: keys come out sorted ("candidate" < "from" < "sdp" < "type", and
  // "candidate" < "sdpMLineIndex" < "sdpMid" < "usernameFragment").
  if (f.type == ClientFrame::Type::kCandidate) {
    out.reserve(out.size() + f.candidate.size() + f.sdp_mid_text.size() + f.username_fragment_text.size() +
                from.size() + 128);
    if (f.candidate_null) {
      out.append(R"({"candidate":null)");
    } else {
      out.append(R"({"candidate":{"candidate":")").append(f.candidate).append("\"");
      if (f.sdp_mline_index == FastRelay::Presence::kNull) {
        out.append(R"(,"sdpMLineIndex":null)");
      } else if (f.sdp_mline_index == FastRelay::Presence::kValue) {
        char digits[24];
        const auto end = std::to_chars(digits, digits + sizeof(digits), f.sdp_mline_index_value).ptr;
        out.append(R"(,"sdpMLineIndex":)").append(digits, static_cast<size_t>(end - digits));
      }
      if (f.sdp_mid == FastRelay::Presence::kNull) {
        out.append(R"(,"sdpMid":null)");
      } else if (f.sdp_mid == FastRelay::Presence::kValue) {
        out.append(R"(,"sdpMid":")").append(f.sdp_mid_text).append("\"");
      }
      if (f.username_fragment == FastRelay::Presence::kNull) {
        out.append(R"(,"usernameFragment":null)");
      } else if (f.username_fragment == FastRelay::Presence::kValue) {
        out.append(R"(,"usernameFragment":")").append(f.username_fragment_text).append("\"");
      }
      out.append("}");
    }
    out.append(R"(,"from":")").append(from).append(R"(","type":"candidate"})");
    return;
  }
  out.reserve(out.size() + f.sdp.size() + from.size() + 48);
  out.append(R"({"from":")").append(from).append(R"(","sdp":")").append(f.sdp);
  out.append(f.type == ClientFrame::Type::kOffer ? R"(","type":"offer"})" : R"(","type":"answer"})");
}

}  // namespace tandem::signaling
