#include "sdp/attributes.h"

#include <algorithm>

#include "sdp/text.h"

namespace tandem::sdp {
namespace {

using text::ParsePayloadType;
using text::ParseUint;
using text::SplitFirst;

Error Bad(const char* reason) { return MakeError(ErrorCode::kMalformed, reason); }

// A mid is a token (RFC 5888 §4). RFC 8843 §15 carries it in an RTP header extension, whose two-byte form
// holds at most 255 bytes (RFC 8285 §4.3), so longer ones could never be sent.
constexpr size_t kMaxIdLength = 255;
bool IsMid(std::string_view s) { return s.size() <= kMaxIdLength && IsToken(s); }

// RFC 8851 §10: rid-id = 1*(alpha-numeric / "-" / "_"); the RTP header extension bounds it like a mid.
bool IsRidId(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdLength) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
  });
}

// RFC 8830 §2: msid-id and msid-appdata are 1*64token-char.
bool IsMsidId(std::string_view s) { return s.size() <= 64 && IsToken(s); }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Digest sizes of the RFC 8122 §5 hash functions, 0 for one we do not know (any length is accepted for
// those).
size_t DigestSize(std::string_view algorithm) {
  struct Known {
    std::string_view name;
    size_t size;
  };
  static constexpr Known kKnown[] = {{"sha-1", 20},   {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48},
                                     {"sha-512", 64}, {"md5", 16},     {"md2", 16}};
  for (const Known& k : kKnown) {
    if (k.name == algorithm) return k.size;
  }
  return 0;
}

void AppendJoined(std::string& out, const std::vector<std::string>& items) {
  for (const std::string& s : items) {
    out += ' ';
    out += s;
  }
}

}  // namespace

bool IsTokenChar(char c) {
  // token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u <= 0x27) || u == 0x2A || u == 0x2B || u == 0x2D || u == 0x2E ||
         (u >= 0x30 && u <= 0x39) || (u >= 0x41 && u <= 0x5A) || (u >= 0x5E && u <= 0x7E);
}

bool IsToken(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), IsTokenChar); }

bool IsIceChars(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/';
  });
}

std::string_view ToString(Direction direction) {
  switch (direction) {
    case Direction::kSendRecv:
      return "sendrecv";
    case Direction::kSendOnly:
      return "sendonly";
    case Direction::kRecvOnly:
      return "recvonly";
    case Direction::kInactive:
      return "inactive";
  }
  return "sendrecv";
}

std::optional<Direction> ParseDirection(std::string_view s) {
  if (s == "sendrecv") return Direction::kSendRecv;
  if (s == "sendonly") return Direction::kSendOnly;
  if (s == "recvonly") return Direction::kRecvOnly;
  if (s == "inactive") return Direction::kInactive;
  return std::nullopt;
}

Direction Reverse(Direction direction) {
  if (direction == Direction::kSendOnly) return Direction::kRecvOnly;
  if (direction == Direction::kRecvOnly) return Direction::kSendOnly;
  return direction;
}

bool Sends(Direction d) { return d == Direction::kSendRecv || d == Direction::kSendOnly; }
bool Receives(Direction d) { return d == Direction::kSendRecv || d == Direction::kRecvOnly; }

std::string_view ToString(Setup setup) {
  switch (setup) {
    case Setup::kActive:
      return "active";
    case Setup::kPassive:
      return "passive";
    case Setup::kActPass:
      return "actpass";
    case Setup::kHoldConn:
      return "holdconn";
  }
  return "actpass";
}

std::optional<Setup> ParseSetup(std::string_view s) {
  if (s == "active") return Setup::kActive;
  if (s == "passive") return Setup::kPassive;
  if (s == "actpass") return Setup::kActPass;
  if (s == "holdconn") return Setup::kHoldConn;
  return std::nullopt;
}

std::string_view ToString(RidDirection direction) {
  return direction == RidDirection::kSend ? "send" : "recv";
}

// --- fingerprint (RFC 8122 §5) ---

