// The SDP parser: one pass over the lines, a small state machine for the RFC 8866 §5 line order, and one
// dispatch per attribute name into the typed values of attributes.h. Every refusal names the line and the
// reason.
#include <algorithm>
#include <string>

#include "sdp/session_description.h"
#include "sdp/text.h"

namespace tandem::sdp {
namespace {

using text::ParseUint;

// RFC 8866 §5: the order of the session-level lines (t, r and z form time descriptions) ...
enum SessionPosition { kV, kO, kS, kI, kU, kE, kP, kC, kB, kT, kR, kZ, kK, kA };
constexpr std::string_view kSessionOrder = "vosiuepcbtrzka";
// ... and of the lines of a media description, after its m= line.
enum MediaPosition { kMediaM, kMediaI, kMediaC, kMediaB, kMediaK, kMediaA };
constexpr std::string_view kMediaOrder = "micbka";

// RFC 8839 §5.4: ufrag = 4*256ice-char, password = 22*256ice-char.
constexpr size_t kMinUfrag = 4, kMinPwd = 22, kMaxIceCredential = 256;

std::string Printable(std::string_view line) {
  std::string out;
  const size_t n = std::min(line.size(), ParseError::kMaxLineText);
  out.reserve(n + 3);
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    out += (c >= 0x20 && c < 0x7F) ? static_cast<char>(c) : '?';
  }
  if (line.size() > n) out += "...";
  return out;
}

std::string Quoted(std::string_view s) { return "'" + Printable(s) + "'"; }

// Splits on single spaces; an empty piece (doubled, leading or trailing space) is kept so callers can refuse
// it.
std::vector<std::string_view> SplitSpaces(std::string_view s) {
  std::vector<std::string_view> out;
  text::ForEachPiece(s, ' ', [&](std::string_view p) {
    out.push_back(p);
    return true;
  });
  return out;
}

bool IsProto(std::string_view proto) {
  // proto = token *("/" token)
  return text::ForEachPiece(proto, '/', [](std::string_view p) { return IsToken(p); });
}

class Parser {
 public:
  Parser(std::string_view sdp, const ParseLimits& limits) : sdp_(sdp), limits_(limits) {}

  ParseResult<SessionDescription> Run() {
    if (sdp_.size() > limits_.max_size) {
      return ParseError{0, "",
                        "SDP is " + std::to_string(sdp_.size()) + " bytes, over the size limit of " +
                            std::to_string(limits_.max_size)};
    }
    if (sdp_.empty()) return ParseError{0, "", "empty SDP"};
    desc_.timings.clear();
    size_t pos = 0;
    while (pos < sdp_.size()) {
      size_t end = sdp_.find('\n', pos);
      const size_t next = end == std::string_view::npos ? sdp_.size() : end + 1;
      if (end == std::string_view::npos) end = sdp_.size();
      std::string_view line = sdp_.substr(pos, end - pos);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      ++line_no_;
      line_ = line;
      if (line.empty()) {
        // Tolerate empty lines after the last one (some signaling code appends a newline), nowhere else.
        if (sdp_.find_first_not_of("\r\n", next) == std::string_view::npos) break;
        return Error("empty line");
      }
      if (line_no_ > limits_.max_lines) {
        return Error("too many lines (limit " + std::to_string(limits_.max_lines) + ")");
      }
      if (!ParseLine(line)) return std::move(*error_);
      pos = next;
    }
    if (!Finish()) return std::move(*error_);
    return std::move(desc_);
  }

 private:
  ParseError Error(std::string reason) const {
    return ParseError{line_no_, Printable(line_), std::move(reason)};
  }
  bool Fail(std::string reason) {
    error_ = Error(std::move(reason));
    return false;
  }
  bool FailAt(size_t line_no, std::string_view line, std::string reason) {
    error_ = ParseError{line_no, Printable(line), std::move(reason)};
    return false;
  }
  bool Fail(const tandem::Error& e) { return Fail(e.reason); }

