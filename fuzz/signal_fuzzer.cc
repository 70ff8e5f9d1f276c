// libFuzzer harness for the signaling core (src/signal/signaling_core.h): WebSocket frames, HTTP API requests,
// upgrade targets and tokens, all from the fuzzer, driven through one core per input.
//
// Input: a script of records [op:1][len:2 BE][data:len]. The harness mints valid tokens itself (so frames reach
// the router and the HTTP paths get past authentication), and otherwise passes the data through unchanged:
//   op % 10 == 0  join: data[0] picks the connection (1..8), data[1] the room (3 rooms), the rest is the identity
//             1  text frame from a connection: data[0] picks it, the rest is the frame
//             2  binary frame
//             3  HTTP API request: data[0] picks method and route, data[1] the Authorization (valid token for the
//                room, token for another room, garbage, none), the rest is the body
//             4  clock: advance by the big-endian u16 in data, in 10 ms steps
//             5  the connection closes
//             6  the IO layer reports an oversized message
//             7  upgrade with the data as the raw request target
//             8  pong
//             9  verify the data as a token
// Invariants checked after every step: frames go only to connections that are joined (and not yet closed), every
// frame is a JSON object with a "type", HTTP bodies are JSON objects, no deadline is at or before `now` after
// HandleTimeout(now), and the core's peer count matches the connections the harness saw admitted.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "core/rng.h"
#include "signal/json.h"
#include "signal/signaling_core.h"

namespace {

using namespace tandem;             // NOLINT(google-build-using-namespace): harness only
using namespace tandem::signaling;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

constexpr int64_t kWall = 1767225600;
const char* const kRooms[] = {"a", "b", "c"};

struct Harness {
  Harness() : rng(1), core(MakeConfig(), rng) {}

  static SignalConfig MakeConfig() {
    SignalConfig c;
    c.token_secret = "fuzz-secret";
    c.api_key = "fuzz-key";
    c.ice.urls = {"stun:127.0.0.1:3478", "turn:127.0.0.1:3478"};
    c.ice.turn_secret = "turn";
    c.limits.max_peers_per_room = 4;
    c.limits.max_peers_per_ip = 6;
    c.limits.max_rooms = 2;
    c.limits.messages_per_second = 20;
    c.limits.message_burst = 5;
    c.max_message_bytes = 2048;
    return c;
  }

  std::string Token(const char* room, std::string identity, uint8_t perms = kPermJoin | kPermSend) {
    TokenClaims claims;
    claims.room = room;
    claims.identity = std::move(identity);
    claims.perms = perms;
    claims.issued_at = wall.seconds;
    claims.expires_at = wall.seconds + 3600;
    claims.jti = "f";
    return core.tokens().Mint(claims);
  }

  void Drain() {
    while (auto out = core.PollOutput()) {
      switch (out->kind) {
        case Output::Kind::kSend: {
          FUZZ_CHECK(joined.count(out->connection) == 1);
          FUZZ_CHECK(out->text != nullptr);
          auto json = ParseJson(*out->text, 64);
          FUZZ_CHECK(json && json->is_object() && StringField(*json, "type") != nullptr);
          break;
        }
        case Output::Kind::kPing: FUZZ_CHECK(joined.count(out->connection) == 1); break;
        case Output::Kind::kClose:
          FUZZ_CHECK(joined.erase(out->connection) == 1);
          break;
      }
    }
    FUZZ_CHECK(core.peer_count() == joined.size());
  }

  void Upgrade(ConnectionId c, std::string_view target) {
    auto refusal = core.HandleUpgrade(now, wall, c, IpAddress::LoopbackV4(), target);
    if (refusal) {
      FUZZ_CHECK(refusal->status >= 400 && refusal->status < 500);
      auto body = ParseJson(refusal->body);
      FUZZ_CHECK(body && body->is_object());
    } else {
      FUZZ_CHECK(joined.insert(c).second);
    }
    Drain();
  }

  void Step(uint8_t op, std::string_view data) {
    const uint8_t b0 = data.empty() ? 0 : static_cast<uint8_t>(data[0]);
    const uint8_t b1 = data.size() < 2 ? 0 : static_cast<uint8_t>(data[1]);
    const ConnectionId conn = 1 + b0 % 8;
    const std::string_view rest = data.size() > 1 ? data.substr(1) : std::string_view();
    switch (op % 10) {
      case 0: {
        if (joined.count(conn) != 0) break;
        const std::string identity(data.size() > 2 ? data.substr(2) : std::string_view("x"));
        Upgrade(conn, "/ws?token=" + Token(kRooms[b1 % 3], identity));
        break;
      }
      case 1: core.HandleFrame(now, conn, rest); break;
      case 2: core.HandleFrame(now, conn, rest, /*binary=*/true); break;
      case 3: {
        static const char* const kMethods[] = {"GET", "POST", "PUT"};
        static const char* const kTargets[] = {"/api/token",       "/api/ice-servers", "/api/rooms/a",
                                               "/api/rooms/a/messages", "/api/rooms/b/messages", "/healthz",
                                               "/api/rooms/../x",  "/api/"};
        std::string authorization;
        switch (b1 % 4) {
          case 0: authorization = "Bearer " + Token("a", "http", kPermSend); break;
          case 1: authorization = "Bearer " + Token("b", "http"); break;
          case 2: authorization = "Bearer fuzz-key"; break;
          default: break;
        }
        ApiRequest request;
        request.method = kMethods[b0 % 3];
        request.target = kTargets[(b0 / 3) % 8];
        request.authorization = authorization;
        request.body = data.size() > 2 ? data.substr(2) : std::string_view();
        request.client = IpAddress::LoopbackV4();
        ApiResponse response = core.HandleApi(now, wall, request);
        FUZZ_CHECK(response.status >= 200 && response.status < 500);
        auto body = ParseJson(response.body);
        FUZZ_CHECK(body && body->is_object());
        break;
      }
      case 4: {
        const int64_t steps = (int64_t{b0} << 8) | b1;
        now = now + TimeDelta::Millis(10 * steps);
        wall.seconds += steps / 100;
        core.HandleTimeout(now);
        FUZZ_CHECK(core.NextTimeout() > now);
        break;
      }
      case 5:
        core.HandleClosed(now, conn);
        joined.erase(conn);
        break;
      case 6: core.HandleFrameTooLarge(now, conn); break;
      case 7:
        if (joined.count(conn) == 0) Upgrade(conn, rest);
        break;
      case 8: core.HandlePong(now, conn); break;
      case 9: (void)core.tokens().Verify(data, wall); break;
    }
    Drain();
  }

  SeededRng rng;
  SignalingCore core;
  Timestamp now = Timestamp::Seconds(1000);
  UnixTime wall{kWall};
  std::set<ConnectionId> joined;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Harness h;
  size_t pos = 0;
  int steps = 0;
  while (pos + 3 <= size && steps++ < 256) {
    const uint8_t op = data[pos];
    const size_t len = std::min<size_t>((size_t{data[pos + 1]} << 8) | data[pos + 2], size - pos - 3);
    h.Step(op, std::string_view(reinterpret_cast<const char*>(data + pos + 3), len));
    pos += 3 + len;
  }
  h.core.CloseAll();
  h.Drain();
  FUZZ_CHECK(h.joined.empty());
  return 0;
}
