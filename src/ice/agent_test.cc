// Packet-level tests of ice::Agent: the test plays the peer (and the STUN server), builds its STUN messages
// with the codec and checks what the agent sends, on plain Timestamps.
#include "ice/agent.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stun/message.h"

namespace tandem::ice {
namespace {

constexpr const char* kRemoteUfrag = "rEmO";
constexpr const char* kRemotePwd = "remotePasswordRemote22";  // 22 ice-chars
constexpr const char* kLocalUfrag = "LoCaL";
constexpr const char* kLocalPwd = "localPasswordLocalPwd22";

SocketAddress Addr(const char* s) { return *SocketAddress::Parse(s); }

struct Sent {
  EndpointId endpoint = 0;
  SocketAddress destination;
  std::vector<uint8_t> data;
  Timestamp at;

  stun::MessageView View() const {
    auto m = stun::MessageView::Parse(data);
    EXPECT_TRUE(m.ok());
    return *m;
  }
  bool IsStun() const { return stun::MessageView::Parse(data).ok(); }
  bool IsRequest() const {
    auto m = stun::MessageView::Parse(data);
    return m.ok() && m->message_class() == stun::MessageClass::kRequest;
  }
};

// A remote host candidate; its foundation follows the address (RFC 8445 §5.1.1.3: different bases, different
// foundations), so that its pairs are not frozen behind each other.
Candidate RemoteHost(const char* addr, uint32_t priority = 2130706431) {
  Candidate c;
  c.foundation = std::to_string(std::hash<std::string>()(addr) % 100000);
  c.priority = priority;
  c.address = Addr(addr);
  c.type = CandidateType::kHost;
  return c;
}

class AgentTest : public ::testing::Test {
 protected:
  static AgentConfig Config(Role role = Role::kControlling) {
    AgentConfig c;
    c.role = role;
    c.local_ufrag = kLocalUfrag;
    c.local_pwd = kLocalPwd;
    c.tie_breaker = 1000;
    return c;
  }

  void Make(AgentConfig config) {
    agent_ = std::make_unique<Agent>(std::move(config), rng_);
    Drain();
  }

  // The usual start: one host endpoint, gathering done, remote credentials set.
  void MakeReady(AgentConfig config = Config(), const char* local = "192.0.2.10:5000") {
    Make(std::move(config));
    ep_ = agent_->AddHostEndpoint(now_, Addr(local));
    agent_->StartGathering(now_);
    ASSERT_TRUE(agent_->SetRemoteCredentials(now_, kRemoteUfrag, kRemotePwd).ok());
    Drain();
  }

  void Drain() {
    while (auto t = agent_->PollTransmit()) {
      sent_.push_back(
          Sent{t->endpoint, t->destination, std::vector<uint8_t>(t->data.begin(), t->data.end()), now_});
    }
    while (auto e = agent_->PollEvent()) events_.push_back(*e);
  }

  // Runs the agent's timers up to now + d, checking that a handled deadline never comes back.
  void Advance(TimeDelta d) {
    const Timestamp target = now_ + d;
    for (int i = 0; i < 100000; ++i) {
      const Timestamp t = agent_->PollTimeout();
      if (t > target) break;
      now_ = std::max(now_, t);
      agent_->HandleTimeout(now_);
      Drain();
      ASSERT_GT(agent_->PollTimeout(), now_) << "deadline did not move after HandleTimeout";
    }
    now_ = target;
  }

  std::optional<ByteSpan> Receive(const SocketAddress& from, ByteSpan data, EndpointId ep = 0) {
    auto r = agent_->HandleReceive(now_, ep == 0 ? ep_ : ep, from, data);
    std::optional<ByteSpan> copy;
    if (r) {
      last_payload_.assign(r->begin(), r->end());
      copy = ByteSpan(last_payload_);
    }
    Drain();
    return copy;
  }

  struct RequestOptions {
    std::string username = std::string(kLocalUfrag) + ":" + kRemoteUfrag;
    std::string pwd = kLocalPwd;
    uint32_t priority = 1862270975;
    std::optional<uint64_t> controlling;
    std::optional<uint64_t> controlled = 5;
    bool use_candidate = false;
    bool fingerprint = true;
    std::optional<uint16_t> extra_attribute;
  };
  std::vector<uint8_t> Request(const RequestOptions& o, stun::TransactionId* tid_out = nullptr) {
    stun::TransactionId tid;
    rng_.Fill(tid);
    if (tid_out) *tid_out = tid;
    std::vector<uint8_t> out;
    stun::MessageBuilder b(out, stun::Method::kBinding, stun::MessageClass::kRequest, tid);
    b.AddString(stun::attr::kUsername, o.username);
    if (o.priority != 0) b.AddU32(stun::attr::kPriority, o.priority);
    if (o.controlling) b.AddU64(stun::attr::kIceControlling, *o.controlling);
    if (o.controlled) b.AddU64(stun::attr::kIceControlled, *o.controlled);
    if (o.use_candidate) b.AddEmpty(stun::attr::kUseCandidate);
    if (o.extra_attribute) b.AddU32(*o.extra_attribute, 0);
    b.AddMessageIntegrity(AsBytes(o.pwd));
    if (o.fingerprint) b.AddFingerprint();
    b.Finish();
    return out;
  }

  // The peer's answer to a check the agent sent.
  static std::vector<uint8_t> SuccessFor(const Sent& request, const SocketAddress& mapped,
                                         std::string_view pwd = kRemotePwd) {
    std::vector<uint8_t> out;
    stun::MessageBuilder(out, stun::Method::kBinding, stun::MessageClass::kSuccessResponse,
                         request.View().transaction_id())
        .AddXorAddress(stun::attr::kXorMappedAddress, mapped)
        .AddMessageIntegrity(AsBytes(pwd))
        .AddFingerprint()
        .Finish();
    return out;
  }
  static std::vector<uint8_t> ErrorFor(const Sent& request, uint16_t code) {
    std::vector<uint8_t> out;
    stun::MessageBuilder(out, stun::Method::kBinding, stun::MessageClass::kErrorResponse,
                         request.View().transaction_id())
        .AddErrorCode(code)
        .AddMessageIntegrity(AsBytes(std::string_view(kRemotePwd)))
        .AddFingerprint()
        .Finish();
    return out;
  }

  std::vector<const Sent*> RequestsTo(const SocketAddress& to, size_t from_index = 0) const {
    std::vector<const Sent*> out;
    for (size_t i = from_index; i < sent_.size(); ++i) {
      if (sent_[i].destination == to && sent_[i].IsRequest()) out.push_back(&sent_[i]);
    }
    return out;
  }

