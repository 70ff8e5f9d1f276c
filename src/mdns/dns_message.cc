#include "mdns/dns_message.h"

#include <algorithm>
#include <unordered_map>

namespace tandem::mdns {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

// RFC 1035 §4.1.4: a label length byte starts with 00; 11 starts a pointer; 01 and 10 are reserved (RFC 6891
// extended label types, never used): malformed.
constexpr uint8_t kPointerMask = 0xC0;

// Reads a possibly compressed name at `pos`; on success `pos` moves past the name's bytes in place (pointers
// are followed without moving it further).
Result<DnsName> ReadName(ByteSpan msg, size_t& pos) {
  std::vector<std::string> labels;
  size_t wire_length = 1;  // the root octet
  size_t cursor = pos;
  size_t segment_start =
      pos;                 // where the labels being read began (the name's start, or the last jump target)
  size_t end_of_name = 0;  // where `pos` goes: set at the first pointer, or after the root
  bool jumped = false;
  int hops = 0;
  while (true) {
    if (cursor >= msg.size()) return MakeError(ErrorCode::kTruncated, "name runs past the message");
    const uint8_t len = msg[cursor];
    if ((len & kPointerMask) == kPointerMask) {
      if (cursor + 1 >= msg.size()) return MakeError(ErrorCode::kTruncated, "truncated compression pointer");
      const size_t target = static_cast<size_t>(((len & 0x3F) << 8) | msg[cursor + 1]);
      // Strictly backwards, before every label read so far: the jump targets decrease, so the walk always
      // ends (a pointer back into its own labels would loop).
      if (target >= segment_start)
        return MakeError(ErrorCode::kMalformed, "compression pointer not backwards");
      if (++hops > kMaxPointerHops)
        return MakeError(ErrorCode::kLimitExceeded, "too many compression pointers");
      if (!jumped) {
        end_of_name = cursor + 2;
        jumped = true;
      }
      cursor = target;
      segment_start = target;
      continue;
    }
    if ((len & kPointerMask) != 0) return MakeError(ErrorCode::kMalformed, "reserved label type");
    if (len == 0) {
      if (!jumped) end_of_name = cursor + 1;
      break;
    }
    if (cursor + 1 + len > msg.size()) return MakeError(ErrorCode::kTruncated, "label runs past the message");
    wire_length += 1 + len;
    if (wire_length > kMaxNameLength)
      return MakeError(ErrorCode::kLimitExceeded, "name longer than 255 octets");
    labels.emplace_back(reinterpret_cast<const char*>(&msg[cursor + 1]), len);
    // A '.' inside a label would make the dotted form ambiguous; nothing in mDNS host names needs one.
    if (labels.back().find('.') != std::string::npos)
      return MakeError(ErrorCode::kUnsupported, "'.' in a label");
    cursor += 1 + len;
  }
  pos = end_of_name;
  return DnsName(std::move(labels));
}

Result<Question> ReadQuestion(ByteSpan msg, size_t& pos) {
  auto name = ReadName(msg, pos);
  if (!name) return name.error();
  ByteReader r(msg.subspan(pos));
  uint16_t qtype = 0, qclass = 0;
  if (!r.ReadU16(qtype) || !r.ReadU16(qclass)) return MakeError(ErrorCode::kTruncated, "question");
  pos += 4;
  Question q;
  q.name = std::move(*name);
  q.type = qtype;
  q.qclass = qclass & 0x7FFF;
  q.unicast_response = (qclass & 0x8000) != 0;
  return q;
}

Result<ResourceRecord> ReadRecord(ByteSpan msg, size_t& pos) {
  auto name = ReadName(msg, pos);
  if (!name) return name.error();
  ByteReader r(msg.subspan(pos));
  uint16_t rtype = 0, rclass = 0, rdlength = 0;
  uint32_t ttl = 0;
  ByteSpan rdata;
  if (!r.ReadU16(rtype) || !r.ReadU16(rclass) || !r.ReadU32(ttl) || !r.ReadU16(rdlength) ||
      !r.ReadBytes(rdlength, rdata)) {
    return MakeError(ErrorCode::kTruncated, "resource record");
  }
  pos += 10 + rdlength;
  ResourceRecord rr;
  rr.name = std::move(*name);
  rr.type = rtype;
  rr.rclass = rclass & 0x7FFF;
  rr.cache_flush = (rclass & 0x8000) != 0;
  rr.ttl = ttl;
  if (rtype == type::kA && rr.rclass == kClassIn) {
    if (rdata.size() != 4) return MakeError(ErrorCode::kMalformed, "A record of the wrong length");
    rr.address = IpAddress::V4({rdata[0], rdata[1], rdata[2], rdata[3]});
  } else if (rtype == type::kAaaa && rr.rclass == kClassIn) {
    if (rdata.size() != 16) return MakeError(ErrorCode::kMalformed, "AAAA record of the wrong length");
    std::array<uint8_t, 16> b;
    std::copy(rdata.begin(), rdata.end(), b.begin());
    rr.address = IpAddress::V6(b);
  } else {
    rr.rdata.assign(rdata.begin(), rdata.end());
  }
  return rr;
}

// Name compression (RFC 1035 §4.1.4): each suffix written is remembered by its lowercase dotted key.
class NameWriter {
 public:
  explicit NameWriter(std::vector<uint8_t>& out) : out_(out) {}

