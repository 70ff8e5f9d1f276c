// Session-level tests of the SDP codec: real Chromium descriptions (testdata/, captured by
// testdata/capture_chromium_sdp.mjs), a Firefox-shaped offer, the RFC 8866 §5 example, legacy SCTP, a model
// with every field set, the helpers, Validate, and a randomized round-trip property.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/rng.h"
#include "sdp/session_description.h"

namespace tandem::sdp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::string ReadTestData(const std::string& name) {
  const std::string path = std::string(TANDEM_SDP_TESTDATA_DIR) + "/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

SessionDescription ParseOk(std::string_view text) {
  auto r = Parse(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).value() : SessionDescription{};
}

std::string Crlf(std::string_view lf_text) {
  std::string out;
  for (char c : lf_text) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::vector<uint8_t> FingerprintBytes(std::string_view hex) {
  auto fp = Fingerprint::Parse(std::string("sha-256 ") + std::string(hex));
  EXPECT_TRUE(fp.ok());
  return fp.ok() ? fp->bytes : std::vector<uint8_t>{};
}

// --- Chromium ---

class ChromiumCaptureTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ChromiumCaptureTest, ParsesAndSerializesByteForByte) {
  const std::string text = ReadTestData(GetParam());
  ASSERT_FALSE(text.empty());
  const SessionDescription d = ParseOk(text);
  EXPECT_EQ(Serialize(d), text);
  EXPECT_FALSE(Validate(d).has_value());
}

TEST_P(ChromiumCaptureTest, LineFeedOnlyParsesToTheSameModel) {
  const std::string text = ReadTestData(GetParam());
  std::string lf;
  for (char c : text) {
    if (c != '\r') lf += c;
  }
  EXPECT_EQ(ParseOk(lf), ParseOk(text));
  // Without the final line end too.
  lf.pop_back();
  EXPECT_EQ(ParseOk(lf), ParseOk(text));
}

INSTANTIATE_TEST_SUITE_P(Captures, ChromiumCaptureTest,
                         ::testing::Values("chromium_offer_av_data.sdp", "chromium_answer_av_data.sdp",
                                           "chromium_offer_data.sdp", "chromium_answer_data.sdp",
                                           "chromium_offer_simulcast.sdp"));

TEST(ChromiumTest, AudioVideoDataOffer) {
  const SessionDescription d = ParseOk(ReadTestData("chromium_offer_av_data.sdp"));
  EXPECT_EQ(d.origin.username, "-");
  EXPECT_EQ(d.origin.session_id, 5183546510370391454u);
  EXPECT_EQ(d.origin.session_version, 2u);
  EXPECT_EQ(d.origin.address, "127.0.0.1");
  EXPECT_EQ(d.session_name, "-");
  ASSERT_EQ(d.timings.size(), 1u);
  EXPECT_EQ(d.timings[0].start_time, 0u);
  ASSERT_EQ(d.groups.size(), 1u);
  EXPECT_EQ(d.groups[0].semantics, "BUNDLE");
  EXPECT_THAT(d.groups[0].mids, ElementsAre("0", "1", "2"));
  ASSERT_NE(d.FindGroup("BUNDLE"), nullptr);
  EXPECT_TRUE(d.extmap_allow_mixed);
  ASSERT_EQ(d.msid_semantics.size(), 1u);
  EXPECT_EQ(d.msid_semantics[0].semantic, "WMS");
  EXPECT_THAT(d.msid_semantics[0].ids, ElementsAre("f55fedfd-e394-4768-b175-ae9f06297349"));
  EXPECT_THAT(d.attributes, IsEmpty());
  ASSERT_EQ(d.media.size(), 3u);

  const MediaDescription& audio = d.media[0];
  EXPECT_EQ(audio.type, MediaType::kAudio);
  EXPECT_EQ(audio.media(), "audio");
  EXPECT_EQ(audio.port, 57289);
  EXPECT_EQ(audio.proto, "UDP/TLS/RTP/SAVPF");
  EXPECT_TRUE(audio.IsRtp());
  EXPECT_FALSE(audio.IsSctp());
  EXPECT_THAT(audio.PayloadTypes(), ElementsAre(111, 63, 9, 0, 8, 13, 110, 126));
  EXPECT_EQ(audio.connection, (ConnectionData{"IN", "IP4", "127.0.0.1"}));
  ASSERT_TRUE(audio.rtcp.has_value());
  EXPECT_EQ(*audio.rtcp, (RtcpAddress{9, "IN", "IP4", "0.0.0.0"}));
  ASSERT_EQ(audio.candidates.size(), 2u);
  EXPECT_EQ(audio.candidates[0],
            "2620278282 1 udp 2122260223 127.0.0.1 57289 typ host generation 0 network-id 1 network-cost 50");
  EXPECT_FALSE(audio.end_of_candidates);
  EXPECT_EQ(audio.ice_ufrag, "32Cd");
  EXPECT_EQ(audio.ice_pwd, "KsbsARzxyihWCw5qOPuCdHq5");
  EXPECT_THAT(audio.ice_options, ElementsAre("trickle"));
  ASSERT_EQ(audio.fingerprints.size(), 1u);
  EXPECT_EQ(audio.fingerprints[0].algorithm, "sha-256");
  EXPECT_EQ(
      audio.fingerprints[0].bytes,
      FingerprintBytes("B8:60:69:A9:DB:09:63:1F:68:FF:63:C8:7B:0E:C1:8B:46:78:E5:85:53:48:E7:DE:27:BE:F7:17:"
                       "E6:01:64:00"));
  EXPECT_EQ(audio.fingerprints[0].bytes.size(), 32u);
  EXPECT_EQ(audio.setup, sdp::Setup::kActPass);
  EXPECT_EQ(audio.mid, "0");
  ASSERT_EQ(audio.extmaps.size(), 4u);
  EXPECT_EQ(audio.extmaps[0], (ExtMap{1, std::nullopt, "urn:ietf:params:rtp-hdrext:ssrc-audio-level", ""}));
  ASSERT_NE(audio.FindExtMap("urn:ietf:params:rtp-hdrext:sdes:mid"), nullptr);
  EXPECT_EQ(audio.FindExtMap("urn:ietf:params:rtp-hdrext:sdes:mid")->id, 4);
  EXPECT_EQ(audio.direction, Direction::kSendRecv);
  EXPECT_THAT(audio.msids, ElementsAre(Msid{"f55fedfd-e394-4768-b175-ae9f06297349",
                                            "b35bae55-e89e-4fd5-a4a0-c2d372a4cd45"}));
  EXPECT_TRUE(audio.rtcp_mux);
  EXPECT_TRUE(audio.rtcp_rsize);
  EXPECT_FALSE(audio.rtcp_mux_only);
  EXPECT_THAT(audio.attributes, ElementsAre(Attribute{"rtcp-xr", "rcvr-rtt=all"}));
  EXPECT_EQ(audio.rtpmaps.size(), 8u);
  EXPECT_EQ(audio.fmtps.size(), 2u);

  // The codec view, in m= order.
  const std::vector<RtpCodec> audio_codecs = audio.Codecs();
  ASSERT_EQ(audio_codecs.size(), 8u);
  const RtpCodec& opus = audio_codecs[0];
  EXPECT_EQ(opus.payload_type, 111);
  EXPECT_EQ(opus.name, "opus");
  EXPECT_EQ(opus.clock_rate, 48000u);
  EXPECT_EQ(opus.channels, 2);
  EXPECT_THAT(opus.parameters,
              ElementsAre(FmtpParameter{"minptime", "10"}, FmtpParameter{"useinbandfec", "1"}));
  EXPECT_THAT(opus.feedback, ElementsAre(RtcpFeedback{111, "transport-cc", ""}));
  EXPECT_EQ(FindFmtpParameter(opus.parameters, "useinbandfec"), "1");
  const RtpCodec& red = audio_codecs[1];
  EXPECT_EQ(red.name, "red");
  EXPECT_THAT(red.parameters, ElementsAre(FmtpParameter{"", "111/111"}));
  EXPECT_EQ(audio_codecs[3].name, "PCMU");
  EXPECT_EQ(audio_codecs[3].channels, 1);
  EXPECT_THAT(audio_codecs[3].feedback, IsEmpty());
  ASSERT_EQ(audio.Ssrcs().size(), 1u);
  EXPECT_EQ(audio.Ssrcs()[0], 4059127738u);
  EXPECT_EQ(audio.SsrcAttributeValue(4059127738u, "cname"), "1h2QHdRG+pNf7yEq");
  EXPECT_EQ(audio.SsrcAttributeValue(4059127738u, "msid"),
            "f55fedfd-e394-4768-b175-ae9f06297349 b35bae55-e89e-4fd5-a4a0-c2d372a4cd45");
  EXPECT_EQ(audio.SsrcAttributeValue(1, "cname"), std::nullopt);

  const MediaDescription& video = d.media[1];
  EXPECT_EQ(video.type, MediaType::kVideo);
  EXPECT_EQ(video.mid, "1");
  EXPECT_EQ(video.formats.size(), 23u);
  const auto vp8 = video.FindCodec(96);
  ASSERT_TRUE(vp8.has_value());
  EXPECT_EQ(vp8->name, "VP8");
  EXPECT_EQ(vp8->clock_rate, 90000u);
  EXPECT_THAT(vp8->feedback, ElementsAre(RtcpFeedback{96, "goog-remb", ""},
                                         RtcpFeedback{96, "transport-cc", ""}, RtcpFeedback{96, "ccm", "fir"},
                                         RtcpFeedback{96, "nack", ""}, RtcpFeedback{96, "nack", "pli"}));
  const auto rtx = video.FindCodec(97);
  ASSERT_TRUE(rtx.has_value());
  EXPECT_EQ(rtx->name, "rtx");
  EXPECT_EQ(FindFmtpParameter(rtx->parameters, "apt"), "96");
  const auto h264 = video.FindCodec(102);
  ASSERT_TRUE(h264.has_value());
  EXPECT_EQ(FindFmtpParameter(h264->parameters, "profile-level-id"), "42001f");
  EXPECT_EQ(FindFmtpParameter(h264->parameters, "PACKETIZATION-MODE"), "1");
  ASSERT_EQ(video.ssrc_groups.size(), 1u);
  EXPECT_EQ(video.ssrc_groups[0], (SsrcGroup{"FID", {1837967468u, 1621980605u}}));
  EXPECT_THAT(video.Ssrcs(), ElementsAre(1837967468u, 1621980605u));
  EXPECT_EQ(video.extmaps.size(), 11u);

  const MediaDescription& data = d.media[2];
  EXPECT_EQ(data.type, MediaType::kApplication);
  EXPECT_EQ(data.proto, "UDP/DTLS/SCTP");
  EXPECT_THAT(data.formats, ElementsAre("webrtc-datachannel"));
  EXPECT_TRUE(data.IsSctp());
  EXPECT_FALSE(data.IsRtp());
  EXPECT_THAT(data.Codecs(), IsEmpty());
  EXPECT_EQ(data.sctp_port, 5000);
  EXPECT_EQ(data.max_message_size, 262144u);
  EXPECT_FALSE(data.direction.has_value());
  EXPECT_EQ(GetDirection(d, data), Direction::kSendRecv);
  EXPECT_EQ(data.candidates.size(), 2u);
  EXPECT_EQ(d.FindMedia("2"), &d.media[2]);
  EXPECT_EQ(d.FindMedia("3"), nullptr);
}

TEST(ChromiumTest, AudioVideoDataAnswer) {
  const SessionDescription d = ParseOk(ReadTestData("chromium_answer_av_data.sdp"));
  ASSERT_EQ(d.media.size(), 3u);
  for (const MediaDescription& m : d.media) {
    EXPECT_EQ(m.setup, sdp::Setup::kActive) << m.mid;
    EXPECT_EQ(m.ice_ufrag, "yJXT");
  }
  // Bundled sections after the first carry port 9 and no candidates.
  EXPECT_EQ(d.media[0].candidates.size(), 1u);
  EXPECT_EQ(d.media[1].port, 9);
  EXPECT_THAT(d.media[1].candidates, IsEmpty());
  EXPECT_EQ(d.media[1].connection, (ConnectionData{"IN", "IP4", "0.0.0.0"}));
  // The answer keeps the offer's payload types.
  EXPECT_THAT(d.media[0].PayloadTypes(), ElementsAre(111, 63, 9, 0, 8, 13, 110, 126));
}

TEST(ChromiumTest, DataChannelOfferAndAnswer) {
  const SessionDescription offer = ParseOk(ReadTestData("chromium_offer_data.sdp"));
  ASSERT_EQ(offer.media.size(), 1u);
  const MediaDescription& m = offer.media[0];
  EXPECT_EQ(m.port, 44646);
  EXPECT_THAT(
      m.candidates,
      ElementsAre("326424196 1 udp 2122260223 127.0.0.1 44646 typ host generation 0 network-id 1 "
                  "network-cost 50",
                  "1840985116 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active generation 0 network-id "
                  "1 network-cost 50"));
  EXPECT_EQ(m.setup, sdp::Setup::kActPass);
  EXPECT_THAT(offer.msid_semantics, ElementsAre(MsidSemantic{"WMS", {}}));

  const SessionDescription answer = ParseOk(ReadTestData("chromium_answer_data.sdp"));
  ASSERT_EQ(answer.media.size(), 1u);
  EXPECT_EQ(answer.media[0].setup, sdp::Setup::kActive);
  EXPECT_EQ(answer.media[0].candidates.size(), 1u);
  const IceParameters ice = GetIceParameters(answer, answer.media[0]);
  EXPECT_EQ(ice.ufrag, "AgWD");
  EXPECT_EQ(ice.pwd, "oxwWCkfZKeY8gMdNL48W5Vd6");
  EXPECT_FALSE(ice.lite);
}

TEST(ChromiumTest, SimulcastOffer) {
  const SessionDescription d = ParseOk(ReadTestData("chromium_offer_simulcast.sdp"));
  ASSERT_EQ(d.media.size(), 2u);
  const MediaDescription& video = d.media[0];
  EXPECT_EQ(video.direction, Direction::kSendOnly);
  EXPECT_THAT(video.msids, ElementsAre(Msid{"-", "3123fb16-6264-4448-9e8f-94db7b728e28"}));
  EXPECT_THAT(video.rids,
              ElementsAre(Rid{"q", RidDirection::kSend, {}, {}}, Rid{"h", RidDirection::kSend, {}, {}},
                          Rid{"f", RidDirection::kSend, {}, {}}));
  ASSERT_TRUE(video.simulcast.has_value());
  EXPECT_EQ(*video.simulcast, (Simulcast{{{{"q", false}}, {{"h", false}}, {{"f", false}}}, {}}));
  EXPECT_THAT(video.ssrcs, IsEmpty());
  EXPECT_EQ(d.media[1].direction, Direction::kRecvOnly);
  EXPECT_EQ(d.media[1].port, 9);
  EXPECT_THAT(d.media[1].msids, IsEmpty());
}

// --- Firefox-shaped offer: session-level DTLS/ICE attributes, media-level extmap-allow-mixed, extmap
// direction, end-of-candidates, bundle-only with port 0, braces in ids (token chars), rtcp-fb wildcard. ---

constexpr std::string_view kFirefoxOffer = R"(v=0
o=mozilla...THIS_IS_SDPARTA-128.0 6202148378914434810 0 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 4a:9b:02:1c:7d:55:e0:31:c2:8f:6a:11:90:de:3b:44:af:02:19:c8:7e:65:d1:0b:93:28:4f:a6:e2:17:5c:80
a=group:BUNDLE 0 1 2
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 50110 UDP/TLS/RTP/SAVPF 109 9 0 8 101
c=IN IP4 127.0.0.1
a=candidate:0 1 UDP 2122252543 127.0.0.1 50110 typ host
a=candidate:1 1 TCP 2105524479 127.0.0.1 9 typ host tcptype active
a=sendrecv
a=end-of-candidates
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap-allow-mixed
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:7d3e5c0a91b24f68a0c1d2e3f4a5b6c7
a=ice-ufrag:1a2b3c4d
a=mid:0
a=msid:{5e1c2b3a-0f9d-4c8e-b7a6-1d2e3f4a5b6c} {0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d}
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000/1
a=setup:actpass
a=ssrc:2867125093 cname:{8f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b}
m=video 0 UDP/TLS/RTP/SAVPF 120 124
c=IN IP4 0.0.0.0
a=bundle-only
a=recvonly
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=fmtp:120 max-fs=12288;max-fr=60
a=fmtp:124 apt=120
a=ice-pwd:7d3e5c0a91b24f68a0c1d2e3f4a5b6c7
a=ice-ufrag:1a2b3c4d
a=mid:1
a=rtcp-fb:120 nack
a=rtcp-fb:120 nack pli
a=rtcp-fb:120 ccm fir
a=rtcp-fb:* goog-remb
a=rtcp-mux
a=rtcp-rsize
a=rtpmap:120 VP8/90000
a=rtpmap:124 rtx/90000
a=setup:actpass
m=application 0 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 0.0.0.0
a=bundle-only
a=sendrecv
a=ice-pwd:7d3e5c0a91b24f68a0c1d2e3f4a5b6c7
a=ice-ufrag:1a2b3c4d
a=mid:2
a=setup:actpass
a=sctp-port:5000
a=max-message-size:1073741823
)";

