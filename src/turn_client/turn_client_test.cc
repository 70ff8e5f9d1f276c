// TurnClient against the project's own sans-IO TURN server core (turn::TurnServer), in memory, on a fake
// clock: the client's transmits are fed to the server and the server's answers back to the client, with
// optional loss.
#include "turn_client/turn_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "stun/message.h"
#include "testing/turn_fakes.h"
#include "turn/framing.h"
#include "turn/server.h"

namespace tandem::turn_client {
namespace {

using stun::MessageClass;
using stun::Method;
namespace attr = stun::attr;

SocketAddress Addr(const char* text) { return *SocketAddress::Parse(text); }
IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }
ByteSpan Bytes(const std::string& s) { return AsBytes(s); }
std::string Text(ByteSpan b) { return std::string(AsStringView(b)); }

struct Sent {
  Timestamp at;
  std::vector<uint8_t> bytes;
  bool is_stun() const { return !bytes.empty() && bytes[0] < 0x40; }
  stun::MessageView view() const { return *stun::MessageView::Parse(bytes); }
};

struct Received {
  SocketAddress peer;
  std::string data;
};

class TurnClientTest : public ::testing::Test {
 public:
  static constexpr const char* kServer = "192.0.2.1:3478";
  static constexpr const char* kClientAddress = "198.51.100.20:40000";
  static constexpr const char* kPeer = "93.184.216.34:5000";
  static constexpr const char* kPeer2 = "93.184.216.35:6000";

  TurnClientTest() {
    credentials_.AddUser("alice", "secret");
    credentials_.AddSharedSecret("rest-secret");
  }

  static turn::ServerConfig ServerConfig() {
    turn::ServerConfig c;
    c.realm = "example.org";
    return c;
  }
  static Config ClientConfig(Transport transport = Transport::kUdp) {
    Config c;
    c.server = Addr(kServer);
    c.transport = transport;
    c.username = "alice";
    c.password = "secret";
    return c;
  }

  void StartServer(turn::ServerConfig config = ServerConfig()) {
    relays_.clock = [this] { return now_; };
    server_ = std::make_unique<turn::TurnServer>(std::move(config), credentials_, relays_, *quota_, wall_,
                                                 server_rng_, out_);
  }
  void CreateClient(Config config = ClientConfig()) {
    tcp_ = config.transport != Transport::kUdp;
    flow_ = turn::ClientFlow{tcp_ ? turn::ClientTransport::kTcp : turn::ClientTransport::kUdp,
                             Addr(kClientAddress), Addr(kServer), tcp_ ? 7u : 0u};
    client_ = std::make_unique<TurnClient>(std::move(config), client_rng_);
  }
  // Server and client started, the client allocated; fails the test otherwise.
  void Allocated(Config config = ClientConfig(), turn::ServerConfig server = ServerConfig()) {
    StartServer(std::move(server));
    CreateClient(std::move(config));
    client_->Start(now_);
    Pump();
    ASSERT_EQ(client_->state(), State::kAllocated) << LastEventText();
  }

  // Moves messages both ways until nothing moves. Over TCP the bytes pass through a stream and are re-framed
  // with turn::NextFrameLength on each side, as a real driver does.
  void Pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      while (auto t = client_->PollTransmit()) {
        moved = true;
        sent_.push_back(Sent{now_, std::vector<uint8_t>(t->begin(), t->end())});
        if (drop_to_server && drop_to_server(sent_.back())) continue;
        if (hold_to_server) {
          held_.push_back(sent_.back().bytes);
          continue;
        }
        ToServer(sent_.back().bytes);
      }
      while (delivered_ < out_.to_client.size()) {
        moved = true;
        const auto bytes = out_.to_client[delivered_++].bytes;
        if (drop_to_client && drop_to_client(bytes)) continue;
        ToClient(bytes);
      }
      while (auto e = client_->PollEvent()) {
        moved = true;
        events_.push_back(*e);
      }
      if (!moved) return;
    }
    FAIL() << "the client and server never went quiet";
  }

  void ToServer(const std::vector<uint8_t>& bytes) {
    if (!tcp_) {
      server_->HandleClientPacket(now_, flow_, bytes);
      return;
    }
    to_server_stream_.insert(to_server_stream_.end(), bytes.begin(), bytes.end());
    Deframe(to_server_stream_, [&](ByteSpan frame) { server_->HandleClientPacket(now_, flow_, frame); });
  }
  void ToClient(const std::vector<uint8_t>& bytes) {
    auto deliver = [&](ByteSpan frame) {
      if (auto data = client_->HandleReceive(now_, frame))
        received_.push_back({data->peer, Text(data->data)});
    };
    if (!tcp_) {
      deliver(bytes);
      return;
    }
    to_client_stream_.insert(to_client_stream_.end(), bytes.begin(), bytes.end());
    Deframe(to_client_stream_, deliver);
  }
  static void Deframe(std::vector<uint8_t>& stream, const std::function<void(ByteSpan)>& frame_out) {
    size_t pos = 0;
    while (true) {
      auto len = turn::NextFrameLength(ByteSpan(stream).subspan(pos));
      ASSERT_TRUE(len.ok()) << "stream is not STUN/ChannelData";
      if (*len == 0) break;
      frame_out(ByteSpan(stream).subspan(pos, *len));
      pos += *len;
    }
    stream.erase(stream.begin(), stream.begin() + static_cast<ptrdiff_t>(pos));
  }

  // Runs both cores' timers up to now + d, pumping after each.
  void Advance(TimeDelta d) {
    const Timestamp target = now_ + d;
    for (int i = 0; i < 1000000; ++i) {
      const Timestamp next = std::min(client_->PollTimeout(), server_->NextTimeout());
      if (next > target) break;
      now_ = std::max(now_, next);
      client_->HandleTimeout(now_);
      server_->HandleTimeout(now_);
      Pump();
    }
    now_ = target;
    client_->HandleTimeout(now_);
    server_->HandleTimeout(now_);
    Pump();
  }

  // A peer sends to the client's relayed address.
  void PeerSends(const char* peer, const std::string& data) {
    const turn::RelayId relay = relays_.IdOf(client_->relayed_address());
    ASSERT_NE(relay, 0u);
    server_->HandlePeerPacket(now_, relay, Addr(peer), Bytes(data));
    Pump();
  }
  // What the server relayed to peers, as text.
  std::vector<std::string> ToPeer(const char* peer) const {
    std::vector<std::string> out;
    for (const auto& m : out_.to_peer) {
      if (m.peer == Addr(peer)) out.emplace_back(m.payload.begin(), m.payload.end());
    }
    return out;
  }

  std::vector<Sent> Requests(Method method) const {
    std::vector<Sent> out;
    for (const auto& s : sent_) {
      if (s.is_stun() && s.view().message_class() == MessageClass::kRequest && s.view().method() == method) {
        out.push_back(s);
      }
    }
    return out;
  }
  size_t CountEvents(Event::Kind kind) const {
    return std::count_if(events_.begin(), events_.end(), [&](const Event& e) { return e.kind == kind; });
  }
  const Event* FindEvent(Event::Kind kind) const {
    for (const auto& e : events_) {
      if (e.kind == kind) return &e;
    }
    return nullptr;
  }
  std::string LastEventText() const {
    if (events_.empty()) return "no event";
    return "last event kind " + std::to_string(events_.back().kind) + " code " +
           std::to_string(events_.back().error_code) + " " + events_.back().reason;
  }
  // Feeds raw bytes to the client as if from the server.
  std::optional<PeerData> Inject(const std::vector<uint8_t>& bytes) {
    return client_->HandleReceive(now_, bytes);
  }

  // A response from a scripted server to the client's last request of `method`.
  std::vector<uint8_t> ScriptedResponse(Method method, MessageClass cls,
                                        const std::function<void(stun::MessageBuilder&)>& add) {
    const auto requests = Requests(method);
    EXPECT_FALSE(requests.empty());
    std::vector<uint8_t> out;
    stun::MessageBuilder b(out, method, cls, requests.back().view().transaction_id());
    if (add) add(b);
    b.Finish();
    return out;
  }

  Timestamp now_ = Timestamp::Seconds(1000);
  testing::FakeWallClock wall_;
  turn::StaticCredentialStore credentials_{wall_};
  testing::FakeRelayProvider relays_;
  std::unique_ptr<turn::AllocationQuota> quota_ = turn::MakeLocalQuota(0, 0);
  SeededRng server_rng_{42};
  SeededRng client_rng_{7};
  testing::RecordingOutput out_;
  std::unique_ptr<turn::TurnServer> server_;
  std::unique_ptr<TurnClient> client_;
  turn::ClientFlow flow_;
  bool tcp_ = false;

  std::function<bool(const Sent&)> drop_to_server;
  std::function<bool(const std::vector<uint8_t>&)> drop_to_client;
  bool hold_to_server = false;
  std::vector<std::vector<uint8_t>> held_;

  std::vector<Sent> sent_;
  size_t delivered_ = 0;
  std::vector<Event> events_;
  std::vector<Received> received_;
  std::vector<uint8_t> to_server_stream_, to_client_stream_;
};

