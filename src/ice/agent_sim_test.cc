// Two ICE agents over the simulated network (testing/sim_network.h): LANs, every NAT combination with and
// without a TURN server, lossy and reordering links, trickle timing, role conflicts, consent loss and
// restart, ICE-lite, relay-only policy, mDNS names, TURN over TCP and hostile input. Everything runs on
// simulated time.
#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ice/agent.h"
#include "stun/message.h"
#include "testing/sim_ice.h"
#include "testing/sim_network.h"
#include "testing/sim_servers.h"

namespace tandem::ice {
namespace {

using sim::NatType;
using sim::NodeId;

IpAddress Ip(const char* s) { return *IpAddress::Parse(s); }

struct PeerSpec {
  std::optional<NatType> nat;  // nullopt: a host on the internet
  const char* public_ip = nullptr;
  const char* lan_ip = nullptr;
  Role role = Role::kControlling;
  bool lite = false;
  bool relay_only = false;
  bool stun = true;
  bool turn = false;
  turn_client::Transport turn_transport = turn_client::Transport::kUdp;
};

class IceSimTest : public ::testing::Test {
 protected:
  explicit IceSimTest(uint64_t seed = 1) : net_(seed) {
    stun_host_ = net_.AddHost(Ip("203.0.113.1"));
    turn_host_ = net_.AddHost(Ip("203.0.113.2"));
    stun_ = std::make_unique<sim::SimStunServer>(net_, stun_host_);
    turn_ = std::make_unique<sim::SimTurnServer>(net_, turn_host_);
  }

  struct Peer {
    NodeId nat = sim::kNoNode;
    NodeId host = sim::kNoNode;
    std::unique_ptr<sim::SimIceAgent> agent;
  };

  static AgentConfig ConfigFor(const PeerSpec& spec, const sim::SimStunServer& stun,
                               const sim::SimTurnServer& turn) {
    AgentConfig c;
    c.role = spec.role;
    c.lite = spec.lite;
    c.relay_only = spec.relay_only;
    if (spec.stun) c.servers.push_back(ServerConfig::Stun(stun.address()));
    if (spec.turn)
      c.servers.push_back(ServerConfig::Turn(turn.address(), "user", "pass", spec.turn_transport));
    return c;
  }

  Peer& AddPeer(const std::string& name, const PeerSpec& spec,
                std::optional<AgentConfig> config = std::nullopt) {
    Peer p;
    if (spec.nat) {
      p.nat = net_.AddNat(Ip(spec.public_ip), *spec.nat);
      p.host = net_.AddHost(Ip(spec.lan_ip), p.nat);
    } else {
      p.host = net_.AddHost(Ip(spec.public_ip));
    }
    AgentConfig c = config ? *config : ConfigFor(spec, *stun_, *turn_);
    p.agent = std::make_unique<sim::SimIceAgent>(net_, name, std::move(c), seed_++);
    p.agent->AddInterface(p.host);
    peers_.push_back(std::move(p));
    return peers_.back();
  }

  void Wire(Peer& a, Peer& b) { signaling_ = std::make_unique<sim::SimSignaling>(net_, *a.agent, *b.agent); }

  static bool Usable(const sim::SimIceAgent& a) {
    const auto s = a.state();
    return (s == ConnectionState::kConnected || s == ConnectionState::kCompleted) &&
           a.agent().selected_pair().has_value();
  }
  bool RunUntilConnected(Peer& a, Peer& b, TimeDelta max) {
    return net_.RunUntil([&] { return Usable(*a.agent) && Usable(*b.agent); }, max);
  }
  bool RunUntilFailed(Peer& a, TimeDelta max) {
    return net_.RunUntil([&] { return a.agent->state() == ConnectionState::kFailed; }, max);
  }

  // Sends `count` datagrams from -> to, one every `spacing`; returns how many arrived intact and in one
  // piece.
  size_t Exchange(Peer& from, Peer& to, int count, TimeDelta spacing = TimeDelta::Millis(10)) {
    const size_t before = to.agent->received.size();
    for (int i = 0; i < count; ++i) {
      std::vector<uint8_t> payload = {23, 254, 253, static_cast<uint8_t>(i), 0xab, 0xcd};
      (void)from.agent->Send(payload);
      net_.RunFor(spacing);
    }
    net_.RunFor(TimeDelta::Seconds(1));
    size_t ok = 0;
    for (size_t i = before; i < to.agent->received.size(); ++i) {
      const auto& r = to.agent->received[i];
      if (r.size() == 6 && r[0] == 23 && r[4] == 0xab) ++ok;
    }
    return ok;
  }

