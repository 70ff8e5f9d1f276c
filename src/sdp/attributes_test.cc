// Each typed attribute on its own: what it accepts, what it refuses (and why), and that ToString gives back a
// value that parses to the same thing.
#include "sdp/attributes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace tandem::sdp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

template <typename T>
T ParseOk(std::string_view value) {
  auto r = T::Parse(value);
  EXPECT_TRUE(r.ok()) << value << ": " << (r.ok() ? "" : r.error().ToString());
  if (!r.ok()) return T{};
  // Whatever parses formats to text that parses to the same value.
  auto again = T::Parse(r->ToString());
  EXPECT_TRUE(again.ok()) << r->ToString();
  if (again.ok()) {
    EXPECT_EQ(*again, *r) << value;
  }
  return std::move(r).value();
}

template <typename T>
std::string ParseFails(std::string_view value) {
  auto r = T::Parse(value);
  EXPECT_FALSE(r.ok()) << value;
  return r.ok() ? std::string() : std::string(r.error().reason);
}

TEST(TokenTest, Rfc8866TokenChars) {
  EXPECT_TRUE(IsToken("abc-XYZ_0.9!#$%&'*+^`{|}~"));
  EXPECT_FALSE(IsToken(""));
  for (const char* bad : {"a b", "a:b", "a/b", "a\"b", "a(b", "a)b", "a,b", "a;b", "a<b", "a=b", "a>b", "a?b",
                          "a@b", "a[b", "a\\b", "a]b", "a\x7f", "a\x80"}) {
    EXPECT_FALSE(IsToken(bad)) << bad;
  }
  EXPECT_TRUE(IsIceChars("aZ09+/"));
  EXPECT_FALSE(IsIceChars("a-b"));
  EXPECT_FALSE(IsIceChars("a=b"));
}

TEST(FingerprintTest, ParsesUpperAndLowerHexAndFormatsUpper) {
  const std::string upper =
      "sha-256 "
      "B8:60:69:A9:DB:09:63:1F:68:FF:63:C8:7B:0E:C1:8B:46:78:E5:85:53:48:E7:DE:27:BE:F7:17:E6:01:64:00";
  const Fingerprint fp = ParseOk<Fingerprint>(upper);
  EXPECT_EQ(fp.algorithm, "sha-256");
  ASSERT_EQ(fp.bytes.size(), 32u);
  EXPECT_EQ(fp.bytes[0], 0xB8);
  EXPECT_EQ(fp.bytes[31], 0x00);
  EXPECT_EQ(fp.ToString(), upper);
  std::string lower = upper;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(ParseOk<Fingerprint>(lower), fp);
  // Hash function names compare case-insensitively (RFC 8122 §5); kept lower case.
  EXPECT_EQ(ParseOk<Fingerprint>("SHA-256" + upper.substr(7)).algorithm, "sha-256");
}

TEST(FingerprintTest, LengthsOfKnownAndUnknownHashes) {
  EXPECT_EQ(
      ParseOk<Fingerprint>("sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33").bytes.size(),
      20u);
  std::string sha512 = "sha-512 00";
  for (int i = 1; i < 64; ++i) sha512 += ":00";
  EXPECT_EQ(ParseOk<Fingerprint>(sha512).bytes.size(), 64u);
  EXPECT_EQ(ParseOk<Fingerprint>("x-new 0A").bytes, std::vector<uint8_t>{0x0A});
  EXPECT_THAT(ParseFails<Fingerprint>("sha-256 00:11"), HasSubstr("does not fit the hash"));
  EXPECT_THAT(ParseFails<Fingerprint>(sha512 + ":00"), HasSubstr("longer than 64 bytes"));
}

TEST(FingerprintTest, Refusals) {
  EXPECT_THAT(ParseFails<Fingerprint>(""), HasSubstr("hash function"));
  EXPECT_THAT(ParseFails<Fingerprint>("sha-256"), HasSubstr("missing digest"));
  EXPECT_THAT(ParseFails<Fingerprint>("sha-256 "), HasSubstr("missing digest"));
  EXPECT_THAT(ParseFails<Fingerprint>("x 0G"), HasSubstr("hex pairs"));
  EXPECT_THAT(ParseFails<Fingerprint>("x 0"), HasSubstr("hex pairs"));
  EXPECT_THAT(ParseFails<Fingerprint>("x 000"), HasSubstr("hex pairs"));
  EXPECT_THAT(ParseFails<Fingerprint>("x 00:"), HasSubstr("hex pairs"));
  EXPECT_THAT(ParseFails<Fingerprint>("x 00::11"), HasSubstr("hex pairs"));
  EXPECT_THAT(ParseFails<Fingerprint>("x 00 11"), HasSubstr("hex pairs"));
  EXPECT_THAT(ParseFails<Fingerprint>("a:b 00"), HasSubstr("hash function"));
}

