// The signaling core on a fake clock and a seeded Rng: joins and presence, routing, refusals with their codes,
// limits (rate, room size, per-IP), liveness, the HTTP API (tokens, ICE servers, presence, message delivery).
#include "signal/signaling_core.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "signal/json.h"
#include "stun/message.h"
#include "testing/fake_clock.h"
#include "turn/credentials.h"

namespace tandem::signaling {
namespace {

constexpr int64_t kWall = 1767225600;
constexpr char kSecret[] = "token-secret";

struct Inbox {
  std::vector<Json> frames;
  int pings = 0;
  std::optional<CloseCode> closed;
  std::string close_reason;
};

class CoreTest : public ::testing::Test {
 protected:
  CoreTest() { config_.token_secret = kSecret; }

  SignalingCore& core() {
    if (!core_) core_ = std::make_unique<SignalingCore>(config_, rng_);
    return *core_;
  }

  void Drain() {
    while (auto out = core().PollOutput()) {
      Inbox& inbox = inboxes_[out->connection];
      switch (out->kind) {
        case Output::Kind::kSend: {
          auto json = ParseJson(*out->text);
          ASSERT_TRUE(json) << *out->text;
          inbox.frames.push_back(*json);
          break;
        }
        case Output::Kind::kPing: ++inbox.pings; break;
        case Output::Kind::kClose:
          inbox.closed = out->close_code;
          inbox.close_reason = out->reason;
          break;
      }
    }
  }

  std::vector<Json> Take(ConnectionId c) {
    Drain();
    return std::exchange(inboxes_[c].frames, {});
  }
  Json TakeOne(ConnectionId c) {
    auto frames = Take(c);
    EXPECT_EQ(frames.size(), 1u) << "connection " << c;
    return frames.empty() ? Json() : frames[0];
  }

  std::string Token(const std::string& room, const std::string& identity, uint8_t perms = kPermJoin | kPermSend,
                    int64_t ttl = 3600) {
    TokenClaims c;
    c.room = room;
    c.identity = identity;
    c.perms = perms;
    c.issued_at = wall_.seconds;
    c.expires_at = wall_.seconds + ttl;
    c.jti = "t";
    return core().tokens().Mint(c);
  }

  std::optional<ApiResponse> Upgrade(ConnectionId c, const std::string& token, const char* ip = "10.0.0.1") {
    return core().HandleUpgrade(clock_.now(), wall_, c, *IpAddress::Parse(ip), "/ws?token=" + token);
  }

  // Joins and returns the peer id from the welcome frame.
  std::string Join(ConnectionId c, const std::string& room, const std::string& identity,
                   const char* ip = "10.0.0.1") {
    auto refused = Upgrade(c, Token(room, identity), ip);
    EXPECT_FALSE(refused) << (refused ? refused->body : "");
    Json welcome = TakeOne(c);
    EXPECT_EQ(welcome["type"], "welcome");
    return welcome.value("peerId", "");
  }

  void Frame(ConnectionId c, const Json& frame) { core().HandleFrame(clock_.now(), c, frame.dump()); }
  void Raw(ConnectionId c, std::string_view text) { core().HandleFrame(clock_.now(), c, text); }

  ApiResponse Api(std::string_view method, std::string_view target, std::string_view body = "",
                  std::string_view authorization = "") {
    ApiRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    r.authorization = authorization;
    r.client = IpAddress::LoopbackV4();
    return core().HandleApi(clock_.now(), wall_, r);
  }

  void Advance(TimeDelta d) {
    const Timestamp end = clock_.now() + d;
    while (core().NextTimeout() <= end) {
      clock_.AdvanceTo(core().NextTimeout());
      core().HandleTimeout(clock_.now());
    }
    clock_.AdvanceTo(end);
    Drain();
  }

  static std::string Code(const Json& error_frame) { return error_frame.value("code", ""); }
  static std::string ErrorCodeOf(const ApiResponse& r) {
    auto json = ParseJson(r.body);
    return json ? (*json)["error"].value("code", "") : "";
  }