// --- Allocation and authentication
// ------------------------------------------------------------------------------

TEST_F(TurnClientTest, AllocatesWithStaticCredentialsAfter401) {
  Allocated();
  const Event* e = FindEvent(Event::kAllocated);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->relayed.ip(), relays_.v4_ip);
  EXPECT_EQ(e->relayed, client_->relayed_address());
  EXPECT_EQ(e->mapped, Addr(kClientAddress));  // XOR-MAPPED-ADDRESS: the client as the server saw it
  EXPECT_EQ(client_->mapped_address(), Addr(kClientAddress));
  EXPECT_EQ(e->lifetime, TimeDelta::Seconds(600));
  EXPECT_EQ(server_->stats().allocations_created, 1u);

  const auto allocates = Requests(Method::kAllocate);
  ASSERT_EQ(allocates.size(), 2u);
  // RFC 8489 §9.2.3.1: the first request goes without credentials; the second is signed after the 401.
  const auto first = allocates[0].view();
  EXPECT_FALSE(first.Has(attr::kMessageIntegrity) || first.Has(attr::kMessageIntegritySha256));
  EXPECT_FALSE(first.Has(attr::kUsername));
  EXPECT_EQ(first.GetRequestedTransport(), stun::kTransportUdp);
  EXPECT_EQ(first.GetU32(attr::kLifetime), 600u);
  EXPECT_EQ(first.GetString(attr::kSoftware), "tandem");
  EXPECT_FALSE(first.Has(attr::kRequestedAddressFamily));  // IPv4 is the default (RFC 8656 §7.1)
  EXPECT_TRUE(first.HasValidFingerprint());
  const auto second = allocates[1].view();
  EXPECT_EQ(second.GetString(attr::kUsername), "alice");
  EXPECT_EQ(second.GetString(attr::kRealm), "example.org");
  EXPECT_TRUE(second.Has(attr::kNonce));
  EXPECT_NE(first.transaction_id(), second.transaction_id());
  // Our server offers RFC 8489's security features: SHA-256 is negotiated and MESSAGE-INTEGRITY-SHA256 used.
  EXPECT_EQ(second.GetPasswordAlgorithm(), stun::PasswordAlgorithm::kSha256);
  const auto key = stun::LongTermKey("alice", "example.org", "secret", stun::PasswordAlgorithm::kSha256);
  EXPECT_TRUE(second.VerifyMessageIntegritySha256(key));
  EXPECT_TRUE(second.HasValidFingerprint());
  EXPECT_EQ(client_->stats().requests_sent, 2u);
  EXPECT_EQ(client_->stats().error_responses, 1u);
}

TEST_F(TurnClientTest, UsesMd5AndMessageIntegrityWithoutSecurityFeatures) {
  auto server = ServerConfig();
  server.enable_sha256 = false;  // an RFC 5389-era server: no nonce cookie, no PASSWORD-ALGORITHMS
  Allocated(ClientConfig(), server);
  const auto allocates = Requests(Method::kAllocate);
  const auto second = allocates.at(1).view();
  EXPECT_FALSE(second.Has(attr::kPasswordAlgorithm));
  EXPECT_FALSE(second.Has(attr::kMessageIntegritySha256));
  EXPECT_TRUE(second.VerifyMessageIntegrity(stun::LongTermKey("alice", "example.org", "secret")));
}

