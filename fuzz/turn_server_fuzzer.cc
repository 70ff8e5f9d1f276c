// libFuzzer harness for the TURN/STUN server core (src/turn/server.h).
//
// Input: byte 0 chooses the mode and the server configuration.
//   - top bit clear: the rest is one packet, from a client (bit 0 clear) or from a peer (bit 0 set).
//   - top bit set: the rest is a script of records [op:1][len:2 BE][data:len] driving one server through many
//     inputs: client packets on five flows (UDP v4, UDP v6, and three TCP/TLS connections from one IP), peer
//     packets, clock advances, TCP closes, "authenticated requests" whose attributes come from the data and which
//     the harness signs with the fixed credentials and the last NONCE the server handed out (so the fuzzer reaches
//     the authenticated paths; flag bits can add a CONNECTION-ID the server handed out or a valid XOR-PEER-ADDRESS),
//     and the RFC 6062 IO events: connect results, incoming peer connections, peer connections ending.
// Invariants checked after every step: no relay is closed twice, stats agree with the allocation table,
// nothing sent to a peer through a relay that is not open, after HandleTimeout(now) no deadline is at or
// before now; and for RFC 6062, against a model of what the IO layer holds: ConnectToPeer ids are fresh,
// ClosePeerConnection names held ids, only established connections are bound (once), and the core's count of
// active connections matches the model.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "stun/message.h"
#include "testing/turn_fakes.h"
#include "turn/server.h"
#include "turn/tcp_relay.h"

namespace {

using namespace tandem;  // NOLINT(google-build-using-namespace): harness only

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

SocketAddress Addr(const char* s) { return *SocketAddress::Parse(s); }

const char* const kPeers[] = {"93.184.216.34:5000", "127.0.0.1:9", "[2606:4700::1]:443", "93.184.216.34:5001"};

struct Harness {
  // What an IO layer holds per CONNECTION-ID.
  enum class Held : uint8_t { kConnecting, kEstablished, kBound };

  explicit Harness(uint8_t mode) : credentials(wall), quota(turn::MakeLocalQuota(8, 4)) {
    credentials.AddUser("fuzz", "pw");
    credentials.AddSharedSecret("shared");
    turn::ServerConfig config;
    config.realm = "fuzz.example";
    config.require_auth = (mode & 0x01) == 0;
    config.enable_sha256 = (mode & 0x02) == 0;
    if (mode & 0x04) {
      config.primary_address = Addr("192.0.2.1:3478");
      config.alternate_address = Addr("192.0.2.2:3479");
    }
    if (mode & 0x08) config.bandwidth_bytes_per_second_per_allocation = 2000;
    if (mode & 0x10) {
      config.max_permissions_per_allocation = 2;
      config.max_channels_per_allocation = 2;
      config.max_allocations_per_worker = 3;
      config.unauthenticated_requests_per_second_per_ip = 3;
      config.rate_limit_table_size = 2;
      config.max_tcp_connections_per_allocation = 2;
    }
    if (mode & 0x40) config.tcp_connect_timeout = TimeDelta::Seconds(45);
    config.peer_policy.allow_loopback = (mode & 0x20) != 0;
    relays.capacity = 6;
    server = std::make_unique<turn::TurnServer>(config, credentials, relays, *quota, registry, wall, rng, out);
    flows[0] =
        turn::ClientFlow{turn::ClientTransport::kUdp, Addr("198.51.100.1:4000"), Addr("192.0.2.1:3478"), 0};
    flows[1] = turn::ClientFlow{turn::ClientTransport::kUdp, Addr("[2001:db8::5]:4000"),
                                Addr("[2001:db8::1]:3478"), 0};
    flows[2] =
        turn::ClientFlow{turn::ClientTransport::kTcp, Addr("198.51.100.2:5000"), Addr("192.0.2.1:3478"), 7};
    // Client data connections (RFC 6062) come from the control connection's IP, so its nonce is valid there.
    flows[3] =
        turn::ClientFlow{turn::ClientTransport::kTcp, Addr("198.51.100.2:5001"), Addr("192.0.2.1:3478"), 8};
    flows[4] =
        turn::ClientFlow{turn::ClientTransport::kTls, Addr("198.51.100.2:5002"), Addr("192.0.2.1:5349"), 9};
  }

