// libFuzzer harness for the TURN client (src/turn_client/turn_client.h).
//
// A TurnClient talks to the project's real sans-IO TURN server core (turn::TurnServer on in-memory fakes),
// and the input is a script that interleaves the honest exchange with hostile input, so that the fuzzer
// reaches every client state (allocating, allocated with permissions and channels, refreshing, releasing,
// failed):
//   byte 0: mode — bit 0 TCP (stream framing, no retransmissions), bit 1 IPv6 relay, bit 2 server without RFC
//   8489
//           security features (MD5), bit 3 short server lifetimes and nonces.
//   then records [op:1][len:1][data:len]:
//     op % 8 == 0: raw bytes to HandleReceive
//     op % 8 == 1: the last message the server sent, with bytes flipped as (position, xor) pairs from data
//     op % 8 == 2: pump both ways; data[0] bits drop client→server / server→client messages
//     op % 8 == 3: advance the clock by 64 ms times data[0..1] (up to ~70 min) and run both timers
//     op % 8 == 4: a client API call chosen by data[0] on a peer chosen by data[1] (payload: the rest)
//     op % 8 == 5: a peer sends data to the relayed address
//     op % 8 == 6: a forged response to the client's last request: class and error code from data, the rest
//     as
//                  raw attributes (type, length, value), signed with the real key when data[0] says so
//     op % 8 == 7: a forged Data indication / ChannelData from data
// Invariants: no crash or sanitizer report; peer data is a view inside the message fed in; after
// HandleTimeout(now) the next deadline is after now; the transmit queue stays bounded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "stun/message.h"
#include "testing/turn_fakes.h"
#include "turn/framing.h"
#include "turn/server.h"
#include "turn_client/turn_client.h"

namespace {

using namespace tandem;  // NOLINT(google-build-using-namespace): harness only

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

SocketAddress Addr(const char* s) { return *SocketAddress::Parse(s); }

const char* const kPeersV4[] = {"93.184.216.34:5000", "93.184.216.34:5001", "10.0.0.1:9", "93.184.216.99:1"};
const char* const kPeersV6[] = {"[2606:4700::1]:443", "[2606:4700::1]:444", "[fc00::1]:9",
                                "[2606:4700::9]:1"};

struct Harness {
  explicit Harness(uint8_t mode) : credentials(wall), quota(turn::MakeLocalQuota(0, 0)), rng_client(mode) {
    credentials.AddUser("fuzz", "pw");
    tcp = (mode & 0x01) != 0;
    v6 = (mode & 0x02) != 0;
    turn::ServerConfig sc;
    sc.realm = "fuzz.example";
    sc.enable_sha256 = (mode & 0x04) == 0;
    sc.rate_limit_table_size = 16;  // the default table costs more to build than a whole run
    if (mode & 0x08) {
      sc.default_lifetime = TimeDelta::Seconds(30);
      sc.max_lifetime = TimeDelta::Seconds(60);
      sc.nonce_lifetime = TimeDelta::Seconds(20);
    }
    relays.clock = [this] { return now; };
    server = std::make_unique<turn::TurnServer>(sc, credentials, relays, *quota, wall, rng_server, out);
    flow = turn::ClientFlow{tcp ? turn::ClientTransport::kTcp : turn::ClientTransport::kUdp,
                            Addr(v6 ? "[2001:db8::5]:4000" : "198.51.100.1:4000"),
                            Addr(v6 ? "[2001:db8::1]:3478" : "192.0.2.1:3478"), tcp ? 3u : 0u};
    turn_client::Config cc;
    cc.server = flow.local;
    cc.transport = tcp ? turn_client::Transport::kTcp : turn_client::Transport::kUdp;
    cc.username = "fuzz";
    cc.password = "pw";
    cc.relay_family = v6 ? AddressFamily::kIPv6 : AddressFamily::kIPv4;
    cc.max_permissions = 3;
    cc.max_channels = 3;
    client = std::make_unique<turn_client::TurnClient>(cc, rng_client);
  }

  SocketAddress Peer(uint8_t i) const { return Addr(v6 ? kPeersV6[i % 4] : kPeersV4[i % 4]); }

  void Feed(ByteSpan message) {
    const auto data = client->HandleReceive(now, message);
    if (data) {
      // A view into what we passed in.
      FUZZ_CHECK(data->data.empty() ||
                 (data->data.data() >= message.data() &&
                  data->data.data() + data->data.size() <= message.data() + message.size()));
    }
    while (auto e = client->PollEvent()) {
      (void)e;
    }
  }