  // Answers, as the peer at `remote`, every request sent to it since `*cursor` (mapped = the agent's host
  // address).
  void AnswerChecks(const SocketAddress& remote, size_t* cursor, const SocketAddress& mapped) {
    const size_t end = sent_.size();
    for (size_t i = *cursor; i < end; ++i) {
      if (sent_[i].destination != remote || !sent_[i].IsRequest()) continue;
      const auto response = SuccessFor(sent_[i], mapped);
      Receive(remote, response);
    }
    *cursor = end;
  }

  template <typename T>
  std::vector<T> EventsOf() const {
    std::vector<T> out;
    for (const auto& e : events_) {
      if (auto* v = std::get_if<T>(&e)) out.push_back(*v);
    }
    return out;
  }
  std::vector<ConnectionState> States() const {
    std::vector<ConnectionState> out;
    for (const auto& e : EventsOf<ConnectionStateChanged>()) out.push_back(e.state);
    return out;
  }

  SeededRng rng_{7};
  Timestamp now_ = Timestamp::Seconds(100);
  std::unique_ptr<Agent> agent_;
  EndpointId ep_ = 0;
  std::vector<Sent> sent_;
  std::vector<Event> events_;
  std::vector<uint8_t> last_payload_;
};

// ---------------------------------------------------------------------------------------------------------------

TEST_F(AgentTest, GeneratesCredentialsAndTieBreaker) {
  AgentConfig c;
  Make(c);
  EXPECT_EQ(agent_->local_ufrag().size(), 8u);  // 48 random bits >= 24 (RFC 8445 §5.3)
  EXPECT_EQ(agent_->local_pwd().size(), 24u);   // 144 random bits >= 128
  EXPECT_TRUE(IsIceString(agent_->local_ufrag()));
  EXPECT_TRUE(IsIceString(agent_->local_pwd()));
  EXPECT_NE(agent_->tie_breaker(), 0u);
  const std::string first = agent_->local_ufrag();
  Make(c);
  EXPECT_NE(agent_->local_ufrag(), first);

  Make(Config());
  EXPECT_EQ(agent_->local_ufrag(), kLocalUfrag);
  EXPECT_EQ(agent_->tie_breaker(), 1000u);

  AgentConfig bad;
  bad.local_pwd = "short";
  EXPECT_THROW(Agent(bad, rng_), std::invalid_argument);
  AgentConfig lite;
  lite.lite = true;
  lite.role = Role::kControlling;
  Make(lite);
  EXPECT_EQ(agent_->role(), Role::kControlled);  // RFC 8445 §6.1.1
}

TEST_F(AgentTest, GathersHostCandidatesWithMultihomedPriorities) {
  Make(Config());
  agent_->AddHostEndpoint(now_, Addr("192.0.2.10:5000"));
  agent_->AddHostEndpoint(now_, Addr("198.51.100.10:5001"));
  agent_->AddHostEndpoint(now_, Addr("[2001:db8::10]:5002"));
  agent_->StartGathering(now_);
  Drain();
  ASSERT_EQ(events_.size(), 5u);
  EXPECT_EQ(std::get<GatheringStateChanged>(events_.front()).state, GatheringState::kGathering);
  EXPECT_EQ(std::get<GatheringStateChanged>(events_.back()).state, GatheringState::kComplete);
  const auto cands = EventsOf<LocalCandidate>();
  ASSERT_EQ(cands.size(), 3u);
  for (const auto& lc : cands) {
    EXPECT_EQ(lc.candidate.type, CandidateType::kHost);
    EXPECT_EQ(lc.candidate.Extension("ufrag"), kLocalUfrag);
    EXPECT_EQ(lc.candidate.priority >> 24, kHostTypePreference);
    EXPECT_TRUE(Candidate::Parse(lc.candidate.ToString()).ok());
  }
  // RFC 8421: IPv6 first, then the first IPv4 interface, then the second.
  EXPECT_GT(cands[2].candidate.priority, cands[0].candidate.priority);
  EXPECT_GT(cands[0].candidate.priority, cands[1].candidate.priority);
  // RFC 8445 §5.1.1.3: different base addresses, different foundations.
  EXPECT_NE(cands[0].candidate.foundation, cands[1].candidate.foundation);
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kComplete);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(AgentTest, GathersServerReflexiveCandidatesFromStunServers) {
  AgentConfig c = Config();
  const SocketAddress stun = Addr("203.0.113.1:3478");
  c.servers.push_back(ServerConfig::Stun(stun));
  Make(c);
  ep_ = agent_->AddHostEndpoint(now_, Addr("10.0.0.2:5000"));
  agent_->StartGathering(now_);
  Drain();
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kGathering);
  Advance(TimeDelta::Millis(1));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].destination, stun);
  EXPECT_EQ(sent_[0].endpoint, ep_);
  const auto request = sent_[0].View();
  EXPECT_EQ(request.method(), stun::Method::kBinding);
  EXPECT_EQ(request.message_class(), stun::MessageClass::kRequest);

  std::vector<uint8_t> response;
  stun::MessageBuilder(response, stun::Method::kBinding, stun::MessageClass::kSuccessResponse,
                       request.transaction_id())
      .AddXorAddress(stun::attr::kXorMappedAddress, Addr("198.51.100.20:40000"))
      .AddFingerprint()
      .Finish();
  EXPECT_FALSE(Receive(stun, response).has_value());
  const auto cands = EventsOf<LocalCandidate>();
  ASSERT_EQ(cands.size(), 2u);
  const Candidate& srflx = cands[1].candidate;
  EXPECT_EQ(srflx.type, CandidateType::kServerReflexive);
  EXPECT_EQ(srflx.address, Addr("198.51.100.20:40000"));
  ASSERT_TRUE(srflx.related.has_value());
  EXPECT_EQ(*srflx.related, Addr("10.0.0.2:5000"));
  EXPECT_LT(srflx.priority, cands[0].candidate.priority);
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kComplete);
  // A duplicate (retransmitted) response changes nothing.
  EXPECT_FALSE(Receive(stun, response).has_value());
  EXPECT_EQ(EventsOf<LocalCandidate>().size(), 2u);
  EXPECT_EQ(agent_->counters().dropped_unknown_transaction, 1u);
}