TEST_F(TurnClientTest, AllocatesWithTurnRestCredentials) {
  auto config = ClientConfig();
  // TURN REST API: username "expiry:user", password base64(HMAC-SHA1(secret, username)).
  config.username = std::to_string(wall_.Now().seconds + 3600) + ":bob";
  config.password = turn::StaticCredentialStore::TimeLimitedPassword("rest-secret", config.username);
  Allocated(config);
  EXPECT_EQ(CountEvents(Event::kAllocated), 1u);
}

TEST_F(TurnClientTest, ExpiredRestCredentialsFailWith401) {
  StartServer();
  auto config = ClientConfig();
  config.username = std::to_string(wall_.Now().seconds - 10) + ":bob";
  config.password = turn::StaticCredentialStore::TimeLimitedPassword("rest-secret", config.username);
  CreateClient(config);
  client_->Start(now_);
  Pump();
  EXPECT_EQ(client_->state(), State::kFailed);
  const Event* e = FindEvent(Event::kAllocateFailed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 401);
}

TEST_F(TurnClientTest, WrongPasswordFailsAfterOneSignedAttempt) {
  StartServer();
  auto config = ClientConfig();
  config.password = "wrong";
  CreateClient(config);
  client_->Start(now_);
  Pump();
  EXPECT_EQ(client_->state(), State::kFailed);
  ASSERT_EQ(CountEvents(Event::kAllocateFailed), 1u);
  EXPECT_EQ(FindEvent(Event::kAllocateFailed)->error_code, 401);
  EXPECT_EQ(Requests(Method::kAllocate).size(), 2u);  // no endless retrying
  EXPECT_EQ(server_->stats().allocations_created, 0u);
  EXPECT_EQ(client_->PollTimeout(), Timestamp::Infinity());
}

TEST_F(TurnClientTest, StaleNonceOnAllocateIsRetriedWithTheNewNonce) {
  auto server = ServerConfig();
  server.nonce_lifetime = TimeDelta::Seconds(5);
  StartServer(server);
  CreateClient(ClientConfig(Transport::kTcp));  // TCP: no retransmission muddles the timeline
  client_->Start(now_);
  hold_to_server = true;
  Pump();  // first Allocate held
  ASSERT_EQ(held_.size(), 1u);
  hold_to_server = false;
  ToServer(held_[0]);  // → 401 with a nonce
  held_.clear();
  hold_to_server = true;
  Pump();  // the signed Allocate is held
  ASSERT_EQ(held_.size(), 1u);
  now_ = now_ + TimeDelta::Seconds(10);  // the nonce goes stale on the way
  hold_to_server = false;
  ToServer(held_[0]);
  Pump();
  EXPECT_EQ(client_->state(), State::kAllocated) << LastEventText();
  EXPECT_EQ(client_->stats().stale_nonces, 1u);
  EXPECT_EQ(server_->stats().stale_nonces, 1u);
  EXPECT_EQ(Requests(Method::kAllocate).size(), 3u);
  const auto allocates = Requests(Method::kAllocate);
  EXPECT_NE(allocates[1].view().GetString(attr::kNonce), allocates[2].view().GetString(attr::kNonce));
}

TEST_F(TurnClientTest, AllocateFailuresReportTheErrorCode) {
  struct Case {
    const char* name;
    std::function<void(TurnClientTest&, Config&)> setup;
    uint16_t code;
  };
  const std::vector<Case> cases = {
      {"508 no relay port", [](TurnClientTest& t, Config&) { t.relays_.capacity = 0; }, 508},
      {"440 family unsupported",
       [](TurnClientTest& t, Config& c) {
         t.relays_.ipv6 = false;
         c.relay_family = AddressFamily::kIPv6;
       },
       440},
      {"486 quota",
       [](TurnClientTest& t, Config&) {
         t.quota_ = turn::MakeLocalQuota(1, 1);
         ASSERT_TRUE(t.quota_->TryAcquire("alice"));  // someone else holds alice's only allocation
       },
       486},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    server_.reset();
    relays_ = testing::FakeRelayProvider();
    quota_ = turn::MakeLocalQuota(0, 0);
    events_.clear();
    sent_.clear();
    out_.Clear();
    delivered_ = 0;
    auto config = ClientConfig();
    c.setup(*this, config);
    StartServer();
    CreateClient(config);
    client_->Start(now_);
    Pump();
    EXPECT_EQ(client_->state(), State::kFailed);
    const Event* e = FindEvent(Event::kAllocateFailed);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->error_code, c.code) << e->reason;
    EXPECT_EQ(Requests(Method::kAllocate).size(), 2u);  // the error came to the signed request, signed
  }
}

TEST_F(TurnClientTest, SecondAllocationOnTheSameFiveTupleGets437) {
  Allocated();
  // Another client instance on the same 5-tuple (a restarted process reusing the port).
  events_.clear();
  client_ = std::make_unique<TurnClient>(ClientConfig(), client_rng_);
  client_->Start(now_);
  Pump();
  const Event* e = FindEvent(Event::kAllocateFailed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 437);
}

TEST_F(TurnClientTest, TryAlternateReportsTheAlternateServer) {
  StartServer();
  CreateClient();
  hold_to_server = true;  // a scripted server answers instead
  client_->Start(now_);
  Pump();
  Inject(ScriptedResponse(Method::kAllocate, MessageClass::kErrorResponse, [](auto& b) {
    b.AddErrorCode(300);
    b.AddAddress(attr::kAlternateServer, Addr("192.0.2.99:3478"));
  }));
  Pump();
  const Event* e = FindEvent(Event::kAllocateFailed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 300);
  EXPECT_EQ(e->alternate_server, Addr("192.0.2.99:3478"));
  EXPECT_EQ(client_->state(), State::kFailed);
  EXPECT_EQ(client_->PollTimeout(), Timestamp::Infinity());
}

