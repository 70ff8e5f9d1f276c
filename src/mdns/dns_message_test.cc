#include "mdns/dns_message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tandem::mdns {
namespace {

DnsName Name(const char* s) { return *DnsName::Parse(s); }
IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

std::vector<uint8_t> Serialize(const Message& m) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(m.Serialize(out).ok());
  return out;
}

// A 12-byte header with the given counts.
std::vector<uint8_t> Header(uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns = 0, uint16_t ar = 0) {
  std::vector<uint8_t> h(12, 0);
  StoreBe16(&h[2], flags);
  StoreBe16(&h[4], qd);
  StoreBe16(&h[6], an);
  StoreBe16(&h[8], ns);
  StoreBe16(&h[10], ar);
  return h;
}
void Append(std::vector<uint8_t>& v, std::initializer_list<uint8_t> bytes) { v.insert(v.end(), bytes); }
void AppendLabel(std::vector<uint8_t>& v, const std::string& label) {
  v.push_back(static_cast<uint8_t>(label.size()));
  v.insert(v.end(), label.begin(), label.end());
}

TEST(DnsMessageTest, QueryWireFormatWithQuBit) {
  Message m;
  Question q;
  q.name = Name("abc.local");
  q.type = type::kA;
  q.unicast_response = true;
  m.questions.push_back(q);
  const auto bytes = Serialize(m);
  // RFC 1035 §4.1: header (id 0, flags 0, qdcount 1), name, type A, class IN with the QU bit (RFC 6762 §5.4).
  const std::vector<uint8_t> expected = {0,   0,   0, 0,   0,   1,   0,   0,   0, 0, 0, 0,    3, 'a',
                                         'b', 'c', 5, 'l', 'o', 'c', 'a', 'l', 0, 0, 1, 0x80, 1};
  EXPECT_EQ(bytes, expected);
  auto parsed = Message::Parse(bytes);
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->questions.size(), 1u);
  EXPECT_EQ(parsed->questions[0].name, Name("abc.local"));
  EXPECT_TRUE(parsed->questions[0].unicast_response);
  EXPECT_EQ(parsed->questions[0].qclass, kClassIn);
  EXPECT_FALSE(parsed->header.response);
}

TEST(DnsMessageTest, ResponseRoundTripWithCompression) {
  Message m;
  m.header.response = true;
  m.header.authoritative = true;
  ResourceRecord a;
  a.name = Name("1f0e2d3c-aaaa-bbbb-cccc-0123456789ab.local");
  a.type = type::kA;
  a.cache_flush = true;
  a.ttl = 120;
  a.address = Ip("192.168.1.20");
  ResourceRecord aaaa = a;
  aaaa.type = type::kAaaa;
  aaaa.address = Ip("fe80::1");
  ResourceRecord other = a;
  other.name = Name("printer.local");
  other.type = type::kTxt;
  other.rdata = {3, 'a', '=', 'b'};
  other.cache_flush = false;
  m.answers = {a};
  m.additionals = {aaaa, other};
  const auto bytes = Serialize(m);
  // The repeated name is a 2-byte pointer (RFC 1035 §4.1.4); "printer.local" reuses the "local" suffix.
  const size_t expected = 12 + (a.name.WireLength() + 10 + 4)  // the A record, name in full
                          + (2 + 10 + 16)                      // AAAA: the name is a pointer
                          + (1 + 7 + 2 + 10 + 4);              // TXT: "printer" + pointer to "local"
  EXPECT_EQ(bytes.size(), expected);
  auto parsed = Message::Parse(bytes);
  ASSERT_TRUE(parsed.ok()) << parsed.error().reason;
  EXPECT_TRUE(parsed->header.response);
  EXPECT_TRUE(parsed->header.authoritative);
  ASSERT_EQ(parsed->answers.size(), 1u);
  ASSERT_EQ(parsed->additionals.size(), 2u);
  EXPECT_EQ(parsed->answers[0].name, a.name);
  EXPECT_EQ(parsed->answers[0].address, a.address);
  EXPECT_TRUE(parsed->answers[0].cache_flush);
  EXPECT_EQ(parsed->answers[0].ttl, 120u);
  EXPECT_EQ(parsed->additionals[0].address, aaaa.address);
  EXPECT_EQ(parsed->additionals[0].type, type::kAaaa);
  EXPECT_EQ(parsed->additionals[1].name, Name("printer.local"));
  EXPECT_EQ(parsed->additionals[1].rdata, other.rdata);
  EXPECT_FALSE(parsed->additionals[1].cache_flush);
  // Serializing what was parsed gives the same bytes.
  EXPECT_EQ(Serialize(*parsed), bytes);
}