  bool ParseLine(std::string_view line) {
    if (line.size() > limits_.max_line_length) {
      return Fail("line is " + std::to_string(line.size()) + " bytes, over the line length limit of " +
                  std::to_string(limits_.max_line_length));
    }
    // RFC 8866 §9: text is any byte but NUL, CR and LF.
    if (line.find('\0') != std::string_view::npos || line.find('\r') != std::string_view::npos) {
      return Fail("NUL or CR inside the line");
    }
    if (line.size() < 2 || line[1] != '=') return Fail("not a <type>=<value> line");
    const char type = line[0];
    const std::string_view value = line.substr(2);
    // RFC 8866 §5: the first three lines are v=, o= and s=, in that order.
    static constexpr char kFirst[] = {'v', 'o', 's'};
    if (line_no_ <= 3 && type != kFirst[line_no_ - 1]) {
      return Fail(std::string("expected ") + kFirst[line_no_ - 1] +
                  "= here (RFC 8866 §5: v=, o=, s= come first)");
    }
    if (kSessionOrder.find(type) == std::string_view::npos && type != 'm') {
      // RFC 8866 §5: a description with a type letter the parser does not understand must be ignored as a
      // whole.
      return Fail(std::string("unknown line type '") + Printable(std::string_view(&type, 1)) + "'");
    }
    if (type == 'm') return MediaLine(value);
    if (current_ != nullptr) return MediaSectionLine(type, value);
    return SessionLine(type, value);
  }

  // Advances the order state machine: `position` must not go backwards, and may repeat only when
  // `repeatable`.
  bool Advance(int& state, int position, bool repeatable, char type) {
    if (position < state) return Fail(std::string(1, type) + "= line out of order (RFC 8866 §5)");
    if (position == state && !repeatable) return Fail(std::string("more than one ") + type + "= line");
    state = position;
    return true;
  }

  // --- session-level lines ---

  bool SessionLine(char type, std::string_view value) {
    const int position = static_cast<int>(kSessionOrder.find(type));
    if (position > kZ && desc_.timings.empty()) return Fail("missing t= line before this one (RFC 8866 §5)");
    switch (position) {
      case kT:
        // A new time description may follow the r=/z= lines of the previous one.
        if (session_state_ > kZ) return Fail("t= line out of order (RFC 8866 §5)");
        session_state_ = kT;
        return TimeLine(value);
      case kR:
        if (session_state_ != kT && session_state_ != kR)
          return Fail("r= line must follow t= or r= (RFC 8866 §5)");
        session_state_ = kR;
        desc_.timings.back().repeat_times.emplace_back(value);
        return true;
      case kZ:
        if (session_state_ != kT && session_state_ != kR)
          return Fail("z= line must follow t= or r= (RFC 8866 §5)");
        session_state_ = kZ;
        desc_.timings.back().zone_adjustments = std::string(value);
        return true;
      default:
        break;
    }
    const bool repeatable = position == kE || position == kP || position == kB || position == kA;
    if (!Advance(session_state_, position, repeatable, type)) return false;
    switch (position) {
      case kV:
        if (value != "0") return Fail("unsupported SDP version (only v=0, RFC 8866 §5.1)");
        return true;
      case kO:
        return OriginLine(value);
      case kS:
        desc_.session_name = std::string(value);
        return true;
      case kI:
        desc_.information = std::string(value);
        return true;
      case kU:
        desc_.uri = std::string(value);
        return true;
      case kE:
        desc_.emails.emplace_back(value);
        return true;
      case kP:
        desc_.phones.emplace_back(value);
        return true;
      case kC:
        return ConnectionLine(value, desc_.connection);
      case kB:
        return BandwidthLine(value, desc_.bandwidths);
      case kK:
        desc_.encryption_key = std::string(value);
        return true;
      case kA:
        return CountAttribute() && SessionAttribute(value);
    }
    return Fail("unexpected line");
  }

  bool OriginLine(std::string_view value) {
    const auto f = SplitSpaces(value);
    if (f.size() != 6) {
      return Fail(
          "o= wants <username> <sess-id> <sess-version> <nettype> <addrtype> <address> (RFC 8866 §5.2)");
    }
    if (f[0].empty()) return Fail("o=: empty username");
    auto id = ParseUint<uint64_t>(f[1]);
    if (!id) return Fail("o=: session id is not a number below 2^64");
    auto version = ParseUint<uint64_t>(f[2]);
    if (!version) return Fail("o=: session version is not a number below 2^64");
    if (!IsToken(f[3]) || !IsToken(f[4]) || f[5].empty()) return Fail("o=: bad network address");
    desc_.origin =
        Origin{std::string(f[0]), *id, *version, std::string(f[3]), std::string(f[4]), std::string(f[5])};
    return true;
  }