TEST_F(TurnClientTest, RequestsIpv6RelayWithRequestedAddressFamily) {
  auto config = ClientConfig();
  config.relay_family = AddressFamily::kIPv6;
  Allocated(config);
  EXPECT_EQ(client_->relayed_address().ip(), relays_.v6_ip);
  EXPECT_EQ(Requests(Method::kAllocate)[0].view().GetAddressFamily(attr::kRequestedAddressFamily),
            stun::kFamilyIPv6);
  // IPv6 peers work; IPv4 ones are refused locally (RFC 8656 §9.1: 443 otherwise).
  const SocketAddress peer = Addr("[2001:db8:1::5]:7000");
  ASSERT_TRUE(client_->CreatePermission(now_, peer.ip()));
  EXPECT_FALSE(client_->CreatePermission(now_, Ip("93.184.216.34")));
  Pump();
  ASSERT_TRUE(client_->Send(now_, peer, Bytes("v6")));
  Pump();
  ASSERT_EQ(out_.to_peer.size(), 1u);
  EXPECT_EQ(out_.to_peer[0].peer, peer);
}

// --- Retransmission (RFC 8489 §6.2.1, §6.2.2)
// --------------------------------------------------------------------

TEST_F(TurnClientTest, UdpRetransmissionScheduleAndTimeout) {
  StartServer();
  CreateClient();
  drop_to_server = [](const Sent&) { return true; };  // the server is unreachable
  const Timestamp start = now_;
  client_->Start(now_);
  Pump();
  Advance(TimeDelta::Seconds(60));
  const auto allocates = Requests(Method::kAllocate);
  std::vector<int64_t> at_ms;
  for (const auto& s : allocates) at_ms.push_back((s.at - start).ms());
  EXPECT_EQ(at_ms, (std::vector<int64_t>{0, 500, 1500, 3500, 7500, 15500, 31500}));
  // All transmissions are the same transaction.
  for (const auto& s : allocates) EXPECT_EQ(s.bytes, allocates[0].bytes);
  const Event* e = FindEvent(Event::kAllocateFailed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 0);
  EXPECT_EQ(client_->stats().retransmissions, 6u);
  EXPECT_EQ(client_->stats().transactions_timed_out, 1u);
  EXPECT_EQ(client_->state(), State::kFailed);
  EXPECT_EQ(client_->PollTimeout(), Timestamp::Infinity());
}

TEST_F(TurnClientTest, FailureIsReportedAt39500Milliseconds) {
  StartServer();
  CreateClient();
  drop_to_server = [](const Sent&) { return true; };
  client_->Start(now_);
  Pump();
  Advance(TimeDelta::Millis(39499));
  EXPECT_EQ(CountEvents(Event::kAllocateFailed), 0u);
  Advance(TimeDelta::Millis(1));
  EXPECT_EQ(CountEvents(Event::kAllocateFailed), 1u);
}

TEST_F(TurnClientTest, TcpSendsOnceAndTimesOutAfterTi) {
  StartServer();
  CreateClient(ClientConfig(Transport::kTcp));
  drop_to_server = [](const Sent&) { return true; };
  client_->Start(now_);
  Pump();
  EXPECT_EQ(client_->PollTimeout(), now_ + TimeDelta::Millis(39500));
  Advance(TimeDelta::Millis(39499));
  EXPECT_EQ(Requests(Method::kAllocate).size(), 1u);
  EXPECT_EQ(CountEvents(Event::kAllocateFailed), 0u);
  Advance(TimeDelta::Millis(1));
  EXPECT_EQ(CountEvents(Event::kAllocateFailed), 1u);
  EXPECT_EQ(client_->stats().retransmissions, 0u);
}

TEST_F(TurnClientTest, LostRequestAndLostResponseAreRecoveredByRetransmission) {
  StartServer();
  CreateClient();
  int dropped_requests = 0;
  drop_to_server = [&](const Sent&) { return dropped_requests++ < 2; };  // the first two requests are lost
  int dropped_responses = 0;
  drop_to_client = [&](const std::vector<uint8_t>&) { return dropped_responses++ < 1; };  // and one response
  client_->Start(now_);
  Pump();
  Advance(TimeDelta::Seconds(10));
  EXPECT_EQ(client_->state(), State::kAllocated) << LastEventText();
  EXPECT_GE(client_->stats().retransmissions, 3u);
  EXPECT_EQ(server_->stats().allocations_created, 1u);
}

// --- Refresh
// ------------------------------------------------------------------------------------------------------

TEST_F(TurnClientTest, RefreshesOneMinuteBeforeExpiry) {
  Allocated();
  const Timestamp allocated_at = Requests(Method::kAllocate).back().at;
  EXPECT_EQ(client_->PollTimeout(), allocated_at + TimeDelta::Seconds(540));
  Advance(TimeDelta::Seconds(539));
  EXPECT_TRUE(Requests(Method::kRefresh).empty());
  Advance(TimeDelta::Seconds(1));
  const auto refreshes = Requests(Method::kRefresh);
  ASSERT_EQ(refreshes.size(), 1u);
  EXPECT_EQ(refreshes[0].at, allocated_at + TimeDelta::Seconds(540));
  EXPECT_EQ(refreshes[0].view().GetU32(attr::kLifetime), 600u);
  EXPECT_EQ(client_->stats().allocate_refreshes, 1u);
  // An hour later the allocation is still alive on the server.
  Advance(TimeDelta::Seconds(3600));
  EXPECT_EQ(client_->state(), State::kAllocated);
  EXPECT_EQ(server_->stats().allocations_expired, 0u);
  EXPECT_EQ(server_->stats().allocations_active, 1u);
  EXPECT_EQ(client_->stats().allocate_refreshes, 7u);  // every 540 s
}

TEST_F(TurnClientTest, ShortLifetimeRefreshesAtHalf) {
  auto server = ServerConfig();
  server.default_lifetime = TimeDelta::Seconds(60);
  server.max_lifetime = TimeDelta::Seconds(60);
  Allocated(ClientConfig(), server);
  EXPECT_EQ(client_->lifetime(), TimeDelta::Seconds(60));
  const Timestamp allocated_at = Requests(Method::kAllocate).back().at;
  EXPECT_EQ(client_->PollTimeout(), allocated_at + TimeDelta::Seconds(30));
  Advance(TimeDelta::Seconds(300));
  EXPECT_EQ(Requests(Method::kRefresh).size(), 10u);
  EXPECT_EQ(server_->stats().allocations_expired, 0u);
}