TEST(FirefoxTest, OfferParsesWithSessionLevelFallbacks) {
  const SessionDescription d = ParseOk(Crlf(kFirefoxOffer));
  EXPECT_EQ(d.origin.username, "mozilla...THIS_IS_SDPARTA-128.0");
  ASSERT_EQ(d.fingerprints.size(), 1u);
  EXPECT_EQ(
      d.fingerprints[0].ToString(),
      "sha-256 4A:9B:02:1C:7D:55:E0:31:C2:8F:6A:11:90:DE:3B:44:AF:02:19:C8:7E:65:D1:0B:93:28:4F:A6:E2:17:5C:"
      "80");
  EXPECT_THAT(d.ice_options, ElementsAre("trickle"));
  EXPECT_THAT(d.msid_semantics, ElementsAre(MsidSemantic{"WMS", {"*"}}));
  ASSERT_EQ(d.media.size(), 3u);

  const MediaDescription& audio = d.media[0];
  EXPECT_TRUE(audio.end_of_candidates);
  EXPECT_TRUE(audio.extmap_allow_mixed);
  EXPECT_EQ(audio.extmaps[1],
            (ExtMap{2, Direction::kRecvOnly, "urn:ietf:params:rtp-hdrext:csrc-audio-level", ""}));
  EXPECT_THAT(audio.fingerprints, IsEmpty());
  // Media-level ICE, session-level fingerprint and ice-options.
  const IceParameters ice = GetIceParameters(d, audio);
  EXPECT_EQ(ice.ufrag, "1a2b3c4d");
  EXPECT_EQ(ice.pwd, "7d3e5c0a91b24f68a0c1d2e3f4a5b6c7");
  EXPECT_THAT(ice.options, ElementsAre("trickle"));
  ASSERT_EQ(GetFingerprints(d, audio).size(), 1u);
  EXPECT_EQ(GetFingerprints(d, audio)[0], d.fingerprints[0]);
  EXPECT_EQ(GetSetup(d, audio), sdp::Setup::kActPass);
  EXPECT_THAT(audio.msids, ElementsAre(Msid{"{5e1c2b3a-0f9d-4c8e-b7a6-1d2e3f4a5b6c}",
                                            "{0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d}"}));
  const auto g722 = audio.FindCodec(9);
  ASSERT_TRUE(g722.has_value());
  EXPECT_EQ(g722->channels, 1);
  const auto dtmf = audio.FindCodec(101);
  ASSERT_TRUE(dtmf.has_value());
  EXPECT_THAT(dtmf->parameters, ElementsAre(FmtpParameter{"", "0-15"}));

  const MediaDescription& video = d.media[1];
  EXPECT_EQ(video.port, 0);
  EXPECT_TRUE(video.bundle_only);
  EXPECT_FALSE(video.IsRejected());
  EXPECT_EQ(video.direction, Direction::kRecvOnly);
  // The wildcard rtcp-fb applies to every payload type.
  const auto vp8 = video.FindCodec(120);
  ASSERT_TRUE(vp8.has_value());
  EXPECT_THAT(vp8->feedback,
              ElementsAre(RtcpFeedback{120, "nack", ""}, RtcpFeedback{120, "nack", "pli"},
                          RtcpFeedback{120, "ccm", "fir"}, RtcpFeedback{std::nullopt, "goog-remb", ""}));
  const auto rtx = video.FindCodec(124);
  ASSERT_TRUE(rtx.has_value());
  EXPECT_THAT(rtx->feedback, ElementsAre(RtcpFeedback{std::nullopt, "goog-remb", ""}));

  const MediaDescription& data = d.media[2];
  EXPECT_EQ(data.max_message_size, 1073741823u);
  EXPECT_EQ(data.direction, Direction::kSendRecv);

  // Firefox's attribute order is not ours, but the model survives our order.
  EXPECT_EQ(ParseOk(Serialize(d)), d);
}