Result<Fingerprint> Fingerprint::Parse(std::string_view value) {
  auto [algorithm, hex] = SplitFirst(value, ' ');
  if (!IsToken(algorithm)) return Bad("fingerprint: bad hash function");
  if (!hex || hex->empty()) return Bad("fingerprint: missing digest");
  Fingerprint fp;
  fp.algorithm.reserve(algorithm.size());
  for (char c : algorithm) fp.algorithm += text::AsciiLower(c);
  // fingerprint = 2UHEX *(":" 2UHEX)
  const bool ok = text::ForEachPiece(*hex, ':', [&](std::string_view pair) {
    if (pair.size() != 2 || fp.bytes.size() >= kMaxBytes) return false;
    const int hi = HexValue(pair[0]);
    const int lo = HexValue(pair[1]);
    if (hi < 0 || lo < 0) return false;
    fp.bytes.push_back(static_cast<uint8_t>(hi << 4 | lo));
    return true;
  });
  if (!ok) {
    return fp.bytes.size() >= kMaxBytes ? Bad("fingerprint: digest longer than 64 bytes")
                                        : Bad("fingerprint: digest is not colon-separated hex pairs");
  }
  const size_t expected = DigestSize(fp.algorithm);
  if (expected != 0 && fp.bytes.size() != expected)
    return Bad("fingerprint: digest length does not fit the hash");
  return fp;
}

std::string Fingerprint::ToString() const {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = algorithm;
  out += ' ';
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += ':';
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xF];
  }
  return out;
}

// --- group (RFC 5888 §5) ---

Result<Group> Group::Parse(std::string_view value) {
  auto [semantics, rest] = SplitFirst(value, ' ');
  if (!IsToken(semantics)) return Bad("group: bad semantics");
  Group g;
  g.semantics = std::string(semantics);
  if (rest) {
    const bool ok = text::ForEachPiece(*rest, ' ', [&](std::string_view mid) {
      if (mid.empty()) return true;  // tolerate doubled or trailing spaces
      if (!IsMid(mid)) return false;
      g.mids.emplace_back(mid);
      return true;
    });
    if (!ok) return Bad("group: mid is not a token of at most 255 chars");
  }
  return g;
}

std::string Group::ToString() const {
  std::string out = semantics;
  AppendJoined(out, mids);
  return out;
}

bool Group::Contains(std::string_view mid) const {
  return std::find(mids.begin(), mids.end(), mid) != mids.end();
}

// --- msid-semantic ---

Result<MsidSemantic> MsidSemantic::Parse(std::string_view value) {
  MsidSemantic m;
  m.semantic.clear();
  const bool ok = text::ForEachPiece(value, ' ', [&](std::string_view piece) {
    if (piece.empty()) return true;
    if (!IsToken(piece)) return false;
    if (m.semantic.empty()) {
      m.semantic = std::string(piece);
    } else {
      m.ids.emplace_back(piece);
    }
    return true;
  });
  if (!ok) return Bad("msid-semantic: not a list of tokens");
  if (m.semantic.empty()) return Bad("msid-semantic: missing semantic");
  return m;
}

std::string MsidSemantic::ToString() const {
  std::string out = " " + semantic;
  AppendJoined(out, ids);
  return out;
}

// --- rtcp (RFC 3605 §2.1) ---

Result<RtcpAddress> RtcpAddress::Parse(std::string_view value) {
  std::vector<std::string_view> pieces;
  text::ForEachPiece(value, ' ', [&](std::string_view p) {
    pieces.push_back(p);
    return pieces.size() <= 4;
  });
  if (pieces.size() != 1 && pieces.size() != 4)
    return Bad("rtcp: want <port> [<nettype> <addrtype> <address>]");
  RtcpAddress r;
  auto port = ParseUint<uint16_t>(pieces[0]);
  if (!port) return Bad("rtcp: bad port");
  r.port = *port;
  if (pieces.size() == 4) {
    if (!IsToken(pieces[1]) || !IsToken(pieces[2]) || pieces[3].empty()) return Bad("rtcp: bad address");
    r.net_type = std::string(pieces[1]);
    r.addr_type = std::string(pieces[2]);
    r.address = std::string(pieces[3]);
  }
  return r;
}

std::string RtcpAddress::ToString() const {
  std::string out = std::to_string(port);
  if (!net_type.empty() || !addr_type.empty() || !address.empty()) {
    out += ' ' + net_type + ' ' + addr_type + ' ' + address;
  }
  return out;
}

// --- rtpmap (RFC 8866 §6.6) ---