TEST_F(AgentTest, GatheringGivesUpOnADeadStunServer) {
  AgentConfig c = Config();
  const SocketAddress stun = Addr("203.0.113.1:3478");
  c.servers.push_back(ServerConfig::Stun(stun));
  Make(c);
  ep_ = agent_->AddHostEndpoint(now_, Addr("10.0.0.2:5000"));
  const Timestamp start = now_;
  agent_->StartGathering(now_);
  Drain();
  Advance(TimeDelta::Seconds(20));
  // RFC 8489 §6.2.1 with gather_rto 500 ms, 4 transmissions: 0, 0.5, 1.5, 3.5 s; given up at 7.5 s.
  ASSERT_EQ(sent_.size(), 4u);
  EXPECT_EQ(sent_[1].at - sent_[0].at, TimeDelta::Millis(500));
  EXPECT_EQ(sent_[2].at - sent_[1].at, TimeDelta::Millis(1000));
  EXPECT_EQ(sent_[3].at - sent_[2].at, TimeDelta::Millis(2000));
  const auto gathering = EventsOf<GatheringStateChanged>();
  ASSERT_EQ(gathering.size(), 2u);
  EXPECT_EQ(gathering[1].state, GatheringState::kComplete);
  EXPECT_LE(sent_[0].at - start, TimeDelta::Millis(50));
  EXPECT_EQ(EventsOf<LocalCandidate>().size(), 1u);
}

TEST_F(AgentTest, SendsChecksWithTheRequiredAttributes) {
  MakeReady();
  const SocketAddress remote = Addr("192.0.2.20:6000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Drain();
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kChecking);
  Advance(TimeDelta::Millis(1));
  auto requests = RequestsTo(remote);
  ASSERT_EQ(requests.size(), 1u);
  const auto m = requests[0]->View();
  EXPECT_EQ(requests[0]->endpoint, ep_);
  // RFC 8445 §7.2.2: USERNAME "<remote>:<local>", PRIORITY of a peer-reflexive candidate, ICE-CONTROLLING
  // with the tie-breaker, MESSAGE-INTEGRITY with the remote password, FINGERPRINT.
  EXPECT_EQ(m.GetString(stun::attr::kUsername), std::string(kRemoteUfrag) + ":" + kLocalUfrag);
  const auto local = agent_->local_candidates();
  ASSERT_EQ(local.size(), 1u);
  EXPECT_EQ(m.GetU32(stun::attr::kPriority),
            (kPeerReflexiveTypePreference << 24) | (local[0].priority & 0xffffff));
  EXPECT_EQ(m.GetU64(stun::attr::kIceControlling), 1000u);
  EXPECT_FALSE(m.Has(stun::attr::kIceControlled));
  EXPECT_FALSE(m.Has(stun::attr::kUseCandidate));
  EXPECT_TRUE(m.VerifyMessageIntegrity(AsBytes(std::string_view(kRemotePwd))));
  EXPECT_TRUE(m.HasValidFingerprint());
}

TEST_F(AgentTest, PacesChecksByTa) {
  MakeReady();
  for (int i = 0; i < 3; ++i) {
    const std::string a = "192.0.2." + std::to_string(20 + i) + ":6000";
    ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost(a.c_str(), 2130706431 - i)).ok());
  }
  Drain();
  Advance(TimeDelta::Millis(200));
  std::vector<Timestamp> first_checks;
  for (const auto& s : sent_) {
    if (s.IsRequest()) first_checks.push_back(s.at);
  }
  ASSERT_GE(first_checks.size(), 3u);
  // RFC 8445 §14.2: one check per Ta (50 ms).
  EXPECT_EQ(first_checks[1] - first_checks[0], TimeDelta::Millis(50));
  EXPECT_EQ(first_checks[2] - first_checks[1], TimeDelta::Millis(50));
  // Highest priority pair first.
  EXPECT_EQ(sent_[0].destination, Addr("192.0.2.20:6000"));
}

TEST_F(AgentTest, RetransmitsAChecksAndFailsItAfterTheLastTimeout) {
  MakeReady();
  const SocketAddress remote = Addr("192.0.2.20:6000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  agent_->SetRemoteEndOfCandidates(now_);
  Drain();
  const Timestamp start = now_;
  Advance(TimeDelta::Seconds(20));
  auto requests = RequestsTo(remote);
  ASSERT_EQ(requests.size(), 7u);
  const std::vector<int64_t> expected_ms = {0, 500, 1500, 3100, 4700, 6300, 7900};
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ((requests[i]->at - start).ms(), expected_ms[i]) << i;
    // Retransmissions keep the transaction id (RFC 8489 §6.2.1).
    EXPECT_EQ(requests[i]->View().transaction_id(), requests[0]->View().transaction_id());
  }
  const auto states = States();
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), ConnectionState::kFailed);
  const auto stats = agent_->GetStats();
  ASSERT_EQ(stats.pairs.size(), 1u);
  EXPECT_EQ(stats.pairs[0].state, PairState::kFailed);
  EXPECT_EQ(stats.pairs[0].requests_sent, 7u);
}

TEST_F(AgentTest, AnswersChecksAndLearnsPeerReflexiveRemoteCandidates) {
  MakeReady();
  const SocketAddress peer = Addr("198.51.100.99:7000");
  stun::TransactionId tid;
  RequestOptions o;
  o.priority = 1845501695;
  Receive(peer, Request(o, &tid));
  ASSERT_FALSE(sent_.empty());
  const Sent& response = sent_[0];
  EXPECT_EQ(response.destination, peer);
  const auto m = response.View();
  EXPECT_EQ(m.message_class(), stun::MessageClass::kSuccessResponse);
  EXPECT_EQ(m.transaction_id(), tid);
  // RFC 8445 §7.3.1.2: XOR-MAPPED-ADDRESS is the request's source; integrity with our password.
  EXPECT_EQ(m.GetXorAddress(stun::attr::kXorMappedAddress), peer);
  EXPECT_TRUE(m.VerifyMessageIntegrity(AsBytes(std::string_view(kLocalPwd))));
  EXPECT_TRUE(m.HasValidFingerprint());
  // RFC 8445 §7.3.1.3-4: a peer-reflexive remote candidate and a triggered check to it.
  Advance(TimeDelta::Millis(60));
  auto requests = RequestsTo(peer);
  ASSERT_EQ(requests.size(), 1u);
  const auto stats = agent_->GetStats();
  ASSERT_EQ(stats.remote_candidates.size(), 1u);
  EXPECT_EQ(stats.remote_candidates[0].candidate.type, CandidateType::kPeerReflexive);
  EXPECT_EQ(stats.remote_candidates[0].candidate.priority, 1845501695u);
  EXPECT_EQ(stats.counters.triggered_checks, 1u);
  // The signalled candidate for that address replaces the peer-reflexive type (trickle).
  Candidate signalled = RemoteHost("198.51.100.99:7000", 2130706431);
  signalled.type = CandidateType::kServerReflexive;
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, signalled).ok());
  EXPECT_EQ(agent_->GetStats().remote_candidates[0].candidate.type, CandidateType::kServerReflexive);
}