// --- RFC 8866 §5 example, with static payload types and no rtpmap for them. ---

constexpr std::string_view kRfc8866Example = R"(v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 198.51.100.1
t=0 0
m=audio 49170 RTP/AVP 0
m=audio 49180 RTP/AVP 0
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
a=rtpmap:99 h263-1998/90000
)";

TEST(Rfc8866Test, ExampleRoundTripsExactly) {
  const std::string text = Crlf(kRfc8866Example);
  const SessionDescription d = ParseOk(text);
  EXPECT_EQ(Serialize(d), text);
  EXPECT_EQ(d.origin, (Origin{"jdoe", 3724394400u, 3724394405u, "IN", "IP4", "198.51.100.1"}));
  EXPECT_EQ(d.session_name, "Call to John Smith");
  EXPECT_EQ(d.information, "SDP Offer #1");
  EXPECT_EQ(d.uri, "http://www.jdoe.example.com/home.html");
  EXPECT_THAT(d.emails, ElementsAre("Jane Doe <jane@jdoe.example.com>"));
  EXPECT_THAT(d.phones, ElementsAre("+1 617 555-6011"));
  ASSERT_EQ(d.media.size(), 3u);
  // No c= in the audio sections: the session's applies.
  EXPECT_FALSE(d.media[0].connection.has_value());
  EXPECT_EQ(GetConnection(d, d.media[0]), (ConnectionData{"IN", "IP4", "198.51.100.1"}));
  EXPECT_EQ(GetConnection(d, d.media[2]), (ConnectionData{"IN", "IP6", "2001:db8::2"}));
  // PCMU from the RFC 3551 static table.
  const std::vector<RtpCodec> codecs = d.media[0].Codecs();
  ASSERT_EQ(codecs.size(), 1u);
  EXPECT_EQ(codecs[0].name, "PCMU");
  EXPECT_EQ(codecs[0].clock_rate, 8000u);
  EXPECT_EQ(d.media[2].Codecs()[0].name, "h263-1998");
}

