// Frame parsing (every refusal has the documented code) and the guarded JSON helpers.
#include "signal/protocol.h"

#include <gtest/gtest.h>

namespace tandem::signaling {
namespace {

// By value: the argument is usually a temporary.
FrameError Error(const ParsedFrame& p) {
  const FrameError* e = std::get_if<FrameError>(&p);
  EXPECT_NE(e, nullptr);
  return e ? *e : FrameError{};
}

ClientFrame Frame(const ParsedFrame& p) {
  const ClientFrame* f = std::get_if<ClientFrame>(&p);
  EXPECT_NE(f, nullptr) << (std::holds_alternative<FrameError>(p) ? std::get<FrameError>(p).message : "");
  return f ? *f : ClientFrame{};
}

TEST(Json, DepthIsBoundedBeforeParsing) {
  EXPECT_EQ(JsonNestingDepth("[[[]]]", 32), 3u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"[[[[["})", 32), 1u);
  EXPECT_EQ(JsonNestingDepth(R"({"a":"\"[[[["})", 32), 1u);
  EXPECT_TRUE(ParseJson(std::string(32, '[') + std::string(32, ']')));
  EXPECT_FALSE(ParseJson(std::string(33, '[') + std::string(33, ']')));
  EXPECT_FALSE(ParseJson(std::string(100000, '[')));
  EXPECT_FALSE(ParseJson("{"));
  EXPECT_FALSE(ParseJson("1e99999"));
  EXPECT_FALSE(ParseJson("\"\xff\""));  // invalid UTF-8
  EXPECT_FALSE(ParseJson("{} trailing"));
  EXPECT_FALSE(ParseJson("/* comment */ {}"));
}

TEST(Json, DumpNeverThrows) {
  Json bad = std::string("\xff\xfe");
  EXPECT_EQ(DumpJson(bad), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");
}

TEST(Protocol, ParsesEachClientFrame) {
  const ClientFrame offer = Frame(ParseClientFrame(R"({"type":"offer","to":"p-1","sdp":"v=0","id":7})"));
  EXPECT_EQ(offer.type, ClientFrame::Type::kOffer);
  EXPECT_EQ(*offer.to, "p-1");
  EXPECT_EQ(offer.body, "v=0");
  EXPECT_EQ(*offer.id, 7);
  EXPECT_EQ(Frame(ParseClientFrame(R"({"type":"answer","to":"p-1","sdp":""})")).type, ClientFrame::Type::kAnswer);

  const ClientFrame cand = Frame(ParseClientFrame(
      R"({"type":"candidate","to":"p-1","candidate":{"candidate":"candidate:1 1 udp 1 1.2.3.4 5 typ host",)"
      R"("sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd","extra":"dropped"}})"));
  EXPECT_EQ(cand.type, ClientFrame::Type::kCandidate);
  EXPECT_EQ(cand.body["sdpMid"], "0");
  EXPECT_EQ(cand.body["sdpMLineIndex"], 0);
  EXPECT_FALSE(cand.body.contains("extra"));
  EXPECT_TRUE(Frame(ParseClientFrame(R"({"type":"candidate","to":"p-1","candidate":null})")).body.is_null());
  const ClientFrame nulls = Frame(ParseClientFrame(
      R"({"type":"candidate","to":"p","candidate":{"candidate":"","sdpMid":null,"sdpMLineIndex":null}})"));
  EXPECT_TRUE(nulls.body["sdpMid"].is_null());

  const ClientFrame msg = Frame(ParseClientFrame(R"({"type":"message","data":{"x":[1,2]}})"));
  EXPECT_FALSE(msg.to);
  EXPECT_EQ(msg.body["x"][1], 2);
  EXPECT_TRUE(Frame(ParseClientFrame(R"({"type":"message","data":null,"to":"p-2"})")).to);

  const ClientFrame ping = Frame(ParseClientFrame(R"({"type":"ping","ts":123})"));
  EXPECT_EQ(ping.body, 123);
  EXPECT_TRUE(Frame(ParseClientFrame(R"({"type":"ping"})")).body.is_discarded());
}

TEST(Protocol, RefusesWithTheDocumentedCodes) {
  EXPECT_EQ(Error(ParseClientFrame("not json")).code, Code::kBadJson);
  EXPECT_EQ(Error(ParseClientFrame("[1]")).code, Code::kBadJson);
  EXPECT_EQ(Error(ParseClientFrame("\"offer\"")).code, Code::kBadJson);
  EXPECT_EQ(Error(ParseClientFrame("{}")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":5})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"dance","id":"a"})")).code, Code::kUnknownType);
  EXPECT_EQ(*Error(ParseClientFrame(R"({"type":"dance","id":"a"})")).ref, "a");
  EXPECT_FALSE(Error(ParseClientFrame(R"({"type":"ping","id":{}})")).ref);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"ping","id":{}})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"offer","sdp":"v=0"})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"offer","to":1,"sdp":"v=0"})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"offer","to":"p","sdp":{}})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"candidate","to":"p"})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"candidate","to":"p","candidate":"x"})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"candidate","to":"p","candidate":{"sdpMid":"0"}})")).code,
            Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(
                      R"({"type":"candidate","to":"p","candidate":{"candidate":"c","sdpMLineIndex":-1}})"))
                .code,
            Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"message"})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"message","to":null,"data":1})")).code, Code::kBadRequest);
  EXPECT_EQ(Error(ParseClientFrame(R"({"type":"message","data":)" + std::string(40, '[') +
                                   std::string(40, ']') + "}"))
                .code,
            Code::kBadJson);
}

TEST(Protocol, BuildsServerFrames) {
  auto welcome = ParseJson(WelcomeFrame("p-1", "demo", "alice", {{"p-2", "bob"}},
                                        {{{"stun:h:3478"}, "", ""}, {{"turn:h:3478"}, "u", "c"}}));
  ASSERT_TRUE(welcome);
  EXPECT_EQ((*welcome)["type"], "welcome");
  EXPECT_EQ((*welcome)["peers"][0]["identity"], "bob");
  EXPECT_FALSE((*welcome)["iceServers"][0].contains("username"));
  EXPECT_EQ((*welcome)["iceServers"][1]["credential"], "c");
  EXPECT_EQ(*ParseJson(PongFrame(Json(Json::value_t::discarded))), Json({{"type", "pong"}}));
  EXPECT_EQ((*ParseJson(ErrorFrame(Code::kUnknownPeer, "x", Json("r1"))))["ref"], "r1");
  EXPECT_EQ((*ParseJson(RelayFrame(ClientFrame::Type::kCandidate, "p-1", nullptr)))["candidate"], nullptr);
}

}  // namespace
}  // namespace tandem::signaling