TEST_F(AgentTest, DropsRequestsThatAreNotForUs) {
  MakeReady();
  const SocketAddress peer = Addr("198.51.100.99:7000");
  RequestOptions wrong_pwd;
  wrong_pwd.pwd = "wrongPasswordWrongPwd22";
  Receive(peer, Request(wrong_pwd));
  RequestOptions wrong_ufrag;
  wrong_ufrag.username = std::string("nope:") + kRemoteUfrag;
  Receive(peer, Request(wrong_ufrag));
  RequestOptions no_colon;
  no_colon.username = kLocalUfrag;
  Receive(peer, Request(no_colon));
  std::vector<uint8_t> bad_fingerprint = Request(RequestOptions{});
  bad_fingerprint.back() ^= 1;
  Receive(peer, bad_fingerprint);
  const uint8_t garbage[] = {0x01, 0x01, 0x00, 0x00, 0x21, 0x12};
  Receive(peer, garbage);
  EXPECT_TRUE(sent_.empty());
  const Counters& c = agent_->counters();
  EXPECT_EQ(c.dropped_bad_integrity, 1u);
  EXPECT_EQ(c.dropped_unknown_username, 2u);
  EXPECT_EQ(c.dropped_bad_fingerprint, 1u);
  EXPECT_EQ(c.dropped_malformed, 1u);
  EXPECT_TRUE(agent_->GetStats().remote_candidates.empty());

  // Authenticated but broken: 400 without PRIORITY, 420 for an unknown comprehension-required attribute.
  RequestOptions no_priority;
  no_priority.priority = 0;
  Receive(peer, Request(no_priority));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].View().GetErrorCode()->code, stun::error::kBadRequest);
  RequestOptions unknown;
  unknown.extra_attribute = 0x7777;
  Receive(peer, Request(unknown));
  ASSERT_EQ(sent_.size(), 2u);
  const auto m = sent_[1].View();
  EXPECT_EQ(m.GetErrorCode()->code, stun::error::kUnknownAttribute);
  ASSERT_EQ(m.GetUnknownAttributes().size(), 1u);
  EXPECT_EQ(m.GetUnknownAttributes()[0], 0x7777);
  EXPECT_TRUE(m.VerifyMessageIntegrity(AsBytes(std::string_view(kLocalPwd))));
}

TEST_F(AgentTest, ControllingAgentRepairsRoleConflicts) {
  MakeReady(Config(Role::kControlling));  // tie-breaker 1000
  const SocketAddress peer = Addr("198.51.100.99:7000");
  // RFC 8445 §7.3.1.1: both controlling, ours is larger: 487 and we stay controlling.
  RequestOptions smaller;
  smaller.controlled.reset();
  smaller.controlling = 999;
  Receive(peer, Request(smaller));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].View().GetErrorCode()->code, stun::error::kRoleConflict);
  EXPECT_TRUE(sent_[0].View().VerifyMessageIntegrity(AsBytes(std::string_view(kLocalPwd))));
  EXPECT_EQ(agent_->role(), Role::kControlling);
  // Theirs is larger: we switch to controlled and answer.
  RequestOptions larger;
  larger.controlled.reset();
  larger.controlling = 1001;
  Receive(peer, Request(larger));
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].View().message_class(), stun::MessageClass::kSuccessResponse);
  EXPECT_EQ(agent_->role(), Role::kControlled);
  const auto changes = EventsOf<RoleChanged>();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].role, Role::kControlled);
  EXPECT_EQ(agent_->counters().role_conflicts, 2u);
  // The triggered check now carries ICE-CONTROLLED.
  Advance(TimeDelta::Millis(60));
  auto requests = RequestsTo(peer);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0]->View().GetU64(stun::attr::kIceControlled), 1000u);
}

TEST_F(AgentTest, ControlledAgentRepairsRoleConflicts) {
  MakeReady(Config(Role::kControlled));
  const SocketAddress peer = Addr("198.51.100.99:7000");
  RequestOptions larger;  // both controlled, theirs larger: 487
  larger.controlled = 2000;
  Receive(peer, Request(larger));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].View().GetErrorCode()->code, stun::error::kRoleConflict);
  EXPECT_EQ(agent_->role(), Role::kControlled);
  RequestOptions smaller;  // ours larger: we take control
  smaller.controlled = 10;
  Receive(peer, Request(smaller));
  EXPECT_EQ(sent_.back().View().message_class(), stun::MessageClass::kSuccessResponse);
  EXPECT_EQ(agent_->role(), Role::kControlling);
}

TEST_F(AgentTest, A487ResponseSwitchesTheRoleAndRetriesThePair) {
  MakeReady(Config(Role::kControlling));
  const SocketAddress remote = Addr("192.0.2.20:6000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Advance(TimeDelta::Millis(1));
  auto requests = RequestsTo(remote);
  ASSERT_EQ(requests.size(), 1u);
  const Sent first = *requests[0];
  Receive(remote, ErrorFor(first, stun::error::kRoleConflict));
  // RFC 8445 §7.2.5.1.
  EXPECT_EQ(agent_->role(), Role::kControlled);
  ASSERT_EQ(EventsOf<RoleChanged>().size(), 1u);
  Advance(TimeDelta::Millis(60));
  requests = RequestsTo(remote);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_NE(requests[1]->View().transaction_id(), first.View().transaction_id());
  EXPECT_TRUE(requests[1]->View().Has(stun::attr::kIceControlled));
}

TEST_F(AgentTest, AnswersChecksThatArriveBeforeTheRemoteCredentials) {
  Make(Config(Role::kControlled));
  ep_ = agent_->AddHostEndpoint(now_, Addr("192.0.2.10:5000"));
  agent_->StartGathering(now_);
  Drain();
  const SocketAddress peer = Addr("198.51.100.99:7000");
  Receive(peer, Request(RequestOptions{}));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].View().message_class(), stun::MessageClass::kSuccessResponse);
  Advance(TimeDelta::Millis(100));
  EXPECT_EQ(sent_.size(), 1u);  // no check without the peer's password
  ASSERT_TRUE(agent_->SetRemoteCredentials(now_, kRemoteUfrag, kRemotePwd).ok());
  Drain();
  Advance(TimeDelta::Millis(60));
  EXPECT_EQ(RequestsTo(peer).size(), 1u);  // RFC 8445 §7.3: now paired and checked
}