TEST(DnsMessageTest, CompressionIsCaseInsensitive) {
  Message m;
  m.questions.resize(2);
  m.questions[0].name = Name("Host.LOCAL");
  m.questions[1].name = Name("host.local");
  const auto bytes = Serialize(m);
  EXPECT_EQ(bytes.size(), 12u + Name("host.local").WireLength() + 4 + 2 + 4);
  auto parsed = Message::Parse(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->questions[1].name.ToString(), "Host.LOCAL");  // the pointer's target's spelling
  EXPECT_TRUE(parsed->questions[1].name.Equals(Name("HOST.local")));
}

TEST(DnsMessageTest, CompressionLoopsAndForwardPointersAreRejected) {
  // A name that is a pointer to itself.
  auto self = Header(0, 1, 0);
  Append(self, {0xC0, 12, 0, 1, 0, 1});
  EXPECT_EQ(Message::Parse(self).error().code, ErrorCode::kMalformed);
  // A label followed by a pointer back to that label: a loop through already-read labels.
  auto loop = Header(0, 1, 0);
  AppendLabel(loop, "a");
  Append(loop, {0xC0, 12, 0, 1, 0, 1});
  EXPECT_EQ(Message::Parse(loop).error().code, ErrorCode::kMalformed);
  // A forward pointer.
  auto forward = Header(0, 1, 0);
  Append(forward, {0xC0, 18, 0, 1, 0, 1, 1, 'x', 0});
  EXPECT_FALSE(Message::Parse(forward).ok());
  // A legitimate backward pointer into the previous question's name.
  auto ok = Header(0, 2, 0);
  AppendLabel(ok, "a");
  AppendLabel(ok, "local");
  Append(ok, {0, 0, 1, 0, 1});
  AppendLabel(ok, "b");
  Append(ok, {0xC0, 14, 0, 1, 0, 1});  // → "local"
  auto parsed = Message::Parse(ok);
  ASSERT_TRUE(parsed.ok()) << parsed.error().reason;
  EXPECT_EQ(parsed->questions[1].name.ToString(), "b.local");
  // Reserved label types (01, 10) are malformed.
  auto reserved = Header(0, 1, 0);
  Append(reserved, {0x40, 0, 0, 1, 0, 1});
  EXPECT_EQ(Message::Parse(reserved).error().code, ErrorCode::kMalformed);
}

TEST(DnsMessageTest, LabelAndNameLimits) {
  // 63-byte labels are fine; a name of more than 255 octets is not.
  auto build = [](int labels) {
    auto m = Header(0, 1, 0);
    for (int i = 0; i < labels; ++i) AppendLabel(m, std::string(63, 'x'));
    Append(m, {0, 0, 1, 0, 1});
    return m;
  };
  EXPECT_TRUE(Message::Parse(build(3)).ok());                                   // 193 octets
  EXPECT_EQ(Message::Parse(build(4)).error().code, ErrorCode::kLimitExceeded);  // 257 octets
  EXPECT_FALSE(DnsName::Parse(std::string(64, 'a') + ".local"));
  EXPECT_TRUE(DnsName::Parse(std::string(63, 'a') + ".local"));
  EXPECT_FALSE(DnsName::Parse("a..local"));
  EXPECT_FALSE(DnsName::Parse(".local"));
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'b') + ".";
  EXPECT_FALSE(DnsName::Parse(long_name + "local"));
  EXPECT_TRUE(DnsName::Parse("a.local.").has_value());
  EXPECT_EQ(DnsName::Parse("a.local.")->ToString(), "a.local");
}