  void Write(const DnsName& name) {
    const auto& labels = name.labels();
    for (size_t i = 0; i < labels.size(); ++i) {
      const std::string key = SuffixKey(labels, i);
      const auto it = offsets_.find(key);
      if (it != offsets_.end()) {
        out_.push_back(static_cast<uint8_t>(0xC0 | (it->second >> 8)));
        out_.push_back(static_cast<uint8_t>(it->second));
        return;
      }
      // Pointers hold 14 bits of offset.
      if (out_.size() < 0x4000) offsets_.emplace(key, static_cast<uint16_t>(out_.size()));
      out_.push_back(static_cast<uint8_t>(labels[i].size()));
      out_.insert(out_.end(), labels[i].begin(), labels[i].end());
    }
    out_.push_back(0);
  }

 private:
  static std::string SuffixKey(const std::vector<std::string>& labels, size_t from) {
    std::string key;
    for (size_t i = from; i < labels.size(); ++i) {
      for (char c : labels[i]) key.push_back(Lower(c));
      key.push_back('.');
    }
    return key;
  }

  std::vector<uint8_t>& out_;
  std::unordered_map<std::string, uint16_t> offsets_;
};

bool ValidForWire(const DnsName& name) {
  if (name.WireLength() > kMaxNameLength) return false;
  for (const auto& l : name.labels()) {
    if (l.empty() || l.size() > kMaxLabelLength) return false;
  }
  return true;
}

}  // namespace

std::optional<DnsName> DnsName::Parse(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  std::vector<std::string> labels;
  if (text.empty()) return DnsName();
  size_t start = 0;
  while (true) {
    const size_t dot = text.find('.', start);
    const std::string_view label =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelLength) return std::nullopt;
    labels.emplace_back(label);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  DnsName name(std::move(labels));
  if (name.WireLength() > kMaxNameLength) return std::nullopt;
  return name;
}

std::string DnsName::ToString() const {
  std::string s;
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (i > 0) s.push_back('.');
    s += labels_[i];
  }
  return s;
}

size_t DnsName::WireLength() const {
  size_t n = 1;
  for (const auto& l : labels_) n += 1 + l.size();
  return n;
}

bool DnsName::Equals(const DnsName& other) const {
  if (labels_.size() != other.labels_.size()) return false;
  for (size_t i = 0; i < labels_.size(); ++i) {
    if (!EqualsIgnoreCase(labels_[i], other.labels_[i])) return false;
  }
  return true;
}

std::string DnsName::CanonicalKey() const {
  std::string s = ToString();
  for (char& c : s) c = Lower(c);
  return s;
}

Result<Message> Message::Parse(ByteSpan bytes) {
  if (bytes.size() > kMaxMessageSize) return MakeError(ErrorCode::kLimitExceeded, "message over 9000 bytes");
  ByteReader r(bytes);
  uint16_t id = 0, flags = 0, qd = 0, an = 0, ns = 0, ar = 0;
  if (!r.ReadU16(id) || !r.ReadU16(flags) || !r.ReadU16(qd) || !r.ReadU16(an) || !r.ReadU16(ns) ||
      !r.ReadU16(ar)) {
    return MakeError(ErrorCode::kTruncated, "DNS header");
  }
  if (qd > kMaxQuestions) return MakeError(ErrorCode::kLimitExceeded, "too many questions");
  if (size_t{an} + ns + ar > kMaxRecords) return MakeError(ErrorCode::kLimitExceeded, "too many records");
  Message m;
  // RFC 1035 §4.1.1.
  m.header.id = id;
  m.header.response = (flags & 0x8000) != 0;
  m.header.opcode = static_cast<uint8_t>((flags >> 11) & 0x0F);
  m.header.authoritative = (flags & 0x0400) != 0;
  m.header.truncated = (flags & 0x0200) != 0;
  m.header.recursion_desired = (flags & 0x0100) != 0;
  m.header.recursion_available = (flags & 0x0080) != 0;
  m.header.rcode = static_cast<uint8_t>(flags & 0x0F);

  size_t pos = kHeaderSize;
  m.questions.reserve(qd);
  for (uint16_t i = 0; i < qd; ++i) {
    auto q = ReadQuestion(bytes, pos);
    if (!q) return q.error();
    m.questions.push_back(std::move(*q));
  }
  auto read_section = [&](uint16_t count, std::vector<ResourceRecord>& out) -> Status {
    out.reserve(count);
    for (uint16_t i = 0; i < count; ++i) {
      auto rr = ReadRecord(bytes, pos);
      if (!rr) return rr.error();
      out.push_back(std::move(*rr));
    }
    return OkStatus();
  };
  if (auto s = read_section(an, m.answers); !s) return s.error();
  if (auto s = read_section(ns, m.authorities); !s) return s.error();
  if (auto s = read_section(ar, m.additionals); !s) return s.error();
  if (pos != bytes.size()) return MakeError(ErrorCode::kMalformed, "bytes after the last record");
  return m;
}