TEST_F(TurnClientTest, StaleNonceOnRefreshIsRetried) {
  auto server = ServerConfig();
  server.nonce_lifetime = TimeDelta::Seconds(100);
  Allocated(ClientConfig(), server);
  Advance(TimeDelta::Seconds(540));
  EXPECT_EQ(client_->stats().stale_nonces, 1u);
  EXPECT_EQ(client_->stats().allocate_refreshes, 1u);
  EXPECT_EQ(Requests(Method::kRefresh).size(), 2u);
  Advance(TimeDelta::Seconds(600));
  EXPECT_EQ(client_->state(), State::kAllocated);
  EXPECT_EQ(server_->stats().allocations_expired, 0u);
}

TEST_F(TurnClientTest, UnansweredRefreshLosesTheAllocation) {
  Allocated();
  drop_to_server = [](const Sent&) { return true; };
  Advance(TimeDelta::Seconds(540));
  EXPECT_EQ(CountEvents(Event::kAllocationLost), 0u);
  Advance(TimeDelta::Millis(39500));
  const Event* e = FindEvent(Event::kAllocationLost);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 0);
  EXPECT_EQ(client_->state(), State::kFailed);
  EXPECT_FALSE(client_->Send(now_, Addr(kPeer), Bytes("x")));
}

TEST_F(TurnClientTest, RefreshRejectedWith437AfterServerLostTheAllocation) {
  Allocated();
  // The server restarts: a new core knows no allocation (and issues nonces under a new secret).
  StartServer();
  delivered_ = out_.to_client.size();
  Advance(TimeDelta::Seconds(540));
  const Event* e = FindEvent(Event::kAllocationLost);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 437);
  EXPECT_EQ(client_->stats().stale_nonces, 1u);  // the old nonce was refused first
}

TEST_F(TurnClientTest, AllocationExpiresLocallyWhenRefreshCannotFinishInTime) {
  auto server = ServerConfig();
  server.default_lifetime = TimeDelta::Seconds(30);
  server.max_lifetime = TimeDelta::Seconds(30);
  Allocated(ClientConfig(), server);
  drop_to_server = [](const Sent&) { return true; };
  Advance(TimeDelta::Seconds(29));
  EXPECT_EQ(CountEvents(Event::kAllocationLost), 0u);
  Advance(TimeDelta::Seconds(1));  // at 30 s the refresh (sent at 15 s) is still retransmitting
  const Event* e = FindEvent(Event::kAllocationLost);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->reason, "allocation expired");
}

// --- Permissions, channels and data
// ---------------------------------------------------------------------------

TEST_F(TurnClientTest, PermissionAndSendIndicationBothWays) {
  Allocated();
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  Pump();
  EXPECT_TRUE(client_->HasPermission(Addr(kPeer).ip()));
  const auto perm = Requests(Method::kCreatePermission);
  ASSERT_EQ(perm.size(), 1u);
  EXPECT_EQ(perm[0].view().GetXorAddress(attr::kXorPeerAddress)->ip(), Addr(kPeer).ip());

  ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("hello")));
  Pump();
  EXPECT_EQ(ToPeer(kPeer), std::vector<std::string>{"hello"});
  EXPECT_EQ(out_.to_peer.at(0).relay, relays_.IdOf(client_->relayed_address()));
  EXPECT_EQ(client_->stats().send_indications, 1u);
  const Sent& indication = sent_.back();
  EXPECT_EQ(indication.view().method(), Method::kSend);
  EXPECT_EQ(indication.view().message_class(), MessageClass::kIndication);

  PeerSends(kPeer, "world");
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].peer, Addr(kPeer));
  EXPECT_EQ(received_[0].data, "world");
  EXPECT_EQ(client_->stats().data_indications_received, 1u);
  EXPECT_EQ(client_->stats().bytes_received, 5u);
  EXPECT_EQ(client_->stats().bytes_sent, 5u);
}

TEST_F(TurnClientTest, SendNeedsAnAllocationAndAPermission) {
  StartServer();
  CreateClient();
  EXPECT_EQ(client_->Send(now_, Addr(kPeer), Bytes("x")).error().code, ErrorCode::kUnavailable);
  client_->Start(now_);
  Pump();
  ASSERT_EQ(client_->state(), State::kAllocated);
  EXPECT_EQ(client_->Send(now_, Addr(kPeer), Bytes("x")).error().code, ErrorCode::kForbidden);
  EXPECT_EQ(client_->Send(now_, Addr("[2001:db8::1]:5"), Bytes("x")).error().code,
            ErrorCode::kInvalidArgument);
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  const std::vector<uint8_t> big(65001, 0);
  EXPECT_EQ(client_->Send(now_, Addr(kPeer), big).error().code, ErrorCode::kLimitExceeded);
  EXPECT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("x")));
  // Any port of a permitted IP may be sent to (permissions are per IP, RFC 8656 §9).
  EXPECT_TRUE(client_->Send(now_, Addr("93.184.216.34:6000"), Bytes("x")));
}

TEST_F(TurnClientTest, QueuedTransmitsKeepTheirOrderAndAreBounded) {
  Allocated();
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));
  Pump();
  ASSERT_TRUE(client_->BoundChannel(Addr(kPeer)));
  // Many messages queued before the driver polls (the queue grows past its initial size), then drained in
  // order.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("m" + std::to_string(i))));
  Pump();
  const auto relayed = ToPeer(kPeer);
  ASSERT_EQ(relayed.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(relayed[i], "m" + std::to_string(i));
  // A driver that never polls cannot make the client hold unbounded memory.
  Status last;
  int accepted = 0;
  for (int i = 0; i < 5000 && last.ok(); ++i) {
    last = client_->Send(now_, Addr(kPeer), Bytes("x"));
    if (last.ok()) ++accepted;
  }
  EXPECT_EQ(accepted, 4096);
  EXPECT_EQ(last.error().code, ErrorCode::kLimitExceeded);
  Pump();
  EXPECT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("after")));
}

TEST_F(TurnClientTest, PermissionRequestedWhileAllocatingIsSentOnceAllocated) {
  StartServer();
  CreateClient();
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer2)));
  client_->Start(now_);
  Pump();
  ASSERT_EQ(client_->state(), State::kAllocated);
  EXPECT_TRUE(client_->HasPermission(Addr(kPeer).ip()));
  EXPECT_TRUE(client_->BoundChannel(Addr(kPeer2)).has_value());
  EXPECT_TRUE(client_->HasPermission(Addr(kPeer2).ip()));  // installed by the ChannelBind (RFC 8656 §11.2)
  EXPECT_EQ(Requests(Method::kCreatePermission).size(), 1u);
}