  static bool UsesRelay(const sim::SimIceAgent& a) {
    auto sel = a.agent().selected_pair();
    return sel && (sel->first.type == CandidateType::kRelayed || sel->second.type == CandidateType::kRelayed);
  }

  sim::Network net_;
  NodeId stun_host_, turn_host_;
  std::unique_ptr<sim::SimStunServer> stun_;
  std::unique_ptr<sim::SimTurnServer> turn_;
  std::deque<Peer> peers_;  // stable references
  std::unique_ptr<sim::SimSignaling> signaling_;
  uint64_t seed_ = 100;
};

// ---------------------------------------------------------------------------------------------------------------

TEST_F(IceSimTest, DirectOnOneLan) {
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), NatType::kPortRestricted);
  const NodeId ha = net_.AddHost(Ip("192.168.1.2"), nat);
  const NodeId hb = net_.AddHost(Ip("192.168.1.3"), nat);
  AgentConfig ca = ConfigFor(PeerSpec{}, *stun_, *turn_);
  AgentConfig cb = ca;
  cb.role = Role::kControlled;
  sim::SimIceAgent a(net_, "a", ca, 1), b(net_, "b", cb, 2);
  a.AddInterface(ha);
  b.AddInterface(hb);
  sim::SimSignaling sig(net_, a, b);
  a.StartGathering();
  b.StartGathering();
  ASSERT_TRUE(net_.RunUntil([&] { return Usable(a) && Usable(b); }, TimeDelta::Seconds(10)));
  // Host to host on the LAN (the highest-priority pair).
  auto sel = a.agent().selected_pair();
  EXPECT_EQ(sel->first.type, CandidateType::kHost);
  EXPECT_EQ(sel->second.type, CandidateType::kHost);
  EXPECT_EQ(sel->second.address.ip(), Ip("192.168.1.3"));
  // Both sides completed after nomination and end-of-candidates.
  ASSERT_TRUE(net_.RunUntil(
      [&] { return a.state() == ConnectionState::kCompleted && b.state() == ConnectionState::kCompleted; },
      TimeDelta::Seconds(10)));
  EXPECT_EQ(a.agent().GetStats().counters.dropped_unknown_source, 0u);
  // Candidates crossed the signaling as text and all parsed.
  EXPECT_GT(sig.candidates_sent, 0u);
  EXPECT_EQ(sig.candidates_rejected, 0u);
}

// --- NAT matrix ---

struct MatrixCase {
  std::optional<NatType> a, b;
  bool turn = false;
};

std::string NatName(const std::optional<NatType>& t) {
  if (!t) return "public";
  std::string s = sim::ToString(*t);
  std::erase(s, '-');
  return s;
}

// ICE without a relay works unless both NATs filter by port and at least one maps per destination.
bool DirectPossible(const std::optional<NatType>& a, const std::optional<NatType>& b) {
  auto hard = [](const std::optional<NatType>& t) { return t == NatType::kSymmetric; };
  auto port_filter = [](const std::optional<NatType>& t) {
    return t == NatType::kPortRestricted || t == NatType::kSymmetric;
  };
  if ((hard(a) && port_filter(b)) || (hard(b) && port_filter(a))) return false;
  return true;
}

class NatMatrixTest : public IceSimTest, public ::testing::WithParamInterface<MatrixCase> {};

TEST_P(NatMatrixTest, ConnectsWhereIceCan) {
  const MatrixCase c = GetParam();
  // Both LANs use the same private addresses, as home networks do.
  Peer& a = AddPeer(
      "a", PeerSpec{c.a, "198.51.100.10", "192.168.1.2", Role::kControlling, false, false, true, c.turn});
  Peer& b = AddPeer(
      "b", PeerSpec{c.b, "198.51.100.20", "192.168.1.2", Role::kControlled, false, false, true, c.turn});
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  const bool direct = DirectPossible(c.a, c.b);
  if (direct || c.turn) {
    ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)))
        << ToString(a.agent->state()) << " " << ToString(b.agent->state());
    net_.RunFor(TimeDelta::Seconds(3));  // let nomination settle
    EXPECT_EQ(Exchange(a, b, 20), 20u);
    EXPECT_EQ(Exchange(b, a, 20), 20u);
    // ICE prefers a direct path: the relay only when nothing else works.
    EXPECT_EQ(UsesRelay(*a.agent), !direct);
    EXPECT_EQ(UsesRelay(*b.agent), !direct);
    const auto sa = a.agent->agent().selected_pair(), sb = b.agent->agent().selected_pair();
    ASSERT_TRUE(sa && sb);
    if (!direct) {
      // Relayed: the peer sees our relayed address (or we its).
      EXPECT_TRUE(sa->first.type == CandidateType::kRelayed || sb->first.type == CandidateType::kRelayed);
    }
  } else {
    ASSERT_TRUE(RunUntilFailed(a, TimeDelta::Seconds(90))) << ToString(a.agent->state());
    ASSERT_TRUE(RunUntilFailed(b, TimeDelta::Seconds(30))) << ToString(b.agent->state());
    EXPECT_FALSE(a.agent->Reached(ConnectionState::kConnected));
  }
}