  static constexpr size_t kFlows = 5;

  void Client(size_t flow, ByteSpan bytes) {
    const size_t before = out.to_client.size();
    server->HandleClientPacket(now, flows[flow % kFlows], bytes);
    Learn(before);
    Check();
  }

  void Peer(uint8_t selector, ByteSpan bytes) {
    server->HandlePeerPacket(now, static_cast<turn::RelayId>(selector % 8), Addr(kPeers[(selector / 8) % 3]),
                             bytes);
    Check();
  }

  // The n-th held connection in `state` (any state when null), or 0.
  turn::ConnectionId PickHeld(size_t n, const Held* state) {
    std::vector<turn::ConnectionId> ids;
    for (const auto& [id, h] : held) {
      if (state == nullptr || h == *state) ids.push_back(id);
    }
    return ids.empty() ? 0 : ids[n % ids.size()];
  }

  // RFC 6062 IO events. data[0]: selector; data[1] bit 0: ok (connect) / bit 1: use an id the core never gave.
  void ConnectResult(ByteSpan data) {
    const uint8_t sel = data.empty() ? 0 : data[0];
    const bool ok = data.size() < 2 || (data[1] & 1) != 0;
    const Held connecting = Held::kConnecting;
    turn::ConnectionId id = PickHeld(sel, &connecting);
    if (data.size() >= 2 && (data[1] & 2) != 0) {
      id = 0x12345678u ^ sel;  // not one the core gave: ignored (the model must not change)
      if (held.count(id) != 0) return;
    } else if (id != 0) {
      if (ok) {
        held[id] = Held::kEstablished;
      } else {
        held.erase(id);
      }
    }
    server->HandlePeerConnectResult(now, id, ok);
    Check();
  }

  void Accepted(ByteSpan data) {
    const uint8_t sel = data.empty() ? 0 : data[0];
    std::vector<turn::RelayId> tcp(relays.tcp_open.begin(), relays.tcp_open.end());
    const turn::RelayId relay = (tcp.empty() || (sel & 0x80)) ? sel % 8 : tcp[sel % tcp.size()];
    const SocketAddress peer = Addr(kPeers[(sel >> 3) % 4]);
    if (auto id = server->HandlePeerConnectionAccepted(now, relay, peer)) {
      FUZZ_CHECK(held.count(*id) == 0 && *id != 0);
      held[*id] = Held::kEstablished;
    }
    Check();
  }

  void PeerClosed(ByteSpan data) {
    const uint8_t sel = data.empty() ? 0 : data[0];
    turn::ConnectionId id = PickHeld(sel, nullptr);
    if (id != 0 && held[id] == Held::kConnecting) return;  // the IO layer reports those through ConnectResult
    if (id != 0) held.erase(id);
    server->HandlePeerConnectionClosed(now, id);
    Check();
  }