TEST_F(AgentTest, ControllingAgentConnectsAndNominates) {
  MakeReady(Config(Role::kControlling));
  const SocketAddress remote = Addr("192.0.2.20:6000");
  const SocketAddress mapped = Addr("192.0.2.10:5000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  agent_->SetRemoteEndOfCandidates(now_);
  Advance(TimeDelta::Millis(1));
  size_t cursor = 0;
  AnswerChecks(remote, &cursor, mapped);
  // Valid pair: connected and selected (RFC 8445 §12.1: data may flow before nomination).
  auto selected = EventsOf<SelectedPairChanged>();
  ASSERT_EQ(selected.size(), 1u);
  EXPECT_EQ(selected[0].remote.address, remote);
  EXPECT_EQ(selected[0].local.address, mapped);
  // With end-of-candidates and nothing better pending, the nomination goes out at once (RFC 8445 §8.1.1).
  auto requests = RequestsTo(remote, cursor);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0]->View().Has(stun::attr::kUseCandidate));
  AnswerChecks(remote, &cursor, mapped);
  const auto stats = agent_->GetStats();
  ASSERT_EQ(stats.pairs.size(), 1u);
  EXPECT_TRUE(stats.pairs[0].nominated);
  EXPECT_TRUE(stats.pairs[0].selected);
  EXPECT_EQ(States(), (std::vector<ConnectionState>{ConnectionState::kChecking, ConnectionState::kConnected,
                                                    ConnectionState::kCompleted}));
  // Data goes over the selected pair.
  const uint8_t dtls[] = {22, 254, 253, 0, 0};
  ASSERT_TRUE(agent_->SendData(now_, dtls).ok());
  Drain();
  EXPECT_EQ(sent_.back().destination, remote);
  EXPECT_EQ(sent_.back().data, std::vector<uint8_t>(std::begin(dtls), std::end(dtls)));
}

TEST_F(AgentTest, ControllingAgentWaitsForBetterPairsBeforeNominating) {
  MakeReady(Config(Role::kControlling));
  const SocketAddress good = Addr("192.0.2.20:6000");
  const SocketAddress better = Addr("192.0.2.21:6000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.21:6000", 2130706431)).ok());
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000", 1000)).ok());
  Advance(TimeDelta::Millis(60));
  size_t cursor = 0;
  AnswerChecks(good, &cursor, Addr("192.0.2.10:5000"));  // only the worse pair answers
  const Timestamp valid_at = now_;
  Advance(TimeDelta::Millis(900));
  for (const Sent* s : RequestsTo(good, cursor)) EXPECT_FALSE(s->View().Has(stun::attr::kUseCandidate));
  Advance(TimeDelta::Millis(200));
  // nomination_timeout (1 s) after the first valid pair, the best valid pair is nominated.
  bool nominated = false;
  for (const Sent* s : RequestsTo(good, cursor)) {
    if (s->View().Has(stun::attr::kUseCandidate)) {
      nominated = true;
      EXPECT_EQ(s->at - valid_at, TimeDelta::Seconds(1));
    }
  }
  EXPECT_TRUE(nominated);
  for (const Sent* s : RequestsTo(better)) EXPECT_FALSE(s->View().Has(stun::attr::kUseCandidate));
}

TEST_F(AgentTest, ControlledAgentTakesTheNomination) {
  MakeReady(Config(Role::kControlled));
  const SocketAddress peer = Addr("198.51.100.99:7000");
  RequestOptions o;
  o.controlled.reset();
  o.controlling = 1;
  o.use_candidate = true;
  Receive(peer, Request(o));
  Advance(TimeDelta::Millis(60));
  size_t cursor = 1;  // skip our response
  AnswerChecks(peer, &cursor, Addr("192.0.2.10:5000"));
  const auto stats = agent_->GetStats();
  ASSERT_EQ(stats.pairs.size(), 1u);
  EXPECT_TRUE(stats.pairs[0].nominated);  // RFC 8445 §7.3.1.5: nominated when our triggered check succeeds
  EXPECT_TRUE(stats.pairs[0].selected);
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kConnected);
}