std::vector<MatrixCase> AllCombinations() {
  const std::optional<NatType> types[] = {std::nullopt, NatType::kFullCone, NatType::kRestrictedCone,
                                          NatType::kPortRestricted, NatType::kSymmetric};
  std::vector<MatrixCase> out;
  for (bool turn : {false, true}) {
    for (const auto& a : types) {
      for (const auto& b : types) out.push_back(MatrixCase{a, b, turn});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllNats, NatMatrixTest, ::testing::ValuesIn(AllCombinations()),
                         [](const auto& info) {
                           return NatName(info.param.a) + "_" + NatName(info.param.b) +
                                  (info.param.turn ? "_turn" : "");
                         });

// --- Impaired links ---

class LossyLinkTest : public IceSimTest, public ::testing::WithParamInterface<double> {};

TEST_P(LossyLinkTest, ConnectsAndCarriesDataDespiteLossDelayReorderingAndDuplicates) {
  const double loss = GetParam();
  Peer& a =
      AddPeer("a", PeerSpec{NatType::kPortRestricted, "198.51.100.10", "192.168.1.2", Role::kControlling});
  Peer& b = AddPeer("b", PeerSpec{NatType::kRestrictedCone, "198.51.100.20", "10.0.0.2", Role::kControlled});
  sim::LinkConditions bad;
  bad.latency = TimeDelta::Millis(40);
  bad.jitter = TimeDelta::Millis(30);
  bad.loss = loss;
  bad.duplicate = 0.05;
  bad.reorder = 0.1;
  net_.SetLink(a.nat, bad);
  net_.SetLink(b.nat, bad);
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(40)));
  net_.RunFor(TimeDelta::Seconds(5));
  // Each datagram crosses two lossy links.
  const double expected = 200 * (1 - loss) * (1 - loss);
  const size_t got = Exchange(a, b, 200);
  EXPECT_GT(static_cast<double>(got), expected * 0.75) << got;
  // A long lossy stretch: consent freshness must not declare the path dead.
  net_.RunFor(TimeDelta::Seconds(120));
  EXPECT_NE(a.agent->state(), ConnectionState::kFailed);
  EXPECT_NE(b.agent->state(), ConnectionState::kFailed);
  EXPECT_TRUE(a.agent->agent().SendData(net_.now(), std::vector<uint8_t>{23, 1}).ok());
}

INSTANTIATE_TEST_SUITE_P(Loss, LossyLinkTest, ::testing::Values(0.1, 0.2, 0.3), [](const auto& info) {
  return "percent" + std::to_string(int(info.param * 100 + 0.5));
});

// --- Trickle ---