TEST(GroupTest, ParseAndFormat) {
  EXPECT_EQ(ParseOk<Group>("BUNDLE 0 1 2"), (Group{"BUNDLE", {"0", "1", "2"}}));
  EXPECT_EQ(ParseOk<Group>("BUNDLE"), (Group{"BUNDLE", {}}));
  EXPECT_EQ(ParseOk<Group>("LS a  b "), (Group{"LS", {"a", "b"}}));
  EXPECT_EQ((Group{"BUNDLE", {"a", "b"}}).ToString(), "BUNDLE a b");
  EXPECT_THAT(ParseFails<Group>(""), HasSubstr("semantics"));
  EXPECT_THAT(ParseFails<Group>("BUNDLE a/b"), HasSubstr("mid"));
  EXPECT_THAT(ParseFails<Group>("BUNDLE " + std::string(256, 'm')), HasSubstr("mid"));
  EXPECT_EQ(ParseOk<Group>("BUNDLE " + std::string(255, 'm')).mids[0].size(), 255u);
}

TEST(MsidSemanticTest, BothSpacings) {
  EXPECT_EQ(ParseOk<MsidSemantic>(" WMS"), (MsidSemantic{"WMS", {}}));
  EXPECT_EQ(ParseOk<MsidSemantic>("WMS *"), (MsidSemantic{"WMS", {"*"}}));
  EXPECT_EQ(ParseOk<MsidSemantic>(" WMS a b"), (MsidSemantic{"WMS", {"a", "b"}}));
  EXPECT_EQ((MsidSemantic{"WMS", {"a"}}).ToString(), " WMS a");
  EXPECT_THAT(ParseFails<MsidSemantic>(" "), HasSubstr("missing semantic"));
  EXPECT_THAT(ParseFails<MsidSemantic>("WMS a:b"), HasSubstr("tokens"));
}

TEST(RtcpAddressTest, PortAloneOrWithAddress) {
  EXPECT_EQ(ParseOk<RtcpAddress>("9 IN IP4 0.0.0.0"), (RtcpAddress{9, "IN", "IP4", "0.0.0.0"}));
  EXPECT_EQ(ParseOk<RtcpAddress>("53020"), (RtcpAddress{53020, "", "", ""}));
  EXPECT_EQ((RtcpAddress{9, "", "", ""}).ToString(), "9");
  EXPECT_THAT(ParseFails<RtcpAddress>("65536"), HasSubstr("port"));
  EXPECT_THAT(ParseFails<RtcpAddress>("x"), HasSubstr("port"));
  EXPECT_THAT(ParseFails<RtcpAddress>("9 IN IP4"), HasSubstr("want"));
  EXPECT_THAT(ParseFails<RtcpAddress>("9 IN IP4 a b"), HasSubstr("want"));
  EXPECT_THAT(ParseFails<RtcpAddress>("9 IN IP4 "), HasSubstr("address"));
}