TEST(Rfc8866Test, TimeDescriptionsWithRepeatsAndZones) {
  const std::string text = Crlf(R"(v=0
o=- 1 1 IN IP4 192.0.2.1
s=Seminar
c=IN IP4 233.252.0.1/127
b=CT:128
t=3034423619 3042462419
r=604800 3600 0 90000
r=7d 1h 0 25h
z=2882844526 -1h 2898848070 0
t=3042462419 0
k=prompt
a=recvonly
m=audio 3456/2 RTP/AVP 0
b=AS:64
k=clear:secret
)");
  const SessionDescription d = ParseOk(text);
  EXPECT_EQ(Serialize(d), text);
  ASSERT_EQ(d.timings.size(), 2u);
  EXPECT_EQ(d.timings[0].start_time, 3034423619u);
  EXPECT_THAT(d.timings[0].repeat_times, ElementsAre("604800 3600 0 90000", "7d 1h 0 25h"));
  EXPECT_EQ(d.timings[0].zone_adjustments, "2882844526 -1h 2898848070 0");
  EXPECT_EQ(d.timings[1].stop_time, 0u);
  EXPECT_EQ(d.connection->address, "233.252.0.1/127");
  EXPECT_THAT(d.bandwidths, ElementsAre(Bandwidth{"CT", 128}));
  EXPECT_EQ(d.encryption_key, "prompt");
  EXPECT_EQ(d.direction, Direction::kRecvOnly);
  EXPECT_EQ(GetDirection(d, d.media[0]), Direction::kRecvOnly);
  EXPECT_EQ(d.media[0].port_count, 2);
  EXPECT_THAT(d.media[0].bandwidths, ElementsAre(Bandwidth{"AS", 64}));
  EXPECT_EQ(d.media[0].encryption_key, "clear:secret");
}

// --- JSEP-shaped descriptions (RFC 8829 §7): ice2, rtcp-mux-only, ice-lite, session-level extmap, rejected.
// ---

TEST(JsepTest, OfferWithBundleOnlyAndRejectedSection) {
  const std::string text = Crlf(R"(v=0
o=- 4962303333179871722 1 IN IP4 0.0.0.0
s=-
t=0 0
a=ice-options:trickle ice2
a=group:BUNDLE a1 v1
a=group:LS a1 v1
m=audio 10100 UDP/TLS/RTP/SAVPF 96 0 8 97 98
c=IN IP4 203.0.113.100
a=mid:a1
a=sendrecv
a=rtpmap:96 opus/48000/2
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:97 telephone-event/8000
a=rtpmap:98 telephone-event/48000
a=fmtp:97 0-15
a=fmtp:98 0-15
a=maxptime:120
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=msid:47017fee-b6c1-4162-929c-a25110252400
a=ice-ufrag:ETEn
a=ice-pwd:OtSK0WpNtpUjkY4+86js7ZQl
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2
a=setup:actpass
a=tls-id:91bbf309c0990a6bec11e38ba2933cee
a=rtcp:10101 IN IP4 203.0.113.100
a=rtcp-mux
a=rtcp-mux-only
a=rtcp-rsize
a=candidate:3348148302 1 udp 2113937151 192.0.2.1 56500 typ host
a=end-of-candidates
m=video 0 UDP/TLS/RTP/SAVPF 100 101 102 103 104
c=IN IP4 0.0.0.0
a=bundle-only
a=mid:v1
a=sendrecv
a=rtpmap:100 VP8/90000
a=rtpmap:101 H264/90000
a=fmtp:101 packetization-mode=1;profile-level-id=42e01f
a=rtpmap:102 rtx/90000
a=fmtp:102 apt=100
a=rtpmap:103 rtx/90000
a=fmtp:103 apt=101
a=rtpmap:104 flexfec/90000
a=imageattr:100 recv [x=[48:1920],y=[48:1080],q=1.0]
a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid
a=rtcp-fb:100 ccm fir
a=rtcp-fb:100 nack
a=rtcp-fb:100 nack pli
a=rtcp-mux
a=msid:61317484-2ed4-49d7-9eb7-1414322a7aae f30bdb4a-5db8-49b5-bcdc-e0c9a23172e0
m=video 0 UDP/TLS/RTP/SAVPF 100
c=IN IP4 0.0.0.0
a=inactive
)");
  const SessionDescription d = ParseOk(text);
  ASSERT_EQ(d.groups.size(), 2u);
  EXPECT_EQ(d.FindGroup("LS")->mids.size(), 2u);
  EXPECT_TRUE(d.FindGroup("BUNDLE")->Contains("v1"));
  EXPECT_FALSE(d.FindGroup("BUNDLE")->Contains("x"));
  EXPECT_THAT(d.ice_options, ElementsAre("trickle", "ice2"));
  const MediaDescription& audio = d.media[0];
  EXPECT_TRUE(audio.rtcp_mux_only);
  EXPECT_TRUE(audio.end_of_candidates);
  EXPECT_EQ(audio.rtcp, (RtcpAddress{10101, "IN", "IP4", "203.0.113.100"}));
  EXPECT_THAT(audio.msids, ElementsAre(Msid{"47017fee-b6c1-4162-929c-a25110252400", ""}));
  EXPECT_THAT(audio.attributes, ElementsAre(Attribute{"maxptime", "120"},
                                            Attribute{"tls-id", "91bbf309c0990a6bec11e38ba2933cee"}));
  const MediaDescription& video = d.media[1];
  EXPECT_TRUE(video.bundle_only);
  EXPECT_FALSE(video.IsRejected());
  EXPECT_THAT(video.attributes,
              ElementsAre(Attribute{"imageattr", "100 recv [x=[48:1920],y=[48:1080],q=1.0]"}));
  EXPECT_EQ(video.FindCodec(104)->name, "flexfec");
  EXPECT_TRUE(d.media[2].IsRejected());
  EXPECT_EQ(d.media[2].direction, Direction::kInactive);
  EXPECT_EQ(d.media[2].mid, "");

  // Our order differs from the example's, but the model is the same after a round trip, and the second
  // serialization is stable.
  const std::string once = Serialize(d);
  EXPECT_EQ(ParseOk(once), d);
  EXPECT_EQ(Serialize(ParseOk(once)), once);
}

