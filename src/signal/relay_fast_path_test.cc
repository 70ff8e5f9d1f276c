// The relay fast path is an optimization of ParseClientFrame + RelayFrame, never a second protocol: whenever
// it accepts a frame, the general path accepts it too with the same type and target, and the relayed bytes
// are the same; it declines everything the general path refuses. Checked on hand-written frames and on seeded
// random mutations of valid ones.
#include "signal/relay_fast_path.h"

#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "core/rng.h"
#include "signal/protocol.h"

namespace tandem::signaling {
namespace {

constexpr char kFrom[] = "p-0123456789ab";

// The property every accepted frame must satisfy. Returns whether the fast path took it.
bool CheckAgainstGeneralPath(const std::string& text) {
  const std::optional<FastRelay> fast = ScanRelayFrame(text);
  if (!fast) return false;
  const ParsedFrame parsed = ParseClientFrame(text);
  const auto* frame = std::get_if<ClientFrame>(&parsed);
  EXPECT_NE(frame, nullptr) << "fast path accepted a frame the general path refuses: " << text;
  if (frame == nullptr) return true;
  EXPECT_EQ(frame->type, fast->type) << text;
  EXPECT_EQ(frame->to, std::string(fast->to)) << text;
  std::string relayed;
  AppendRelayFrame(relayed, *fast, kFrom);
  EXPECT_EQ(relayed, RelayFrame(frame->type, kFrom, frame->body)) << text;
  return true;
}

TEST(RelayFastPathTest, TakesTheCommonFramesAndRelaysThemByteForByte) {
  const std::vector<std::string> frames = {
      R"({"type":"offer","to":"p-1","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"})",
      R"({"sdp":"v=0","to":"p-1","type":"answer"})",
      R"(  {"type" : "offer" ,"to":"p-1", "sdp":"", "id": 7, "extra": [1, {"a": [true, false, null]}, "x"]}  )",
      R"({"type":"offer","to":"p-1","sdp":"tab\there \"quoted\" back\\slash \b\f","id":"abc"})",
      R"({"type":"offer","to":"p-1","sdp":"del \u007f is escaped as text here"})",
      R"({"type":"candidate","to":"p-2","candidate":null})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":""}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host",)"
      R"("sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"EsAw"}})",
      R"({"type":"candidate","to":"p-2","candidate":{"usernameFragment":null,"sdpMLineIndex":null,"sdpMid":null,)"
      R"("candidate":"c","other":{"k":[1,2]}}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","sdpMLineIndex":-0}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","sdpMLineIndex":65535}})",
      R"({"type":"candidate","to":"p-2","sdp":5,"candidate":{"candidate":"c"}})",
      "{\"type\":\"offer\",\"to\":\"p-1\",\"sdp\":\"raw \x7f del\"}",
  };
  for (const std::string& f : frames) {
    if (f.find("\\u") != std::string::npos) {
      EXPECT_FALSE(ScanRelayFrame(f)) << f;  // \u escapes are left to the general path
      continue;
    }
    EXPECT_TRUE(CheckAgainstGeneralPath(f)) << "not taken: " << f;
  }
}