TEST_F(TurnClientTest, PermissionRefusedByServerPolicyIsReported) {
  Allocated();
  ASSERT_TRUE(
      client_->CreatePermission(now_, Ip("10.1.2.3")));  // private: refused by default (RFC 8656 §21.3)
  Pump();
  const Event* e = FindEvent(Event::kPermissionFailed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 403);
  EXPECT_EQ(e->peer, SocketAddress(Ip("10.1.2.3"), 0));
  EXPECT_FALSE(client_->HasPermission(Ip("10.1.2.3")));
  EXPECT_EQ(client_->Send(now_, Addr("10.1.2.3:5"), Bytes("x")).error().code, ErrorCode::kForbidden);
  // The allocation itself is unharmed.
  EXPECT_EQ(client_->state(), State::kAllocated);
  EXPECT_EQ(client_->PollTimeout(), Requests(Method::kAllocate).back().at + TimeDelta::Seconds(540));
}

TEST_F(TurnClientTest, PermissionsAreRefreshedEveryFourMinutes) {
  Allocated();
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  Pump();
  const Timestamp first = Requests(Method::kCreatePermission)[0].at;
  Advance(TimeDelta::Seconds(3600));
  // One CreatePermission every 240 s (0, 240, ..., 3600), plus a same-instant retry whenever the nonce went
  // stale (600 s here).
  std::vector<Timestamp> times;
  for (const auto& p : Requests(Method::kCreatePermission)) {
    if (times.empty() || times.back() != p.at) times.push_back(p.at);
  }
  ASSERT_EQ(times.size(), 16u);
  for (size_t i = 0; i < times.size(); ++i) EXPECT_EQ(times[i], first + TimeDelta::Seconds(240) * i);
  EXPECT_EQ(client_->stats().permission_refreshes, 15u);
  // After an hour the permission still holds on the server: peer data reaches us.
  PeerSends(kPeer, "late");
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].data, "late");
  EXPECT_EQ(server_->stats().dropped_no_permission, 0u);
}

TEST_F(TurnClientTest, ChannelBindThenChannelDataBothWays) {
  Allocated();
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));
  // Until the binding is confirmed, data goes in Send indications.
  ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("early")));
  EXPECT_EQ(client_->stats().send_indications, 1u);
  Pump();
  const Event* bound = FindEvent(Event::kChannelBound);
  ASSERT_NE(bound, nullptr);
  EXPECT_EQ(bound->peer, Addr(kPeer));
  EXPECT_GE(bound->channel, 0x4000);
  EXPECT_LE(bound->channel, 0x4FFF);
  EXPECT_EQ(client_->BoundChannel(Addr(kPeer)), bound->channel);
  const auto bind = Requests(Method::kChannelBind);
  ASSERT_EQ(bind.size(), 1u);
  EXPECT_EQ(bind[0].view().GetChannelNumber(), bound->channel);
  EXPECT_EQ(bind[0].view().GetXorAddress(attr::kXorPeerAddress), Addr(kPeer));

  ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("hello")));
  const Sent before = sent_.back();
  Pump();
  const Sent& cd = sent_.back();
  EXPECT_NE(cd.bytes, before.bytes);
  // RFC 8656 §12.4: over UDP, 4-byte header and the data, unpadded.
  ASSERT_EQ(cd.bytes.size(), 4u + 5u);
  EXPECT_EQ(LoadBe16(cd.bytes.data()), bound->channel);
  EXPECT_EQ(LoadBe16(cd.bytes.data() + 2), 5);
  EXPECT_EQ(ToPeer(kPeer), (std::vector<std::string>{"early", "hello"}));
  EXPECT_EQ(client_->stats().channel_data_sent, 1u);

  PeerSends(kPeer, "back");
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].peer, Addr(kPeer));
  EXPECT_EQ(received_[0].data, "back");
  EXPECT_EQ(client_->stats().channel_data_received, 1u);
  EXPECT_EQ(LoadBe16(out_.to_client.back().bytes.data()), bound->channel);  // the server used the channel
}

TEST_F(TurnClientTest, TwoPeersGetDistinctChannels) {
  Allocated();
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer2)));
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));  // no-op
  Pump();
  EXPECT_EQ(CountEvents(Event::kChannelBound), 2u);
  EXPECT_EQ(Requests(Method::kChannelBind).size(), 2u);
  EXPECT_NE(client_->BoundChannel(Addr(kPeer)), client_->BoundChannel(Addr(kPeer2)));
  ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("a")));
  ASSERT_TRUE(client_->Send(now_, Addr(kPeer2), Bytes("b")));
  Pump();
  EXPECT_EQ(ToPeer(kPeer), std::vector<std::string>{"a"});
  EXPECT_EQ(ToPeer(kPeer2), std::vector<std::string>{"b"});
  PeerSends(kPeer2, "from2");
  PeerSends(kPeer, "from1");
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].peer, Addr(kPeer2));
  EXPECT_EQ(received_[1].peer, Addr(kPeer));
}

TEST_F(TurnClientTest, ChannelsAndTheirPermissionsStayAliveForAnHour) {
  Allocated();
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));
  Pump();
  const Timestamp bound_at = Requests(Method::kChannelBind)[0].at;
  Advance(TimeDelta::Seconds(3600));
  const auto binds = Requests(Method::kChannelBind);
  ASSERT_GE(binds.size(), 7u);  // every 540 s
  EXPECT_EQ(binds[1].at, bound_at + TimeDelta::Seconds(540));
  EXPECT_EQ(binds[1].view().GetChannelNumber(), binds[0].view().GetChannelNumber());  // same number
  EXPECT_GE(client_->stats().channel_refreshes, 6u);
  EXPECT_EQ(CountEvents(Event::kChannelBound), 1u);
  // The permission the channel implies is refreshed with CreatePermission in between (300 s < 540 s).
  EXPECT_GE(Requests(Method::kCreatePermission).size(), 14u);
  ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("still")));
  PeerSends(kPeer, "here");
  EXPECT_EQ(ToPeer(kPeer), std::vector<std::string>{"still"});
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].data, "here");
  EXPECT_EQ(LoadBe16(out_.to_client.back().bytes.data()), *client_->BoundChannel(Addr(kPeer)));
  EXPECT_EQ(server_->stats().dropped_unknown_channel, 0u);
  EXPECT_EQ(server_->stats().dropped_no_permission, 0u);
}

