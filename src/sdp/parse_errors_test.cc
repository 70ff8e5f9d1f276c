// Every way the parser refuses a description: each case edits one valid description and checks the line
// number and the reason. Then the limits, each at a small and at the default value, and hostile bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "sdp/session_description.h"

namespace tandem::sdp {
namespace {

using ::testing::HasSubstr;

// 15 lines; the numbers are what the cases below refer to.
const std::vector<std::string> kBase = {
    "v=0",                                               // 1
    "o=- 1 2 IN IP4 127.0.0.1",                          // 2
    "s=-",                                               // 3
    "t=0 0",                                             // 4
    "a=group:BUNDLE 0 1",                                // 5
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",                   // 6
    "c=IN IP4 0.0.0.0",                                  // 7
    "a=mid:0",                                           // 8
    "a=ice-ufrag:abcd",                                  // 9
    "a=ice-pwd:abcdefghijklmnopqrstuv",                  // 10
    "a=rtpmap:111 opus/48000/2",                         // 11
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",  // 12
    "c=IN IP4 0.0.0.0",                                  // 13
    "a=mid:1",                                           // 14
    "a=sctp-port:5000",                                  // 15
};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\r\n";
  return out;
}

// Line edits on kBase (1-based line numbers; `text` may hold several lines separated by \n).
std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t nl = text.find('\n', start);
    out.push_back(text.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) return out;
    start = nl + 1;
  }
}
std::string Replace(size_t line, const std::string& text) {
  std::vector<std::string> lines = kBase;
  const auto with = Split(text);
  lines.erase(lines.begin() + static_cast<long>(line - 1));
  lines.insert(lines.begin() + static_cast<long>(line - 1), with.begin(), with.end());
  return Join(lines);
}
std::string InsertAfter(size_t line, const std::string& text) {
  std::vector<std::string> lines = kBase;
  const auto with = Split(text);
  lines.insert(lines.begin() + static_cast<long>(line), with.begin(), with.end());
  return Join(lines);
}
std::string Remove(size_t line) {
  std::vector<std::string> lines = kBase;
  lines.erase(lines.begin() + static_cast<long>(line - 1));
  return Join(lines);
}

struct ErrorCase {
  const char* name;
  std::string sdp;
  size_t line;
  const char* reason;  // a substring of the reason
};

void PrintTo(const ErrorCase& c, std::ostream* os) { *os << c.name; }

class ParseErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseErrorTest, NamesTheLineAndTheReason) {
  const ErrorCase& c = GetParam();
  auto r = Parse(c.sdp);
  ASSERT_FALSE(r.ok()) << c.name;
  EXPECT_EQ(r.error().line, c.line) << c.name << ": " << r.error().ToString();
  EXPECT_THAT(r.error().reason, HasSubstr(c.reason)) << c.name;
  // The quoted text is the offending line (its first 64 bytes).
  if (c.line > 0) {
    const std::vector<std::string> lines = Split(c.sdp);
    std::string expected = lines[c.line - 1];
    if (!expected.empty() && expected.back() == '\r') expected.pop_back();
    for (char& ch : expected) {
      if (static_cast<unsigned char>(ch) < 0x20 || static_cast<unsigned char>(ch) >= 0x7F) ch = '?';
    }
    if (expected.size() > ParseError::kMaxLineText)
      expected = expected.substr(0, ParseError::kMaxLineText) + "...";
    EXPECT_EQ(r.error().line_text, expected) << c.name;
  }
}