  SignalConfig config_;
  testing::FakeClock clock_;
  UnixTime wall_{kWall};
  SeededRng rng_{7};
  std::unique_ptr<SignalingCore> core_;
  std::map<ConnectionId, Inbox> inboxes_;
};

TEST_F(CoreTest, JoinAnnouncesPresenceBothWays) {
  const std::string alice = Join(1, "demo", "alice");
  EXPECT_EQ(alice.rfind("p-", 0), 0u);
  EXPECT_EQ(alice.size(), 14u);

  ASSERT_FALSE(Upgrade(2, Token("demo", "bob")));
  Json welcome = TakeOne(2);
  EXPECT_EQ(welcome["room"], "demo");
  EXPECT_EQ(welcome["identity"], "bob");
  ASSERT_EQ(welcome["peers"].size(), 1u);
  EXPECT_EQ(welcome["peers"][0]["peerId"], alice);
  EXPECT_EQ(welcome["peers"][0]["identity"], "alice");
  const std::string bob = welcome["peerId"];
  EXPECT_NE(bob, alice);

  Json joined = TakeOne(1);
  EXPECT_EQ(joined["type"], "peer-joined");
  EXPECT_EQ(joined["peer"]["peerId"], bob);
  EXPECT_EQ(joined["peer"]["identity"], "bob");

  // Another room hears nothing.
  Join(3, "other", "carol");
  EXPECT_TRUE(Take(1).empty());
  EXPECT_TRUE(Take(2).empty());

  core().HandleClosed(clock_.now(), 2);
  Json left = TakeOne(1);
  EXPECT_EQ(left["type"], "peer-left");
  EXPECT_EQ(left["peerId"], bob);
  EXPECT_TRUE(Take(3).empty());
  EXPECT_EQ(core().peer_count(), 2u);
  EXPECT_EQ(core().room_count(), 2u);
  core().HandleClosed(clock_.now(), 2);  // twice: ignored
  core().HandleClosed(clock_.now(), 1);
  EXPECT_EQ(core().room_count(), 1u);
}

TEST_F(CoreTest, SameIdentityMayJoinTwice) {
  const std::string a = Join(1, "demo", "alice");
  const std::string b = Join(2, "demo", "alice");
  EXPECT_NE(a, b);
}

TEST_F(CoreTest, RelaysOfferAnswerCandidateToTheAddressee) {
  const std::string alice = Join(1, "demo", "alice");
  const std::string bob = Join(2, "demo", "bob");
  const std::string carol = Join(3, "demo", "carol");
  Drain();
  inboxes_.clear();

  Frame(1, Json{{"type", "offer"}, {"to", bob}, {"sdp", "v=0 offer"}});
  Json offer = TakeOne(2);
  EXPECT_EQ(offer, (Json{{"type", "offer"}, {"from", alice}, {"sdp", "v=0 offer"}}));
  EXPECT_TRUE(Take(3).empty());
  EXPECT_TRUE(Take(1).empty());

  Frame(2, Json{{"type", "answer"}, {"to", alice}, {"sdp", "v=0 answer"}});
  EXPECT_EQ(TakeOne(1), (Json{{"type", "answer"}, {"from", bob}, {"sdp", "v=0 answer"}}));

  Json cand = {{"candidate", "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host"},
               {"sdpMid", "0"},
               {"sdpMLineIndex", 0},
               {"usernameFragment", "u"}};
  Frame(1, Json{{"type", "candidate"}, {"to", bob}, {"candidate", cand}});
  EXPECT_EQ(TakeOne(2), (Json{{"type", "candidate"}, {"from", alice}, {"candidate", cand}}));
  Frame(1, Json{{"type", "candidate"}, {"to", bob}, {"candidate", nullptr}});
  EXPECT_EQ(TakeOne(2), (Json{{"type", "candidate"}, {"from", alice}, {"candidate", nullptr}}));

  Frame(3, Json{{"type", "message"}, {"to", alice}, {"data", {{"chat", "hi"}}}});
  EXPECT_EQ(TakeOne(1), (Json{{"type", "message"}, {"from", carol}, {"data", {{"chat", "hi"}}}}));
  EXPECT_TRUE(Take(2).empty());

  // No "to": every other peer in the room, never the sender.
  Frame(3, Json{{"type", "message"}, {"data", 42}});
  EXPECT_EQ(TakeOne(1)["data"], 42);
  EXPECT_EQ(TakeOne(2)["data"], 42);
  EXPECT_TRUE(Take(3).empty());
}

TEST_F(CoreTest, PingIsAnsweredWithPong) {
  Join(1, "demo", "alice");
  Raw(1, R"({"type":"ping","ts":1234})");
  EXPECT_EQ(TakeOne(1), (Json{{"type", "pong"}, {"ts", 1234}}));
  Raw(1, R"({"type":"ping"})");
  EXPECT_EQ(TakeOne(1), (Json{{"type", "pong"}}));
}

TEST_F(CoreTest, UnknownPeerIsRefusedWithRef) {
  Join(1, "demo", "alice");
  const std::string elsewhere = Join(2, "other", "bob");
  Frame(1, Json{{"type", "offer"}, {"to", "p-000000000000"}, {"sdp", "x"}, {"id", "o1"}});
  Json e = TakeOne(1);
  EXPECT_EQ(e["type"], "error");
  EXPECT_EQ(Code(e), "unknown_peer");
  EXPECT_EQ(e["ref"], "o1");
  // A peer of another room is unknown here.
  Frame(1, Json{{"type", "message"}, {"to", elsewhere}, {"data", 1}, {"id", 9}});
  e = TakeOne(1);
  EXPECT_EQ(Code(e), "unknown_peer");
  EXPECT_EQ(e["ref"], 9);
  EXPECT_TRUE(Take(2).empty());
}

TEST_F(CoreTest, BadFramesGetErrorsAndTheSocketStaysOpen) {
  Join(1, "demo", "alice");
  Raw(1, "{not json");
  EXPECT_EQ(Code(TakeOne(1)), "bad_json");
  Raw(1, "[]");
  EXPECT_EQ(Code(TakeOne(1)), "bad_json");
  Raw(1, R"({"type":"teleport","id":"x"})");
  Json e = TakeOne(1);
  EXPECT_EQ(Code(e), "unknown_type");
  EXPECT_EQ(e["ref"], "x");
  Raw(1, R"({"type":"offer","to":"p-1"})");
  EXPECT_EQ(Code(TakeOne(1)), "bad_request");
  core().HandleFrame(clock_.now(), 1, "\x01\x02", /*binary=*/true);
  EXPECT_EQ(Code(TakeOne(1)), "bad_json");
  EXPECT_FALSE(inboxes_[1].closed);
  EXPECT_EQ(core().peer_count(), 1u);
}

TEST_F(CoreTest, OversizeFrameClosesWith4009) {
  Join(1, "demo", "alice");
  Join(2, "demo", "bob");
  Drain();
  inboxes_.clear();
  std::string big = R"({"type":"message","data":")" + std::string(64 * 1024, 'x') + "\"}";
  Raw(1, big);
  Json e = TakeOne(1);
  EXPECT_EQ(Code(e), "too_large");
  ASSERT_TRUE(inboxes_[1].closed);
  EXPECT_EQ(*inboxes_[1].closed, CloseCode::kTooLarge);
  EXPECT_EQ(TakeOne(2)["type"], "peer-left");
  EXPECT_EQ(core().peer_count(), 1u);
  // The IO layer's own report (it stopped reading a huge message) does the same.
  core().HandleFrameTooLarge(clock_.now(), 2);
  Drain();
  EXPECT_EQ(*inboxes_[2].closed, CloseCode::kTooLarge);
  EXPECT_EQ(core().peer_count(), 0u);
}

TEST_F(CoreTest, RateLimitDropsFramesThenClosesAbusers) {
  config_.limits.messages_per_second = 10;
  config_.limits.message_burst = 5;
  Join(1, "demo", "alice");
  for (int i = 0; i < 5; ++i) Raw(1, R"({"type":"ping"})");
  EXPECT_EQ(Take(1).size(), 5u);
  // The sixth within the same instant is dropped with one rate_limited error; more drops say nothing more.
  Raw(1, R"({"type":"ping"})");
  Raw(1, R"({"type":"ping"})");
  auto frames = Take(1);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(Code(frames[0]), "rate_limited");
  EXPECT_EQ(core().stats().frames_rate_limited, 2u);
  // 100 ms later one token is back.
  clock_.Advance(TimeDelta::Millis(100));
  Raw(1, R"({"type":"ping"})");
  EXPECT_EQ(TakeOne(1)["type"], "pong");
  // Keep hammering without pause: closed with 4008 after 4 bursts' worth of drops.
  for (int i = 0; i < 21; ++i) Raw(1, R"({"type":"ping"})");
  Drain();
  ASSERT_TRUE(inboxes_[1].closed);
  EXPECT_EQ(*inboxes_[1].closed, CloseCode::kPolicy);
  EXPECT_EQ(core().peer_count(), 0u);
}

TEST_F(CoreTest, RoomFullIs409) {
  config_.limits.max_peers_per_room = 2;
  Join(1, "demo", "a");
  Join(2, "demo", "b");
  auto refused = Upgrade(3, Token("demo", "c"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409);
  EXPECT_EQ(ErrorCodeOf(*refused), "room_full");
  EXPECT_TRUE(Take(1).size() == 1);  // only b's peer-joined, nothing about c
  // Someone leaves: room for one more.
  core().HandleClosed(clock_.now(), 1);
  EXPECT_FALSE(Upgrade(3, Token("demo", "c")));
}

TEST_F(CoreTest, ConnectionsPerIpAndInTotalAreLimited) {
  config_.limits.max_peers_per_ip = 2;
  config_.limits.max_peers = 3;
  Join(1, "r1", "a", "198.51.100.1");
  Join(2, "r2", "b", "198.51.100.1");
  auto refused = Upgrade(3, Token("r3", "c"), "198.51.100.1");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  EXPECT_EQ(ErrorCodeOf(*refused), "too_many_connections");
  Join(4, "r1", "d", "198.51.100.2");
  auto full = Upgrade(5, Token("r1", "e"), "198.51.100.3");
  ASSERT_TRUE(full);
  EXPECT_EQ(ErrorCodeOf(*full), "too_many_connections");
  core().HandleClosed(clock_.now(), 1);
  EXPECT_FALSE(Upgrade(3, Token("r3", "c"), "198.51.100.1"));
}

TEST_F(CoreTest, RoomCountIsLimited) {
  config_.limits.max_rooms = 1;
  Join(1, "r1", "a");
  auto refused = Upgrade(2, Token("r2", "b"));
  ASSERT_TRUE(refused);
  EXPECT_EQ(ErrorCodeOf(*refused), "too_many_connections");
  EXPECT_FALSE(Upgrade(2, Token("r1", "b")));
}

TEST_F(CoreTest, UpgradeRefusals) {
  auto missing = core().HandleUpgrade(clock_.now(), wall_, 1, IpAddress::LoopbackV4(), "/ws");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(ErrorCodeOf(*missing), "bad_token");

  auto forged = Upgrade(1, Token("demo", "a") + "x");
  ASSERT_TRUE(forged);
  EXPECT_EQ(ErrorCodeOf(*forged), "bad_token");

  std::string token = Token("demo", "a", kPermJoin, 60);
  wall_.seconds += 91;
  auto expired = Upgrade(1, token);
  ASSERT_TRUE(expired);
  EXPECT_EQ(expired->status, 401);
  EXPECT_EQ(ErrorCodeOf(*expired), "token_expired");

  auto no_join = Upgrade(1, Token("demo", "a", kPermSend));
  ASSERT_TRUE(no_join);
  EXPECT_EQ(no_join->status, 403);
  EXPECT_EQ(ErrorCodeOf(*no_join), "forbidden");

  // Percent-encoded token characters are decoded.
  std::string t = Token("demo", "a");
  std::string encoded;
  for (char c : t) encoded += c == '.' ? std::string("%2E") : std::string(1, c);
  EXPECT_FALSE(core().HandleUpgrade(clock_.now(), wall_, 2, IpAddress::LoopbackV4(), "/ws?x=1&token=" + encoded));
  EXPECT_EQ(core().stats().upgrades_refused, 4u);
}

TEST_F(CoreTest, LivenessPingsSilentPeersAndDropsThemAfterSixtySeconds) {
  Join(1, "demo", "alice");
  Join(2, "demo", "bob");
  Drain();
  inboxes_.clear();
  Advance(TimeDelta::Seconds(19));
  EXPECT_EQ(inboxes_[1].pings, 0);
  Advance(TimeDelta::Seconds(1));
  EXPECT_EQ(inboxes_[1].pings, 1);
  EXPECT_EQ(inboxes_[2].pings, 1);
  // Bob answers every ping; alice stays silent.
  for (int i = 0; i < 4; ++i) {
    core().HandlePong(clock_.now(), 2);
    Advance(TimeDelta::Seconds(10));
  }
  EXPECT_EQ(inboxes_[1].pings, 2);  // at 20 s and 40 s
  Advance(TimeDelta::Seconds(1));   // 61 s
  ASSERT_TRUE(inboxes_[1].closed);
  EXPECT_EQ(*inboxes_[1].closed, CloseCode::kPolicy);
  EXPECT_EQ(inboxes_[1].close_reason, "timeout");
  EXPECT_FALSE(inboxes_[2].closed);
  EXPECT_EQ(TakeOne(2)["type"], "peer-left");
  EXPECT_EQ(core().stats().peers_timed_out, 1u);
  // Any frame also counts as a sign of life.
  for (int i = 0; i < 10; ++i) {
    Raw(2, R"({"type":"ping"})");
    Advance(TimeDelta::Seconds(15));
  }
  EXPECT_FALSE(inboxes_[2].closed);
  EXPECT_EQ(core().NextTimeout() - clock_.now() <= TimeDelta::Seconds(20), true);
  core().HandleClosed(clock_.now(), 2);
  Advance(TimeDelta::Seconds(100));
  EXPECT_EQ(core().NextTimeout(), Timestamp::Infinity());
}

TEST_F(CoreTest, HttpMessageReachesOnePeerOrTheWholeRoom) {
  const std::string alice = Join(1, "demo", "alice");
  Join(2, "demo", "bob");
  Join(3, "other", "carol");
  Drain();
  inboxes_.clear();
  const std::string auth = "Bearer " + Token("demo", "server");

  auto one = Api("POST", "/api/rooms/demo/messages", Json{{"to", alice}, {"data", {{"k", 1}}}}.dump(), auth);
  EXPECT_EQ(one.status, 202);
  EXPECT_EQ(*ParseJson(one.body), (Json{{"delivered", 1}}));
  EXPECT_EQ(TakeOne(1), (Json{{"type", "message"}, {"from", "http:server"}, {"data", {{"k", 1}}}}));
  EXPECT_TRUE(Take(2).empty());

  auto all = Api("POST", "/api/rooms/demo/messages", R"({"data":"hello"})", auth);
  EXPECT_EQ(all.status, 202);
  EXPECT_EQ(*ParseJson(all.body), (Json{{"delivered", 2}}));
  EXPECT_EQ(TakeOne(1)["data"], "hello");
  EXPECT_EQ(TakeOne(2)["data"], "hello");
  EXPECT_TRUE(Take(3).empty());
  EXPECT_EQ(core().stats().api_messages_delivered, 3u);
}

TEST_F(CoreTest, HttpMessageRefusals) {
  Join(1, "demo", "alice");
  const std::string auth = "Bearer " + Token("demo", "server");
  auto code = [&](const ApiResponse& r) { return std::to_string(r.status) + " " + ErrorCodeOf(r); };
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"data":1})")), "401 bad_token");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"data":1})", "Bearer nope")), "401 bad_token");
  EXPECT_EQ(code(Api("POST", "/api/rooms/other/messages", R"({"data":1})", auth)), "403 forbidden");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"data":1})",
                     "Bearer " + Token("demo", "x", kPermJoin))),
            "403 forbidden");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"to":"p-nobody","data":1})", auth)),
            "404 unknown_peer");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"nodata":1})", auth)), "400 bad_request");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", "{", auth)), "400 bad_request");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"to":5,"data":1})", auth)), "400 bad_request");
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", std::string(70000, ' '), auth)), "413 too_large");
  EXPECT_EQ(code(Api("GET", "/api/rooms/demo/messages", "", auth)), "405 method_not_allowed");
  EXPECT_EQ(Api("GET", "/api/rooms/demo/messages", "", auth).allow, std::string("POST"));
  std::string expiring = "Bearer " + Token("demo", "server", kPermSend, 10);
  wall_.seconds += 40;
  EXPECT_EQ(code(Api("POST", "/api/rooms/demo/messages", R"({"data":1})", expiring)), "401 token_expired");
  EXPECT_TRUE(Take(1).empty());
  // Nobody in the room: nothing to deliver.
  EXPECT_EQ(Api("POST", "/api/rooms/empty/messages", R"({"data":1})", "Bearer " + Token("empty", "s")).body,
            R"({"delivered":0})");
}