  void Pump(uint8_t drop_bits) {
    for (int round = 0; round < 64; ++round) {
      bool moved = false;
      while (auto t = client->PollTransmit()) {
        moved = true;
        auto v = stun::MessageView::Parse(*t);
        if (v.ok() && v->message_class() == stun::MessageClass::kRequest) {
          last_request.assign(t->begin(), t->end());
        }
        if ((drop_bits & 0x01) != 0) continue;
        ToServer(*t);
      }
      while (delivered < out.to_client.size()) {
        moved = true;
        last_from_server = out.to_client[delivered++].bytes;
        if ((drop_bits & 0x02) != 0) continue;
        ToClient(last_from_server);
      }
      while (auto e = client->PollEvent()) moved = true;
      if (!moved) break;
    }
    FUZZ_CHECK(out.to_client.size() < 100000);
  }

  void ToServer(ByteSpan bytes) {
    if (!tcp) {
      server->HandleClientPacket(now, flow, bytes);
      return;
    }
    up.insert(up.end(), bytes.begin(), bytes.end());
    Deframe(up, [&](ByteSpan f) { server->HandleClientPacket(now, flow, f); });
  }
  void ToClient(ByteSpan bytes) {
    if (!tcp) {
      Feed(bytes);
      return;
    }
    down.insert(down.end(), bytes.begin(), bytes.end());
    Deframe(down, [&](ByteSpan f) { Feed(f); });
  }
  template <typename F>
  static void Deframe(std::vector<uint8_t>& stream, F&& deliver) {
    size_t pos = 0;
    while (true) {
      auto len = turn::NextFrameLength(ByteSpan(stream).subspan(pos));
      if (!len.ok()) {  // both sides are ours: a broken stream is a bug
        std::abort();
      }
      if (*len == 0) break;
      // Copy: the callback may grow the other stream, never this one, but keep the frame stable anyway.
      std::vector<uint8_t> frame(stream.begin() + static_cast<ptrdiff_t>(pos),
                                 stream.begin() + static_cast<ptrdiff_t>(pos + *len));
      deliver(ByteSpan(frame));
      pos += *len;
    }
    stream.erase(stream.begin(), stream.begin() + static_cast<ptrdiff_t>(pos));
  }

  void Advance(TimeDelta d) {
    const Timestamp target = now + d;
    for (int i = 0; i < 10000; ++i) {
      const Timestamp next = std::min(client->PollTimeout(), server->NextTimeout());
      if (next > target) break;
      now = std::max(now, next);
      client->HandleTimeout(now);
      FUZZ_CHECK(client->PollTimeout() > now);
      server->HandleTimeout(now);
      Pump(0);
    }
    now = target;
    client->HandleTimeout(now);
    FUZZ_CHECK(client->PollTimeout() > now);
    server->HandleTimeout(now);
  }

  void Api(ByteSpan data) {
    if (data.size() < 2) return;
    const SocketAddress peer = Peer(data[1]);
    switch (data[0] % 7) {
      case 0:
        client->Start(now);
        break;
      case 1:
        (void)client->CreatePermission(now, peer.ip());
        break;
      case 2:
        (void)client->BindChannel(now, peer);
        break;
      case 3:
        (void)client->Send(now, peer, data.subspan(2));
        break;
      case 4:
        client->Release(now);
        break;
      case 5:
        (void)client->CreatePermission(now, IpAddress::LoopbackV4());  // maybe the wrong family
        break;
      case 6:
        (void)client->Send(now, peer, std::vector<uint8_t>(70000, 1));  // too large
        break;
    }
  }

  void PeerSends(ByteSpan data) {
    const turn::RelayId relay = relays.IdOf(client->relayed_address());
    if (relay == 0 || data.empty()) return;
    server->HandlePeerPacket(now, relay, Peer(data[0]), data.subspan(1));
  }

  // A response with the last request's transaction id; attributes raw from the input.
  void Forge(ByteSpan data) {
    if (data.size() < 3 || last_request.empty()) return;
    auto req = stun::MessageView::Parse(last_request);
    if (!req.ok()) return;
    std::vector<uint8_t> msg;
    const bool error = (data[0] & 0x01) != 0;
    stun::MessageBuilder b(msg, req->method(),
                           error ? stun::MessageClass::kErrorResponse : stun::MessageClass::kSuccessResponse,
                           req->transaction_id());
    static const uint16_t kCodes[] = {300, 400, 401, 403, 420, 437, 438, 440,
                                      441, 442, 443, 486, 500, 508, 599};
    if (error) b.AddErrorCode(kCodes[data[1] % 15]);
    ByteSpan rest = data.subspan(3);
    while (rest.size() >= 3) {
      const uint16_t type = static_cast<uint16_t>((rest[0] << 8) | rest[1]);
      const size_t len = std::min<size_t>(rest[2], rest.size() - 3);
      if (type != stun::attr::kMessageIntegrity && type != stun::attr::kMessageIntegritySha256 &&
          type != stun::attr::kFingerprint) {
        b.AddBytes(type, rest.subspan(3, len));
      }
      rest = rest.subspan(3 + len);
    }
    if ((data[0] & 0x02) != 0) {
      // Sign the way the real server would: the key of the algorithm the request used.
      const auto realm = req->GetString(stun::attr::kRealm);
      if (realm) {
        const auto alg = req->GetPasswordAlgorithm().value_or(stun::PasswordAlgorithm::kMd5);
        if (alg == stun::PasswordAlgorithm::kMd5 || alg == stun::PasswordAlgorithm::kSha256) {
          const auto key = stun::LongTermKey("fuzz", *realm, "pw", alg);
          if (req->Has(stun::attr::kMessageIntegritySha256)) {
            b.AddMessageIntegritySha256(key);
          } else {
            b.AddMessageIntegrity(key);
          }
        }
      }
    }
    if ((data[0] & 0x04) != 0) b.AddFingerprint();
    b.Finish();
    Feed(msg);
  }