Status Message::Serialize(std::vector<uint8_t>& out) const {
  out.clear();
  if (questions.size() > kMaxQuestions ||
      answers.size() + authorities.size() + additionals.size() > kMaxRecords) {
    return MakeError(ErrorCode::kLimitExceeded, "too many questions or records");
  }
  ByteWriter w(out);
  w.WriteU16(header.id);
  uint16_t flags = 0;
  if (header.response) flags |= 0x8000;
  flags |= static_cast<uint16_t>((header.opcode & 0x0F) << 11);
  if (header.authoritative) flags |= 0x0400;
  if (header.truncated) flags |= 0x0200;
  if (header.recursion_desired) flags |= 0x0100;
  if (header.recursion_available) flags |= 0x0080;
  flags |= header.rcode & 0x0F;
  w.WriteU16(flags);
  w.WriteU16(static_cast<uint16_t>(questions.size()));
  w.WriteU16(static_cast<uint16_t>(answers.size()));
  w.WriteU16(static_cast<uint16_t>(authorities.size()));
  w.WriteU16(static_cast<uint16_t>(additionals.size()));

  NameWriter names(out);
  for (const auto& q : questions) {
    if (!ValidForWire(q.name)) return MakeError(ErrorCode::kInvalidArgument, "question name");
    names.Write(q.name);
    w.WriteU16(q.type);
    w.WriteU16(static_cast<uint16_t>((q.qclass & 0x7FFF) | (q.unicast_response ? 0x8000 : 0)));
  }
  for (const auto* section : {&answers, &authorities, &additionals}) {
    for (const auto& rr : *section) {
      if (!ValidForWire(rr.name)) return MakeError(ErrorCode::kInvalidArgument, "record name");
      names.Write(rr.name);
      w.WriteU16(rr.type);
      w.WriteU16(static_cast<uint16_t>((rr.rclass & 0x7FFF) | (rr.cache_flush ? 0x8000 : 0)));
      w.WriteU32(rr.ttl);
      if (rr.type == type::kA && rr.rclass == kClassIn) {
        if (!rr.address.is_v4())
          return MakeError(ErrorCode::kInvalidArgument, "A record without IPv4 address");
        w.WriteU16(4);
        w.WriteBytes(ByteSpan(rr.address.bytes().data(), 4));
      } else if (rr.type == type::kAaaa && rr.rclass == kClassIn) {
        if (!rr.address.is_v6())
          return MakeError(ErrorCode::kInvalidArgument, "AAAA record without IPv6 address");
        w.WriteU16(16);
        w.WriteBytes(ByteSpan(rr.address.bytes().data(), 16));
      } else {
        if (rr.rdata.size() > 0xFFFF) return MakeError(ErrorCode::kInvalidArgument, "rdata too long");
        w.WriteU16(static_cast<uint16_t>(rr.rdata.size()));
        w.WriteBytes(rr.rdata);
      }
      if (out.size() > kMaxMessageSize)
        return MakeError(ErrorCode::kLimitExceeded, "message over 9000 bytes");
    }
  }
  if (out.size() > kMaxMessageSize) return MakeError(ErrorCode::kLimitExceeded, "message over 9000 bytes");
  return OkStatus();
}

bool IsValidLocalName(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  const auto parsed = DnsName::Parse(name);
  if (!parsed || parsed->labels().size() < 2) return false;
  const auto& labels = parsed->labels();
  if (!EqualsIgnoreCase(labels.back(), "local")) return false;
  for (const auto& l : labels) {
    if (l.front() == '-' || l.back() == '-') return false;
    for (char c : l) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      if (!ok) return false;
    }
  }
  return true;
}

}  // namespace tandem::mdns