TEST_F(CoreTest, HttpMessagesToARoomAreRateLimited) {
  config_.limits.messages_per_second = 1;
  config_.limits.message_burst = 2;
  Join(1, "demo", "alice");
  const std::string auth = "Bearer " + Token("demo", "server");
  EXPECT_EQ(Api("POST", "/api/rooms/demo/messages", R"({"data":1})", auth).status, 202);
  EXPECT_EQ(Api("POST", "/api/rooms/demo/messages", R"({"data":1})", auth).status, 202);
  auto limited = Api("POST", "/api/rooms/demo/messages", R"({"data":1})", auth);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(ErrorCodeOf(limited), "rate_limited");
  clock_.Advance(TimeDelta::Seconds(1));
  EXPECT_EQ(Api("POST", "/api/rooms/demo/messages", R"({"data":1})", auth).status, 202);
}

TEST_F(CoreTest, PresenceListsThePeersOfTheTokensRoom) {
  const std::string alice = Join(1, "demo", "alice");
  auto r = Api("GET", "/api/rooms/demo", "", "Bearer " + Token("demo", "x", kPermSend));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(*ParseJson(r.body),
            (Json{{"room", "demo"}, {"peers", {{{"peerId", alice}, {"identity", "alice"}}}}}));
  EXPECT_EQ(Api("GET", "/api/rooms/demo", "", "Bearer " + Token("other", "x")).status, 403);
  EXPECT_EQ(Api("GET", "/api/rooms/demo").status, 401);
  auto empty = Api("GET", "/api/rooms/nobody", "", "Bearer " + Token("nobody", "x"));
  EXPECT_EQ(*ParseJson(empty.body), (Json{{"room", "nobody"}, {"peers", Json::array()}}));
  EXPECT_EQ(Api("GET", "/api/rooms/bad%20name").status, 404);
}