Result<RtpMap> RtpMap::Parse(std::string_view value) {
  auto [pt, rest] = SplitFirst(value, ' ');
  RtpMap m;
  auto payload_type = ParsePayloadType(pt);
  if (!payload_type) return Bad("rtpmap: payload type is not 0-127");
  m.payload_type = *payload_type;
  if (!rest) return Bad("rtpmap: missing encoding");
  std::string_view parts[3];
  size_t count = 0;
  const bool fits = text::ForEachPiece(*rest, '/', [&](std::string_view p) {
    if (count == 3) return false;
    parts[count++] = p;
    return true;
  });
  if (!fits || count < 2) return Bad("rtpmap: want <encoding name>/<clock rate>[/<parameters>]");
  if (!IsToken(parts[0])) return Bad("rtpmap: bad encoding name");
  m.encoding_name = std::string(parts[0]);
  auto clock_rate = ParseUint<uint32_t>(parts[1]);
  if (!clock_rate || *clock_rate == 0) return Bad("rtpmap: bad clock rate");
  m.clock_rate = *clock_rate;
  if (count == 3) {
    auto channels = ParseUint<uint16_t>(parts[2]);
    if (!channels || *channels == 0) return Bad("rtpmap: bad channel count");
    m.channels = *channels;
  }
  return m;
}

std::string RtpMap::ToString() const {
  std::string out = std::to_string(payload_type) + ' ' + encoding_name + '/' + std::to_string(clock_rate);
  if (channels) out += '/' + std::to_string(*channels);
  return out;
}

// --- fmtp (RFC 8866 §6.15) ---

std::vector<FmtpParameter> ParseFmtpParameters(std::string_view parameters) {
  std::vector<FmtpParameter> out;
  text::ForEachPiece(parameters, ';', [&](std::string_view segment) {
    segment = text::Trim(segment);
    if (segment.empty()) return true;
    auto [name, value] = SplitFirst(segment, '=');
    if (value) {
      out.push_back({std::string(text::Trim(name)), std::string(text::Trim(*value))});
    } else {
      out.push_back({std::string(), std::string(segment)});
    }
    return true;
  });
  return out;
}

std::string FormatFmtpParameters(std::span<const FmtpParameter> parameters) {
  std::string out;
  for (const FmtpParameter& p : parameters) {
    if (!out.empty()) out += ';';
    if (!p.name.empty()) out += p.name + '=';
    out += p.value;
  }
  return out;
}

std::optional<std::string_view> FindFmtpParameter(std::span<const FmtpParameter> parameters,
                                                  std::string_view name) {
  for (const FmtpParameter& p : parameters) {
    if (text::EqualsIgnoreCase(p.name, name)) return std::string_view(p.value);
  }
  return std::nullopt;
}

Result<Fmtp> Fmtp::Parse(std::string_view value) {
  auto [pt, rest] = SplitFirst(value, ' ');
  Fmtp f;
  auto payload_type = ParsePayloadType(pt);
  if (!payload_type) return Bad("fmtp: payload type is not 0-127");
  f.payload_type = *payload_type;
  if (!rest || rest->empty()) return Bad("fmtp: missing parameters");
  f.parameters = std::string(*rest);
  return f;
}

std::string Fmtp::ToString() const { return std::to_string(payload_type) + ' ' + parameters; }

// --- rtcp-fb (RFC 4585 §4.2) ---

Result<RtcpFeedback> RtcpFeedback::Parse(std::string_view value) {
  auto [pt, rest] = SplitFirst(value, ' ');
  RtcpFeedback fb;
  if (pt != "*") {
    auto payload_type = ParsePayloadType(pt);
    if (!payload_type) return Bad("rtcp-fb: payload type is not 0-127 or *");
    fb.payload_type = *payload_type;
  }
  if (!rest) return Bad("rtcp-fb: missing feedback type");
  auto [type, subtype] = SplitFirst(*rest, ' ');
  if (!IsToken(type)) return Bad("rtcp-fb: bad feedback type");
  fb.type = std::string(type);
  if (subtype) fb.subtype = std::string(*subtype);
  return fb;
}

std::string RtcpFeedback::ToString() const {
  std::string out = payload_type ? std::to_string(*payload_type) : std::string("*");
  out += ' ' + type;
  if (!subtype.empty()) out += ' ' + subtype;
  return out;
}

// --- extmap (RFC 8285 §8) ---

Result<ExtMap> ExtMap::Parse(std::string_view value) {
  auto [entry, rest] = SplitFirst(value, ' ');
  auto [id_text, direction] = SplitFirst(entry, '/');
  ExtMap e;
  auto id = ParseUint<uint16_t>(id_text);
  // RFC 8285 §5: 1-14 one-byte, 1-255 two-byte; §7: 4096-4351 only in offers, for the answerer to pick from.
  if (!id || *id == 0 || (*id > 255 && (*id < 4096 || *id > 4351))) {
    return Bad("extmap: id not in 1-255 or 4096-4351");
  }
  e.id = *id;
  if (direction) {
    e.direction = ParseDirection(*direction);
    if (!e.direction) return Bad("extmap: bad direction");
  }
  if (!rest) return Bad("extmap: missing URI");
  auto [uri, attributes] = SplitFirst(*rest, ' ');
  if (uri.empty()) return Bad("extmap: missing URI");
  e.uri = std::string(uri);
  if (attributes) e.attributes = std::string(*attributes);
  return e;
}