TEST(DnsMessageTest, TruncatedAndOversizedInputIsRejected) {
  EXPECT_EQ(Message::Parse({}).error().code, ErrorCode::kTruncated);
  EXPECT_EQ(Message::Parse(std::vector<uint8_t>(11, 0)).error().code, ErrorCode::kTruncated);
  auto q = Header(0, 1, 0);
  AppendLabel(q, "a");
  EXPECT_EQ(Message::Parse(q).error().code, ErrorCode::kTruncated);  // name without its end
  Append(q, {0, 0, 1});
  EXPECT_EQ(Message::Parse(q).error().code, ErrorCode::kTruncated);  // class missing
  // An A record whose rdata is not 4 bytes.
  auto a = Header(0x8400, 0, 1);
  AppendLabel(a, "h");
  AppendLabel(a, "local");
  Append(a, {0, 0, 1, 0, 1, 0, 0, 0, 120, 0, 5, 1, 2, 3, 4, 5});
  EXPECT_EQ(Message::Parse(a).error().code, ErrorCode::kMalformed);
  // rdlength beyond the end.
  auto b = Header(0x8400, 0, 1);
  Append(b, {0, 0, 16, 0, 1, 0, 0, 0, 120, 0, 50, 1, 2});
  EXPECT_EQ(Message::Parse(b).error().code, ErrorCode::kTruncated);
  // Counts beyond the limits, trailing bytes, oversized messages.
  EXPECT_EQ(Message::Parse(Header(0, 65, 0)).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(Message::Parse(Header(0, 0, 200, 50, 7)).error().code, ErrorCode::kLimitExceeded);
  auto trailing = Header(0, 0, 0);
  trailing.push_back(0);
  EXPECT_EQ(Message::Parse(trailing).error().code, ErrorCode::kMalformed);
  auto big = Header(0, 0, 0);
  big.resize(kMaxMessageSize + 1);
  EXPECT_EQ(Message::Parse(big).error().code, ErrorCode::kLimitExceeded);
  // Counts that promise more records than there are bytes.
  EXPECT_EQ(Message::Parse(Header(0, 3, 3)).error().code, ErrorCode::kTruncated);
}

TEST(DnsMessageTest, HeaderFlagsRoundTrip) {
  Message m;
  m.header.id = 0xBEEF;
  m.header.response = true;
  m.header.opcode = 5;
  m.header.truncated = true;
  m.header.recursion_desired = true;
  m.header.recursion_available = true;
  m.header.rcode = 3;
  const auto bytes = Serialize(m);
  EXPECT_EQ(LoadBe16(&bytes[2]), 0x8000 | (5 << 11) | 0x0200 | 0x0100 | 0x0080 | 3);
  auto parsed = Message::Parse(bytes);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->header.id, 0xBEEF);
  EXPECT_EQ(parsed->header.opcode, 5);
  EXPECT_EQ(parsed->header.rcode, 3);
  EXPECT_TRUE(parsed->header.truncated);
  EXPECT_FALSE(parsed->header.authoritative);
}

TEST(DnsMessageTest, SerializeRefusesInconsistentRecords) {
  Message m;
  ResourceRecord rr;
  rr.name = Name("h.local");
  rr.type = type::kA;
  rr.address = Ip("::1");
  m.answers.push_back(rr);
  std::vector<uint8_t> out;
  EXPECT_EQ(m.Serialize(out).error().code, ErrorCode::kInvalidArgument);
  m.answers[0].type = type::kAaaa;
  EXPECT_TRUE(m.Serialize(out).ok());
  m.answers[0].name = DnsName({std::string(64, 'x'), "local"});
  EXPECT_EQ(m.Serialize(out).error().code, ErrorCode::kInvalidArgument);
}

TEST(DnsMessageTest, LocalNameValidation) {
  EXPECT_TRUE(IsValidLocalName("1f0e2d3c-aaaa-bbbb-cccc-0123456789ab.local"));
  EXPECT_TRUE(IsValidLocalName("Host.LOCAL"));
  EXPECT_TRUE(IsValidLocalName("my-host.local."));
  EXPECT_TRUE(IsValidLocalName("a.b.local"));
  for (const char* bad : {"local", ".local", "host.com", "host.local.com", "a..local", "-a.local", "a-.local",
                          "a_b.local", "a b.local", "", "host.localx", "ho\x01st.local"}) {
    EXPECT_FALSE(IsValidLocalName(bad)) << bad;
  }
  EXPECT_FALSE(IsValidLocalName(std::string(64, 'a') + ".local"));
  EXPECT_TRUE(IsValidLocalName(std::string(63, 'a') + ".local"));
}

}  // namespace
}  // namespace tandem::mdns