std::string CaseName(const ::testing::TestParamInfo<ErrorCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(
    Lines, ParseErrorTest,
    ::testing::Values(
        // Line order and form (RFC 8866 §5).
        ErrorCase{"VersionNotZero", Replace(1, "v=1"), 1, "unsupported SDP version"},
        ErrorCase{"MissingVersion", Remove(1), 1, "expected v= here"},
        ErrorCase{"MissingSessionName", Remove(3), 3, "expected s= here"},
        ErrorCase{"MissingTiming", Remove(4), 4, "missing t= line before this one"},
        ErrorCase{"ConnectionAfterTiming", InsertAfter(4, "c=IN IP4 0.0.0.0"), 5, "c= line out of order"},
        ErrorCase{"TwoSessionNames", InsertAfter(3, "s=again"), 4, "more than one s= line"},
        ErrorCase{"RepeatBeforeTiming", InsertAfter(3, "r=1 2 3"), 4, "r= line must follow t= or r="},
        ErrorCase{"TwoZones", InsertAfter(4, "z=1 -1h\nz=2 0"), 6, "z= line must follow t= or r="},
        ErrorCase{"BandwidthAfterTiming", InsertAfter(4, "b=AS:1"), 5, "b= line out of order"},
        ErrorCase{"UnknownType", InsertAfter(4, "x=1"), 5, "unknown line type 'x'"},
        ErrorCase{"UpperCaseType", InsertAfter(4, "A=1"), 5, "unknown line type 'A'"},
        ErrorCase{"NoEquals", InsertAfter(4, "a"), 5, "not a <type>=<value> line"},
        ErrorCase{"SpaceBeforeEquals", InsertAfter(4, "a =b"), 5, "not a <type>=<value> line"},
        ErrorCase{"EmptyLineInside", InsertAfter(4, ""), 5, "empty line"},
        ErrorCase{"TimingInMedia", InsertAfter(7, "t=0 0"), 8, "t= line not allowed in a media section"},
        ErrorCase{"VersionInMedia", InsertAfter(7, "v=0"), 8, "v= line not allowed in a media section"},
        ErrorCase{"TwoMediaConnections", InsertAfter(7, "c=IN IP4 0.0.0.0"), 8, "more than one c= line"},
        ErrorCase{"MediaConnectionAfterAttribute", InsertAfter(8, "c=IN IP4 0.0.0.0"), 9,
                  "c= line out of order"},
        ErrorCase{"MediaTitleAfterConnection", InsertAfter(7, "i=title"), 8, "i= line out of order"},
        // Fields of v/o/s/c/b/t/m.
        ErrorCase{"OriginFieldCount", Replace(2, "o=- 1 2 IN IP4"), 2, "o= wants"},
        ErrorCase{"OriginDoubleSpace", Replace(2, "o=-  1 2 IN IP4 127.0.0.1"), 2, "o= wants"},
        ErrorCase{"OriginSessionId", Replace(2, "o=- x 2 IN IP4 127.0.0.1"), 2, "session id"},
        ErrorCase{"OriginSessionIdOverflow", Replace(2, "o=- 18446744073709551616 2 IN IP4 127.0.0.1"), 2,
                  "session id"},
        ErrorCase{"OriginVersionSign", Replace(2, "o=- 1 -2 IN IP4 127.0.0.1"), 2, "session version"},
        ErrorCase{"OriginNetType", Replace(2, "o=- 1 2 I/N IP4 127.0.0.1"), 2, "bad network address"},
        ErrorCase{"TimingFields", Replace(4, "t=0"), 4, "t= wants"},
        ErrorCase{"TimingNumbers", Replace(4, "t=0 x"), 4, "times are not numbers"},
        ErrorCase{"ConnectionFields", Replace(7, "c=IN IP4"), 7, "c= wants"},
        ErrorCase{"BandwidthForm", InsertAfter(7, "b=AS"), 8, "b= wants"},
        ErrorCase{"BandwidthNumber", InsertAfter(7, "b=AS:x"), 8, "bandwidth is not a number"},
        ErrorCase{"MediaFieldCount", Replace(6, "m=audio x"), 6, "m= wants"},
        ErrorCase{"MediaPort", Replace(6, "m=audio x UDP/TLS/RTP/SAVPF 111"), 6, "bad port"},
        ErrorCase{"MediaPortRange", Replace(6, "m=audio 70000 UDP/TLS/RTP/SAVPF 111"), 6, "bad port"},
        ErrorCase{"MediaDoubleSpace", Replace(6, "m=audio  9 UDP/TLS/RTP/SAVPF 111"), 6, "bad port"},
        ErrorCase{"MediaPortCount", Replace(6, "m=audio 9/x UDP/TLS/RTP/SAVPF 111"), 6,
                  "bad number of ports"},
        ErrorCase{"MediaType", Replace(6, "m=au:dio 9 UDP/TLS/RTP/SAVPF 111"), 6, "bad media type"},
        ErrorCase{"MediaProto", Replace(6, "m=audio 9 UDP//SAVPF 111"), 6, "bad transport protocol"},
        ErrorCase{"PayloadTypeRange", Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF 128"), 6, "'128' is not 0-127"},
        ErrorCase{"PayloadTypeName", Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF opus"), 6,
                  "'opus' is not 0-127"},
        ErrorCase{"PayloadTypeTwice", Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF 111 111"), 6, "listed twice"},
        ErrorCase{"PayloadTypeTwiceSpelledTwoWays", Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF 111 0111"), 6,
                  "'0111' listed twice"},
        ErrorCase{"FormatTwice", Replace(12, "m=application 9 UDP/DTLS/SCTP a a"), 12, "'a' listed twice"},
        ErrorCase{"TrailingSpaceFormat", Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF 111 "), 6, "bad format"},
        ErrorCase{"NoConnectionAnywhere", Remove(7), 6, "no c= line"},
        ErrorCase{"MediaBeforeTiming", Replace(4, "m=audio 9 RTP/AVP 0"), 4,
                  "missing t= line before the first m="},
        // Session-level attributes.
        ErrorCase{"AttributeNameSpace", InsertAfter(4, "a=fo o"), 5, "attribute name is not a token"},
        ErrorCase{"AttributeNameEmpty", InsertAfter(4, "a=:x"), 5, "attribute name is not a token"},
        ErrorCase{"GroupNamesMissingMid", Replace(5, "a=group:BUNDLE 0 2"), 5, "names mid '2'"},
        ErrorCase{"GroupEmpty", InsertAfter(4, "a=group:"), 5, "group: bad semantics"},
        ErrorCase{"IceLiteValue", InsertAfter(4, "a=ice-lite:yes"), 5, "a=ice-lite takes no value"},
        ErrorCase{"MsidSemanticEmpty", InsertAfter(4, "a=msid-semantic:"), 5, "missing semantic"},
        ErrorCase{"ExtmapAllowMixedValue", InsertAfter(4, "a=extmap-allow-mixed:1"), 5, "takes no value"},
        ErrorCase{"SessionUfragShort", InsertAfter(4, "a=ice-ufrag:abc"), 5, "4-256"},
        ErrorCase{"SessionSetupTwice", InsertAfter(4, "a=setup:active\na=setup:active"), 6,
                  "more than one a=setup"},
        ErrorCase{"SessionDirectionTwice", InsertAfter(4, "a=sendonly\na=inactive"), 6,
                  "more than one direction"},
        ErrorCase{"SessionExtmapTwice", InsertAfter(4, "a=extmap:1 urn:a\na=extmap:1 urn:b"), 6,
                  "extmap id 1 used twice"},
        // Media-level attributes.
        ErrorCase{"MidTwice", Replace(14, "a=mid:0"), 14, "mid '0' used twice"},
        ErrorCase{"TwoMidsInSection", InsertAfter(8, "a=mid:x"), 9, "more than one a=mid"},
        ErrorCase{"MidNotToken", Replace(8, "a=mid:a/b"), 8, "a=mid is not a token"},
        ErrorCase{"MidEmpty", Replace(8, "a=mid:"), 8, "a=mid is not a token"},
        ErrorCase{"MidNoValue", Replace(8, "a=mid"), 8, "a=mid needs a value"},
        ErrorCase{"MidTooLong", Replace(8, "a=mid:" + std::string(256, 'm')), 8, "at most 255"},
        ErrorCase{"UfragShort", Replace(9, "a=ice-ufrag:abc"), 9, "a=ice-ufrag must be 4-256"},
        ErrorCase{"UfragLong", Replace(9, "a=ice-ufrag:" + std::string(257, 'u')), 9,
                  "a=ice-ufrag must be 4-256"},
        ErrorCase{"UfragChars", Replace(9, "a=ice-ufrag:ab-d"), 9, "a=ice-ufrag must be 4-256"},
        ErrorCase{"PwdShort", Replace(10, "a=ice-pwd:abcdefghijklmnopqrstu"), 10, "a=ice-pwd must be 22-256"},
        ErrorCase{"PwdTwice", InsertAfter(10, "a=ice-pwd:abcdefghijklmnopqrstuv"), 11,
                  "more than one a=ice-pwd"},
        ErrorCase{"IceOptionsEmpty", InsertAfter(10, "a=ice-options:"), 11, "ice-option-tags"},
        ErrorCase{"IceOptionsChars", InsertAfter(10, "a=ice-options:tri-ckle"), 11, "ice-option-tags"},
        ErrorCase{"RtpmapForm", Replace(11, "a=rtpmap:111 opus"), 11, "rtpmap: want"},
        ErrorCase{"RtpmapTwice", InsertAfter(11, "a=rtpmap:111 opus/48000"), 12,
                  "a=rtpmap for payload type 111 given twice"},
        ErrorCase{"FmtpTwice", InsertAfter(11, "a=fmtp:111 a=1\na=fmtp:111 b=2"), 13,
                  "a=fmtp for payload type 111"},
        ErrorCase{"FmtpEmpty", InsertAfter(11, "a=fmtp:111"), 12, "fmtp: missing parameters"},
        ErrorCase{"RtcpFbPayloadType", InsertAfter(11, "a=rtcp-fb:x nack"), 12, "rtcp-fb: payload type"},
        ErrorCase{"SetupValue", InsertAfter(11, "a=setup:both"), 12, "RFC 4145"},
        ErrorCase{"SetupTwice", InsertAfter(11, "a=setup:active\na=setup:passive"), 13,
                  "more than one a=setup"},
        ErrorCase{"DirectionTwice", InsertAfter(11, "a=sendrecv\na=recvonly"), 13, "more than one direction"},
        ErrorCase{"DirectionValue", InsertAfter(11, "a=sendrecv:x"), 12, "a=sendrecv takes no value"},
        ErrorCase{"RtcpMuxValue", InsertAfter(11, "a=rtcp-mux:1"), 12, "a=rtcp-mux takes no value"},
        ErrorCase{"BundleOnlyValue", InsertAfter(11, "a=bundle-only:1"), 12, "takes no value"},
        ErrorCase{"FingerprintLength", InsertAfter(11, "a=fingerprint:sha-256 00"), 12,
                  "does not fit the hash"},
        ErrorCase{"FingerprintNoValue", InsertAfter(11, "a=fingerprint"), 12, "a=fingerprint needs a value"},
        ErrorCase{"ExtmapTwice", InsertAfter(11, "a=extmap:1 urn:a\na=extmap:1 urn:b"), 13,
                  "extmap id 1 used twice"},
        ErrorCase{"ExtmapId", InsertAfter(11, "a=extmap:0 urn:a"), 12, "id not in"},
        ErrorCase{"MsidThreeIds", InsertAfter(11, "a=msid:a b c"), 12, "msid: track id"},
        ErrorCase{"SsrcNumber", InsertAfter(11, "a=ssrc:x cname:y"), 12, "ssrc: bad ssrc"},
        ErrorCase{"SsrcGroupNumber", InsertAfter(11, "a=ssrc-group:FID x"), 12, "ssrc-group: bad ssrc"},
        ErrorCase{"RidTwice", InsertAfter(11, "a=rid:a send\na=rid:a recv"), 13, "rid 'a' given twice"},
        ErrorCase{"RidDirection", InsertAfter(11, "a=rid:a both"), 12, "rid: direction"},
        ErrorCase{"SimulcastTwice", InsertAfter(11, "a=simulcast:send a\na=simulcast:send b"), 13,
                  "more than one a=simulcast"},
        ErrorCase{"SimulcastForm", InsertAfter(11, "a=simulcast:both a"), 12, "simulcast:"},
        ErrorCase{"RtcpPort", InsertAfter(11, "a=rtcp:x"), 12, "rtcp: bad port"},
        ErrorCase{"RtcpTwice", InsertAfter(11, "a=rtcp:9\na=rtcp:9"), 13, "more than one a=rtcp"},
        ErrorCase{"CandidateEmpty", InsertAfter(11, "a=candidate:"), 12, "a=candidate needs a value"},
        ErrorCase{"CandidateNoValue", InsertAfter(11, "a=candidate"), 12, "a=candidate needs a value"},
        ErrorCase{"EndOfCandidatesValue", InsertAfter(11, "a=end-of-candidates:x"), 12, "takes no value"},
        ErrorCase{"SctpPortRange", Replace(15, "a=sctp-port:70000"), 15, "not a port number"},
        ErrorCase{"SctpPortTwice", InsertAfter(15, "a=sctp-port:5000"), 16, "more than one a=sctp-port"},
        ErrorCase{"MaxMessageSizeSign", InsertAfter(15, "a=max-message-size:-1"), 16, "not a number"},
        ErrorCase{"SctpmapForm", InsertAfter(15, "a=sctpmap:5000"), 16, "sctpmap: want"},
        // Bytes RFC 8866 §9 does not allow in text.
        ErrorCase{"NulInLine", Replace(3, std::string("s=a\0b", 5)), 3, "NUL or CR"},
        ErrorCase{"CrInLine", Replace(3, "s=a\rb"), 3, "NUL or CR"},
        ErrorCase{"DoubleCr", Replace(3, "s=a\r"), 3, "NUL or CR"},
        // The whole text.
        ErrorCase{"Empty", "", 0, "empty SDP"}, ErrorCase{"OnlyNewlines", "\r\n\r\n", 1, "missing v= line"},
        ErrorCase{"OnlyVersion", "v=0\r\n", 1, "missing o= line"},
        ErrorCase{"NoTiming", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", 3, "missing t= line"},
        ErrorCase{"EmptyThenText", "\r\nv=0\r\n", 1, "empty line"}),
    CaseName);

TEST(ParseTest, BaseIsValidAndTrailingEmptyLinesAreTolerated) {
  ASSERT_TRUE(Parse(Join(kBase)).ok());
  ASSERT_TRUE(Parse(Join(kBase) + "\r\n\n\r\n").ok());
  auto r = Parse(Join(kBase) + "\r\n\r\na=x\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 16u);
  EXPECT_EQ(r.error().reason, "empty line");
}

TEST(ParseTest, PayloadTypesAreKeptInCanonicalForm) {
  auto r = Parse(Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF 0111 000"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->media[0].formats, (std::vector<std::string>{"111", "0"}));
  // Other formats are kept as they are.
  r = Parse(Replace(12, "m=application 9 UDP/DTLS/SCTP 05000"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->media[1].formats, (std::vector<std::string>{"05000"}));
}

TEST(ParseTest, ErrorToStringQuotesTheLine) {
  auto r = Parse(Replace(6, "m=audio x"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ToString(),
            "line 6 (\"m=audio x\"): m= wants <media> <port> <proto> <fmt> ... (RFC 8866 §5.14)");
}

TEST(ParseTest, LongAndBinaryLinesAreTruncatedAndSanitized) {
  auto r = Parse(Replace(8, "a=mid:" + std::string(100, 'x') + "\x01"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line_text, "a=mid:" + std::string(58, 'x') + "...");
  r = Parse(Replace(8, std::string("a=mid:\x01\xff")));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line_text, "a=mid:??");
}

// --- limits, each named in its error ---

TEST(LimitsTest, SmallLimits) {
  const std::string base = Join(kBase);
  struct Case {
    ParseLimits limits;
    std::string sdp;
    size_t line;
    std::string reason;
  };
  ParseLimits size, lines, length, media, attributes, candidates, formats;
  size.max_size = 100;
  lines.max_lines = 5;
  length.max_line_length = 20;
  media.max_media_sections = 1;
  attributes.max_attributes_per_section = 3;
  candidates.max_candidates_per_section = 2;
  formats.max_formats = 2;
  const std::vector<Case> cases = {
      {size, base, 0, "SDP is " + std::to_string(base.size()) + " bytes, over the size limit of 100"},
      {lines, base, 6, "too many lines (limit 5)"},
      {length, base, 2, "line is 24 bytes, over the line length limit of 20"},
      {media, base, 12, "too many media sections (limit 1)"},
      {attributes, base, 11, "too many attributes in this section (limit 3)"},
      {candidates, InsertAfter(7, "a=candidate:1\na=candidate:2\na=candidate:3"), 10,
       "too many candidates in this section (limit 2)"},
      {formats, Replace(6, "m=audio 9 UDP/TLS/RTP/SAVPF 111 0 8"), 6,
       "too many formats on the m= line (limit 2)"},
  };
  for (const Case& c : cases) {
    auto r = Parse(c.sdp, c.limits);
    ASSERT_FALSE(r.ok()) << c.reason;
    EXPECT_EQ(r.error().line, c.line) << c.reason;
    EXPECT_EQ(r.error().reason, c.reason);
    // The same text is fine without the limit.
    EXPECT_TRUE(Parse(c.sdp).ok()) << c.reason;
  }
}

std::string Header() { return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n"; }

TEST(LimitsTest, DefaultSize) {
  std::string sdp = Header();
  while (sdp.size() <= 256 * 1024) sdp += "a=x-padding:" + std::string(1000, 'p') + "\r\n";
  auto r = Parse(sdp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 0u);
  EXPECT_THAT(r.error().reason, HasSubstr("over the size limit of 262144"));
}

TEST(LimitsTest, DefaultLineLength) {
  std::string sdp = Header() + "a=x:" + std::string(4092, 'l') + "\r\n";
  EXPECT_TRUE(Parse(sdp).ok());
  sdp = Header() + "a=x:" + std::string(4093, 'l') + "\r\n";
  auto r = Parse(sdp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 6u);
  EXPECT_EQ(r.error().reason, "line is 4097 bytes, over the line length limit of 4096");
}

TEST(LimitsTest, DefaultMediaSections) {
  std::string sdp = Header();
  for (int i = 0; i < 256; ++i) sdp += "m=audio 9 RTP/AVP 0\r\n";
  EXPECT_TRUE(Parse(sdp).ok());
  sdp += "m=audio 9 RTP/AVP 0\r\n";
  auto r = Parse(sdp);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 5u + 257u);
  EXPECT_EQ(r.error().reason, "too many media sections (limit 256)");
}

TEST(LimitsTest, DefaultAttributesAndCandidates) {
  std::string sdp = Header() + "m=audio 9 RTP/AVP 0\r\n";
  for (int i = 0; i < 256; ++i)
    sdp += "a=candidate:" + std::to_string(i) + " 1 udp 1 192.0.2.1 9 typ host\r\n";
  EXPECT_TRUE(Parse(sdp).ok());
  auto r = Parse(sdp + "a=candidate:x\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 6u + 257u);
  EXPECT_EQ(r.error().reason, "too many candidates in this section (limit 256)");

  for (int i = 256; i < 1024; ++i) sdp += "a=x\r\n";
  EXPECT_TRUE(Parse(sdp).ok());
  r = Parse(sdp + "a=x\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 6u + 1025u);
  EXPECT_EQ(r.error().reason, "too many attributes in this section (limit 1024)");
  // The count starts again in the next section.
  EXPECT_TRUE(Parse(sdp + "m=audio 9 RTP/AVP 0\r\na=x\r\n").ok());
}

TEST(LimitsTest, DefaultLines) {
  std::string sdp = Header();
  size_t lines = 5;
  while (lines < 16384) {
    sdp += "m=audio 9 RTP/AVP 0\r\n";
    ++lines;
    for (int i = 0; i < 1000 && lines < 16384; ++i, ++lines) sdp += "a=x\r\n";
  }
  EXPECT_TRUE(Parse(sdp).ok());
  auto r = Parse(sdp + "a=x\r\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().line, 16385u);
  EXPECT_EQ(r.error().reason, "too many lines (limit 16384)");
}

TEST(HostileTest, BinaryGarbageNeverCrashes) {
  // Deterministic pseudo-random bytes, with and without a valid prefix; the fuzzer does this at scale.
  uint32_t x = 12345;
  for (int round = 0; round < 200; ++round) {
    std::string junk = round % 2 ? Join(kBase) : std::string();
    for (int i = 0; i < 300; ++i) {
      x = x * 1664525u + 1013904223u;
      junk += static_cast<char>(x >> 24);
    }
    auto r = Parse(junk);
    if (!r.ok()) {
      EXPECT_FALSE(r.error().reason.empty());
      EXPECT_GT(r.error().line, 0u);
    }
  }
}

}  // namespace
}  // namespace tandem::sdp