TEST_F(IceSimTest, TrickledCandidatesArrivingLateAndOutOfOrder) {
  Peer& a = AddPeer("a", PeerSpec{NatType::kFullCone, "198.51.100.10", "192.168.1.2", Role::kControlling});
  Peer& b = AddPeer("b", PeerSpec{NatType::kSymmetric, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  signaling_->delay = TimeDelta::Millis(300);
  signaling_->jitter = TimeDelta::Millis(2000);  // candidates overtake each other
  a.agent->StartGathering();
  net_.RunFor(TimeDelta::Seconds(2));  // b joins late
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  EXPECT_EQ(Exchange(a, b, 10), 10u);
  // The symmetric side is reached through its peer-reflexive address (RFC 8445 §7.3.1.3).
  const auto sel = a.agent->agent().selected_pair();
  ASSERT_TRUE(sel.has_value());
  EXPECT_EQ(sel->second.type, CandidateType::kPeerReflexive);
  EXPECT_EQ(signaling_->candidates_rejected, 0u);
}

TEST_F(IceSimTest, WithoutTrickleAllCandidatesAtOnce) {
  Peer& a =
      AddPeer("a", PeerSpec{NatType::kRestrictedCone, "198.51.100.10", "192.168.1.2", Role::kControlling});
  Peer& b =
      AddPeer("b", PeerSpec{NatType::kPortRestricted, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  signaling_->trickle = false;
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  ASSERT_TRUE(
      net_.RunUntil([&] { return a.agent->state() == ConnectionState::kCompleted; }, TimeDelta::Seconds(10)));
}

TEST_F(IceSimTest, FailsOnlyAfterEndOfCandidatesOrItsTimeout) {
  const PeerSpec spec_a{NatType::kSymmetric, "198.51.100.10", "192.168.1.2", Role::kControlling};
  AgentConfig config_a = ConfigFor(spec_a, *stun_, *turn_);
  config_a.end_of_candidates_timeout = TimeDelta::Seconds(20);
  Peer& a = AddPeer("a", spec_a, config_a);
  Peer& b = AddPeer("b", PeerSpec{NatType::kSymmetric, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  signaling_->end_of_candidates = false;
  const Timestamp start = net_.now();
  a.agent->StartGathering();
  b.agent->StartGathering();
  // Every pair has failed after ~10 s; b (timeout 10 s after its last remote candidate) gives up then...
  ASSERT_TRUE(RunUntilFailed(b, TimeDelta::Seconds(15)));
  EXPECT_GE(net_.now() - start, TimeDelta::Seconds(9));
  // ...while a, whose timeout is 20 s, still waits for trickled candidates (RFC 8838 §8).
  net_.RunFor(TimeDelta::Seconds(3));
  EXPECT_EQ(a.agent->state(), ConnectionState::kChecking);
  for (const auto& p : a.agent->agent().GetStats().pairs) EXPECT_EQ(p.state, PairState::kFailed);
  ASSERT_TRUE(RunUntilFailed(a, TimeDelta::Seconds(10)));
  EXPECT_GE(net_.now() - start, TimeDelta::Seconds(20));
  EXPECT_LE(net_.now() - start, TimeDelta::Seconds(21));
}

TEST_F(IceSimTest, EndOfCandidatesEndsTheWait) {
  const PeerSpec spec_a{NatType::kSymmetric, "198.51.100.10", "192.168.1.2", Role::kControlling};
  AgentConfig config_a = ConfigFor(spec_a, *stun_, *turn_);
  config_a.end_of_candidates_timeout = TimeDelta::Seconds(100);
  Peer& a = AddPeer("a", spec_a, config_a);
  Peer& b = AddPeer("b", PeerSpec{NatType::kSymmetric, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  signaling_->end_of_candidates = false;
  a.agent->StartGathering();
  b.agent->StartGathering();
  net_.RunFor(TimeDelta::Seconds(30));
  EXPECT_EQ(a.agent->state(), ConnectionState::kChecking);
  a.agent->agent().SetRemoteEndOfCandidates(net_.now());
  a.agent->Drain();
  EXPECT_EQ(a.agent->state(), ConnectionState::kFailed);
}

// --- Roles ---

class RoleConflictTest : public IceSimTest, public ::testing::WithParamInterface<Role> {};

TEST_P(RoleConflictTest, BothSidesWithTheSameRoleEndUpWithDifferentRoles) {
  const Role role = GetParam();
  Peer& a = AddPeer("a", PeerSpec{NatType::kFullCone, "198.51.100.10", "192.168.1.2", role});
  Peer& b = AddPeer("b", PeerSpec{NatType::kPortRestricted, "198.51.100.20", "192.168.2.2", role});
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  ASSERT_TRUE(net_.RunUntil(
      [&] {
        return a.agent->state() == ConnectionState::kCompleted &&
               b.agent->state() == ConnectionState::kCompleted;
      },
      TimeDelta::Seconds(10)));
  EXPECT_NE(a.agent->agent().role(), b.agent->agent().role());
  // The side with the larger tie-breaker controls (RFC 8445 §7.3.1.1).
  const bool a_wins = a.agent->agent().tie_breaker() > b.agent->agent().tie_breaker();
  EXPECT_EQ(a.agent->agent().role(), a_wins ? Role::kControlling : Role::kControlled);
  size_t role_changes = 0;
  for (auto* p : {a.agent.get(), b.agent.get()}) {
    for (const auto& e : p->events) role_changes += std::holds_alternative<RoleChanged>(e) ? 1 : 0;
  }
  EXPECT_GE(role_changes, 1u);
  EXPECT_GE(a.agent->agent().counters().role_conflicts + b.agent->agent().counters().role_conflicts, 1u);
  EXPECT_EQ(Exchange(a, b, 10), 10u);
}

INSTANTIATE_TEST_SUITE_P(Roles, RoleConflictTest, ::testing::Values(Role::kControlling, Role::kControlled),
                         [](const auto& info) { return std::string(ToString(info.param)); });

// --- Consent and restart ---

TEST_F(IceSimTest, ConsentLossThenRecoveryWithRestart) {
  Peer& a =
      AddPeer("a", PeerSpec{NatType::kPortRestricted, "198.51.100.10", "192.168.1.2", Role::kControlling});
  Peer& b = AddPeer("b", PeerSpec{NatType::kFullCone, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  net_.RunFor(TimeDelta::Seconds(10));
  const Timestamp cut = net_.now();
  net_.SetLinkDown(a.nat, true);
  ASSERT_TRUE(net_.RunUntil([&] { return a.agent->state() == ConnectionState::kDisconnected; },
                            TimeDelta::Seconds(10)));
  EXPECT_LE(net_.now() - cut, TimeDelta::Millis(8600));  // consent interval * 1.2 + disconnected_timeout
  ASSERT_TRUE(RunUntilFailed(a, TimeDelta::Seconds(35)));
  EXPECT_LE(net_.now() - cut, TimeDelta::Seconds(31));
  EXPECT_GE(net_.now() - cut, TimeDelta::Seconds(24));
  ASSERT_TRUE(RunUntilFailed(b, TimeDelta::Seconds(10)));
  // RFC 7675 §5.1: no more data without consent.
  EXPECT_FALSE(a.agent->Send(std::vector<uint8_t>{23, 1}).ok());
  EXPECT_FALSE(b.agent->Send(std::vector<uint8_t>{23, 1}).ok());
  // The link comes back; an ICE restart (RFC 8445 §9) brings the connection back.
  net_.SetLinkDown(a.nat, false);
  a.agent->agent().Restart(net_.now());
  a.agent->Drain();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  EXPECT_EQ(b.agent->agent().counters().restarts, 1u);  // b followed the new remote credentials
  EXPECT_EQ(Exchange(a, b, 10), 10u);
  EXPECT_EQ(Exchange(b, a, 10), 10u);
}

TEST_F(IceSimTest, RestartWhileConnectedKeepsDataFlowing) {
  Peer& a =
      AddPeer("a", PeerSpec{NatType::kRestrictedCone, "198.51.100.10", "192.168.1.2", Role::kControlling});
  Peer& b =
      AddPeer("b", PeerSpec{NatType::kPortRestricted, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  net_.RunFor(TimeDelta::Seconds(3));
  const std::string old_ufrag = a.agent->agent().local_ufrag();
  size_t sent = 0, errors = 0;
  const size_t before = b.agent->received.size() + a.agent->received.size();
  for (int i = 0; i < 500; ++i) {  // 10 s of traffic both ways, restart at 1 s
    if (i == 50) {
      a.agent->agent().Restart(net_.now());
      a.agent->Drain();
    }
    for (auto* p : {a.agent.get(), b.agent.get()}) {
      if (p->Send(std::vector<uint8_t>{23, 254, 253, static_cast<uint8_t>(i)}).ok()) {
        ++sent;
      } else {
        ++errors;
      }
    }
    net_.RunFor(TimeDelta::Millis(20));
  }
  net_.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(b.agent->received.size() + a.agent->received.size() - before, sent);
  EXPECT_NE(a.agent->agent().local_ufrag(), old_ufrag);
  EXPECT_EQ(b.agent->agent().counters().restarts, 1u);
  // The new generation's pair carries the data now.
  EXPECT_TRUE(Usable(*a.agent));
  EXPECT_TRUE(Usable(*b.agent));
  for (const auto& p : a.agent->agent().GetStats().pairs) EXPECT_NE(p.local_candidate_id, "previous-local");
}

// --- ICE-lite ---

TEST_F(IceSimTest, LiteServerAndFullClient) {
  PeerSpec server_spec{std::nullopt, "203.0.113.50", nullptr, Role::kControlled, /*lite=*/true};
  server_spec.stun = false;
  Peer& server = AddPeer("lite", server_spec);
  Peer& client =
      AddPeer("full", PeerSpec{NatType::kSymmetric, "198.51.100.10", "192.168.1.2", Role::kControlling});
  Wire(client, server);
  client.agent->StartGathering();
  server.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(client, server, TimeDelta::Seconds(20)));
  EXPECT_EQ(server.agent->agent().role(), Role::kControlled);
  EXPECT_EQ(Exchange(client, server, 20), 20u);
  EXPECT_EQ(Exchange(server, client, 20), 20u);
  // The lite agent sends no checks: its requests_sent counters stay at zero.
  for (const auto& p : server.agent->agent().GetStats().pairs) EXPECT_EQ(p.requests_sent, 0u);
  // Consent from the full side keeps it alive for minutes.
  net_.RunFor(TimeDelta::Seconds(120));
  EXPECT_TRUE(Usable(*server.agent));
  EXPECT_TRUE(Usable(*client.agent));
  // The full agent goes away: the lite agent fails after its 30 s.
  net_.SetLinkDown(client.nat, true);
  ASSERT_TRUE(RunUntilFailed(server, TimeDelta::Seconds(40)));
}

TEST_F(IceSimTest, FullAgentConfiguredControlledAgainstLiteTakesControl) {
  PeerSpec server_spec{std::nullopt, "203.0.113.50", nullptr, Role::kControlled, /*lite=*/true};
  server_spec.stun = false;
  Peer& server = AddPeer("lite", server_spec);
  Peer& client =
      AddPeer("full", PeerSpec{NatType::kPortRestricted, "198.51.100.10", "192.168.1.2", Role::kControlled});
  Wire(client, server);
  client.agent->StartGathering();
  server.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(client, server, TimeDelta::Seconds(20)));
  EXPECT_EQ(client.agent->agent().role(), Role::kControlling);  // after the lite agent's 487
}

// --- Policies and names ---

TEST_F(IceSimTest, RelayOnlyPolicy) {
  PeerSpec sa{NatType::kFullCone, "198.51.100.10", "192.168.1.2", Role::kControlling};
  sa.relay_only = true;
  sa.turn = true;
  Peer& a = AddPeer("a", sa);
  Peer& b = AddPeer("b", PeerSpec{NatType::kFullCone, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  // Only relayed candidates left a (no host or server-reflexive address leaks).
  ASSERT_FALSE(a.agent->gathered.empty());
  for (const auto& c : a.agent->gathered) {
    EXPECT_EQ(c.type, CandidateType::kRelayed);
    // RFC 8445 §5.1.1.2: the related address of a relayed candidate is the mapped address, here a's NAT.
    ASSERT_TRUE(c.related.has_value());
    EXPECT_EQ(c.related->ip(), Ip("198.51.100.10"));
    EXPECT_EQ(c.address.ip(), Ip("203.0.113.2"));
  }
  const auto sel = a.agent->agent().selected_pair();
  ASSERT_TRUE(sel.has_value());
  EXPECT_EQ(sel->first.type, CandidateType::kRelayed);
  EXPECT_EQ(Exchange(a, b, 20), 20u);
  EXPECT_EQ(Exchange(b, a, 20), 20u);
  EXPECT_GT(turn_->stats().packets_client_to_peer, 20u);
  const auto stats = a.agent->agent().GetStats();
  for (const auto& c : stats.local_candidates) {
    if (c.candidate.type == CandidateType::kRelayed) {
      EXPECT_EQ(c.relay_protocol, "udp");
    }
  }
}

TEST_F(IceSimTest, RestartRetriesAFailedTurnAllocation) {
  PeerSpec sa{NatType::kPortRestricted, "198.51.100.10", "192.168.1.2", Role::kControlling};
  sa.relay_only = true;
  sa.turn = true;
  Peer& a = AddPeer("a", sa);
  Peer& b = AddPeer("b", PeerSpec{NatType::kFullCone, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  net_.SetLinkDown(turn_host_, true);  // the TURN server is unreachable: the allocation times out
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(net_.RunUntil([&] { return a.agent->agent().gathering_state() == GatheringState::kComplete; },
                            TimeDelta::Seconds(60)));
  EXPECT_TRUE(a.agent->gathered.empty());
  ASSERT_TRUE(RunUntilFailed(a, TimeDelta::Seconds(5)));  // nothing to pair, end-of-candidates came
  // The server is back: a restart allocates again on the same socket, next to the failed session.
  net_.SetLinkDown(turn_host_, false);
  a.agent->agent().Restart(net_.now());
  a.agent->Drain();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  ASSERT_FALSE(a.agent->gathered.empty());
  EXPECT_EQ(a.agent->gathered.back().type, CandidateType::kRelayed);
  EXPECT_TRUE(UsesRelay(*a.agent));
  EXPECT_EQ(Exchange(a, b, 10), 10u);
}

TEST_F(IceSimTest, TurnOverTcpForSymmetricNats) {
  PeerSpec sa{NatType::kSymmetric, "198.51.100.10", "192.168.1.2", Role::kControlling};
  sa.turn = true;
  sa.turn_transport = turn_client::Transport::kTcp;
  PeerSpec sb{NatType::kSymmetric, "198.51.100.20", "192.168.2.2", Role::kControlled};
  sb.turn = true;
  sb.turn_transport = turn_client::Transport::kTcp;
  Peer& a = AddPeer("a", sa);
  Peer& b = AddPeer("b", sb);
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(30)));
  EXPECT_TRUE(UsesRelay(*a.agent));
  bool opened = false;
  for (const auto& e : a.agent->events) opened = opened || std::holds_alternative<OpenStream>(e);
  EXPECT_TRUE(opened);
  EXPECT_EQ(Exchange(a, b, 20), 20u);
  EXPECT_EQ(Exchange(b, a, 20), 20u);
  const auto stats = a.agent->agent().GetStats();
  bool tcp_relay = false;
  for (const auto& c : stats.local_candidates) tcp_relay = tcp_relay || c.relay_protocol == "tcp";
  EXPECT_TRUE(tcp_relay);
  a.agent->agent().Close(net_.now());
  a.agent->Drain();
  EXPECT_EQ(a.agent->state(), ConnectionState::kClosed);
}

TEST_F(IceSimTest, MdnsHostCandidatesResolveThroughTheDriver) {
  const NodeId nat = net_.AddNat(Ip("198.51.100.1"), NatType::kSymmetric);
  const NodeId ha = net_.AddHost(Ip("192.168.1.2"), nat);
  const NodeId hb = net_.AddHost(Ip("192.168.1.3"), nat);
  AgentConfig ca;  // no STUN: only host candidates, hidden behind names as browsers do
  AgentConfig cb;
  cb.role = Role::kControlled;
  sim::SimIceAgent a(net_, "a", ca, 1), b(net_, "b", cb, 2);
  a.AddInterface(ha);
  b.AddInterface(hb);
  sim::SimMdns mdns;
  b.set_mdns(&mdns);
  sim::SimSignaling sig(net_, a, b);
  int n = 0;
  sig.rewrite = [&](const sim::SimIceAgent& from, const std::string& line) -> std::optional<std::string> {
    if (&from != &a) return line;
    auto c = *Candidate::Parse(line);
    const std::string name = "a1b2c3d4-0000-4000-8000-00000000000" + std::to_string(n++) + ".local";
    mdns.Register(name, c.address.ip());
    c.hostname = name;
    c.address = SocketAddress(IpAddress(), c.address.port());
    return c.ToString();
  };
  a.StartGathering();
  b.StartGathering();
  ASSERT_TRUE(net_.RunUntil([&] { return Usable(a) && Usable(b); }, TimeDelta::Seconds(10)));
  EXPECT_EQ(mdns.queries, 1u);
  auto sel = b.agent().selected_pair();
  EXPECT_EQ(sel->second.address.ip(), Ip("192.168.1.2"));
  EXPECT_EQ(sel->second.type,
            CandidateType::kHost);  // the signalled (resolved) candidate, not peer-reflexive
  // A name nobody answers for: dropped and counted.
  Candidate ghost = *Candidate::Parse("candidate:9 1 udp 2122260223 ghost.local 9 typ host");
  ASSERT_TRUE(b.agent().AddRemoteCandidate(net_.now(), ghost).ok());
  b.Drain();
  net_.RunFor(TimeDelta::Seconds(1));
  EXPECT_EQ(b.agent().counters().dropped_unresolved_hostnames, 1u);
}

TEST_F(IceSimTest, MultihomedDualStackPrefersIpv6) {
  const NodeId a4 = net_.AddHost(Ip("203.0.113.10"));
  const NodeId a6 = net_.AddHost(Ip("2001:db8::10"));
  const NodeId b4 = net_.AddHost(Ip("203.0.113.20"));
  const NodeId b6 = net_.AddHost(Ip("2001:db8::20"));
  AgentConfig ca, cb;
  cb.role = Role::kControlled;
  sim::SimIceAgent a(net_, "a", ca, 1), b(net_, "b", cb, 2);
  a.AddInterface(a4);
  a.AddInterface(a6);
  b.AddInterface(b4);
  b.AddInterface(b6);
  sim::SimSignaling sig(net_, a, b);
  a.StartGathering();
  b.StartGathering();
  ASSERT_TRUE(net_.RunUntil([&] { return a.state() == ConnectionState::kCompleted && Usable(b); },
                            TimeDelta::Seconds(10)));
  EXPECT_TRUE(a.agent().selected_pair()->first.address.ip().is_v6());  // RFC 8421
  // The IPv6 path breaks: after a restart, IPv4 carries on.
  net_.SetLinkDown(a6, true);
  ASSERT_TRUE(net_.RunUntil([&] { return a.state() == ConnectionState::kFailed; }, TimeDelta::Seconds(40)));
  a.agent().Restart(net_.now());
  a.Drain();
  ASSERT_TRUE(net_.RunUntil([&] { return Usable(a) && Usable(b); }, TimeDelta::Seconds(20)));
  EXPECT_TRUE(a.agent().selected_pair()->first.address.ip().is_v4());
}

// --- Hostile input ---

TEST_F(IceSimTest, HostileInputIsDroppedAndCounted) {
  Peer& a = AddPeer("a", PeerSpec{std::nullopt, "203.0.113.60", nullptr, Role::kControlling});
  Peer& b = AddPeer("b", PeerSpec{NatType::kFullCone, "198.51.100.20", "192.168.2.2", Role::kControlled});
  Wire(a, b);
  a.agent->StartGathering();
  b.agent->StartGathering();
  ASSERT_TRUE(RunUntilConnected(a, b, TimeDelta::Seconds(20)));
  const NodeId attacker = net_.AddHost(Ip("203.0.113.66"));
  const sim::SocketId s = net_.BindUdp(attacker, 666, [](Timestamp, const SocketAddress&, ByteSpan) {});
  const SocketAddress target = a.agent->gathered.front().address;
  SeededRng rng(99);
  std::vector<uint8_t> buf;
  for (int i = 0; i < 2000; ++i) {
    buf.assign(rng.Uniform(0, 200), 0);
    rng.Fill(buf);
    if (i % 4 == 0 && buf.size() >= 20) {  // looks like STUN: type, length, magic cookie
      buf.resize(20 + 4 * rng.Uniform(0, 10));
      buf[0] = static_cast<uint8_t>(rng.Uniform(0, 1));
      buf[1] = static_cast<uint8_t>(rng.Uniform(0, 255));
      StoreBe16(&buf[2], static_cast<uint16_t>(buf.size() - 20));
      StoreBe32(&buf[4], stun::kMagicCookie);
    }
    if (i % 4 == 1) {  // a well-formed request with a made-up password
      stun::TransactionId tid;
      rng.Fill(tid);
      stun::MessageBuilder(buf, stun::Method::kBinding, stun::MessageClass::kRequest, tid)
          .AddString(stun::attr::kUsername, a.agent->agent().local_ufrag() + ":x")
          .AddU32(stun::attr::kPriority, 1)
          .AddMessageIntegrity(AsBytes(std::string_view("guessedPasswordGuessed")))
          .AddFingerprint()
          .Finish();
    }
    if (i % 4 == 2) {  // a success response to nothing
      stun::TransactionId tid;
      rng.Fill(tid);
      stun::MessageBuilder(buf, stun::Method::kBinding, stun::MessageClass::kSuccessResponse, tid)
          .AddXorAddress(stun::attr::kXorMappedAddress, target)
          .AddFingerprint()
          .Finish();
    }
    net_.SendUdp(s, target, buf);
    if (i % 50 == 0) net_.RunFor(TimeDelta::Millis(10));
  }
  net_.RunFor(TimeDelta::Seconds(1));
  const Counters& c = a.agent->agent().counters();
  EXPECT_GT(c.dropped_bad_integrity, 400u);
  EXPECT_GT(c.dropped_unknown_transaction, 400u);
  EXPECT_GT(c.dropped_unknown_source + c.dropped_malformed + c.dropped_not_stun, 400u);
  EXPECT_TRUE(a.agent->received.empty());
  // Nothing of it reached the application, and the connection is unharmed.
  EXPECT_TRUE(Usable(*a.agent));
  EXPECT_EQ(Exchange(a, b, 10), 10u);
  EXPECT_EQ(a.agent->agent().GetStats().remote_candidates.size(),
            b.agent->gathered.size());  // no peer-reflexive candidate from the attacker
}

}  // namespace
}  // namespace tandem::ice