TEST_F(TurnClientTest, ChannelBindRefusedFallsBackToIndicationsAndReports) {
  Allocated();
  ASSERT_TRUE(client_->BindChannel(now_, Addr("10.0.0.9:5000")));  // private peer: 403
  Pump();
  const Event* e = FindEvent(Event::kChannelBindFailed);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->error_code, 403);
  EXPECT_EQ(e->peer, Addr("10.0.0.9:5000"));
  EXPECT_EQ(CountEvents(Event::kPermissionFailed), 1u);  // the permission it implied is not there either
  EXPECT_FALSE(client_->BoundChannel(Addr("10.0.0.9:5000")));
}

TEST_F(TurnClientTest, PeerLimitsAreEnforced) {
  auto config = ClientConfig();
  config.max_permissions = 2;
  config.max_channels = 1;
  Allocated(config);
  EXPECT_TRUE(client_->CreatePermission(now_, Ip("93.184.216.1")));
  EXPECT_TRUE(client_->CreatePermission(now_, Ip("93.184.216.1")));  // the same one again is fine
  EXPECT_TRUE(client_->BindChannel(now_, Addr("93.184.216.2:1")));
  EXPECT_EQ(client_->CreatePermission(now_, Ip("93.184.216.3")).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(client_->BindChannel(now_, Addr("93.184.216.1:2")).error().code, ErrorCode::kLimitExceeded);
  EXPECT_EQ(client_->BindChannel(now_, Addr("93.184.216.1:0")).error().code, ErrorCode::kInvalidArgument);
}

// --- TCP
// ---------------------------------------------------------------------------------------------------------

TEST_F(TurnClientTest, OverTcpChannelDataIsPaddedAndStreamsAreFramed) {
  Allocated(ClientConfig(Transport::kTcp));
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));
  Pump();
  ASSERT_TRUE(client_->BoundChannel(Addr(kPeer)));
  ASSERT_TRUE(client_->Send(now_, Addr(kPeer), Bytes("hello")));
  Pump();
  // RFC 8656 §12.5: over a stream ChannelData is padded to a multiple of 4 bytes.
  EXPECT_EQ(sent_.back().bytes.size(), 12u);
  EXPECT_EQ(LoadBe16(sent_.back().bytes.data() + 2), 5);
  EXPECT_EQ(ToPeer(kPeer), std::vector<std::string>{"hello"});
  PeerSends(kPeer, "abc");
  PeerSends(kPeer, "defgh");
  ASSERT_EQ(received_.size(), 2u);
  EXPECT_EQ(received_[0].data, "abc");
  EXPECT_EQ(received_[1].data, "defgh");
  // Refreshes work over TCP too, without retransmissions.
  Advance(TimeDelta::Seconds(1200));
  EXPECT_EQ(client_->state(), State::kAllocated);
  EXPECT_EQ(client_->stats().retransmissions, 0u);
  EXPECT_GE(client_->stats().allocate_refreshes, 2u);
}

// --- Release
// ------------------------------------------------------------------------------------------------------