TEST(JsepTest, IceLiteAnswerWithSessionLevelCredentials) {
  const SessionDescription d = ParseOk(Crlf(R"(v=0
o=- 7 2 IN IP4 198.51.100.7
s=-
t=0 0
a=ice-lite
a=ice-ufrag:lite
a=ice-pwd:0123456789abcdefghijkl
a=fingerprint:sha-1 0A:1B:2C:3D:4E:5F:60:71:82:93:A4:B5:C6:D7:E8:F9:0A:1B:2C:3D
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2
a=setup:passive
a=extmap:5 urn:ietf:params:rtp-hdrext:sdes:mid
a=end-of-candidates
a=x-session-flag
m=application 443 UDP/DTLS/SCTP webrtc-datachannel
c=IN IP4 198.51.100.7
a=candidate:1 1 udp 2130706431 198.51.100.7 443 typ host
a=mid:data
a=sctp-port:5000
a=max-message-size:0
)"));
  EXPECT_TRUE(d.ice_lite);
  EXPECT_TRUE(d.end_of_candidates);
  EXPECT_EQ(d.setup, sdp::Setup::kPassive);
  ASSERT_EQ(d.fingerprints.size(), 2u);
  EXPECT_EQ(d.fingerprints[0].algorithm, "sha-1");
  EXPECT_EQ(d.fingerprints[0].bytes.size(), 20u);
  EXPECT_EQ(d.extmaps.size(), 1u);
  EXPECT_THAT(d.attributes, ElementsAre(Attribute{"x-session-flag", std::nullopt}));
  ASSERT_NE(d.FindAttribute("x-session-flag"), nullptr);
  const MediaDescription& m = d.media[0];
  const IceParameters ice = GetIceParameters(d, m);
  EXPECT_EQ(ice, (IceParameters{"lite", "0123456789abcdefghijkl", {}, true}));
  EXPECT_EQ(GetSetup(d, m), sdp::Setup::kPassive);
  EXPECT_EQ(GetFingerprints(d, m).size(), 2u);
  EXPECT_EQ(m.max_message_size, 0u);  // RFC 8841 §6.1: no limit
  EXPECT_EQ(ParseOk(Serialize(d)), d);
}

TEST(LegacyTest, SctpmapDataChannel) {
  const std::string text = Crlf(R"(v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE data
m=application 9 DTLS/SCTP 5000
c=IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuv
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2
a=setup:actpass
a=mid:data
a=fmtp:5000 max-message-size=65536
a=sctpmap:5000 webrtc-datachannel 1024
)");
  const SessionDescription d = ParseOk(text);
  const MediaDescription& m = d.media[0];
  EXPECT_TRUE(m.IsSctp());
  EXPECT_THAT(m.formats, ElementsAre("5000"));
  EXPECT_EQ(m.sctpmap, (SctpMap{5000, "webrtc-datachannel", 1024u}));
  EXPECT_FALSE(m.sctp_port.has_value());
  // Not an RTP section: the fmtp names an SCTP port, not a payload type, and is kept as it is.
  EXPECT_THAT(m.fmtps, IsEmpty());
  EXPECT_THAT(m.attributes, ElementsAre(Attribute{"fmtp", "5000 max-message-size=65536"}));
  EXPECT_EQ(ParseOk(Serialize(d)), d);
}

// --- a model with every field set ---

SessionDescription FullModel() {
  SessionDescription d;
  d.origin = Origin{"alice", 4611686018427387903u, 7, "IN", "IP6", "::1"};
  d.session_name = "full";
  d.information = "info";
  d.uri = "https://example.com/s";
  d.emails = {"a@example.com"};
  d.phones = {"+1 555 0100"};
  d.connection = ConnectionData{"IN", "IP4", "192.0.2.10"};
  d.bandwidths = {{"CT", 1000}};
  d.timings = {Timing{1, 2, {"10 1 0"}, "5 -1h"}, Timing{3, 4, {}, std::nullopt}};
  d.encryption_key = "prompt";
  d.groups = {Group{"BUNDLE", {"a", "v", "d"}}, Group{"LS", {"a", "v"}}};
  d.extmap_allow_mixed = true;
  d.msid_semantics = {MsidSemantic{"WMS", {"stream"}}};
  d.ice_lite = true;
  d.ice_ufrag = "sess";
  d.ice_pwd = "sessionpasswordsession";
  d.ice_options = {"trickle", "ice2"};
  d.fingerprints = {Fingerprint{"sha-256", {0xAA}}};
  for (uint8_t i = 0; i < 31; ++i) d.fingerprints[0].bytes.push_back(i);
  d.setup = sdp::Setup::kActPass;
  d.direction = Direction::kSendOnly;
  d.extmaps = {ExtMap{7, Direction::kSendRecv, "urn:x", "attr"}};
  d.end_of_candidates = true;
  d.attributes = {Attribute{"x-flag", std::nullopt}, Attribute{"x-empty", ""}, Attribute{"x-kv", "v w"}};

  MediaDescription a;
  a.type = MediaType::kAudio;
  a.port = 9;
  a.proto = "UDP/TLS/RTP/SAVPF";
  a.title = "audio title";
  a.connection = ConnectionData{"IN", "IP4", "0.0.0.0"};
  a.bandwidths = {{"AS", 64}, {"TIAS", 64000}};
  a.encryption_key = "clear:k";
  a.mid = "a";
  a.direction = Direction::kRecvOnly;
  a.ice_ufrag = "ufra";
  a.ice_pwd = "abcdefghijklmnopqrstuv";
  a.ice_options = {"trickle"};
  a.candidates = {"1 1 udp 2130706431 192.0.2.1 5000 typ host",
                  "2 1 tcp 1 192.0.2.1 9 typ host tcptype active"};
  a.end_of_candidates = true;
  a.fingerprints = {Fingerprint{"sha-1", std::vector<uint8_t>(20, 0xAB)}, Fingerprint{"x-hash", {1, 2, 3}}};
  a.setup = sdp::Setup::kHoldConn;
  a.rtcp = RtcpAddress{9, "IN", "IP4", "0.0.0.0"};
  a.rtcp_mux = a.rtcp_mux_only = a.rtcp_rsize = a.extmap_allow_mixed = true;
  a.extmaps = {ExtMap{1, std::nullopt, "urn:ietf:params:rtp-hdrext:ssrc-audio-level", "vad=on"},
               ExtMap{4096, Direction::kInactive, "urn:y", ""}};
  RtpCodec opus{
      111, "opus", 48000, 2, {{"minptime", "10"}, {"useinbandfec", "1"}}, {{111, "transport-cc", ""}}};
  a.AddCodec(opus);
  a.AddCodec(RtpCodec{0, "PCMU", 8000, 1, {}, {}});
  a.rtcp_feedback.push_back(RtcpFeedback{std::nullopt, "nack", ""});
  a.msids = {Msid{"stream", "track"}, Msid{"-", ""}};
  a.ssrc_groups = {SsrcGroup{"FID", {1, 2}}, SsrcGroup{"SIM", {}}};
  a.ssrcs = {SsrcAttribute{1, "cname", "c"}, SsrcAttribute{2, "msid", "stream track"},
             SsrcAttribute{2, "x", ""}};
  a.attributes = {Attribute{"maxptime", "60"}};
  d.media.push_back(a);

  MediaDescription v;
  v.type = MediaType::kVideo;
  v.port = 0;
  v.bundle_only = true;
  v.mid = "v";
  v.formats = {"96", "97"};
  v.rtpmaps = {RtpMap{96, "VP8", 90000, std::nullopt}, RtpMap{97, "rtx", 90000, std::nullopt}};
  // Out of payload-type order on purpose: the lists must come back as they are.
  v.fmtps = {Fmtp{97, "apt=96"}, Fmtp{96, "max-fs=12288"}};
  v.rtcp_feedback = {RtcpFeedback{97, "nack", ""}, RtcpFeedback{96, "ccm", "fir"},
                     RtcpFeedback{96, "nack", "pli"}};
  v.rids = {Rid{"hi", RidDirection::kSend, {96, 97}, {{"max-width", "1280"}, {"depend", ""}}},
            Rid{"lo", RidDirection::kRecv, {}, {}}};
  v.simulcast = Simulcast{{{{"hi", false}, {"lo", true}}}, {{{"r1", false}}, {{"r2", true}}}};
  d.media.push_back(v);

  MediaDescription data;
  data.type = MediaType::kApplication;
  data.port = 9;
  data.proto = "UDP/DTLS/SCTP";
  data.formats = {"webrtc-datachannel"};
  data.mid = "d";
  data.sctp_port = 5000;
  data.max_message_size = 18446744073709551615u;
  data.sctpmap = SctpMap{5000, "webrtc-datachannel", std::nullopt};
  d.media.push_back(data);

  MediaDescription text;
  text.type = MediaType::kOther;
  text.other_type = "text";
  text.port = 1;
  text.port_count = 2;
  text.proto = "RTP/AVP";
  text.formats = {"98"};
  text.connection = ConnectionData{"IN", "IP4", "192.0.2.11"};
  d.media.push_back(text);
  return d;
}

TEST(SerializeTest, EveryFieldRoundTrips) {
  const SessionDescription d = FullModel();
  const std::string text = Serialize(d);
  const auto error = Validate(d);
  EXPECT_FALSE(error.has_value()) << error->ToString() << "\n" << text;
  EXPECT_EQ(ParseOk(text), d);
  EXPECT_EQ(Serialize(ParseOk(text)), text);
}

TEST(SerializeTest, EveryFieldWritesTheExpectedLines) {
  const std::string expected = Crlf(R"(v=0
o=alice 4611686018427387903 7 IN IP6 ::1
s=full
i=info
u=https://example.com/s
e=a@example.com
p=+1 555 0100
c=IN IP4 192.0.2.10
b=CT:1000
t=1 2
r=10 1 0
z=5 -1h
t=3 4
k=prompt
a=group:BUNDLE a v d
a=group:LS a v
a=extmap-allow-mixed
a=msid-semantic: WMS stream
a=ice-lite
a=ice-ufrag:sess
a=ice-pwd:sessionpasswordsession
a=ice-options:trickle ice2
a=fingerprint:sha-256 AA:00:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13:14:15:16:17:18:19:1A:1B:1C:1D:1E
a=setup:actpass
a=sendonly
a=extmap:7/sendrecv urn:x attr
a=end-of-candidates
a=x-flag
a=x-empty:
a=x-kv:v w
m=audio 9 UDP/TLS/RTP/SAVPF 111 0
i=audio title
c=IN IP4 0.0.0.0
b=AS:64
b=TIAS:64000
k=clear:k
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1 1 udp 2130706431 192.0.2.1 5000 typ host
a=candidate:2 1 tcp 1 192.0.2.1 9 typ host tcptype active
a=end-of-candidates
a=ice-ufrag:ufra
a=ice-pwd:abcdefghijklmnopqrstuv
a=ice-options:trickle
a=fingerprint:sha-1 AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB
a=fingerprint:x-hash 01:02:03
a=setup:holdconn
a=mid:a
a=extmap-allow-mixed
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on
a=extmap:4096/inactive urn:y
a=recvonly
a=msid:stream track
a=msid:-
a=rtcp-mux
a=rtcp-mux-only
a=rtcp-rsize
a=maxptime:60
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:0 PCMU/8000
a=rtcp-fb:* nack
a=ssrc-group:FID 1 2
a=ssrc-group:SIM
a=ssrc:1 cname:c
a=ssrc:2 msid:stream track
a=ssrc:2 x
m=video 0 UDP/TLS/RTP/SAVPF 96 97
a=mid:v
a=bundle-only
a=rtpmap:96 VP8/90000
a=rtpmap:97 rtx/90000
a=rtcp-fb:97 nack
a=fmtp:97 apt=96
a=rtcp-fb:96 ccm fir
a=rtcp-fb:96 nack pli
a=fmtp:96 max-fs=12288
a=rid:hi send pt=96,97;max-width=1280;depend
a=rid:lo recv
a=simulcast:send hi,~lo recv r1;~r2
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
a=mid:d
a=sctp-port:5000
a=sctpmap:5000 webrtc-datachannel
a=max-message-size:18446744073709551615
m=text 1/2 RTP/AVP 98
c=IN IP4 192.0.2.11
)");
  EXPECT_EQ(Serialize(FullModel()), expected);
}

TEST(SerializeTest, DefaultModelIsValid) {
  SessionDescription d;
  EXPECT_EQ(Serialize(d), "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
  EXPECT_FALSE(Validate(d).has_value());
}

// --- helpers ---

TEST(HelpersTest, DirectionAndSetupStrings) {
  for (Direction dir :
       {Direction::kSendRecv, Direction::kSendOnly, Direction::kRecvOnly, Direction::kInactive}) {
    EXPECT_EQ(ParseDirection(ToString(dir)), dir);
  }
  EXPECT_EQ(ParseDirection("SENDRECV"), std::nullopt);
  EXPECT_EQ(Reverse(Direction::kSendOnly), Direction::kRecvOnly);
  EXPECT_EQ(Reverse(Direction::kRecvOnly), Direction::kSendOnly);
  EXPECT_EQ(Reverse(Direction::kSendRecv), Direction::kSendRecv);
  EXPECT_EQ(Reverse(Direction::kInactive), Direction::kInactive);
  EXPECT_TRUE(Sends(Direction::kSendOnly));
  EXPECT_FALSE(Sends(Direction::kRecvOnly));
  EXPECT_TRUE(Receives(Direction::kSendRecv));
  EXPECT_FALSE(Receives(Direction::kInactive));
  for (sdp::Setup s :
       {sdp::Setup::kActive, sdp::Setup::kPassive, sdp::Setup::kActPass, sdp::Setup::kHoldConn}) {
    EXPECT_EQ(ParseSetup(ToString(s)), s);
  }
  EXPECT_EQ(ParseSetup("both"), std::nullopt);
  EXPECT_EQ(ParseMediaType("video"), MediaType::kVideo);
  EXPECT_EQ(ParseMediaType("text"), MediaType::kOther);
  EXPECT_EQ(ToString(MediaType::kApplication), "application");
}

TEST(HelpersTest, ProtoClassification) {
  MediaDescription m;
  for (const char* rtp : {"RTP/AVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVPF", "TCP/TLS/RTP/SAVPF", "TCP/RTP/AVP"}) {
    m.proto = rtp;
    EXPECT_TRUE(m.IsRtp()) << rtp;
    EXPECT_FALSE(m.IsSctp()) << rtp;
  }
  for (const char* sctp : {"UDP/DTLS/SCTP", "TCP/DTLS/SCTP", "DTLS/SCTP"}) {
    m.proto = sctp;
    EXPECT_TRUE(m.IsSctp()) << sctp;
    EXPECT_FALSE(m.IsRtp()) << sctp;
  }
  m.proto = "udp";
  EXPECT_FALSE(m.IsRtp());
  EXPECT_FALSE(m.IsSctp());
}

TEST(HelpersTest, AddCodecBuildsTheLinesAndCodecsReadsThemBack) {
  MediaDescription m;
  m.type = MediaType::kVideo;
  const RtpCodec vp8{96, "VP8", 90000, 1, {}, {{96, "nack", ""}, {96, "nack", "pli"}}};
  const RtpCodec rtx{97, "rtx", 90000, 1, {{"apt", "96"}}, {}};
  m.AddCodec(vp8);
  m.AddCodec(rtx);
  EXPECT_THAT(m.formats, ElementsAre("96", "97"));
  EXPECT_THAT(m.rtpmaps,
              ElementsAre(RtpMap{96, "VP8", 90000, std::nullopt}, RtpMap{97, "rtx", 90000, std::nullopt}));
  EXPECT_THAT(m.fmtps, ElementsAre(Fmtp{97, "apt=96"}));
  EXPECT_THAT(m.Codecs(), ElementsAre(vp8, rtx));
  EXPECT_EQ(m.FindCodec(98), std::nullopt);
  EXPECT_EQ(m.FindRtpMap(96)->encoding_name, "VP8");
  EXPECT_EQ(m.FindFmtp(96), nullptr);

  MediaDescription audio;
  audio.AddCodec(RtpCodec{111, "opus", 48000, 2, {}, {}});
  audio.AddCodec(RtpCodec{0, "PCMU", 8000, 1, {}, {}});
  EXPECT_EQ(audio.rtpmaps[0].ToString(), "111 opus/48000/2");
  EXPECT_EQ(audio.rtpmaps[1].ToString(), "0 PCMU/8000");
}

TEST(HelpersTest, CodecsSkipsUnknownDynamicPayloadTypes) {
  MediaDescription m;
  m.formats = {"96", "0", "35"};
  EXPECT_THAT(m.PayloadTypes(), ElementsAre(96, 0, 35));
  const auto codecs = m.Codecs();
  ASSERT_EQ(codecs.size(), 1u);
  EXPECT_EQ(codecs[0].name, "PCMU");
}

TEST(HelpersTest, ParseErrorToString) {
  EXPECT_EQ((ParseError{7, "m=audio x", "bad port"}).ToString(), "line 7 (\"m=audio x\"): bad port");
  EXPECT_EQ((ParseError{0, "", "empty SDP"}).ToString(), "empty SDP");
}

// --- Validate ---

TEST(ValidateTest, NamesTheSerializedLineAtFault) {
  {
    SessionDescription d = FullModel();
    d.media[0].ice_ufrag = "abc";  // RFC 8839 §5.4: at least 4 chars
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->line_text, "a=ice-ufrag:abc");
    EXPECT_THAT(e->reason, HasSubstr("RFC 8839"));
  }
  {
    SessionDescription d = FullModel();
    d.media[1].mid = "has space";
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->line_text, "a=mid:has space");
  }
  {
    SessionDescription d = FullModel();
    d.media[0].formats.push_back("128");
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_THAT(e->reason, HasSubstr("'128' is not 0-127"));
  }
  {
    SessionDescription d = FullModel();
    d.connection.reset();
    d.media[2].connection.reset();
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->line_text, "m=video 0 UDP/TLS/RTP/SAVPF 96 97");
    EXPECT_THAT(e->reason, HasSubstr("no c= line"));
  }
  {
    SessionDescription d = FullModel();
    d.groups[0].mids.push_back("gone");
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->line_text, "a=group:BUNDLE a v d gone");
  }
  {
    SessionDescription d = FullModel();
    d.fingerprints[0].algorithm = "SHA-256";
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->line, 0u);
    EXPECT_THAT(e->reason, HasSubstr("session-level fields do not survive serialization"));
  }
  {
    SessionDescription d = FullModel();
    d.media[3].other_type = "audio";  // would come back as kAudio
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_THAT(e->reason, HasSubstr("media section 3 do not survive"));
  }
  {
    SessionDescription d = FullModel();
    d.media[2].rtpmaps.push_back(RtpMap{96, "x", 1, std::nullopt});  // not an RTP section: kept as unknown
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_THAT(e->reason, HasSubstr("media section 2"));
  }
  {
    SessionDescription d = FullModel();
    d.media[3].other_type.clear();
    EXPECT_TRUE(Validate(d).has_value());
  }
  {
    SessionDescription d;
    d.timings.clear();
    auto e = Validate(d);
    ASSERT_TRUE(e.has_value());
    EXPECT_THAT(e->reason, HasSubstr("missing t= line"));
  }
}