TEST(RtpMapTest, ParseAndFormat) {
  EXPECT_EQ(ParseOk<RtpMap>("111 opus/48000/2"), (RtpMap{111, "opus", 48000, 2}));
  EXPECT_EQ(ParseOk<RtpMap>("96 VP8/90000"), (RtpMap{96, "VP8", 90000, std::nullopt}));
  EXPECT_EQ(ParseOk<RtpMap>("0 PCMU/8000").payload_type, 0);
  EXPECT_EQ(ParseOk<RtpMap>("127 x/1/65535").channels, 65535);
  EXPECT_THAT(ParseFails<RtpMap>("128 x/90000"), HasSubstr("0-127"));
  EXPECT_THAT(ParseFails<RtpMap>("-1 x/90000"), HasSubstr("0-127"));
  EXPECT_THAT(ParseFails<RtpMap>("96"), HasSubstr("missing encoding"));
  EXPECT_THAT(ParseFails<RtpMap>("96 VP8"), HasSubstr("want"));
  EXPECT_THAT(ParseFails<RtpMap>("96 VP8/90000/2/3"), HasSubstr("want"));
  EXPECT_THAT(ParseFails<RtpMap>("96 /90000"), HasSubstr("encoding name"));
  EXPECT_THAT(ParseFails<RtpMap>("96 V P8/90000"), HasSubstr("encoding name"));
  EXPECT_THAT(ParseFails<RtpMap>("96 VP8/0"), HasSubstr("clock rate"));
  EXPECT_THAT(ParseFails<RtpMap>("96 VP8/4294967296"), HasSubstr("clock rate"));
  EXPECT_THAT(ParseFails<RtpMap>("96 VP8/x"), HasSubstr("clock rate"));
  EXPECT_THAT(ParseFails<RtpMap>("96 opus/48000/0"), HasSubstr("channel"));
  EXPECT_THAT(ParseFails<RtpMap>("96 opus/48000/"), HasSubstr("channel"));
}

TEST(FmtpTest, RawParametersAndTheirSplit) {
  const Fmtp f = ParseOk<Fmtp>("102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f");
  EXPECT_EQ(f.payload_type, 102);
  EXPECT_THAT(f.Parameters(), ElementsAre(FmtpParameter{"level-asymmetry-allowed", "1"},
                                          FmtpParameter{"packetization-mode", "1"},
                                          FmtpParameter{"profile-level-id", "42001f"}));
  EXPECT_EQ(ParseOk<Fmtp>("63 111/111").Parameters(), (std::vector<FmtpParameter>{{"", "111/111"}}));
  // Spaces after ";" (seen from some stacks) and empty segments are tolerated by the split, not by the raw
  // value.
  EXPECT_EQ(ParseOk<Fmtp>("96 a=1; b = 2;;c").parameters, "a=1; b = 2;;c");
  EXPECT_THAT(ParseFmtpParameters("a=1; b = 2;;c"),
              ElementsAre(FmtpParameter{"a", "1"}, FmtpParameter{"b", "2"}, FmtpParameter{"", "c"}));
  EXPECT_THAT(ParseFmtpParameters("x=a=b"), ElementsAre(FmtpParameter{"x", "a=b"}));
  EXPECT_THAT(ParseFmtpParameters(""), IsEmpty());
  const std::vector<FmtpParameter> params{{"minptime", "10"}, {"", "0-15"}, {"useinbandfec", "1"}};
  EXPECT_EQ(FormatFmtpParameters(params), "minptime=10;0-15;useinbandfec=1");
  EXPECT_EQ(FindFmtpParameter(params, "MinPTime"), "10");
  EXPECT_EQ(FindFmtpParameter(params, "stereo"), std::nullopt);
  EXPECT_THAT(ParseFails<Fmtp>("96"), HasSubstr("missing parameters"));
  EXPECT_THAT(ParseFails<Fmtp>("96 "), HasSubstr("missing parameters"));
  EXPECT_THAT(ParseFails<Fmtp>("200 a=b"), HasSubstr("0-127"));
}

TEST(RtcpFeedbackTest, TypesSubtypesAndWildcard) {
  EXPECT_EQ(ParseOk<RtcpFeedback>("96 nack"), (RtcpFeedback{96, "nack", ""}));
  EXPECT_EQ(ParseOk<RtcpFeedback>("96 nack pli"), (RtcpFeedback{96, "nack", "pli"}));
  EXPECT_EQ(ParseOk<RtcpFeedback>("* ccm tmmbr smaxpr=120"),
            (RtcpFeedback{std::nullopt, "ccm", "tmmbr smaxpr=120"}));
  EXPECT_EQ(ParseOk<RtcpFeedback>("96 trr-int 100"), (RtcpFeedback{96, "trr-int", "100"}));
  EXPECT_EQ((RtcpFeedback{std::nullopt, "nack", ""}).ToString(), "* nack");
  EXPECT_THAT(ParseFails<RtcpFeedback>("96"), HasSubstr("missing feedback type"));
  EXPECT_THAT(ParseFails<RtcpFeedback>("96 "), HasSubstr("bad feedback type"));
  EXPECT_THAT(ParseFails<RtcpFeedback>("x nack"), HasSubstr("0-127 or *"));
  EXPECT_THAT(ParseFails<RtcpFeedback>("** nack"), HasSubstr("0-127 or *"));
}