TEST_F(AgentTest, NonSymmetricResponsesFailThePair) {
  MakeReady();
  const SocketAddress remote = Addr("192.0.2.20:6000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Advance(TimeDelta::Millis(1));
  auto requests = RequestsTo(remote);
  ASSERT_EQ(requests.size(), 1u);
  // RFC 8445 §7.2.5.2.1: a response from another address fails the pair.
  Receive(Addr("192.0.2.99:6000"), SuccessFor(*requests[0], Addr("192.0.2.10:5000")));
  EXPECT_EQ(agent_->GetStats().pairs[0].state, PairState::kFailed);
  EXPECT_FALSE(agent_->selected_pair().has_value());
  // A response signed with the wrong password is dropped.
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.21:6000")).ok());
  Advance(TimeDelta::Millis(60));
  requests = RequestsTo(Addr("192.0.2.21:6000"));
  ASSERT_EQ(requests.size(), 1u);
  Receive(Addr("192.0.2.21:6000"),
          SuccessFor(*requests[0], Addr("192.0.2.10:5000"), "wrongPasswordWrongPwd22"));
  EXPECT_EQ(agent_->counters().dropped_bad_integrity, 1u);
  EXPECT_FALSE(agent_->selected_pair().has_value());
}

TEST_F(AgentTest, PeerReflexiveLocalCandidateFromTheMappedAddress) {
  MakeReady();
  const SocketAddress remote = Addr("192.0.2.20:6000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Advance(TimeDelta::Millis(1));
  size_t cursor = 0;
  AnswerChecks(remote, &cursor, Addr("203.0.113.77:40000"));  // seen through a NAT we did not know about
  auto selected = agent_->selected_pair();
  ASSERT_TRUE(selected.has_value());
  EXPECT_EQ(selected->first.type, CandidateType::kPeerReflexive);  // RFC 8445 §7.2.5.3.1
  EXPECT_EQ(selected->first.address, Addr("203.0.113.77:40000"));
  EXPECT_EQ(EventsOf<LocalCandidate>().size(), 1u);  // peer-reflexive candidates are not signalled
}

TEST_F(AgentTest, ApplicationDataOnlyFromKnownPaths) {
  MakeReady();
  const uint8_t dtls[] = {22, 254, 253, 0, 1};
  EXPECT_FALSE(agent_->SendData(now_, dtls).ok());
  EXPECT_FALSE(Receive(Addr("192.0.2.20:6000"), dtls).has_value());
  EXPECT_EQ(agent_->counters().dropped_unknown_source, 1u);
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Drain();
  auto got = Receive(Addr("192.0.2.20:6000"), dtls);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(std::vector<uint8_t>(got->begin(), got->end()),
            std::vector<uint8_t>(std::begin(dtls), std::end(dtls)));
  EXPECT_FALSE(Receive(Addr("192.0.2.20:6001"), dtls).has_value());
  EXPECT_EQ(agent_->counters().dropped_unknown_source, 2u);
  // An endpoint the agent does not know.
  EXPECT_FALSE(agent_->HandleReceive(now_, 999, Addr("192.0.2.20:6000"), dtls).has_value());
  EXPECT_EQ(agent_->counters().dropped_unknown_endpoint, 1u);
}

TEST_F(AgentTest, ValidatesRemoteCandidates) {
  MakeReady();
  Candidate c = RemoteHost("192.0.2.20:6000");
  c.component = 2;
  EXPECT_EQ(agent_->AddRemoteCandidate(now_, c).error().code, ErrorCode::kUnsupported);
  c = RemoteHost("192.0.2.20:6000");
  c.transport = "tcp";
  EXPECT_EQ(agent_->AddRemoteCandidate(now_, c).error().code, ErrorCode::kUnsupported);
  c = RemoteHost("192.0.2.20:6000");
  c.SetExtension("ufrag", "othr");
  EXPECT_EQ(agent_->AddRemoteCandidate(now_, c).error().code, ErrorCode::kInvalidArgument);
  c.SetExtension("ufrag", kRemoteUfrag);
  EXPECT_TRUE(agent_->AddRemoteCandidate(now_, c).ok());
  EXPECT_FALSE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:0")).ok());
  EXPECT_FALSE(agent_->AddRemoteCandidate(now_, RemoteHost("0.0.0.0:5")).ok());
  EXPECT_FALSE(agent_->AddRemoteCandidate(now_, RemoteHost("224.0.0.1:5")).ok());
  Candidate fqdn = RemoteHost("192.0.2.20:6000");
  fqdn.address = SocketAddress(IpAddress(), 6000);
  fqdn.hostname = "example.com";
  EXPECT_EQ(agent_->AddRemoteCandidate(now_, fqdn).error().code, ErrorCode::kUnsupported);
  EXPECT_EQ(agent_->counters().dropped_remote_candidates, 7u);
  EXPECT_FALSE(agent_->SetRemoteCredentials(now_, "ab", kRemotePwd).ok());
  EXPECT_FALSE(agent_->SetRemoteCredentials(now_, kRemoteUfrag, "short").ok());
}

TEST_F(AgentTest, LimitsRemoteCandidatesAndPairs) {
  AgentConfig c = Config();
  c.max_remote_candidates = 5;
  c.max_pairs = 3;
  MakeReady(c);
  int accepted = 0;
  for (int i = 0; i < 10; ++i) {
    const std::string a = "192.0.2." + std::to_string(20 + i) + ":6000";
    if (agent_->AddRemoteCandidate(now_, RemoteHost(a.c_str())).ok()) ++accepted;
  }
  EXPECT_EQ(accepted, 5);
  const auto stats = agent_->GetStats();
  EXPECT_EQ(stats.remote_candidates.size(), 5u);
  EXPECT_EQ(stats.pairs.size(), 3u);
  EXPECT_EQ(stats.counters.dropped_pairs_limit, 2u);
  EXPECT_EQ(stats.counters.dropped_remote_candidates, 5u);
}

TEST_F(AgentTest, ResolvesMdnsNamesThroughTheDriver) {
  MakeReady();
  Candidate c = *Candidate::Parse(
      "candidate:1 1 udp 2113937151 1f4712db-ea17-4bcf-a596-105139dfd8bf.local 6000 typ host");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, c).ok());
  Drain();
  auto asks = EventsOf<ResolveHostname>();
  ASSERT_EQ(asks.size(), 1u);
  EXPECT_EQ(asks[0].name, "1f4712db-ea17-4bcf-a596-105139dfd8bf.local");
  Advance(TimeDelta::Millis(100));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kChecking);
  agent_->HandleHostnameResolved(now_, asks[0].name, IpAddress::Parse("192.0.2.20"));
  Drain();
  Advance(TimeDelta::Millis(1));
  EXPECT_EQ(RequestsTo(Addr("192.0.2.20:6000")).size(), 1u);
  // The same name again (another port and foundation): no second question.
  c.address.set_port(6001);
  c.foundation = "7";
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, c).ok());
  Drain();
  EXPECT_EQ(EventsOf<ResolveHostname>().size(), 1u);
  Advance(TimeDelta::Millis(60));
  EXPECT_EQ(RequestsTo(Addr("192.0.2.20:6001")).size(), 1u);
  // A name that does not resolve: dropped and counted; asked for once, later candidates rejected at once.
  Candidate gone = *Candidate::Parse("candidate:2 1 udp 2113937151 gone.local 6000 typ host");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, gone).ok());
  Drain();
  agent_->HandleHostnameResolved(now_, "gone.local", std::nullopt);
  Drain();
  EXPECT_EQ(agent_->counters().dropped_unresolved_hostnames, 1u);
  EXPECT_FALSE(agent_->AddRemoteCandidate(now_, gone).ok());
  EXPECT_EQ(EventsOf<ResolveHostname>().size(), 2u);
  // Unsolicited answers are ignored.
  agent_->HandleHostnameResolved(now_, "never-asked.local", IpAddress::Parse("192.0.2.50"));
  EXPECT_EQ(agent_->GetStats().remote_candidates.size(), 2u);
}