std::string ExtMap::ToString() const {
  std::string out = std::to_string(id);
  if (direction) out += '/' + std::string(sdp::ToString(*direction));
  out += ' ' + uri;
  if (!attributes.empty()) out += ' ' + attributes;
  return out;
}

// --- msid (RFC 8830 §2) ---

Result<Msid> Msid::Parse(std::string_view value) {
  auto [stream, track] = SplitFirst(value, ' ');
  if (!IsMsidId(stream)) return Bad("msid: stream id is not 1-64 token chars");
  Msid m;
  m.stream_id = std::string(stream);
  if (track) {
    if (!IsMsidId(*track)) return Bad("msid: track id is not 1-64 token chars");
    m.track_id = std::string(*track);
  }
  return m;
}

std::string Msid::ToString() const { return track_id.empty() ? stream_id : stream_id + ' ' + track_id; }

// --- ssrc, ssrc-group (RFC 5576 §4.1, §4.2) ---

Result<SsrcAttribute> SsrcAttribute::Parse(std::string_view value) {
  auto [ssrc, rest] = SplitFirst(value, ' ');
  SsrcAttribute a;
  auto id = ParseUint<uint32_t>(ssrc);
  if (!id) return Bad("ssrc: bad ssrc");
  a.ssrc = *id;
  if (!rest) return Bad("ssrc: missing attribute");
  auto [name, attr_value] = SplitFirst(*rest, ':');
  if (!IsToken(name)) return Bad("ssrc: bad attribute name");
  a.attribute = std::string(name);
  if (attr_value) a.value = std::string(*attr_value);
  return a;
}

std::string SsrcAttribute::ToString() const {
  std::string out = std::to_string(ssrc) + ' ' + attribute;
  if (!value.empty()) out += ':' + value;
  return out;
}

Result<SsrcGroup> SsrcGroup::Parse(std::string_view value) {
  auto [semantics, rest] = SplitFirst(value, ' ');
  if (!IsToken(semantics)) return Bad("ssrc-group: bad semantics");
  SsrcGroup g;
  g.semantics = std::string(semantics);
  if (rest) {
    const bool ok = text::ForEachPiece(*rest, ' ', [&](std::string_view s) {
      if (s.empty()) return true;
      auto id = ParseUint<uint32_t>(s);
      if (!id) return false;
      g.ssrcs.push_back(*id);
      return true;
    });
    if (!ok) return Bad("ssrc-group: bad ssrc");
  }
  return g;
}

std::string SsrcGroup::ToString() const {
  std::string out = semantics;
  for (uint32_t s : ssrcs) out += ' ' + std::to_string(s);
  return out;
}

// --- rid (RFC 8851 §10) ---

Result<Rid> Rid::Parse(std::string_view value) {
  auto [id, rest] = SplitFirst(value, ' ');
  if (!IsRidId(id)) return Bad("rid: id is not 1-255 of ALPHA / DIGIT / - / _");
  Rid r;
  r.id = std::string(id);
  if (!rest) return Bad("rid: missing direction");
  auto [direction, params] = SplitFirst(*rest, ' ');
  if (direction == "send") {
    r.direction = RidDirection::kSend;
  } else if (direction == "recv") {
    r.direction = RidDirection::kRecv;
  } else {
    return Bad("rid: direction is not send or recv");
  }
  if (!params) return r;
  const char* error = nullptr;
  bool seen_pt = false;
  text::ForEachPiece(*params, ';', [&](std::string_view param) {
    if (param.empty()) return true;
    auto [name, param_value] = SplitFirst(param, '=');
    const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    });
    if (!name_ok) {
      error = "rid: bad parameter name";
      return false;
    }
    if (param_value && (param_value->empty() || param_value->find(' ') != std::string_view::npos)) {
      error = "rid: bad parameter value";
      return false;
    }
    if (name == "pt") {
      if (seen_pt || !param_value) {
        error = "rid: pt= repeated or empty";
        return false;
      }
      seen_pt = true;
      return text::ForEachPiece(*param_value, ',', [&](std::string_view pt) {
        auto payload_type = ParsePayloadType(pt);
        if (!payload_type) {
          error = "rid: pt= payload type is not 0-127";
          return false;
        }
        r.payload_types.push_back(*payload_type);
        return true;
      });
    }
    r.restrictions.push_back({std::string(name), param_value ? std::string(*param_value) : std::string()});
    return true;
  });
  if (error) return Bad(error);
  return r;
}