TEST(ExtMapTest, IdsDirectionsAndAttributes) {
  EXPECT_EQ(ParseOk<ExtMap>("1 urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
            (ExtMap{1, std::nullopt, "urn:ietf:params:rtp-hdrext:ssrc-audio-level", ""}));
  EXPECT_EQ(ParseOk<ExtMap>("2/recvonly urn:x"), (ExtMap{2, Direction::kRecvOnly, "urn:x", ""}));
  EXPECT_EQ(ParseOk<ExtMap>("14 urn:x vad=on extra"), (ExtMap{14, std::nullopt, "urn:x", "vad=on extra"}));
  EXPECT_EQ(ParseOk<ExtMap>("255 urn:x").id, 255);
  EXPECT_EQ(ParseOk<ExtMap>("4096 urn:x").id, 4096);
  EXPECT_EQ(ParseOk<ExtMap>("4351 urn:x").id, 4351);
  EXPECT_EQ((ExtMap{3, Direction::kSendOnly, "urn:y", "a b"}).ToString(), "3/sendonly urn:y a b");
  for (const char* bad : {"0 urn:x", "256 urn:x", "4095 urn:x", "4352 urn:x", "65536 urn:x", "x urn:x"}) {
    EXPECT_THAT(ParseFails<ExtMap>(bad), HasSubstr("id not in")) << bad;
  }
  EXPECT_THAT(ParseFails<ExtMap>("1/both urn:x"), HasSubstr("direction"));
  EXPECT_THAT(ParseFails<ExtMap>("1"), HasSubstr("missing URI"));
  EXPECT_THAT(ParseFails<ExtMap>("1 "), HasSubstr("missing URI"));
  EXPECT_THAT(ParseFails<ExtMap>("1  urn:x"), HasSubstr("missing URI"));
}

TEST(MsidTest, StreamAndTrack) {
  EXPECT_EQ(ParseOk<Msid>("stream track"), (Msid{"stream", "track"}));
  EXPECT_EQ(ParseOk<Msid>("- track"), (Msid{"-", "track"}));
  EXPECT_EQ(ParseOk<Msid>("stream"), (Msid{"stream", ""}));
  EXPECT_EQ(ParseOk<Msid>(std::string(64, 's')).stream_id.size(), 64u);
  EXPECT_THAT(ParseFails<Msid>(std::string(65, 's')), HasSubstr("stream id"));
  EXPECT_THAT(ParseFails<Msid>(""), HasSubstr("stream id"));
  EXPECT_THAT(ParseFails<Msid>("a b c"), HasSubstr("track id"));
  EXPECT_THAT(ParseFails<Msid>("a "), HasSubstr("track id"));
  EXPECT_THAT(ParseFails<Msid>("a " + std::string(65, 't')), HasSubstr("track id"));
}

TEST(SsrcTest, AttributesAndGroups) {
  EXPECT_EQ(ParseOk<SsrcAttribute>("4059127738 cname:1h2QHdRG+pNf7yEq"),
            (SsrcAttribute{4059127738u, "cname", "1h2QHdRG+pNf7yEq"}));
  EXPECT_EQ(ParseOk<SsrcAttribute>("1 msid:a b"), (SsrcAttribute{1, "msid", "a b"}));
  EXPECT_EQ(ParseOk<SsrcAttribute>("1 x:y:z"), (SsrcAttribute{1, "x", "y:z"}));
  EXPECT_EQ(ParseOk<SsrcAttribute>("1 flag"), (SsrcAttribute{1, "flag", ""}));
  EXPECT_EQ(ParseOk<SsrcAttribute>("4294967295 flag:").ssrc, 4294967295u);
  EXPECT_THAT(ParseFails<SsrcAttribute>("4294967296 cname:x"), HasSubstr("bad ssrc"));
  EXPECT_THAT(ParseFails<SsrcAttribute>("1"), HasSubstr("missing attribute"));
  EXPECT_THAT(ParseFails<SsrcAttribute>("1 :x"), HasSubstr("attribute name"));

  EXPECT_EQ(ParseOk<SsrcGroup>("FID 1837967468 1621980605"), (SsrcGroup{"FID", {1837967468u, 1621980605u}}));
  EXPECT_EQ(ParseOk<SsrcGroup>("SIM 1 2 3").ssrcs.size(), 3u);
  EXPECT_EQ(ParseOk<SsrcGroup>("FEC-FR"), (SsrcGroup{"FEC-FR", {}}));
  EXPECT_THAT(ParseFails<SsrcGroup>("FID 1 x"), HasSubstr("bad ssrc"));
  EXPECT_THAT(ParseFails<SsrcGroup>(""), HasSubstr("semantics"));
}

TEST(RidTest, DirectionPayloadTypesAndRestrictions) {
  EXPECT_EQ(ParseOk<Rid>("q send"), (Rid{"q", RidDirection::kSend, {}, {}}));
  EXPECT_EQ(ParseOk<Rid>("hi_res-1 recv pt=96,97;max-width=1280;max-height=720"),
            (Rid{"hi_res-1", RidDirection::kRecv, {96, 97}, {{"max-width", "1280"}, {"max-height", "720"}}}));
  // pt= is written first whatever its place.
  const Rid r = ParseOk<Rid>("a send max-fps=30;pt=100;depend");
  EXPECT_EQ(r, (Rid{"a", RidDirection::kSend, {100}, {{"max-fps", "30"}, {"depend", ""}}}));
  EXPECT_EQ(r.ToString(), "a send pt=100;max-fps=30;depend");
  EXPECT_THAT(ParseFails<Rid>("a.b send"), HasSubstr("rid: id"));
  EXPECT_THAT(ParseFails<Rid>("a"), HasSubstr("missing direction"));
  EXPECT_THAT(ParseFails<Rid>("a sendrecv"), HasSubstr("send or recv"));
  EXPECT_THAT(ParseFails<Rid>("a send pt=128"), HasSubstr("0-127"));
  EXPECT_THAT(ParseFails<Rid>("a send pt="), HasSubstr("bad parameter value"));
  EXPECT_THAT(ParseFails<Rid>("a send pt=1;pt=2"), HasSubstr("repeated"));
  EXPECT_THAT(ParseFails<Rid>("a send pt"), HasSubstr("repeated or empty"));
  EXPECT_THAT(ParseFails<Rid>("a send max_width=1"), HasSubstr("parameter name"));
  EXPECT_THAT(ParseFails<Rid>("a send x=1 2"), HasSubstr("parameter value"));
}

TEST(SimulcastTest, StreamsAlternativesAndPaused) {
  EXPECT_EQ(ParseOk<Simulcast>("send q;h;f"),
            (Simulcast{{{{"q", false}}, {{"h", false}}, {{"f", false}}}, {}}));
  const Simulcast both = ParseOk<Simulcast>("recv 1;~2 send 3,4");
  EXPECT_EQ(both, (Simulcast{{{{"3", false}, {"4", false}}}, {{{"1", false}}, {{"2", true}}}}));
  EXPECT_EQ(both.ToString(), "send 3,4 recv 1;~2");
  EXPECT_EQ((Simulcast{{}, {{{"r", true}}}}).ToString(), "recv ~r");
  for (const char* bad :
       {"", "send", "send a recv", "send a send b", "both a", "send a;", "send ;a", "send a,,b", "send ~",
        "send a.b", "rid=a send a", "send  a", "send a recv b extra x"}) {
    EXPECT_FALSE(Simulcast::Parse(bad).ok()) << bad;
  }
}

TEST(SctpMapTest, ParseAndFormat) {
  EXPECT_EQ(ParseOk<SctpMap>("5000 webrtc-datachannel 1024"), (SctpMap{5000, "webrtc-datachannel", 1024u}));
  EXPECT_EQ(ParseOk<SctpMap>("5000 webrtc-datachannel"), (SctpMap{5000, "webrtc-datachannel", std::nullopt}));
  EXPECT_THAT(ParseFails<SctpMap>("5000"), HasSubstr("want"));
  EXPECT_THAT(ParseFails<SctpMap>("70000 x"), HasSubstr("port"));
  EXPECT_THAT(ParseFails<SctpMap>("5000 a/b"), HasSubstr("protocol"));
  EXPECT_THAT(ParseFails<SctpMap>("5000 x y"), HasSubstr("stream count"));
}

}  // namespace
}  // namespace tandem::sdp