TEST_F(AgentTest, ConsentChecksKeepThePathAndItsLossFailsIt) {
  MakeReady(Config(Role::kControlling));
  const SocketAddress remote = Addr("192.0.2.20:6000");
  const SocketAddress mapped = Addr("192.0.2.10:5000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  agent_->SetRemoteEndOfCandidates(now_);
  Advance(TimeDelta::Millis(1));
  size_t cursor = 0;
  AnswerChecks(remote, &cursor, mapped);
  AnswerChecks(remote, &cursor, mapped);  // the nomination
  ASSERT_EQ(agent_->connection_state(), ConnectionState::kCompleted);
  // The peer answers consent checks for a minute: they come every 4..6 s (RFC 7675 §5.1).
  std::vector<Timestamp> consent_times;
  for (int i = 0; i < 600; ++i) {
    Advance(TimeDelta::Millis(100));
    for (const Sent* s : RequestsTo(remote, cursor)) consent_times.push_back(s->at);
    AnswerChecks(remote, &cursor, mapped);
  }
  ASSERT_GE(consent_times.size(), 10u);
  for (size_t i = 1; i < consent_times.size(); ++i) {
    const TimeDelta gap = consent_times[i] - consent_times[i - 1];
    EXPECT_GE(gap, TimeDelta::Millis(4000));
    EXPECT_LE(gap, TimeDelta::Millis(6100));
  }
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kCompleted);
  // The peer goes silent: disconnected within a few seconds, failed 30 s after the last answer.
  const Timestamp silent_from = now_;
  Timestamp disconnected_at, failed_at;
  for (int i = 0; i < 400 && failed_at == Timestamp(); ++i) {
    Advance(TimeDelta::Millis(100));
    if (agent_->connection_state() == ConnectionState::kDisconnected && disconnected_at == Timestamp()) {
      disconnected_at = now_;
    }
    if (agent_->connection_state() == ConnectionState::kFailed) failed_at = now_;
  }
  ASSERT_NE(disconnected_at, Timestamp());
  ASSERT_NE(failed_at, Timestamp());
  EXPECT_LE(disconnected_at - silent_from, TimeDelta::Millis(6000 + 2600));
  EXPECT_GE(failed_at - silent_from, TimeDelta::Seconds(24));
  EXPECT_LE(failed_at - silent_from, TimeDelta::Seconds(31));
  const uint8_t data[] = {23, 254, 253};
  EXPECT_EQ(agent_->SendData(now_, data).error().code, ErrorCode::kUnavailable);  // RFC 7675: stop sending
  EXPECT_EQ(agent_->counters().consent_expirations, 1u);
  // Probing while unanswered: more than one consent request per 5 s.
  EXPECT_GT(RequestsTo(remote, cursor).size(), 10u);
}

TEST_F(AgentTest, ConsentRecoversWhenAnswersResume) {
  MakeReady(Config(Role::kControlling));
  const SocketAddress remote = Addr("192.0.2.20:6000");
  const SocketAddress mapped = Addr("192.0.2.10:5000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  agent_->SetRemoteEndOfCandidates(now_);
  Advance(TimeDelta::Millis(1));
  size_t cursor = 0;
  AnswerChecks(remote, &cursor, mapped);
  AnswerChecks(remote, &cursor, mapped);
  Advance(TimeDelta::Seconds(12));
  cursor = sent_.size();
  ASSERT_EQ(agent_->connection_state(), ConnectionState::kDisconnected);
  for (int i = 0; i < 20; ++i) {
    Advance(TimeDelta::Millis(100));
    AnswerChecks(remote, &cursor, mapped);
  }
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kCompleted);
}

TEST_F(AgentTest, LiteAgentAnswersAndFollowsTheNomination) {
  AgentConfig c = Config(Role::kControlling);
  c.lite = true;
  c.servers.push_back(ServerConfig::Stun(Addr("203.0.113.1:3478")));
  MakeReady(c);
  // Host candidates only, no STUN (RFC 8445 §2.5), gathering complete at once.
  const auto cands = EventsOf<LocalCandidate>();
  ASSERT_EQ(cands.size(), 1u);
  EXPECT_EQ(cands[0].candidate.type, CandidateType::kHost);
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kComplete);
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Advance(TimeDelta::Seconds(2));
  EXPECT_TRUE(sent_.empty());  // no checks of its own
  const SocketAddress peer = Addr("192.0.2.20:6000");
  RequestOptions o;
  o.controlled.reset();
  o.controlling = 1;
  Receive(peer, Request(o));
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].View().message_class(), stun::MessageClass::kSuccessResponse);
  o.use_candidate = true;
  Receive(peer, Request(o));
  const auto selected = agent_->selected_pair();
  ASSERT_TRUE(selected.has_value());
  EXPECT_EQ(selected->second.address, peer);
  EXPECT_TRUE(agent_->GetStats().pairs[0].nominated);
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kConnected);
  // A controlled peer: 487, a lite agent cannot take control.
  RequestOptions controlled;
  Receive(peer, Request(controlled));
  EXPECT_EQ(sent_.back().View().GetErrorCode()->code, stun::error::kRoleConflict);
  EXPECT_EQ(agent_->role(), Role::kControlled);
  // The peer's checks stop: failed after 30 s.
  for (int i = 0; i < 320; ++i) Advance(TimeDelta::Millis(100));
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kFailed);
  const auto states = States();
  EXPECT_NE(std::find(states.begin(), states.end(), ConnectionState::kDisconnected), states.end());
  for (const auto& s : sent_) EXPECT_FALSE(s.IsRequest());
}

TEST_F(AgentTest, RestartKeepsTheOldPathUntilANewOneIsSelected) {
  MakeReady(Config(Role::kControlling));
  const SocketAddress remote = Addr("192.0.2.20:6000");
  const SocketAddress mapped = Addr("192.0.2.10:5000");
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  agent_->SetRemoteEndOfCandidates(now_);
  Advance(TimeDelta::Millis(1));
  size_t cursor = 0;
  AnswerChecks(remote, &cursor, mapped);
  AnswerChecks(remote, &cursor, mapped);
  ASSERT_EQ(agent_->connection_state(), ConnectionState::kCompleted);
  const size_t selected_events = EventsOf<SelectedPairChanged>().size();
  agent_->Restart(now_, "NeWu", "newPasswordNewPassword");
  Drain();
  EXPECT_EQ(agent_->local_ufrag(), "NeWu");
  EXPECT_EQ(agent_->counters().restarts, 1u);
  // A new generation of candidates, with the new ufrag.
  const auto cands = EventsOf<LocalCandidate>();
  EXPECT_EQ(cands.back().candidate.Extension("ufrag"), "NeWu");
  // Data still flows over the previous pair; old-generation checks are still answered.
  const uint8_t data[] = {23, 254, 253, 9};
  ASSERT_TRUE(agent_->SendData(now_, data).ok());
  Drain();
  EXPECT_EQ(sent_.back().destination, remote);
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kConnected);
  Receive(remote, Request(RequestOptions{}));  // old credentials
  EXPECT_EQ(sent_.back().View().message_class(), stun::MessageClass::kSuccessResponse);
  // The peer's new credentials and candidate: a new pair gets selected.
  ASSERT_TRUE(agent_->SetRemoteCredentials(now_, "nEwR", "newRemotePasswordNewRe").ok());
  EXPECT_EQ(agent_->local_ufrag(), "NeWu");  // expected after our Restart: no second restart
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  Advance(TimeDelta::Millis(60));  // the next Ta slot
  auto requests = RequestsTo(remote, cursor);
  ASSERT_FALSE(requests.empty());
  const auto m = requests.back()->View();
  EXPECT_EQ(m.GetString(stun::attr::kUsername), "nEwR:NeWu");
  std::vector<uint8_t> response;
  stun::MessageBuilder(response, stun::Method::kBinding, stun::MessageClass::kSuccessResponse,
                       m.transaction_id())
      .AddXorAddress(stun::attr::kXorMappedAddress, mapped)
      .AddMessageIntegrity(AsBytes(std::string_view("newRemotePasswordNewRe")))
      .AddFingerprint()
      .Finish();
  Receive(remote, response);
  EXPECT_GT(EventsOf<SelectedPairChanged>().size(), selected_events);
  EXPECT_EQ(agent_->GetStats().pairs.size(), 1u);  // the previous path is gone
}