// --- randomized round-trip property: any model built from valid pieces survives Serialize + Parse. ---

class RandomModel {
 public:
  explicit RandomModel(uint64_t seed) : rng_(seed) {}

  SessionDescription Build() {
    SessionDescription d;
    d.origin = Origin{
        Token(), rng_.NextU64(), rng_.NextU64() >> Pick(0, 63), "IN", Pick(0, 1) ? "IP4" : "IP6", Token()};
    d.session_name = Pick(0, 3) == 0 ? "" : Text();
    if (Pick(0, 3) == 0) d.information = Text();
    if (Pick(0, 3) == 0) d.connection = ConnectionData{"IN", "IP4", Token()};
    d.timings.clear();
    for (int i = Pick(1, 3); i > 0; --i) {
      Timing t{rng_.NextU64(), rng_.NextU64(), {}, std::nullopt};
      for (int r = Pick(0, 2); r > 0; --r) t.repeat_times.push_back(Text());
      if (!t.repeat_times.empty() && Pick(0, 1)) t.zone_adjustments = Text();
      d.timings.push_back(t);
    }
    d.extmap_allow_mixed = Pick(0, 1);
    d.ice_lite = Pick(0, 1);
    if (Pick(0, 1)) d.ice_ufrag = IceString(4);
    if (Pick(0, 1)) d.ice_pwd = IceString(22);
    if (Pick(0, 1)) d.setup = static_cast<sdp::Setup>(Pick(0, 3));
    if (Pick(0, 1)) d.direction = static_cast<Direction>(Pick(0, 3));
    for (int i = Pick(0, 2); i > 0; --i) d.fingerprints.push_back(RandomFingerprint());
    for (int i = Pick(0, 2); i > 0; --i) d.attributes.push_back(RandomAttribute());
    const int sections = Pick(0, 5);
    std::vector<std::string> mids;
    for (int i = 0; i < sections; ++i) {
      MediaDescription m = RandomMedia(i);
      if (!d.connection && !m.connection) m.connection = ConnectionData{};
      if (!m.mid.empty()) mids.push_back(m.mid);
      d.media.push_back(std::move(m));
    }
    if (!mids.empty() && Pick(0, 1)) d.groups.push_back(Group{"BUNDLE", mids});
    return d;
  }