TEST_F(CoreTest, RoutesAndMethods) {
  EXPECT_EQ(Api("GET", "/healthz").body, R"({"ok":true})");
  EXPECT_EQ(Api("POST", "/healthz").status, 405);
  EXPECT_EQ(Api("GET", "/api/nothing").status, 404);
  EXPECT_EQ(ErrorCodeOf(Api("GET", "/api/nothing")), "not_found");
  EXPECT_EQ(Api("GET", "/api/token").status, 405);
  EXPECT_EQ(Api("GET", "/api/rooms/demo/x").status, 404);
  EXPECT_TRUE(SignalingCore::IsApiPath("/api/token?x"));
  EXPECT_TRUE(SignalingCore::IsApiPath("/healthz"));
  EXPECT_FALSE(SignalingCore::IsApiPath("/apis"));
  EXPECT_FALSE(SignalingCore::IsApiPath("/index.html"));
}

TEST_F(CoreTest, TokenMintingNeedsTheApiKeyInProduction) {
  config_.api_key = "k3y";
  const std::string body = R"({"room":"demo","identity":"alice"})";
  EXPECT_EQ(ErrorCodeOf(Api("POST", "/api/token", body)), "unauthorized");
  EXPECT_EQ(Api("POST", "/api/token", body, "Bearer wrong").status, 401);
  EXPECT_EQ(Api("POST", "/api/token", body, "Basic k3y").status, 401);
  auto r = Api("POST", "/api/token", body, "bearer k3y");
  ASSERT_EQ(r.status, 200) << r.body;
  Json json = *ParseJson(r.body);
  EXPECT_EQ(json["room"], "demo");
  EXPECT_EQ(json["identity"], "alice");
  EXPECT_EQ(json["expiresAt"], kWall + 3600);
  auto claims = core().tokens().Verify(json["token"].get<std::string>(), wall_);
  ASSERT_TRUE(claims);
  EXPECT_TRUE(claims->can_join() && claims->can_send());
  EXPECT_EQ(core().stats().tokens_minted, 1u);
}