  bool ConnectionLine(std::string_view value, std::optional<ConnectionData>& out) {
    const auto f = SplitSpaces(value);
    if (f.size() != 3 || !IsToken(f[0]) || !IsToken(f[1]) || f[2].empty()) {
      return Fail("c= wants <nettype> <addrtype> <address> (RFC 8866 §5.7)");
    }
    out = ConnectionData{std::string(f[0]), std::string(f[1]), std::string(f[2])};
    return true;
  }

  bool BandwidthLine(std::string_view value, std::vector<Bandwidth>& out) {
    auto [type, amount] = text::SplitFirst(value, ':');
    if (!IsToken(type) || !amount) return Fail("b= wants <bwtype>:<bandwidth> (RFC 8866 §5.8)");
    auto v = ParseUint<uint64_t>(*amount);
    if (!v) return Fail("b=: bandwidth is not a number");
    out.push_back(Bandwidth{std::string(type), *v});
    return true;
  }

  bool TimeLine(std::string_view value) {
    const auto f = SplitSpaces(value);
    if (f.size() != 2) return Fail("t= wants <start-time> <stop-time> (RFC 8866 §5.9)");
    auto start = ParseUint<uint64_t>(f[0]);
    auto stop = ParseUint<uint64_t>(f[1]);
    if (!start || !stop) return Fail("t=: times are not numbers");
    desc_.timings.push_back(Timing{*start, *stop, {}, std::nullopt});
    return true;
  }

  bool CountAttribute() {
    if (++attribute_count_ > limits_.max_attributes_per_section) {
      return Fail("too many attributes in this section (limit " +
                  std::to_string(limits_.max_attributes_per_section) + ")");
    }
    return true;
  }

  // --- attributes shared by both levels ---

  struct AttributeLine {
    std::string_view name;
    std::optional<std::string_view> value;
  };

  bool SplitAttribute(std::string_view line, AttributeLine& out) {
    auto [name, value] = text::SplitFirst(line, ':');
    if (!IsToken(name)) return Fail("attribute name is not a token (RFC 8866 §5.13)");
    out = {name, value};
    return true;
  }

  bool Flag(const AttributeLine& a, bool& flag) {
    if (a.value) return Fail("a=" + std::string(a.name) + " takes no value");
    flag = true;
    return true;
  }

  bool NeedValue(const AttributeLine& a) {
    if (!a.value) return Fail("a=" + std::string(a.name) + " needs a value");
    return true;
  }

  template <typename T>
  bool Typed(const AttributeLine& a, std::vector<T>& out) {
    if (!NeedValue(a)) return false;
    auto parsed = T::Parse(*a.value);
    if (!parsed.ok()) return Fail(parsed.error());
    out.push_back(std::move(parsed).value());
    return true;
  }

  template <typename T>
  bool TypedOnce(const AttributeLine& a, std::optional<T>& out) {
    if (out) return Fail("more than one a=" + std::string(a.name) + " in this section");
    if (!NeedValue(a)) return false;
    auto parsed = T::Parse(*a.value);
    if (!parsed.ok()) return Fail(parsed.error());
    out = std::move(parsed).value();
    return true;
  }

  bool DirectionAttribute(const AttributeLine& a, std::optional<Direction>& out) {
    if (a.value) return Fail("a=" + std::string(a.name) + " takes no value");
    if (out) return Fail("more than one direction attribute in this section (RFC 8866 §6.7)");
    out = ParseDirection(a.name);
    return true;
  }

  bool IceCredential(const AttributeLine& a, size_t min, std::string& out) {
    if (!out.empty()) return Fail("more than one a=" + std::string(a.name) + " in this section");
    if (!NeedValue(a)) return false;
    if (a.value->size() < min || a.value->size() > kMaxIceCredential || !IsIceChars(*a.value)) {
      return Fail("a=" + std::string(a.name) + " must be " + std::to_string(min) +
                  "-256 ALPHA / DIGIT / + / / characters (RFC 8839 §5.4)");
    }
    out = std::string(*a.value);
    return true;
  }

  bool IceOptions(const AttributeLine& a, std::vector<std::string>& out) {
    if (!out.empty()) return Fail("more than one a=ice-options in this section");
    if (!NeedValue(a)) return false;
    const bool ok = text::ForEachPiece(*a.value, ' ', [&](std::string_view tag) {
      if (tag.empty()) return true;
      if (!IsIceChars(tag)) return false;
      out.emplace_back(tag);
      return true;
    });
    if (!ok || out.empty()) return Fail("a=ice-options wants ice-option-tags (RFC 8839 §5.6)");
    return true;
  }