TEST(RelayFastPathTest, DeclinesWhatTheGeneralPathRefusesOrRewrites) {
  const std::vector<std::string> frames = {
      "",
      "null",
      "[]",
      "{}",
      R"({"type":"offer","to":"p-1","sdp":"x"} trailing)",
      R"({"type":"offer","to":"p-1","sdp":"x",})",
      R"({"type":"offer","to":"p-1"})",             // no sdp
      R"({"type":"offer","sdp":"x"})",              // no to
      R"({"type":"offer","to":5,"sdp":"x"})",       // to not a string
      R"({"type":"offer","to":"p-1","sdp":5})",     // sdp not a string
      R"({"type":"message","to":"p-1","data":1})",  // other types: general path
      R"({"type":"ping"})",
      R"({"type":"bogus","to":"p-1","sdp":"x"})",
      R"({"type":"offer","to":"p-1","sdp":"x","id":null})",  // bad id
      R"({"type":"offer","to":"p-1","sdp":"x","id":1.5})",   // floats are left alone
      R"({"type":"offer","to":"p-1","sdp":"x","n":1e999})",  // nlohmann refuses the overflow
      R"({"type":"offer","to":"p-1","sdp":"x","n":12345678901234567890})",
      R"({"type":"offer","to":"p-1","sdp":"x","type":"answer"})",  // duplicate: last one wins there
      R"({"type":"offer","to":"p-1","sdp":"a\/b"})",               // "\/" is rewritten as "/"
      R"({"type":"offer","to":"p-\"1","sdp":"x"})",                // escaped target id
      R"({"type":"offer","to":"p-1","sdp":"\u0041"})",
      "{\"type\":\"offer\",\"to\":\"p-1\",\"sdp\":\"caf\xc3\xa9\"}",  // non-ASCII
      "{\"type\":\"offer\",\"to\":\"p-1\",\"sdp\":\"a\nb\"}",         // raw control character: invalid JSON
      R"({"type":"candidate","to":"p-2"})",                           // no candidate
      R"({"type":"candidate","to":"p-2","candidate":"c"})",
      R"({"type":"candidate","to":"p-2","candidate":{}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":5}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","sdpMLineIndex":65536}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","sdpMLineIndex":-1}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","sdpMLineIndex":1.0}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","sdpMid":5}})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"c","candidate":"d"}})",
      R"({"type":"offer","to":"p-1","sdp":"x","deep":)" + std::string(32, '[') + std::string(32, ']') + "}",
  };
  for (const std::string& f : frames) EXPECT_FALSE(ScanRelayFrame(f)) << f;
  // Size limits: the general path refuses, so the fast path must not take them.
  const std::string big_sdp(kMaxSdpBytes + 1, 'a');
  EXPECT_FALSE(ScanRelayFrame(R"({"type":"offer","to":"p-1","sdp":")" + big_sdp + "\"}"));
  EXPECT_TRUE(ScanRelayFrame(R"({"type":"offer","to":"p-1","sdp":")" + big_sdp.substr(1) + "\"}"));
  const std::string big_candidate(kMaxCandidateBytes + 1, 'c');
  EXPECT_FALSE(
      ScanRelayFrame(R"({"type":"candidate","to":"p","candidate":{"candidate":")" + big_candidate + "\"}}"));
  // Escapes count once towards the limits (decoded length), as in the general path.
  std::string escaped;
  for (size_t i = 0; i < kMaxCandidateBytes; ++i) escaped += "\\n";
  EXPECT_TRUE(CheckAgainstGeneralPath(R"({"type":"candidate","to":"p","candidate":{"candidate":")" + escaped +
                                      "\"}}"));
  const std::string long_id(kMaxIdBytes + 1, 'i');
  EXPECT_FALSE(ScanRelayFrame(R"({"type":"offer","to":"p-1","sdp":"x","id":")" + long_id + "\"}"));
  // Nesting exactly at the limit is fine (the frame object is level 1).
  EXPECT_TRUE(CheckAgainstGeneralPath(R"({"type":"offer","to":"p-1","sdp":"x","deep":)" +
                                      std::string(31, '[') + std::string(31, ']') + "}"));
}

TEST(RelayFastPathTest, PlainTextCheck) {
  EXPECT_TRUE(IsPlainJsonText("p-0123456789ab"));
  EXPECT_TRUE(IsPlainJsonText(""));
  EXPECT_FALSE(IsPlainJsonText("a\"b"));
  EXPECT_FALSE(IsPlainJsonText("a\\b"));
  EXPECT_FALSE(IsPlainJsonText("a\nb"));
  EXPECT_FALSE(IsPlainJsonText("caf\xc3\xa9"));
  EXPECT_FALSE(IsPlainJsonText(std::string(40, 'x') + "\x01"));  // past the 16-byte vector loop
}

// Random edits of valid frames: whatever the fast path takes must match the general path exactly.
TEST(RelayFastPathTest, RandomMutationsNeverDisagree) {
  const std::vector<std::string> seeds = {
      R"({"type":"offer","to":"p-1","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\na=x:\"y\"\r\n","id":12})",
      R"({"type":"candidate","to":"p-2","candidate":{"candidate":"candidate:1 1 udp 1 10.0.0.1 5 typ host",)"
      R"("sdpMid":"0","sdpMLineIndex":3,"usernameFragment":"u"},"x":[{"y":null},-5,true]})",
      R"({"type":"answer","to":"p-3","sdp":"s","candidate":{"candidate":"z"},"id":"r"})",
  };
  const std::string alphabet = "{}[]\":,\\ntrufalse0123456789-+.eE /\x01\x7f\xc3\xa9u\r\t";
  SeededRng rng(42);
  int taken = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string f = seeds[rng.Uniform(0, static_cast<uint32_t>(seeds.size() - 1))];
    const uint32_t edits = rng.Uniform(1, 3);
    for (uint32_t e = 0; e < edits && !f.empty(); ++e) {
      const size_t at = rng.Uniform(0, static_cast<uint32_t>(f.size() - 1));
      const char c = alphabet[rng.Uniform(0, static_cast<uint32_t>(alphabet.size() - 1))];
      switch (rng.Uniform(0, 2)) {
        case 0:
          f[at] = c;
          break;
        case 1:
          f.insert(at, 1, c);
          break;
        default:
          f.erase(at, 1);
          break;
      }
    }
    taken += CheckAgainstGeneralPath(f);
    if (HasFailure()) FAIL() << "disagreement on: " << f;
  }
  // The mutations must exercise the accepting side too, not only refusals.
  EXPECT_GT(taken, 1000);
}

}  // namespace
}  // namespace tandem::signaling