TEST_F(CoreTest, TokenMintingIsOpenInDevAndValidatesTheBody) {
  config_.dev = true;
  auto r = Api("POST", "/api/token", R"({"room":"demo","identity":"bob","perms":["send"],"ttl":60})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json json = *ParseJson(r.body);
  EXPECT_EQ(json["expiresAt"], kWall + 60);
  auto claims = core().tokens().Verify(json["token"].get<std::string>(), wall_);
  ASSERT_TRUE(claims);
  EXPECT_FALSE(claims->can_join());
  for (const char* bad : {"", "[]", R"({"room":"demo"})", R"({"identity":"a"})", R"({"room":"a b","identity":"a"})",
                          R"({"room":"demo","identity":""})", R"({"room":"demo","identity":"a","perms":[]})",
                          R"({"room":"demo","identity":"a","perms":["root"]})",
                          R"({"room":"demo","identity":"a","ttl":0})",
                          R"({"room":"demo","identity":"a","ttl":86401})",
                          R"({"room":"demo","identity":"a","ttl":"1h"})"}) {
    auto refused = Api("POST", "/api/token", bad);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(ErrorCodeOf(refused), "bad_request") << bad;
  }
}

TEST_F(CoreTest, ProductionWithoutApiKeyNeverMints) {
  EXPECT_EQ(Api("POST", "/api/token", R"({"room":"demo","identity":"a"})", "Bearer ").status, 401);
}

class FixedWallClock final : public turn::WallClock {
 public:
  explicit FixedWallClock(int64_t s) { now_.seconds = s; }
  UnixTime Now() override { return now_; }
  UnixTime now_;
};

TEST_F(CoreTest, IceServersCarryTurnRestCredentialsTheTurnServerAccepts) {
  config_.ice.urls = {"stun:127.0.0.1:3478", "turn:127.0.0.1:3478?transport=udp",
                      "turn:127.0.0.1:3478?transport=tcp"};
  config_.ice.turn_secret = "turn-secret";
  auto unauth = Api("GET", "/api/ice-servers");
  EXPECT_EQ(unauth.status, 401);
  auto r = Api("GET", "/api/ice-servers", "", "Bearer " + Token("demo", "alice"));
  ASSERT_EQ(r.status, 200) << r.body;
  Json json = *ParseJson(r.body);
  EXPECT_EQ(json["ttl"], 86400);
  ASSERT_EQ(json["iceServers"].size(), 2u);
  EXPECT_EQ(json["iceServers"][0], (Json{{"urls", {"stun:127.0.0.1:3478"}}}));
  const Json& turn = json["iceServers"][1];
  EXPECT_EQ(turn["urls"].size(), 2u);
  const std::string username = turn["username"];
  const std::string credential = turn["credential"];
  EXPECT_EQ(username, std::to_string(kWall + 86400) + ":alice");
  EXPECT_EQ(credential, turn::StaticCredentialStore::TimeLimitedPassword("turn-secret", username));

  // The TURN server's own credential store derives the same long-term key while the credential is valid...
  FixedWallClock clock(kWall + 100);
  turn::StaticCredentialStore store(clock);
  store.AddSharedSecret("turn-secret");
  auto key = store.LookupKey(username, "tandem", stun::PasswordAlgorithm::kMd5);
  ASSERT_TRUE(key);
  EXPECT_EQ(*key, stun::LongTermKey(username, "tandem", credential));
  // ...and refuses it after the expiry.
  clock.now_.seconds = kWall + 86400 + 1;
  EXPECT_FALSE(store.LookupKey(username, "tandem", stun::PasswordAlgorithm::kMd5));

  // The welcome frame carries the same list.
  ASSERT_FALSE(Upgrade(1, Token("demo", "bob")));
  Json welcome = TakeOne(1);
  EXPECT_EQ(welcome["iceServers"][1]["username"], std::to_string(kWall + 86400) + ":bob");
}

TEST_F(CoreTest, IceServersOpenInDevAndWithoutSecretOnlyStun) {
  config_.dev = true;
  config_.ice.urls = {"stun:h:3478", "turn:h:3478"};
  auto r = Api("GET", "/api/ice-servers");
  ASSERT_EQ(r.status, 200);
  Json json = *ParseJson(r.body);
  EXPECT_EQ(json["iceServers"].size(), 1u);
  EXPECT_EQ(json["iceServers"][0]["urls"][0], "stun:h:3478");
}

TEST_F(CoreTest, CloseAllClosesEveryPeerWithoutAnnouncements) {
  Join(1, "demo", "a");
  Join(2, "demo", "b");
  Drain();
  inboxes_.clear();
  core().CloseAll();
  Drain();
  EXPECT_EQ(*inboxes_[1].closed, CloseCode::kGoingAway);
  EXPECT_EQ(*inboxes_[2].closed, CloseCode::kGoingAway);
  EXPECT_TRUE(inboxes_[1].frames.empty());
  EXPECT_EQ(core().peer_count(), 0u);
}

TEST_F(CoreTest, FramesFromUnknownConnectionsAreIgnored) {
  Raw(99, R"({"type":"ping"})");
  core().HandlePong(clock_.now(), 99);
  core().HandleFrameTooLarge(clock_.now(), 99);
  Drain();
  EXPECT_TRUE(inboxes_.empty());
}

}  // namespace
}  // namespace tandem::signaling