  bool SetupAttribute(const AttributeLine& a, std::optional<Setup>& out) {
    if (out) return Fail("more than one a=setup in this section");
    if (!NeedValue(a)) return false;
    out = ParseSetup(*a.value);
    if (!out) return Fail("a=setup is not active, passive, actpass or holdconn (RFC 4145 §4)");
    return true;
  }

  bool ExtMapAttribute(const AttributeLine& a, std::vector<ExtMap>& out) {
    if (!Typed(a, out)) return false;
    // RFC 8285 §8: one mapping per id in a section.
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      if (out[i].id == out.back().id)
        return Fail("extmap id " + std::to_string(out.back().id) + " used twice");
    }
    return true;
  }

  void Unknown(const AttributeLine& a, std::vector<Attribute>& out) {
    Attribute attribute;
    attribute.name = std::string(a.name);
    if (a.value) attribute.value = std::string(*a.value);
    out.push_back(std::move(attribute));
  }

  bool SessionAttribute(std::string_view line) {
    AttributeLine a;
    if (!SplitAttribute(line, a)) return false;
    const std::string_view n = a.name;
    if (n == "group") {
      group_lines_.push_back({line_no_, line_});
      return Typed(a, desc_.groups);
    }
    if (n == "extmap-allow-mixed") return Flag(a, desc_.extmap_allow_mixed);
    if (n == "msid-semantic") return Typed(a, desc_.msid_semantics);
    if (n == "ice-lite") return Flag(a, desc_.ice_lite);
    if (n == "ice-ufrag") return IceCredential(a, kMinUfrag, desc_.ice_ufrag);
    if (n == "ice-pwd") return IceCredential(a, kMinPwd, desc_.ice_pwd);
    if (n == "ice-options") return IceOptions(a, desc_.ice_options);
    if (n == "fingerprint") return Typed(a, desc_.fingerprints);
    if (n == "setup") return SetupAttribute(a, desc_.setup);
    if (ParseDirection(n)) return DirectionAttribute(a, desc_.direction);
    if (n == "extmap") return ExtMapAttribute(a, desc_.extmaps);
    if (n == "end-of-candidates") return Flag(a, desc_.end_of_candidates);
    Unknown(a, desc_.attributes);
    return true;
  }

  // --- media sections ---

  bool MediaLine(std::string_view value) {
    if (desc_.timings.empty()) return Fail("missing t= line before the first m= line (RFC 8866 §5)");
    if (!CloseMedia()) return false;
    if (desc_.media.size() >= limits_.max_media_sections) {
      return Fail("too many media sections (limit " + std::to_string(limits_.max_media_sections) + ")");
    }
    const auto f = SplitSpaces(value);
    if (f.size() < 4) return Fail("m= wants <media> <port> <proto> <fmt> ... (RFC 8866 §5.14)");
    MediaDescription m;
    if (!IsToken(f[0])) return Fail("m=: bad media type");
    m.type = ParseMediaType(f[0]);
    if (m.type == MediaType::kOther) m.other_type = std::string(f[0]);
    auto [port, count] = text::SplitFirst(f[1], '/');
    auto port_value = ParseUint<uint16_t>(port);
    if (!port_value) return Fail("m=: bad port");
    m.port = *port_value;
    if (count) {
      auto count_value = ParseUint<uint16_t>(*count);
      if (!count_value) return Fail("m=: bad number of ports");
      m.port_count = *count_value;
    }
    if (!IsProto(f[2])) return Fail("m=: bad transport protocol");
    m.proto = std::string(f[2]);
    if (f.size() - 3 > limits_.max_formats) {
      return Fail("too many formats on the m= line (limit " + std::to_string(limits_.max_formats) + ")");
    }
    const bool rtp = m.IsRtp();
    for (size_t i = 3; i < f.size(); ++i) {
      if (!IsToken(f[i])) return Fail("m=: bad format " + Quoted(f[i]));
      std::string format(f[i]);
      if (rtp) {
        // RFC 8866 §5.14: for RTP profiles the formats are RTP payload types ("096" is kept as "96").
        auto pt = text::ParsePayloadType(f[i]);
        if (!pt) return Fail("m=: payload type " + Quoted(f[i]) + " is not 0-127");
        format = std::to_string(*pt);
      }
      if (std::find(m.formats.begin(), m.formats.end(), format) != m.formats.end()) {
        return Fail("m=: format " + Quoted(f[i]) + " listed twice");
      }
      m.formats.push_back(std::move(format));
    }
    desc_.media.push_back(std::move(m));
    current_ = &desc_.media.back();
    media_state_ = kMediaM;
    media_line_no_ = line_no_;
    media_line_ = line_;
    attribute_count_ = 0;
    candidate_count_ = 0;
    return true;
  }