 private:
  int Pick(int lo, int hi) { return static_cast<int>(rng_.Uniform(lo, hi)); }
  std::string Token() {
    static constexpr std::string_view kChars = "abcXYZ019-.!#$%&'*+^_`{|}~";
    std::string s;
    for (int i = Pick(1, 8); i > 0; --i) s += kChars[Pick(0, static_cast<int>(kChars.size()) - 1)];
    return s;
  }
  std::string Text() {
    std::string s = Token();
    if (Pick(0, 1)) s += " " + Token() + ":" + Token();
    return s;
  }
  std::string IceString(int min) {
    static constexpr std::string_view kChars = "abcXYZ0189+/";
    std::string s;
    for (int i = Pick(min, min + 10); i > 0; --i) s += kChars[Pick(0, static_cast<int>(kChars.size()) - 1)];
    return s;
  }
  Fingerprint RandomFingerprint() {
    Fingerprint f{Pick(0, 1) ? "sha-256" : "x-other", {}};
    const int n = f.algorithm == "sha-256" ? 32 : Pick(1, 64);
    for (int i = 0; i < n; ++i) f.bytes.push_back(static_cast<uint8_t>(rng_.NextU32()));
    return f;
  }
  Attribute RandomAttribute() {
    Attribute a{"x-" + Token(), std::nullopt};
    if (Pick(0, 1)) a.value = Pick(0, 3) == 0 ? "" : Text();
    return a;
  }
  MediaDescription RandomMedia(int index) {
    MediaDescription m;
    m.type = static_cast<MediaType>(Pick(0, 3));
    if (m.type == MediaType::kOther) m.other_type = "x" + Token();
    m.port = static_cast<uint16_t>(rng_.NextU32());
    if (Pick(0, 4) == 0) m.port_count = static_cast<uint16_t>(rng_.NextU32());
    if (Pick(0, 2) == 0) m.connection = ConnectionData{"IN", "IP6", Token()};
    if (Pick(0, 2) == 0) m.mid = "m" + std::to_string(index);
    m.bundle_only = Pick(0, 3) == 0;
    if (Pick(0, 1)) m.direction = static_cast<Direction>(Pick(0, 3));
    if (Pick(0, 1)) m.ice_ufrag = IceString(4);
    if (Pick(0, 1)) m.ice_pwd = IceString(22);
    for (int i = Pick(0, 2); i > 0; --i) m.ice_options.push_back(IceString(1));
    for (int i = Pick(0, 3); i > 0; --i) m.candidates.push_back(Text());
    m.end_of_candidates = Pick(0, 1);
    for (int i = Pick(0, 2); i > 0; --i) m.fingerprints.push_back(RandomFingerprint());
    if (Pick(0, 1)) m.setup = static_cast<sdp::Setup>(Pick(0, 3));
    for (int i = Pick(0, 2); i > 0; --i) m.attributes.push_back(RandomAttribute());
    if (Pick(0, 1)) {
      m.proto = "UDP/DTLS/SCTP";
      m.formats = {"webrtc-datachannel"};
      if (Pick(0, 1)) m.sctp_port = static_cast<uint16_t>(rng_.NextU32());
      if (Pick(0, 1)) m.max_message_size = rng_.NextU64();
      if (Pick(0, 3) == 0)
        m.sctpmap = SctpMap{5000, Token(), Pick(0, 1) ? std::optional<uint32_t>(7) : std::nullopt};
      return m;
    }
    m.proto = Pick(0, 1) ? "UDP/TLS/RTP/SAVPF" : "RTP/AVP";
    m.rtcp_mux = Pick(0, 1);
    m.rtcp_mux_only = Pick(0, 1);
    m.rtcp_rsize = Pick(0, 1);
    if (Pick(0, 1)) m.rtcp = RtcpAddress{static_cast<uint16_t>(Pick(0, 65535)), "IN", "IP4", Token()};
    std::vector<uint8_t> pts;
    for (int i = Pick(1, 6); i > 0; --i) {
      const auto pt = static_cast<uint8_t>(Pick(0, 127));
      if (std::find(pts.begin(), pts.end(), pt) != pts.end()) continue;
      pts.push_back(pt);
      m.formats.push_back(std::to_string(pt));
    }
    // rtpmap/fmtp/rtcp-fb lists in random orders, independent of each other.
    for (uint8_t pt : pts) {
      if (Pick(0, 2) != 0) {
        m.rtpmaps.push_back(RtpMap{pt, Token(), static_cast<uint32_t>(Pick(1, 96000)),
                                   Pick(0, 1) ? std::optional<uint16_t>(Pick(1, 8)) : std::nullopt});
      }
      if (Pick(0, 1)) m.fmtps.push_back(Fmtp{pt, Text()});
    }
    for (int i = Pick(0, 6); i > 0; --i) {
      RtcpFeedback fb{std::nullopt, Token(), Pick(0, 1) ? Text() : ""};
      if (Pick(0, 4) != 0) fb.payload_type = pts[Pick(0, static_cast<int>(pts.size()) - 1)];
      m.rtcp_feedback.push_back(fb);
    }
    std::shuffle(m.rtpmaps.begin(), m.rtpmaps.end(), Urbg{rng_});
    std::shuffle(m.fmtps.begin(), m.fmtps.end(), Urbg{rng_});
    for (int i = Pick(0, 3); i > 0; --i) {
      const auto id = static_cast<uint16_t>(i * 3);
      m.extmaps.push_back(ExtMap{id,
                                 Pick(0, 1) ? std::optional<Direction>(Direction::kSendOnly) : std::nullopt,
                                 "urn:" + Token(), Pick(0, 1) ? Text() : ""});
    }
    for (int i = Pick(0, 2); i > 0; --i) m.msids.push_back(Msid{Token(), Pick(0, 1) ? Token() : ""});
    for (int i = Pick(0, 4); i > 0; --i) {
      m.ssrcs.push_back(SsrcAttribute{rng_.NextU32(), Token(), Pick(0, 1) ? Text() : ""});
    }
    if (Pick(0, 1)) m.ssrc_groups.push_back(SsrcGroup{"FID", {rng_.NextU32(), rng_.NextU32()}});
    if (Pick(0, 1)) {
      m.rids.push_back(Rid{"r0", RidDirection::kSend, {pts[0]}, {{"max-fps", "30"}}});
      m.rids.push_back(Rid{"r1", RidDirection::kRecv, {}, {{"depend", ""}}});
      m.simulcast = Simulcast{{{{"r0", Pick(0, 1) == 0}}}, {{{"r1", false}, {"r0", true}}}};
    }
    return m;
  }

  struct Urbg {
    Rng& rng;
    using result_type = uint32_t;
    static constexpr uint32_t min() { return 0; }
    static constexpr uint32_t max() { return UINT32_MAX; }
    uint32_t operator()() { return rng.NextU32(); }
  };

  SeededRng rng_;
};

TEST(PropertyTest, RandomValidModelsRoundTrip) {
  for (uint64_t seed = 1; seed <= 400; ++seed) {
    const SessionDescription d = RandomModel(seed).Build();
    const std::string text = Serialize(d);
    auto parsed = Parse(text);
    ASSERT_TRUE(parsed.ok()) << "seed " << seed << ": " << parsed.error().ToString() << "\n" << text;
    ASSERT_EQ(*parsed, d) << "seed " << seed << "\n" << text;
    ASSERT_EQ(Serialize(*parsed), text) << "seed " << seed;
  }
}

}  // namespace
}  // namespace tandem::sdp