  // Signs a request the fuzzer shaped: method and attributes from `data`, credentials from the harness.
  void Authenticated(size_t flow, ByteSpan data) {
    if (data.size() < 3) return;
    const uint16_t method = LoadBe16(data.data()) & 0x0FFF;
    const bool sha256 = (data[2] & 1) != 0;
    std::vector<uint8_t> msg;
    stun::TransactionId tid{};
    for (size_t i = 0; i < tid.size() && 3 + i < data.size(); ++i) tid[i] = data[3 + i];
    stun::MessageBuilder b(msg, static_cast<stun::Method>(method), stun::MessageClass::kRequest, tid);
    ByteReader r(data.subspan(std::min<size_t>(data.size(), 15)));
    size_t total = 0;
    uint16_t type = 0;
    uint8_t len = 0;
    ByteSpan value;
    while (r.ReadU16(type) && r.ReadU8(len) && r.ReadBytes(len, value)) {
      if (type == stun::attr::kMessageIntegrity || type == stun::attr::kMessageIntegritySha256 ||
          type == stun::attr::kFingerprint || total > 4000) {
        continue;
      }
      b.AddBytes(type, value);
      total += 4 + len;
    }
    // RFC 6062 helpers: a CONNECTION-ID the server handed out, a peer address (XOR-encoding is tedious to find).
    if (data[2] & 0x10) {
      if (turn::ConnectionId id = PickHeld(data.size() > 3 ? data[3] : 0, nullptr)) {
        b.AddU32(stun::attr::kConnectionId, id);
      }
    }
    if (data[2] & 0x20) {
      b.AddXorAddress(stun::attr::kXorPeerAddress, Addr(kPeers[(data.size() > 4 ? data[4] : 0) % 4]));
    }
    const std::string user = (data[2] & 2) ? std::to_string(wall.Now().seconds + 100) + ":u" : "fuzz";
    const std::string password =
        (data[2] & 2) ? turn::StaticCredentialStore::TimeLimitedPassword("shared", user) : std::string("pw");
    b.AddString(stun::attr::kUsername, user);
    b.AddString(stun::attr::kRealm, realm.empty() ? "fuzz.example" : realm);
    b.AddString(stun::attr::kNonce, nonce.empty() ? "none" : nonce);
    const auto algorithm = sha256 ? stun::PasswordAlgorithm::kSha256 : stun::PasswordAlgorithm::kMd5;
    if (sha256) {
      const stun::PasswordAlgorithm offered[] = {stun::PasswordAlgorithm::kSha256,
                                                 stun::PasswordAlgorithm::kMd5};
      b.AddPasswordAlgorithms(offered);
      b.AddPasswordAlgorithm(algorithm);
    }
    const auto key = stun::LongTermKey(user, realm.empty() ? "fuzz.example" : realm, password, algorithm);
    if (data[2] & 4) {
      b.AddMessageIntegritySha256(key);
    } else {
      b.AddMessageIntegrity(key);
    }
    if (data[2] & 8) b.AddFingerprint();
    Client(flow, b.Finish());
  }

  void Advance(uint32_t ms) {
    now = now + TimeDelta::Millis(ms);
    server->HandleTimeout(now);
    FUZZ_CHECK(server->NextTimeout() > now);
    Check();
  }

  void Close(size_t flow) {
    server->HandleClientClosed(now, flows[flow % kFlows]);
    Check();
  }

  void Learn(size_t from) {
    for (size_t i = from; i < out.to_client.size(); ++i) {
      auto v = stun::MessageView::Parse(out.to_client[i].bytes);
      if (!v.ok()) continue;
      if (trace) {
        const auto e = v->GetErrorCode();
        std::fprintf(stderr, "  -> %s class %d error %d\n", stun::ToString(v->method()),
                     static_cast<int>(v->message_class()), e ? e->code : 0);
      }
      if (auto n = v->GetString(stun::attr::kNonce)) nonce = std::string(*n);
      if (auto r = v->GetString(stun::attr::kRealm)) realm = std::string(*r);
    }
    if (out.to_client.size() > 1024) out.to_client.clear();
  }

  void Check() {
    FUZZ_CHECK(relays.bad_closes == 0);
    const auto& s = server->stats();
    FUZZ_CHECK(s.allocations_active == server->allocation_count());
    FUZZ_CHECK(s.allocations_created == s.allocations_active + s.allocations_expired + s.allocations_deleted);
    for (const auto& p : out.to_peer) FUZZ_CHECK(relays.IsOpen(p.relay) && relays.tcp_open.count(p.relay) == 0);
    out.to_peer.clear();
    // RFC 6062, in the order an IO layer sees them within one step.
    for (const auto& c : out.connects) {
      FUZZ_CHECK(c.id != 0 && held.count(c.id) == 0 && relays.tcp_open.count(c.relay) != 0);
      held[c.id] = Held::kConnecting;
    }
    for (const auto& b : out.binds) {
      auto it = held.find(b.id);
      FUZZ_CHECK(it != held.end() && it->second == Held::kEstablished);
      FUZZ_CHECK(b.flow.transport != turn::ClientTransport::kUdp);
      it->second = Held::kBound;
    }
    for (turn::ConnectionId id : out.closed_peers) FUZZ_CHECK(held.erase(id) == 1);
    out.connects.clear();
    out.binds.clear();
    out.closed_peers.clear();
    FUZZ_CHECK(s.tcp_connections_active == held.size());
    FUZZ_CHECK(registry.size() <= held.size());
  }