  bool MediaSectionLine(char type, std::string_view value) {
    const size_t position = kMediaOrder.find(type);
    if (position == std::string_view::npos) {
      return Fail(std::string(1, type) + "= line not allowed in a media section (RFC 8866 §5)");
    }
    const bool repeatable = position == kMediaB || position == kMediaA;
    if (!Advance(media_state_, static_cast<int>(position), repeatable, type)) return false;
    MediaDescription& m = *current_;
    switch (position) {
      case kMediaI:
        m.title = std::string(value);
        return true;
      case kMediaC:
        return ConnectionLine(value, m.connection);
      case kMediaB:
        return BandwidthLine(value, m.bandwidths);
      case kMediaK:
        m.encryption_key = std::string(value);
        return true;
      case kMediaA:
        return CountAttribute() && MediaAttribute(value, m);
    }
    return Fail("unexpected line");
  }

  bool MediaAttribute(std::string_view line, MediaDescription& m) {
    AttributeLine a;
    if (!SplitAttribute(line, a)) return false;
    const std::string_view n = a.name;
    if (n == "mid") return MidAttribute(a, m);
    if (n == "candidate") {
      if (++candidate_count_ > limits_.max_candidates_per_section) {
        return Fail("too many candidates in this section (limit " +
                    std::to_string(limits_.max_candidates_per_section) + ")");
      }
      if (!a.value || a.value->empty()) return Fail("a=candidate needs a value (RFC 8839 §5.1)");
      m.candidates.emplace_back(*a.value);
      return true;
    }
    if (n == "end-of-candidates") return Flag(a, m.end_of_candidates);
    if (n == "ice-ufrag") return IceCredential(a, kMinUfrag, m.ice_ufrag);
    if (n == "ice-pwd") return IceCredential(a, kMinPwd, m.ice_pwd);
    if (n == "ice-options") return IceOptions(a, m.ice_options);
    if (n == "fingerprint") return Typed(a, m.fingerprints);
    if (n == "setup") return SetupAttribute(a, m.setup);
    if (ParseDirection(n)) return DirectionAttribute(a, m.direction);
    if (n == "bundle-only") return Flag(a, m.bundle_only);
    if (n == "rtcp") return TypedOnce(a, m.rtcp);
    if (n == "rtcp-mux") return Flag(a, m.rtcp_mux);
    if (n == "rtcp-mux-only") return Flag(a, m.rtcp_mux_only);
    if (n == "rtcp-rsize") return Flag(a, m.rtcp_rsize);
    if (n == "extmap-allow-mixed") return Flag(a, m.extmap_allow_mixed);
    if (n == "extmap") return ExtMapAttribute(a, m.extmaps);
    if (n == "msid") return Typed(a, m.msids);
    if (n == "ssrc") return Typed(a, m.ssrcs);
    if (n == "ssrc-group") return Typed(a, m.ssrc_groups);
    if (n == "rid") return RidAttribute(a, m);
    if (n == "simulcast") return TypedOnce(a, m.simulcast);
    if (n == "sctp-port")
      return NumberOnce(a, m.sctp_port, "a=sctp-port is not a port number (RFC 8841 §5.1)");
    if (n == "max-message-size") {
      return NumberOnce(a, m.max_message_size, "a=max-message-size is not a number (RFC 8841 §6.1)");
    }
    if (n == "sctpmap") return TypedOnce(a, m.sctpmap);
    // rtpmap, fmtp and rtcp-fb name RTP payload types only in RTP sections; elsewhere (legacy "DTLS/SCTP
    // 5000" with its own fmtp) they are kept as they are.
    if (m.IsRtp()) {
      if (n == "rtpmap") return PerPayloadType(a, m.rtpmaps);
      if (n == "fmtp") return PerPayloadType(a, m.fmtps);
      if (n == "rtcp-fb") return Typed(a, m.rtcp_feedback);
    }
    Unknown(a, m.attributes);
    return true;
  }