std::string Rid::ToString() const {
  std::string out = id + ' ' + std::string(sdp::ToString(direction));
  std::string params;
  for (size_t i = 0; i < payload_types.size(); ++i) {
    params += i == 0 ? "pt=" : ",";
    params += std::to_string(payload_types[i]);
  }
  for (const FmtpParameter& p : restrictions) {
    if (!params.empty()) params += ';';
    params += p.name;
    if (!p.value.empty()) params += '=' + p.value;
  }
  if (!params.empty()) out += ' ' + params;
  return out;
}

// --- simulcast (RFC 8853 §5.1) ---

namespace {

bool ParseSimulcastList(std::string_view list, std::vector<SimulcastStream>& out) {
  if (list.empty()) return false;
  return text::ForEachPiece(list, ';', [&](std::string_view stream) {
    SimulcastStream alternatives;
    const bool ok = text::ForEachPiece(stream, ',', [&](std::string_view id) {
      SimulcastRid rid;
      if (!id.empty() && id.front() == '~') {
        rid.paused = true;
        id.remove_prefix(1);
      }
      if (!IsRidId(id)) return false;
      rid.rid = std::string(id);
      alternatives.push_back(std::move(rid));
      return true;
    });
    if (!ok) return false;
    out.push_back(std::move(alternatives));
    return true;
  });
}

void AppendSimulcastList(std::string& out, const std::vector<SimulcastStream>& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (i != 0) out += ';';
    for (size_t j = 0; j < list[i].size(); ++j) {
      if (j != 0) out += ',';
      if (list[i][j].paused) out += '~';
      out += list[i][j].rid;
    }
  }
}

}  // namespace

Result<Simulcast> Simulcast::Parse(std::string_view value) {
  std::vector<std::string_view> pieces;
  text::ForEachPiece(value, ' ', [&](std::string_view p) {
    pieces.push_back(p);
    return pieces.size() <= 4;
  });
  if (pieces.size() != 2 && pieces.size() != 4)
    return Bad("simulcast: want send|recv <streams> [recv|send ...]");
  Simulcast s;
  bool seen_send = false, seen_recv = false;
  for (size_t i = 0; i < pieces.size(); i += 2) {
    std::vector<SimulcastStream>* list = nullptr;
    if (pieces[i] == "send" && !seen_send) {
      seen_send = true;
      list = &s.send;
    } else if (pieces[i] == "recv" && !seen_recv) {
      seen_recv = true;
      list = &s.recv;
    } else {
      return Bad("simulcast: direction is not send or recv, or repeated");
    }
    if (!ParseSimulcastList(pieces[i + 1], *list)) return Bad("simulcast: bad rid list");
  }
  return s;
}

std::string Simulcast::ToString() const {
  std::string out;
  if (!send.empty()) {
    out += "send ";
    AppendSimulcastList(out, send);
  }
  if (!recv.empty()) {
    if (!out.empty()) out += ' ';
    out += "recv ";
    AppendSimulcastList(out, recv);
  }
  return out;
}

// --- sctpmap (draft-ietf-mmusic-sctp-sdp-05 §5) ---

Result<SctpMap> SctpMap::Parse(std::string_view value) {
  std::vector<std::string_view> pieces;
  text::ForEachPiece(value, ' ', [&](std::string_view p) {
    pieces.push_back(p);
    return pieces.size() <= 3;
  });
  if (pieces.size() != 2 && pieces.size() != 3) return Bad("sctpmap: want <port> <protocol> [<streams>]");
  SctpMap m;
  auto port = ParseUint<uint16_t>(pieces[0]);
  if (!port) return Bad("sctpmap: bad port");
  m.port = *port;
  if (!IsToken(pieces[1])) return Bad("sctpmap: bad protocol");
  m.protocol = std::string(pieces[1]);
  if (pieces.size() == 3) {
    auto streams = ParseUint<uint32_t>(pieces[2]);
    if (!streams) return Bad("sctpmap: bad stream count");
    m.streams = *streams;
  }
  return m;
}

std::string SctpMap::ToString() const {
  std::string out = std::to_string(port) + ' ' + protocol;
  if (streams) out += ' ' + std::to_string(*streams);
  return out;
}

}  // namespace tandem::sdp