  testing::FakeWallClock wall;
  turn::StaticCredentialStore credentials;
  testing::FakeRelayProvider relays;
  std::unique_ptr<turn::AllocationQuota> quota;
  SeededRng rng{1};
  testing::RecordingOutput out;
  turn::LocalConnectionRegistry registry;
  std::map<turn::ConnectionId, Held> held;
  std::unique_ptr<turn::TurnServer> server;
  turn::ClientFlow flows[kFlows];
  Timestamp now = Timestamp::Seconds(1000);
  std::string nonce;
  std::string realm;
  // TURN_FUZZ_DEBUG=2 also prints every STUN message the server sends.
  const bool trace = [] {
    const char* d = std::getenv("TURN_FUZZ_DEBUG");
    return d != nullptr && std::string(d) == "2";
  }();
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t mode = data[0];
  Harness h(mode);
  ByteSpan rest(data + 1, size - 1);
  if ((mode & 0x80) == 0) {
    if (mode & 0x40) {
      h.Peer(mode, rest);
    } else {
      h.Client(0, rest);
    }
    return 0;
  }
  // TURN_FUZZ_DEBUG=1 prints what a script reached (to check that seeds get deep).
  static const bool debug = std::getenv("TURN_FUZZ_DEBUG") != nullptr;
  ByteReader r(rest);
  uint8_t op = 0;
  uint16_t len = 0;
  ByteSpan record;
  // op & 7: 0 client packet, 1 peer packet, 2 advance the clock, 3 close a flow, 4 authenticated request,
  // 5 RFC 6062 connect result, 6 incoming peer connection, 7 peer connection ended; op >> 5: the flow.
  while (r.ReadU8(op) && r.ReadU16(len)) {
    const size_t flow = op >> 5;
    switch (op & 0x07) {
      case 2:  // advance the clock by len * 100 ms (no data)
        h.Advance(uint32_t{len} * 100);
        continue;
      case 3:
        h.Close(flow);
        continue;
      default:
        break;
    }
    if (!r.ReadBytes(len, record)) record = r.Rest();
    switch (op & 0x07) {
      case 1:
        h.Peer(static_cast<uint8_t>(op >> 3), record);
        break;
      case 4:
        h.Authenticated(flow, record);
        break;
      case 5:
        h.ConnectResult(record);
        break;
      case 6:
        h.Accepted(record);
        break;
      case 7:
        h.PeerClosed(record);
        break;
      default:
        h.Client(flow, record);
        break;
    }
  }
  if (debug) {
    const auto& s = h.server->stats();
    std::fprintf(stderr,
                 "allocs created=%llu active=%llu perms=%llu channels=%llu c2p=%llu p2c=%llu errors=%llu "
                 "auth_fail=%llu malformed=%llu tcp_connects=%llu tcp_accepted=%llu tcp_bound=%llu "
                 "tcp_failures=%llu tcp_bind_timeouts=%llu\n",
                 (unsigned long long)s.allocations_created, (unsigned long long)s.allocations_active,
                 (unsigned long long)s.permissions_active, (unsigned long long)s.channels_active,
                 (unsigned long long)s.packets_client_to_peer, (unsigned long long)s.packets_peer_to_client,
                 (unsigned long long)s.error_responses, (unsigned long long)s.auth_failures,
                 (unsigned long long)s.dropped_malformed, (unsigned long long)s.tcp_connects,
                 (unsigned long long)s.tcp_connections_accepted, (unsigned long long)s.tcp_connections_bound,
                 (unsigned long long)s.tcp_connect_failures, (unsigned long long)s.tcp_bind_timeouts);
  }
  return 0;
}