TEST_F(TurnClientTest, ReleaseDeletesTheAllocation) {
  Allocated();
  ASSERT_TRUE(client_->BindChannel(now_, Addr(kPeer)));
  Pump();
  const turn::RelayId relay = relays_.IdOf(client_->relayed_address());
  client_->Release(now_);
  EXPECT_EQ(client_->state(), State::kReleasing);
  Pump();
  EXPECT_EQ(client_->state(), State::kReleased);
  EXPECT_EQ(CountEvents(Event::kReleased), 1u);
  const auto refresh = Requests(Method::kRefresh);
  ASSERT_EQ(refresh.size(), 1u);
  EXPECT_EQ(refresh[0].view().GetU32(attr::kLifetime), 0u);
  EXPECT_EQ(server_->stats().allocations_deleted, 1u);
  EXPECT_FALSE(relays_.IsOpen(relay));
  EXPECT_EQ(client_->PollTimeout(), Timestamp::Infinity());
  EXPECT_EQ(client_->Send(now_, Addr(kPeer), Bytes("x")).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(client_->BindChannel(now_, Addr(kPeer)).error().code, ErrorCode::kUnavailable);
  client_->Release(now_);  // idempotent
  Pump();
  EXPECT_EQ(CountEvents(Event::kReleased), 1u);
}

TEST_F(TurnClientTest, ReleaseWhileAllocatingDeletesWhatTheServerMayHaveCreated) {
  StartServer();
  CreateClient();
  client_->Start(now_);
  // Deliver the first Allocate and its 401; hold back the answer to the signed one.
  drop_to_client = [&](const std::vector<uint8_t>& b) {
    auto v = stun::MessageView::Parse(b);
    return v.ok() && v->message_class() == MessageClass::kSuccessResponse;
  };
  Pump();
  ASSERT_EQ(server_->stats().allocations_created, 1u);
  ASSERT_EQ(client_->state(), State::kAllocating);
  drop_to_client = nullptr;
  client_->Release(now_);
  Pump();
  EXPECT_EQ(client_->state(), State::kReleased);
  EXPECT_EQ(server_->stats().allocations_deleted, 1u);
}

TEST_F(TurnClientTest, ReleaseBeforeStartNeedsNoServer) {
  StartServer();
  CreateClient();
  client_->Release(now_);
  Pump();
  EXPECT_EQ(client_->state(), State::kReleased);
  EXPECT_EQ(CountEvents(Event::kReleased), 1u);
  EXPECT_TRUE(sent_.empty());
  client_->Start(now_);  // too late: ignored
  Pump();
  EXPECT_TRUE(sent_.empty());
}

// --- Hostile input
// ------------------------------------------------------------------------------------------------

TEST_F(TurnClientTest, ResponsesWithUnknownTransactionIdsAreDropped) {
  StartServer();
  CreateClient();
  client_->Start(now_);
  ASSERT_TRUE(client_->PollTransmit());
  std::vector<uint8_t> forged;
  stun::MessageBuilder b(forged, Method::kAllocate, MessageClass::kSuccessResponse,
                         stun::TransactionId{1, 2, 3});
  b.AddXorAddress(attr::kXorRelayedAddress, Addr("203.0.113.66:1234"));
  b.Finish();
  EXPECT_FALSE(Inject(forged));
  EXPECT_EQ(client_->stats().dropped_unknown_transaction, 1u);
  EXPECT_EQ(client_->state(), State::kAllocating);
}

TEST_F(TurnClientTest, ResponsesWithBadIntegrityAreDroppedAndRetransmissionContinues) {
  StartServer();
  CreateClient();
  // Let the 401 through, then swallow the signed Allocate so that we can answer it ourselves.
  drop_to_server = [](const Sent& s) { return s.view().Has(attr::kUsername); };
  client_->Start(now_);
  Pump();
  ASSERT_EQ(Requests(Method::kAllocate).size(), 2u);
  const auto forged_key = stun::LongTermKey("alice", "example.org", "not-the-password");
  const auto forged = ScriptedResponse(Method::kAllocate, MessageClass::kSuccessResponse, [&](auto& b) {
    b.AddXorAddress(attr::kXorRelayedAddress, Addr("203.0.113.66:1234"));
    b.AddU32(attr::kLifetime, 600);
    b.AddMessageIntegrity(forged_key);
  });
  Inject(forged);
  const auto unsigned_success = ScriptedResponse(
      Method::kAllocate, MessageClass::kSuccessResponse,
      [&](auto& b) { b.AddXorAddress(attr::kXorRelayedAddress, Addr("203.0.113.66:1234")); });
  Inject(unsigned_success);
  const auto unsigned_error = ScriptedResponse(Method::kAllocate, MessageClass::kErrorResponse,
                                               [&](auto& b) { b.AddErrorCode(486); });
  Inject(unsigned_error);
  EXPECT_EQ(client_->stats().dropped_bad_integrity, 3u);
  EXPECT_EQ(client_->state(), State::kAllocating);
  // The real server answers the retransmission.
  drop_to_server = nullptr;
  Advance(TimeDelta::Seconds(1));
  EXPECT_EQ(client_->state(), State::kAllocated);
  EXPECT_NE(client_->relayed_address(), Addr("203.0.113.66:1234"));
}

TEST_F(TurnClientTest, BadFingerprintAndGarbageAreDropped) {
  Allocated();
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  Pump();
  // A Data indication with a broken FINGERPRINT.
  std::vector<uint8_t> ind;
  stun::MessageBuilder b(ind, Method::kData, MessageClass::kIndication, stun::TransactionId{9});
  b.AddXorAddress(attr::kXorPeerAddress, Addr(kPeer));
  b.AddBytes(attr::kData, Bytes("x"));
  b.AddFingerprint();
  b.Finish();
  auto broken = ind;
  broken.back() ^= 1;
  EXPECT_FALSE(Inject(broken));
  EXPECT_EQ(client_->stats().dropped_bad_integrity, 1u);
  EXPECT_TRUE(Inject(ind));  // the intact one is accepted
  const Stats before = client_->stats();
  EXPECT_FALSE(Inject({}));
  EXPECT_FALSE(Inject({0xFF, 0, 0, 0, 1}));
  EXPECT_FALSE(Inject({0x00, 0x01, 0x00, 0x00}));
  EXPECT_FALSE(Inject({0x40, 0x00, 0x00, 0x10, 1, 2}));  // ChannelData shorter than its length
  EXPECT_EQ(client_->stats().dropped_malformed, before.dropped_malformed + 4);
  EXPECT_EQ(client_->state(), State::kAllocated);
}

TEST_F(TurnClientTest, DataFromPeersWithoutPermissionAndUnknownChannelsIsDropped) {
  Allocated();
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  Pump();
  std::vector<uint8_t> ind;
  stun::MessageBuilder b(ind, Method::kData, MessageClass::kIndication, stun::TransactionId{5});
  b.AddXorAddress(attr::kXorPeerAddress, Addr("93.184.216.99:1"));
  b.AddBytes(attr::kData, Bytes("spoof"));
  b.Finish();
  EXPECT_FALSE(Inject(ind));
  EXPECT_EQ(client_->stats().dropped_no_permission, 1u);
  const std::vector<uint8_t> cd = {0x40, 0x01, 0x00, 0x01, 'x', 0, 0, 0};
  EXPECT_FALSE(Inject(cd));
  EXPECT_EQ(client_->stats().dropped_unknown_channel, 1u);
  // A request from "the server" is not something a client answers.
  std::vector<uint8_t> req;
  stun::MessageBuilder(req, Method::kBinding, MessageClass::kRequest, stun::TransactionId{6}).Finish();
  EXPECT_FALSE(Inject(req));
  EXPECT_EQ(client_->stats().dropped_unexpected, 1u);
}

TEST_F(TurnClientTest, ResponseOfTheWrongMethodDoesNotCompleteTheTransaction) {
  StartServer();
  CreateClient();
  client_->Start(now_);
  Pump();
  ASSERT_EQ(client_->state(), State::kAllocated);
  ASSERT_TRUE(client_->CreatePermission(now_, Addr(kPeer).ip()));
  auto t = client_->PollTransmit();
  ASSERT_TRUE(t);
  const auto tid = stun::MessageView::Parse(*t)->transaction_id();
  std::vector<uint8_t> wrong;
  stun::MessageBuilder(wrong, Method::kRefresh, MessageClass::kSuccessResponse, tid).Finish();
  EXPECT_FALSE(Inject(wrong));
  EXPECT_EQ(client_->stats().dropped_unknown_transaction, 1u);
  EXPECT_FALSE(client_->HasPermission(Addr(kPeer).ip()));
}

TEST_F(TurnClientTest, IdleClientHasNoDeadline) {
  StartServer();
  CreateClient();
  EXPECT_EQ(client_->PollTimeout(), Timestamp::Infinity());
  EXPECT_EQ(client_->state(), State::kIdle);
  EXPECT_FALSE(client_->PollTransmit());
  EXPECT_FALSE(client_->PollEvent());
}

}  // namespace
}  // namespace tandem::turn_client