  void ForgeData(ByteSpan data) {
    if (data.size() < 2) return;
    std::vector<uint8_t> msg;
    if ((data[0] & 0x01) != 0) {
      // ChannelData on a channel near the client's range.
      const uint16_t channel = static_cast<uint16_t>(0x4000 + (data[1] << 4));
      msg.resize(4);
      msg[0] = static_cast<uint8_t>(channel >> 8);
      msg[1] = static_cast<uint8_t>(channel);
      const size_t len = data.size() - 2;
      msg[2] = static_cast<uint8_t>(len >> 8);
      msg[3] = static_cast<uint8_t>(len);
      msg.insert(msg.end(), data.begin() + 2, data.end());
    } else {
      stun::TransactionId tid{};
      tid[0] = data[1];
      stun::MessageBuilder b(msg, stun::Method::kData, stun::MessageClass::kIndication, tid);
      b.AddXorAddress(stun::attr::kXorPeerAddress, Peer(data[1]));
      b.AddBytes(stun::attr::kData, data.subspan(2));
      b.Finish();
    }
    Feed(msg);
  }

  testing::FakeWallClock wall;
  turn::StaticCredentialStore credentials;
  testing::FakeRelayProvider relays;
  std::unique_ptr<turn::AllocationQuota> quota;
  SeededRng rng_server{1};
  SeededRng rng_client;
  testing::RecordingOutput out;
  std::unique_ptr<turn::TurnServer> server;
  std::unique_ptr<turn_client::TurnClient> client;
  turn::ClientFlow flow;
  bool tcp = false;
  bool v6 = false;
  Timestamp now = Timestamp::Seconds(1000);
  size_t delivered = 0;
  std::vector<uint8_t> last_from_server;
  std::vector<uint8_t> last_request;
  std::vector<uint8_t> up, down;
};

}  // namespace

// Every run drives a whole client/server exchange, so a run touches tens of thousands of coverage features,
// and libFuzzer's entropic scheduler then spends ~90% of the time on its own bookkeeping (3 runs/s instead of
// ~50 here). Unless the command line says otherwise, turn it off.
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  static std::vector<char*> args;
  bool has_entropic = false;
  for (int i = 0; i < *argc; ++i) {
    if (std::strncmp((*argv)[i], "-entropic=", 10) == 0) has_entropic = true;
    args.push_back((*argv)[i]);
  }
  if (has_entropic) return 0;
  static char entropic_off[] = "-entropic=0";
  args.push_back(entropic_off);
  args.push_back(nullptr);
  *argc = static_cast<int>(args.size()) - 1;
  *argv = args.data();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Harness h(data[0]);
  h.client->Start(h.now);
  h.Pump(0);  // usually allocated from here on, unless the script drops or breaks things
  ByteSpan rest(data + 1, size - 1);
  int steps = 0;
  while (rest.size() >= 2 && steps++ < 256) {
    const uint8_t op = rest[0];
    const size_t len = std::min<size_t>(rest[1], rest.size() - 2);
    const ByteSpan arg = rest.subspan(2, len);
    rest = rest.subspan(2 + len);
    switch (op % 8) {
      case 0:
        h.Feed(arg);
        break;
      case 1: {
        std::vector<uint8_t> m = h.last_from_server;
        for (size_t i = 0; i + 1 < arg.size() && !m.empty(); i += 2) m[arg[i] % m.size()] ^= arg[i + 1];
        h.Feed(m);
        break;
      }
      case 2:
        h.Pump(arg.empty() ? 0 : arg[0]);
        break;
      case 3: {
        int64_t ms = 0;
        for (uint8_t b : arg.first(std::min<size_t>(arg.size(), 2))) ms = (ms << 8) | b;
        h.Advance(TimeDelta::Millis(ms * 64));  // up to ~70 minutes: past every refresh interval
        h.Pump(0);
        break;
      }
      case 4:
        h.Api(arg);
        h.Pump(0);
        break;
      case 5:
        h.PeerSends(arg);
        h.Pump(0);
        break;
      case 6:
        h.Forge(arg);
        break;
      case 7:
        h.ForgeData(arg);
        break;
    }
  }
  return 0;
}
