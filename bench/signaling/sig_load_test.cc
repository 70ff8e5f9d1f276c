// sig_load's wire pieces: client frames decode to what was framed (RFC 6455 §5.2/§5.3), server frames parse
// or are refused as the RFC says, the latency marker round-trips, and every payload sig_load builds is a
// frame tandem's own parser accepts, whose relayed form still carries the marker.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "bench/signaling/payloads.h"
#include "bench/signaling/ws_codec.h"
#include "signal/protocol.h"

namespace tandem::bench::sig {
namespace {

// Decodes a masked client frame the way a server does: header fields and the unmasked payload.
struct Decoded {
  uint8_t first = 0;
  std::string payload;
  size_t size = 0;
};
Decoded DecodeClientFrame(const std::string& f) {
  Decoded d;
  const auto* p = reinterpret_cast<const uint8_t*>(f.data());
  d.first = p[0];
  EXPECT_TRUE(p[1] & 0x80) << "client frames are masked";
  uint64_t len = p[1] & 0x7F;
  size_t at = 2;
  if (len == 126) {
    len = (uint64_t{p[2]} << 8) | p[3];
    at = 4;
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | p[2 + i];
    at = 10;
  }
  const uint8_t* key = p + at;
  at += 4;
  for (uint64_t i = 0; i < len; ++i) d.payload += static_cast<char>(p[at + i] ^ key[i % 4]);
  d.size = at + len;
  return d;
}

std::string ServerFrameBytes(uint8_t first, const std::string& payload) {
  std::string f(1, static_cast<char>(first));
  if (payload.size() < 126) {
    f += static_cast<char>(payload.size());
  } else if (payload.size() <= 0xFFFF) {
    f += static_cast<char>(126);
    f += static_cast<char>(payload.size() >> 8);
    f += static_cast<char>(payload.size() & 0xFF);
  } else {
    f += static_cast<char>(127);
    for (int i = 7; i >= 0; --i) f += static_cast<char>((uint64_t{payload.size()} >> (8 * i)) & 0xFF);
  }
  return f + payload;
}

TEST(WsCodecTest, ClientFramesRoundTripAtEveryLengthEncoding) {
  for (size_t n : {0u, 1u, 7u, 125u, 126u, 1000u, 65535u, 65536u, 70000u}) {
    std::string payload(n, 'x');
    for (size_t i = 0; i < n; ++i) payload[i] = static_cast<char>('a' + i % 26);
    std::string frame = "prefix";
    AppendClientFrame(frame, Opcode::kText, payload, 0xA1B2C3D4);
    const Decoded d = DecodeClientFrame(frame.substr(6));
    EXPECT_EQ(d.first, 0x81) << n;  // FIN + text
    EXPECT_EQ(d.payload, payload) << n;
    EXPECT_EQ(d.size, frame.size() - 6) << n;
    EXPECT_EQ(frame.substr(0, 6), "prefix");
  }
}

TEST(WsCodecTest, MaskingChangesThePayloadOnTheWire) {
  std::string frame;
  AppendClientFrame(frame, Opcode::kPong, "hello world", 0x01020304);
  EXPECT_EQ(static_cast<uint8_t>(frame[0]), 0x8A);
  EXPECT_EQ(frame.find("hello"), std::string::npos);
  EXPECT_EQ(DecodeClientFrame(frame).payload, "hello world");
}

TEST(WsCodecTest, FrameInPlaceFramesOnlyTheTail) {
  std::string out = "earlier-bytes";
  const size_t at = out.size();
  out += R"({"type":"ping"})";
  FrameInPlace(out, at, Opcode::kText, 0xDEADBEEF);
  EXPECT_EQ(out.substr(0, at), "earlier-bytes");
  EXPECT_EQ(DecodeClientFrame(out.substr(at)).payload, R"({"type":"ping"})");
}

TEST(WsCodecTest, ParsesServerFramesOfEveryLength) {
  for (size_t n : {0u, 125u, 126u, 4000u, 65536u}) {
    const std::string payload(n, 'p');
    const std::string bytes = ServerFrameBytes(0x81, payload) + "trailing";
    ServerFrame f;
    size_t used = 0;
    ASSERT_EQ(ParseServerFrame(bytes, 1 << 20, f, used), ParseStatus::kFrame) << n;
    EXPECT_EQ(f.opcode, Opcode::kText);
    EXPECT_TRUE(f.fin);
    EXPECT_EQ(f.payload, payload);
    EXPECT_EQ(used, bytes.size() - 8);
    // Every proper prefix needs more.
    for (size_t cut : {size_t{0}, size_t{1}, used / 2, used - 1}) {
      EXPECT_EQ(ParseServerFrame(std::string_view(bytes).substr(0, cut), 1 << 20, f, used),
                ParseStatus::kNeedMore)
          << n << " cut " << cut;
      used = bytes.size() - 8;
    }
  }
}

TEST(WsCodecTest, RefusesWhatAServerMustNotSend) {
  ServerFrame f;
  size_t used = 0;
  std::string masked = ServerFrameBytes(0x81, "abc");
  masked[1] = static_cast<char>(masked[1] | 0x80);
  EXPECT_EQ(ParseServerFrame(masked, 1024, f, used), ParseStatus::kError);
  EXPECT_EQ(ParseServerFrame(ServerFrameBytes(0xC1, "abc"), 1024, f, used), ParseStatus::kError);  // RSV1
  EXPECT_EQ(ParseServerFrame(ServerFrameBytes(0x83, "abc"), 1024, f, used), ParseStatus::kError);  // opcode 3
  EXPECT_EQ(ParseServerFrame(ServerFrameBytes(0x81, std::string(2000, 'a')), 1024, f, used),
            ParseStatus::kError);
  ASSERT_EQ(ParseServerFrame(ServerFrameBytes(0x01, "abc"), 1024, f, used), ParseStatus::kFrame);
  EXPECT_FALSE(f.fin);
}

TEST(WsCodecTest, UpgradeRequestCarriesTheHandshakeHeaders) {
  const std::string r = UpgradeRequest("127.0.0.1:8080", "/ws?room=a", "dGhlIHNhbXBsZSBub25jZQ==");
  EXPECT_EQ(r.rfind("GET /ws?room=a HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(r.find("\r\nHost: 127.0.0.1:8080\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nUpgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"), std::string::npos);
  EXPECT_NE(r.find("\r\nSec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n");
}

TEST(MarkerTest, RoundTripsAndSkipsLookAlikes) {
  char buf[kMaxMarkerBytes];
  const Marker m{4294967295u, 9223372036854775807};
  const size_t n = WriteMarker(buf, m);
  ASSERT_LE(n, kMaxMarkerBytes);
  const std::string text = "~tl~tl12~tl3.x~ sdp " + std::string(buf, n) + " rest";
  const std::optional<Marker> found = FindMarker(text);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->step, m.step);
  EXPECT_EQ(found->send_ns, m.send_ns);
  EXPECT_FALSE(FindMarker("no marker ~tl5.77 unterminated"));
}

class PayloadTest : public ::testing::TestWithParam<MessageKind> {};

TEST_P(PayloadTest, TandemAcceptsEverySizeAndRelaysTheMarker) {
  const MessageKind kind = GetParam();
  PayloadFactory factory(MessageMix{});
  const std::string to = "p-0123456789ab";
  for (size_t size : {1u, 150u, 199u, 200u, 250u, 1000u, 4000u, 4001u, 5000u, 6000u}) {
    std::string text;
    const Marker marker{7, 123456789012345};
    factory.Append(text, kind, to, marker, size);
    if (kind == MessageKind::kCandidate && size > 2000) {
      EXPECT_LT(text.size(), 2100u) << "the candidate string stays within tandem's 2 KiB limit";
    } else if (size >= 300) {
      // Exact, but one byte short when the cut would split an escape.
      EXPECT_LE(text.size(), size) << size;
      EXPECT_GE(text.size() + 1, size) << size;
    }
    signaling::ParsedFrame parsed = signaling::ParseClientFrame(text);
    ASSERT_TRUE(std::holds_alternative<signaling::ClientFrame>(parsed)) << text;
    const auto& frame = std::get<signaling::ClientFrame>(parsed);
    EXPECT_EQ(frame.to, to);
    EXPECT_STREQ(signaling::TypeName(frame.type), MessageKindName(kind));
    const std::string relayed = signaling::RelayFrame(frame.type, "p-ffffffffffff", frame.body);
    const std::optional<Marker> found = FindMarker(relayed);
    ASSERT_TRUE(found) << relayed;
    EXPECT_EQ(found->step, marker.step);
    EXPECT_EQ(found->send_ns, marker.send_ns);
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, PayloadTest,
                         ::testing::Values(MessageKind::kOffer, MessageKind::kAnswer,
                                           MessageKind::kCandidate));

TEST(PayloadMixTest, DrawsFollowTheWeightsAndRanges) {
  MessageMix only_offers;
  only_offers.answer_weight = 0;
  only_offers.candidate_weight = 0;
  PayloadFactory offers(only_offers);
  for (uint64_t r = 0; r < 100; ++r) EXPECT_EQ(offers.DrawKind(r * 7919), MessageKind::kOffer);

  PayloadFactory mixed(MessageMix{});  // 1:1:8
  int counts[3] = {};
  for (uint64_t r = 0; r < 1000; ++r) ++counts[static_cast<int>(mixed.DrawKind(r))];
  EXPECT_EQ(counts[0], 100);
  EXPECT_EQ(counts[1], 100);
  EXPECT_EQ(counts[2], 800);
  for (uint64_t r = 0; r < 5000; r += 7) {
    const size_t s = mixed.DrawSize(MessageKind::kOffer, r);
    EXPECT_GE(s, 4000u);
    EXPECT_LE(s, 6000u);
  }
}

}  // namespace
}  // namespace tandem::bench::sig