TEST_F(AgentTest, NewRemoteCredentialsRestartTheAgent) {
  MakeReady(Config(Role::kControlled));
  const std::string old = agent_->local_ufrag();
  ASSERT_TRUE(agent_->SetRemoteCredentials(now_, kRemoteUfrag, kRemotePwd).ok());  // same: nothing
  EXPECT_EQ(agent_->counters().restarts, 0u);
  ASSERT_TRUE(agent_->SetRemoteCredentials(now_, "pEeR", "peerRestartedPassword1").ok());
  EXPECT_EQ(agent_->counters().restarts, 1u);  // RFC 8445 §9: the peer restarted
  EXPECT_NE(agent_->local_ufrag(), old);
}

TEST_F(AgentTest, TurnOverTlsAsksTheDriverForAStreamAndFramesWhatComesBack) {
  AgentConfig c = Config();
  const SocketAddress server = Addr("203.0.113.2:443");
  c.servers.push_back(
      ServerConfig::Turn(server, "user", "pass", turn_client::Transport::kTls, "turn.example.com"));
  Make(c);
  ep_ = agent_->AddHostEndpoint(now_, Addr("192.0.2.10:5000"));
  agent_->StartGathering(now_);
  Drain();
  const auto opens = EventsOf<OpenStream>();
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_TRUE(opens[0].tls);
  EXPECT_EQ(opens[0].server, server);
  EXPECT_EQ(opens[0].server_name, "turn.example.com");
  const EndpointId stream = opens[0].endpoint;
  EXPECT_NE(stream, ep_);
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kGathering);  // waits for the relay
  EXPECT_TRUE(sent_.empty());
  agent_->HandleStreamOpened(now_, stream, Addr("192.0.2.10:40000"));
  Drain();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].endpoint, stream);
  EXPECT_EQ(sent_[0].destination, server);
  const auto allocate = sent_[0].View();
  EXPECT_EQ(allocate.method(), stun::Method::kAllocate);
  EXPECT_FALSE(allocate.Has(stun::attr::kMessageIntegrity));
  // The 401 challenge arrives in two pieces: the agent frames the stream (RFC 8656 §12.5) before the TURN
  // client sees it, which then retries signed.
  std::vector<uint8_t> challenge;
  stun::MessageBuilder(challenge, stun::Method::kAllocate, stun::MessageClass::kErrorResponse,
                       allocate.transaction_id())
      .AddErrorCode(stun::error::kUnauthorized)
      .AddString(stun::attr::kRealm, "example.org")
      .AddString(stun::attr::kNonce, "nonce-123")
      .Finish();
  agent_->HandleStreamData(now_, stream, ByteSpan(challenge).subspan(0, 7));
  Drain();
  EXPECT_EQ(sent_.size(), 1u);
  agent_->HandleStreamData(now_, stream, ByteSpan(challenge).subspan(7));
  Drain();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].endpoint, stream);
  EXPECT_TRUE(sent_[1].View().Has(stun::attr::kMessageIntegrity));
  EXPECT_EQ(sent_[1].View().GetString(stun::attr::kUsername), "user");
  // Bytes that are not STUN or ChannelData end the stream: the agent asks the driver to close it.
  const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  agent_->HandleStreamData(now_, stream, junk);
  Drain();
  const auto closes = EventsOf<CloseStream>();
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].endpoint, stream);
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kComplete);
  EXPECT_GT(agent_->counters().dropped_stream_bytes, 0u);
  // Data for a stream that is gone, or that never was, is counted and dropped.
  agent_->HandleStreamData(now_, stream, challenge);
  agent_->HandleStreamData(now_, 12345, challenge);
  EXPECT_EQ(agent_->counters().dropped_unknown_endpoint, 2u);
}

TEST_F(AgentTest, AStreamThatFailsToOpenEndsThatRelaysGathering) {
  AgentConfig c = Config();
  c.servers.push_back(
      ServerConfig::Turn(Addr("203.0.113.2:3478"), "user", "pass", turn_client::Transport::kTcp));
  Make(c);
  ep_ = agent_->AddHostEndpoint(now_, Addr("192.0.2.10:5000"));
  agent_->StartGathering(now_);
  Drain();
  const auto opens = EventsOf<OpenStream>();
  ASSERT_EQ(opens.size(), 1u);
  EXPECT_FALSE(opens[0].tls);
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kGathering);
  agent_->HandleStreamClosed(now_, opens[0].endpoint);
  Drain();
  EXPECT_EQ(agent_->gathering_state(), GatheringState::kComplete);
  EXPECT_TRUE(EventsOf<CloseStream>().empty());  // the driver closed it; nothing to ask
}

TEST_F(AgentTest, CloseStopsEverything) {
  MakeReady();
  ASSERT_TRUE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.20:6000")).ok());
  agent_->Close(now_);
  Drain();
  EXPECT_EQ(agent_->connection_state(), ConnectionState::kClosed);
  EXPECT_EQ(States().back(), ConnectionState::kClosed);
  EXPECT_EQ(agent_->PollTimeout(), Timestamp::Infinity());
  const size_t before = sent_.size();
  Receive(Addr("192.0.2.20:6000"), Request(RequestOptions{}));
  EXPECT_EQ(sent_.size(), before);
  EXPECT_FALSE(agent_->AddRemoteCandidate(now_, RemoteHost("192.0.2.21:6000")).ok());
  const uint8_t data[] = {23};
  EXPECT_FALSE(agent_->SendData(now_, data).ok());
}

}  // namespace
}  // namespace tandem::ice