  bool MidAttribute(const AttributeLine& a, MediaDescription& m) {
    if (!m.mid.empty()) return Fail("more than one a=mid in this section");
    if (!NeedValue(a)) return false;
    if (!IsToken(*a.value) || a.value->size() > 255) return Fail("a=mid is not a token of at most 255 chars");
    // RFC 5888 §4: a mid identifies one media section.
    for (const MediaDescription& other : desc_.media) {
      if (&other != &m && other.mid == *a.value) return Fail("mid " + Quoted(*a.value) + " used twice");
    }
    m.mid = std::string(*a.value);
    return true;
  }

  template <typename T>
  bool PerPayloadType(const AttributeLine& a, std::vector<T>& out) {
    if (!Typed(a, out)) return false;
    for (size_t i = 0; i + 1 < out.size(); ++i) {
      if (out[i].payload_type == out.back().payload_type) {
        return Fail("a=" + std::string(a.name) + " for payload type " +
                    std::to_string(out.back().payload_type) + " given twice");
      }
    }
    return true;
  }

  bool RidAttribute(const AttributeLine& a, MediaDescription& m) {
    if (!Typed(a, m.rids)) return false;
    // RFC 8851 §4: a rid-id is unique within its media section.
    for (size_t i = 0; i + 1 < m.rids.size(); ++i) {
      if (m.rids[i].id == m.rids.back().id) return Fail("rid " + Quoted(m.rids.back().id) + " given twice");
    }
    return true;
  }

  template <typename T>
  bool NumberOnce(const AttributeLine& a, std::optional<T>& out, const char* reason) {
    if (out) return Fail("more than one a=" + std::string(a.name) + " in this section");
    if (!NeedValue(a)) return false;
    out = ParseUint<T>(*a.value);
    if (!out) return Fail(reason);
    return true;
  }

  // Checks made when a media section is complete.
  bool CloseMedia() {
    if (current_ == nullptr) return true;
    // RFC 8866 §5.7: a c= line in every media section or one at session level.
    if (!current_->connection && !desc_.connection) {
      return FailAt(media_line_no_, media_line_,
                    "no c= line in this media section nor at session level (RFC 8866 §5.7)");
    }
    current_ = nullptr;
    return true;
  }

  bool Finish() {
    if (desc_.timings.empty()) {
      static constexpr const char* kMissing[] = {"missing v= line", "missing o= line", "missing s= line"};
      if (session_state_ < kS) return Fail(kMissing[session_state_ + 1]);
      return Fail("missing t= line (RFC 8866 §5)");
    }
    if (!CloseMedia()) return false;
    // RFC 5888 §5: a group names the mids of media sections of this description. Sorted once: a hostile
    // description can hold thousands of group entries against 256 sections.
    std::vector<std::string_view> mids;
    for (const MediaDescription& m : desc_.media) {
      if (!m.mid.empty()) mids.push_back(m.mid);
    }
    std::sort(mids.begin(), mids.end());
    for (size_t g = 0; g < desc_.groups.size(); ++g) {
      for (const std::string& mid : desc_.groups[g].mids) {
        if (!std::binary_search(mids.begin(), mids.end(), std::string_view(mid))) {
          return FailAt(group_lines_[g].first, group_lines_[g].second,
                        "group " + Quoted(desc_.groups[g].semantics) + " names mid " + Quoted(mid) +
                            " that no media section has");
        }
      }
    }
    return true;
  }

  std::string_view sdp_;
  const ParseLimits& limits_;
  SessionDescription desc_;
  std::optional<ParseError> error_;
  size_t line_no_ = 0;
  std::string_view line_;
  int session_state_ = -1;
  int media_state_ = -1;
  MediaDescription* current_ = nullptr;  // the open media section, in desc_.media
  size_t media_line_no_ = 0;
  std::string_view media_line_;
  size_t attribute_count_ = 0;
  size_t candidate_count_ = 0;
  std::vector<std::pair<size_t, std::string_view>> group_lines_;  // line of each desc_.groups entry
};

}  // namespace

ParseResult<SessionDescription> Parse(std::string_view text, const ParseLimits& limits) {
  return Parser(text, limits).Run();
}

}  // namespace tandem::sdp
