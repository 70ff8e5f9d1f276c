// Whole peers (ICE + DTLS + SCTP + data channels + JSEP) over the simulated network: two PeerCores driven
// like the real driver drives them, with signaling through the simulated clock. Deterministic: fake time,
// seeded Rngs.
#include "peer/peer_core.h"

#include <gtest/gtest.h>

#include <ctime>
#include <deque>
#include <fstream>
#include <map>

#include "testing/sim_network.h"
#include "testing/sim_servers.h"

namespace tandem::peer {
namespace {

using sim::Network;
using sim::NodeId;

const dtls::Certificate& TestCertificate(int which) {
  static std::map<int, dtls::Certificate> certificates;
  auto it = certificates.find(which);
  if (it == certificates.end()) {
    SeededRng rng(100 + which);
    auto c = dtls::Certificate::Generate(UnixTime{1'780'000'000}, rng);
    it = certificates.emplace(which, std::move(*c)).first;
  }
  return it->second;
}

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 31 + seed + (i >> 11));
  return v;
}

// One peer on the simulated network: UDP sockets on its host interfaces, streams for TURN over TCP, the
// core's timer on the network's clock, and every event recorded.
class SimPeer final : public sim::Process {
 public:
  SimPeer(Network& net, std::string name, PeerCoreConfig config, uint64_t seed)
      : net_(net), name_(std::move(name)), rng_(seed), core_(std::move(config), rng_) {
    net_.AddProcess(this);
  }
  ~SimPeer() override { net_.RemoveProcess(this); }

  void AddInterface(NodeId host) {
    if (first_host_ == sim::kNoNode) first_host_ = host;
    auto slot = std::make_shared<ice::EndpointId>(0);
    const sim::SocketId socket =
        net_.BindUdp(host, 0, [this, slot](Timestamp now, const SocketAddress& from, ByteSpan d) {
          core_.HandleReceive(now, *slot, from, d);
          Drain();
        });
    *slot = core_.AddHostEndpoint(net_.now(), net_.LocalAddress(socket));
    sockets_[*slot] = socket;
  }

  Timestamp NextTimeout() const override { return core_.PollTimeout(); }
  void OnTimeout(Timestamp now) override {
    core_.HandleTimeout(now);
    Drain();
  }

  void Drain() {
    for (int guard = 0; guard < 100000; ++guard) {
      bool any = false;
      while (auto t = core_.PollTransmit()) {
        any = true;
        if (auto s = sockets_.find(t->endpoint); s != sockets_.end()) {
          net_.SendUdp(s->second, t->destination, t->data);
        } else if (auto st = streams_.find(t->endpoint); st != streams_.end()) {
          net_.StreamSend(st->second, t->data);
        }
      }
      while (auto e = core_.PollEvent()) {
        any = true;
        Handle(std::move(*e));
      }
      if (!any) return;
    }
  }

  PeerCore& core() { return core_; }
  const std::string& name() const { return name_; }

  // Recorded.
  std::vector<std::optional<IceCandidate>> candidates;
  std::vector<PeerConnectionState> states;
  std::vector<SignalingState> signaling;
  int negotiation_needed = 0;
  std::map<datachannel::ChannelHandle, std::vector<datachannel::ChannelEvent>> channel_events;
  std::vector<datachannel::ChannelHandle> announced;
  std::vector<TrackAddedEvent> tracks_added;
  std::vector<TransceiverId> tracks_ended;
  std::function<void(const std::optional<IceCandidate>&)> on_candidate;
  std::function<void()> on_negotiation_needed;
  std::function<void(const datachannel::ChannelEvent&)> on_channel_event;

  bool Reached(PeerConnectionState s) const {
    return std::find(states.begin(), states.end(), s) != states.end();
  }
  bool ChannelOpen(datachannel::ChannelHandle h) const {
    const auto* info = core_.FindDataChannel(h);
    return info && info->state == datachannel::ChannelState::kOpen;
  }
  std::vector<std::vector<uint8_t>> Messages(datachannel::ChannelHandle h) const {
    std::vector<std::vector<uint8_t>> out;
    auto it = channel_events.find(h);
    if (it == channel_events.end()) return out;
    for (const auto& e : it->second) {
      if (e.kind == datachannel::ChannelEvent::Kind::kMessage) out.push_back(e.data);
    }
    return out;
  }

 private:
  void Handle(PeerEvent event) {
    if (auto* c = std::get_if<IceCandidateEvent>(&event)) {
      candidates.push_back(c->candidate);
      if (on_candidate) on_candidate(c->candidate);
    } else if (auto* s = std::get_if<ConnectionStateEvent>(&event)) {
      states.push_back(s->state);
    } else if (auto* g = std::get_if<SignalingStateEvent>(&event)) {
      signaling.push_back(g->state);
    } else if (std::get_if<NegotiationNeededEvent>(&event)) {
      ++negotiation_needed;
      if (on_negotiation_needed) on_negotiation_needed();
    } else if (auto* d = std::get_if<DataChannelEvent>(&event)) {
      channel_events[d->event.handle].push_back(d->event);
      if (d->event.kind == datachannel::ChannelEvent::Kind::kAnnounced) announced.push_back(d->event.handle);
      if (on_channel_event) on_channel_event(d->event);
    } else if (auto* t = std::get_if<TrackAddedEvent>(&event)) {
      tracks_added.push_back(*t);
    } else if (auto* t = std::get_if<TrackEndedEvent>(&event)) {
      tracks_ended.push_back(t->transceiver);
    } else if (auto* o = std::get_if<OpenStreamRequest>(&event)) {
      const ice::EndpointId id = o->request.endpoint;
      sim::StreamHandlers h;
      h.on_connected = [this, id](Timestamp t, const SocketAddress& local) {
        core_.HandleStreamOpened(t, id, local);
        Drain();
      };
      h.on_data = [this, id](Timestamp t, ByteSpan data) {
        core_.HandleStreamData(t, id, data);
        Drain();
      };
      h.on_closed = [this, id](Timestamp t) {
        streams_.erase(id);
        core_.HandleStreamClosed(t, id);
        Drain();
      };
      streams_[id] = net_.ConnectStream(first_host_, o->request.server, std::move(h));
    }
  }

  Network& net_;
  std::string name_;
  SeededRng rng_;
  PeerCore core_;
  NodeId first_host_ = sim::kNoNode;
  std::map<ice::EndpointId, sim::SocketId> sockets_;
  std::map<ice::EndpointId, sim::StreamId> streams_;
};

PeerCoreConfig Config(int certificate) {
  PeerCoreConfig config;
  config.certificate = TestCertificate(certificate);
  return config;
}

// Two peers and the signaling between them (SDP and trickled candidates, each `delay` late).
class PeerPairTest : public ::testing::Test {
 protected:
  void Make(PeerCoreConfig a_config = Config(1), PeerCoreConfig b_config = Config(2)) {
    a_ = std::make_unique<SimPeer>(net_, "a", std::move(a_config), 11);
    b_ = std::make_unique<SimPeer>(net_, "b", std::move(b_config), 22);
    a_->on_candidate = [this](const std::optional<IceCandidate>& c) { Trickle(*b_, c); };
    b_->on_candidate = [this](const std::optional<IceCandidate>& c) { Trickle(*a_, c); };
  }

  void Trickle(SimPeer& to, const std::optional<IceCandidate>& c) {
    if (drop_candidates_) return;
    net_.Schedule(net_.now() + signaling_delay_, [this, &to, c] {
      const JsepStatus s = to.core().AddIceCandidate(net_.now(), c);
      if (s) ++candidate_errors_;
      to.Drain();
    });
  }

  // a offers, b answers; the SDP travels with the signaling delay (the answer can be held longer).
  void Negotiate(TimeDelta answer_delay = TimeDelta::Zero()) {
    auto offer = a_->core().CreateOffer(net_.now(), false);
    ASSERT_TRUE(offer.ok()) << offer.error().message;
    ASSERT_FALSE(a_->core().SetLocalDescription(net_.now(), SdpType::kOffer, offer.value()));
    const std::string offer_text = offer.value();
    // Signalled before the candidates the description starts gathering (W3C: events fire after the call).
    net_.Schedule(net_.now() + signaling_delay_, [this, offer_text, answer_delay] {
      auto error = b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, offer_text);
      ASSERT_FALSE(error) << error->message;
      auto answer = b_->core().CreateAnswer(net_.now());
      ASSERT_TRUE(answer.ok()) << answer.error().message;
      ASSERT_FALSE(b_->core().SetLocalDescription(net_.now(), SdpType::kAnswer, answer.value()));
      const std::string answer_text = answer.value();
      net_.Schedule(net_.now() + signaling_delay_ + answer_delay, [this, answer_text] {
        auto e = a_->core().SetRemoteDescription(net_.now(), SdpType::kAnswer, answer_text);
        ASSERT_FALSE(e) << e->message;
        a_->Drain();
      });
      b_->Drain();
    });
    a_->Drain();
  }

  bool BothConnected(TimeDelta within = TimeDelta::Seconds(20)) {
    return net_.RunUntil(
        [&] {
          return a_->core().connection_state() == PeerConnectionState::kConnected &&
                 b_->core().connection_state() == PeerConnectionState::kConnected;
        },
        within);
  }

  // Both peers' states, for failure messages.
  std::string Describe() {
    std::string out;
    for (SimPeer* p : {a_.get(), b_.get()}) {
      PeerCore& c = p->core();
      out += p->name() + ": pc=" + ToString(c.connection_state()) +
             " ice=" + ToString(c.ice_connection_state()) + " signaling=" + ToString(c.signaling_state()) +
             " dtls=" + (c.dtls_transport() ? dtls::ToString(c.dtls_transport()->state()) : "none") +
             " sctp=" + (c.sctp_association() ? sctp::ToString(c.sctp_association()->state()) : "none") +
             " candidates=" + std::to_string(p->candidates.size()) + "; ";
    }
    return out + "candidate errors=" + std::to_string(candidate_errors_);
  }

  datachannel::ChannelHandle Create(SimPeer& p, const std::string& label, datachannel::Reliability r = {}) {
    datachannel::ChannelInit init;
    init.label = label;
    init.reliability = r;
    auto h = p.core().CreateDataChannel(init);
    EXPECT_TRUE(h.ok());
    p.Drain();
    return h.value();
  }

  // The channel the other side announced with this label.
  std::optional<datachannel::ChannelHandle> Announced(SimPeer& p, const std::string& label) {
    for (auto h : p.announced) {
      if (p.core().FindDataChannel(h)->init.label == label) return h;
    }
    return std::nullopt;
  }

  Network net_{42};
  std::unique_ptr<SimPeer> a_, b_;
  TimeDelta signaling_delay_ = TimeDelta::Millis(40);
  bool drop_candidates_ = false;
  int candidate_errors_ = 0;
};

TEST_F(PeerPairTest, DataChannelOpensAndCarriesMessagesBothWaysOnALan) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto chat = Create(*a_, "chat");
  EXPECT_EQ(a_->negotiation_needed, 1) << "the first channel needs an m=application section";
  Negotiate();
  ASSERT_TRUE(BothConnected()) << Describe();
  ASSERT_TRUE(
      net_.RunUntil([&] { return a_->ChannelOpen(chat) && Announced(*b_, "chat"); }, TimeDelta::Seconds(5)));
  const auto remote = *Announced(*b_, "chat");
  ASSERT_TRUE(a_->core().SendData(chat, Pattern(100, 1), true).ok());
  ASSERT_TRUE(b_->core().SendData(remote, std::vector<uint8_t>{'h', 'i'}, false).ok());
  a_->Drain();
  b_->Drain();
  ASSERT_TRUE(net_.RunUntil([&] { return !b_->Messages(remote).empty() && !a_->Messages(chat).empty(); },
                            TimeDelta::Seconds(2)));
  EXPECT_EQ(b_->Messages(remote)[0], Pattern(100, 1));
  EXPECT_EQ(a_->Messages(chat)[0], (std::vector<uint8_t>{'h', 'i'}));
  // The DTLS roles follow a=setup: the answerer chose active (client); the stream id is the client's (odd for
  // the server a).
  EXPECT_EQ(b_->core().dtls_transport()->role(), dtls::Role::kClient);
  EXPECT_EQ(a_->core().FindDataChannel(chat)->id, 1);
  EXPECT_EQ(a_->core().signaling_state(), SignalingState::kStable);
  EXPECT_EQ(b_->core().signaling_state(), SignalingState::kStable);
  EXPECT_EQ(candidate_errors_, 0);
  // Stats name the selected pair and the channel counters.
  StatsReport stats = a_->core().GetStats(net_.now(), 0);
  ASSERT_NE(stats.SelectedCandidatePair(), nullptr);
  EXPECT_EQ(stats.SelectedCandidatePair()->String("state"), "succeeded");
  bool found = false;
  for (const RtcStats* dc : stats.OfType("data-channel")) {
    if (dc->String("label") == "chat") {
      found = true;
      EXPECT_EQ(dc->Number("messagesSent"), 1);
      EXPECT_EQ(dc->Number("messagesReceived"), 1);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(PeerPairTest, LargeMessagesSurviveLossReorderingAndDuplication) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  sim::LinkConditions bad;
  bad.latency = TimeDelta::Millis(20);
  bad.jitter = TimeDelta::Millis(10);
  bad.loss = 0.05;
  bad.duplicate = 0.02;
  bad.reorder = 0.05;
  net_.SetLink(ha, bad);
  net_.SetLink(hb, bad);
  PeerCoreConfig big_a = Config(1), big_b = Config(2);
  big_a.max_message_size = big_b.max_message_size = 2 << 20;
  Make(std::move(big_a), std::move(big_b));
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto channel = Create(*a_, "bulk");
  Negotiate();
  ASSERT_TRUE(BothConnected(TimeDelta::Seconds(30))) << Describe();
  ASSERT_TRUE(net_.RunUntil([&] { return a_->ChannelOpen(channel); }, TimeDelta::Seconds(10)));
  const std::vector<size_t> sizes = {1, 1200, 65536, 262144, 1 << 20};
  for (size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(a_->core().SendData(channel, Pattern(sizes[i], static_cast<uint8_t>(i)), true).ok());
  }
  a_->Drain();
  ASSERT_TRUE(net_.RunUntil(
      [&] {
        auto remote = Announced(*b_, "bulk");
        return remote && b_->Messages(*remote).size() == sizes.size();
      },
      TimeDelta::Seconds(120)));
  const auto messages = b_->Messages(*Announced(*b_, "bulk"));
  for (size_t i = 0; i < sizes.size(); ++i)
    EXPECT_EQ(messages[i], Pattern(sizes[i], static_cast<uint8_t>(i))) << i;
  EXPECT_GT(net_.stats().dropped_loss, 0u);
}

TEST_F(PeerPairTest, ConnectsThroughNatsAndFallsBackToTurnBetweenSymmetricNats) {
  // Internet: a TURN server. Each peer behind a symmetric NAT: only relaying works (RFC 8445 §2).
  const NodeId turn_host = net_.AddHost(*IpAddress::Parse("203.0.113.10"));
  sim::SimTurnServer turn(net_, turn_host);
  const NodeId nat_a = net_.AddNat(*IpAddress::Parse("198.51.100.1"), sim::NatType::kSymmetric);
  const NodeId nat_b = net_.AddNat(*IpAddress::Parse("198.51.100.2"), sim::NatType::kSymmetric);
  const NodeId ha = net_.AddHost(*IpAddress::Parse("192.168.1.10"), nat_a);
  const NodeId hb = net_.AddHost(*IpAddress::Parse("192.168.1.10"), nat_b);
  auto with_turn = [&](int cert) {
    PeerCoreConfig c = Config(cert);
    ice::ServerConfig server;
    server.kind = ice::ServerConfig::kTurn;
    server.address = turn.address();
    server.username = "user";
    server.password = "pass";
    c.ice_servers.push_back(server);
    return c;
  };
  Make(with_turn(1), with_turn(2));
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto channel = Create(*a_, "through-turn");
  Negotiate();
  ASSERT_TRUE(BothConnected(TimeDelta::Seconds(30))) << Describe();
  ASSERT_TRUE(net_.RunUntil([&] { return a_->ChannelOpen(channel); }, TimeDelta::Seconds(10)));
  ASSERT_TRUE(a_->core().SendData(channel, Pattern(5000, 9), true).ok());
  a_->Drain();
  ASSERT_TRUE(net_.RunUntil(
      [&] {
        auto r = Announced(*b_, "through-turn");
        return r && !b_->Messages(*r).empty();
      },
      TimeDelta::Seconds(5)));
  const auto selected = a_->core().ice_agent()->selected_pair();
  ASSERT_TRUE(selected);
  EXPECT_TRUE(selected->first.type == ice::CandidateType::kRelayed ||
              selected->second.type == ice::CandidateType::kRelayed);
  EXPECT_GT(turn.stats().allocations_created, 0u);
}

TEST_F(PeerPairTest, ClientHelloBeforeTheAnswerIsHeldUntilTheRoleIsKnown) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto channel = Create(*a_, "late-answer");
  // The answer takes 2 s longer than the candidates: b connects ICE and sends its ClientHello to a, which
  // does not know yet that it is the DTLS server.
  Negotiate(TimeDelta::Seconds(2));
  ASSERT_TRUE(BothConnected(TimeDelta::Seconds(20))) << Describe();
  ASSERT_TRUE(net_.RunUntil([&] { return a_->ChannelOpen(channel); }, TimeDelta::Seconds(5)));
}

TEST_F(PeerPairTest, FingerprintMismatchFailsTheConnection) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  Create(*a_, "x");
  auto offer = a_->core().CreateOffer(net_.now(), false);
  ASSERT_FALSE(a_->core().SetLocalDescription(net_.now(), SdpType::kOffer, offer.value()));
  a_->Drain();
  // An attacker in the signaling path swaps the fingerprint for another certificate's.
  std::string tampered = offer.value();
  const std::string real = TestCertificate(1).GetFingerprint().ValueString();
  const std::string fake = TestCertificate(3).GetFingerprint().ValueString();
  tampered.replace(tampered.find(real), real.size(), fake);
  ASSERT_FALSE(b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, tampered));
  auto answer = b_->core().CreateAnswer(net_.now());
  ASSERT_FALSE(b_->core().SetLocalDescription(net_.now(), SdpType::kAnswer, answer.value()));
  ASSERT_FALSE(a_->core().SetRemoteDescription(net_.now(), SdpType::kAnswer, answer.value()));
  a_->Drain();
  b_->Drain();
  ASSERT_TRUE(
      net_.RunUntil([&] { return b_->Reached(PeerConnectionState::kFailed); }, TimeDelta::Seconds(40)));
  EXPECT_FALSE(b_->Reached(PeerConnectionState::kConnected));
}

TEST_F(PeerPairTest, MalformedRemoteSdpIsRefusedWithTheLine) {
  Make();
  const JsepStatus e =
      b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, "v=0\r\no=- x 1 IN IP4 0\r\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->name, "OperationError");
  EXPECT_NE(e->message.find("line 2"), std::string::npos) << e->message;
  EXPECT_EQ(b_->core().signaling_state(), SignalingState::kStable);
  // Candidates before any remote description are refused (W3C InvalidStateError).
  IceCandidate c;
  c.candidate = "candidate:1 1 udp 2122260223 10.0.0.1 5000 typ host";
  c.sdp_mid = "0";
  const JsepStatus ce = b_->core().AddIceCandidate(net_.now(), c);
  ASSERT_TRUE(ce);
  EXPECT_EQ(ce->name, "InvalidStateError");
}

TEST_F(PeerPairTest, GlareIsResolvedByThePoliteSideRollingBack) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto ca = Create(*a_, "from-a");
  const auto cb = Create(*b_, "from-b");
  // Both offer at once. b is polite: setting a's offer in have-local-offer rolls its own offer back.
  auto offer_a = a_->core().CreateOffer(net_.now(), false);
  auto offer_b = b_->core().CreateOffer(net_.now(), false);
  ASSERT_FALSE(a_->core().SetLocalDescription(net_.now(), SdpType::kOffer, offer_a.value()));
  ASSERT_FALSE(b_->core().SetLocalDescription(net_.now(), SdpType::kOffer, offer_b.value()));
  ASSERT_FALSE(b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, offer_a.value()));
  EXPECT_EQ(b_->core().signaling_state(), SignalingState::kHaveRemoteOffer);
  auto answer = b_->core().CreateAnswer(net_.now());
  ASSERT_TRUE(answer.ok());
  ASSERT_FALSE(b_->core().SetLocalDescription(net_.now(), SdpType::kAnswer, answer.value()));
  ASSERT_FALSE(a_->core().SetRemoteDescription(net_.now(), SdpType::kAnswer, answer.value()));
  a_->Drain();
  b_->Drain();
  ASSERT_TRUE(BothConnected()) << Describe();
  // One SCTP association carries both sides' channels.
  ASSERT_TRUE(net_.RunUntil([&] { return Announced(*a_, "from-b") && Announced(*b_, "from-a"); },
                            TimeDelta::Seconds(5)));
  EXPECT_TRUE(a_->ChannelOpen(ca));
  EXPECT_TRUE(b_->ChannelOpen(cb));
}

TEST_F(PeerPairTest, IceRestartKeepsTheConnectionAndChangesTheCredentials) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto channel = Create(*a_, "x");
  Negotiate();
  ASSERT_TRUE(BothConnected()) << Describe();
  ASSERT_TRUE(
      net_.RunUntil([&] { return a_->ChannelOpen(channel) && Announced(*b_, "x"); }, TimeDelta::Seconds(5)));
  const std::string old_ufrag = a_->core().ice_agent()->local_ufrag();
  const int needed = a_->negotiation_needed;
  a_->core().RestartIce(net_.now());
  a_->Drain();
  EXPECT_EQ(a_->negotiation_needed, needed + 1);
  Negotiate();
  net_.RunFor(TimeDelta::Seconds(3));
  EXPECT_NE(a_->core().ice_agent()->local_ufrag(), old_ufrag);
  EXPECT_NE(b_->core().remote_description()->sdp.find(a_->core().ice_agent()->local_ufrag()),
            std::string::npos);
  EXPECT_EQ(a_->core().connection_state(), PeerConnectionState::kConnected);
  ASSERT_TRUE(a_->core().SendData(channel, Pattern(10, 3), true).ok());
  a_->Drain();
  ASSERT_TRUE(
      net_.RunUntil([&] { return !b_->Messages(*Announced(*b_, "x")).empty(); }, TimeDelta::Seconds(2)));
}

TEST_F(PeerPairTest, ConsentLossFailsTheConnectionAndClosesChannels) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto channel = Create(*a_, "x");
  Negotiate();
  ASSERT_TRUE(BothConnected()) << Describe();
  ASSERT_TRUE(net_.RunUntil([&] { return a_->ChannelOpen(channel); }, TimeDelta::Seconds(5)));
  net_.SetLinkDown(hb, true);
  ASSERT_TRUE(
      net_.RunUntil([&] { return a_->Reached(PeerConnectionState::kDisconnected); }, TimeDelta::Seconds(10)));
  // RFC 7675 §5.1: consent expires 30 s after the last response.
  ASSERT_TRUE(
      net_.RunUntil([&] { return a_->Reached(PeerConnectionState::kFailed); }, TimeDelta::Seconds(40)));
  EXPECT_EQ(a_->core().ice_connection_state(), IceConnectionState::kFailed);
}

TEST_F(PeerPairTest, PartialReliabilityGivesUpWhileReliableChannelsDeliverEverything) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  sim::LinkConditions lossy;
  lossy.loss = 0.2;
  net_.SetLink(ha, lossy, sim::LinkConditions{});
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto reliable = Create(*a_, "reliable");
  const auto unreliable = Create(*a_, "unreliable", datachannel::Reliability{false, 0, std::nullopt});
  Negotiate();
  ASSERT_TRUE(BothConnected(TimeDelta::Seconds(30))) << Describe();
  ASSERT_TRUE(net_.RunUntil([&] { return Announced(*b_, "reliable") && Announced(*b_, "unreliable"); },
                            TimeDelta::Seconds(20)));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(a_->core().SendData(reliable, Pattern(500, static_cast<uint8_t>(i)), true).ok());
    ASSERT_TRUE(a_->core().SendData(unreliable, Pattern(500, static_cast<uint8_t>(i)), true).ok());
    a_->Drain();
    net_.RunFor(TimeDelta::Millis(5));
  }
  ASSERT_TRUE(net_.RunUntil([&] { return b_->Messages(*Announced(*b_, "reliable")).size() == 200; },
                            TimeDelta::Seconds(60)));
  net_.RunFor(TimeDelta::Seconds(2));
  const size_t unreliable_got = b_->Messages(*Announced(*b_, "unreliable")).size();
  EXPECT_LT(unreliable_got, 200u) << "maxRetransmits 0 never retransmits";
  EXPECT_GT(unreliable_got, 100u);
  const auto got = b_->Messages(*Announced(*b_, "reliable"));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[i], Pattern(500, static_cast<uint8_t>(i))) << i;
}

TEST_F(PeerPairTest, CloseEndsTheRemoteChannels) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const auto channel = Create(*a_, "x");
  Negotiate();
  ASSERT_TRUE(BothConnected()) << Describe();
  ASSERT_TRUE(
      net_.RunUntil([&] { return a_->ChannelOpen(channel) && Announced(*b_, "x"); }, TimeDelta::Seconds(5)));
  const auto remote = *Announced(*b_, "x");
  // Closing one channel: RFC 8831 §6.7 stream resets on both sides.
  a_->core().CloseDataChannel(channel);
  a_->Drain();
  ASSERT_TRUE(net_.RunUntil(
      [&] {
        const auto* info = b_->core().FindDataChannel(remote);
        return info->state == datachannel::ChannelState::kClosed &&
               a_->core().FindDataChannel(channel)->state == datachannel::ChannelState::kClosed;
      },
      TimeDelta::Seconds(5)));
  // Closing the connection: the peer's association is aborted, its channels close.
  const auto second = Create(*a_, "y");
  ASSERT_TRUE(net_.RunUntil([&] { return Announced(*b_, "y").has_value(); }, TimeDelta::Seconds(5)));
  a_->core().Close(net_.now());
  a_->Drain();
  EXPECT_EQ(a_->core().connection_state(), PeerConnectionState::kClosed);
  EXPECT_EQ(a_->core().FindDataChannel(second)->state, datachannel::ChannelState::kClosed);
  ASSERT_TRUE(net_.RunUntil(
      [&] {
        return b_->core().FindDataChannel(*Announced(*b_, "y"))->state == datachannel::ChannelState::kClosed;
      },
      TimeDelta::Seconds(5)));
}

}  // namespace
}  // namespace tandem::peer

namespace tandem::peer {
namespace {

PeerCore::LocalTrack Track(std::string id) { return PeerCore::LocalTrack{std::move(id), {"stream-1"}}; }

TEST_F(PeerPairTest, MediaTransceiversNegotiateCodecsDirectionsAndTracks) {
  const NodeId ha = net_.AddHost(*IpAddress::Parse("10.0.0.1"));
  const NodeId hb = net_.AddHost(*IpAddress::Parse("10.0.0.2"));
  Make();
  a_->AddInterface(ha);
  b_->AddInterface(hb);
  const TransceiverId video = a_->core().AddTrack(sdp::MediaType::kVideo, Track("cam"));
  const TransceiverId audio = a_->core().AddTrack(sdp::MediaType::kAudio, Track("mic"));
  a_->Drain();
  EXPECT_EQ(a_->negotiation_needed, 1);
  auto offer = a_->core().CreateOffer(net_.now(), false);
  ASSERT_TRUE(offer.ok());
  auto parsed = sdp::Parse(offer.value());
  ASSERT_TRUE(parsed.ok());
  ASSERT_EQ(parsed->media.size(), 2u);
  const sdp::MediaDescription& v = parsed->media[0];
  EXPECT_EQ(v.type, sdp::MediaType::kVideo);
  EXPECT_TRUE(v.rtcp_mux);
  ASSERT_TRUE(v.FindCodec(96));
  EXPECT_EQ(v.FindCodec(96)->name, "VP8");
  EXPECT_EQ(sdp::FindFmtpParameter(v.FindCodec(97)->parameters, "apt"), "96");
  EXPECT_EQ(v.msids.at(0).stream_id, "stream-1");
  EXPECT_EQ(v.msids.at(0).track_id, "cam");
  ASSERT_EQ(v.ssrc_groups.size(), 1u);
  EXPECT_EQ(v.ssrc_groups[0].semantics, "FID");
  EXPECT_EQ(parsed->media[1].FindCodec(111)->name, "opus");
  EXPECT_EQ(parsed->FindGroup("BUNDLE")->mids, (std::vector<std::string>{"0", "1"}));
  ASSERT_FALSE(a_->core().SetLocalDescription(net_.now(), SdpType::kOffer, offer.value()));

  // b: the remote offer creates recvonly transceivers; addTrack reuses the video one (W3C).
  ASSERT_FALSE(b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, offer.value()));
  auto b_list = b_->core().transceivers();
  ASSERT_EQ(b_list.size(), 2u);
  EXPECT_EQ(b_list[0].direction, sdp::Direction::kRecvOnly);
  const TransceiverId b_video = b_->core().AddTrack(sdp::MediaType::kVideo, Track("b-cam"));
  EXPECT_EQ(b_video, b_list[0].id) << "addTrack reuses the transceiver the offer created";
  auto answer = b_->core().CreateAnswer(net_.now());
  ASSERT_TRUE(answer.ok());
  auto parsed_answer = sdp::Parse(answer.value());
  ASSERT_TRUE(parsed_answer.ok());
  EXPECT_EQ(parsed_answer->media[0].direction, sdp::Direction::kSendRecv);
  EXPECT_EQ(parsed_answer->media[1].direction, sdp::Direction::kRecvOnly) << "nothing to send on audio";
  ASSERT_FALSE(b_->core().SetLocalDescription(net_.now(), SdpType::kAnswer, answer.value()));
  ASSERT_FALSE(a_->core().SetRemoteDescription(net_.now(), SdpType::kAnswer, answer.value()));
  a_->Drain();
  b_->Drain();
  // Negotiated: VP8 first with RTX and the feedback both sides do; opus; directions as agreed.
  auto a_video = *a_->core().transceiver(video);
  EXPECT_EQ(a_video.current_direction, sdp::Direction::kSendRecv);
  ASSERT_FALSE(a_video.codecs.empty());
  EXPECT_EQ(a_video.codecs[0].name, "VP8");
  EXPECT_EQ(a_video.codecs[0].rtx_payload_type, 97);
  EXPECT_TRUE(a_video.codecs[0].nack && a_video.codecs[0].pli && a_video.codecs[0].transport_cc);
  EXPECT_NE(a_video.extensions.mid, 0);
  EXPECT_NE(a_video.extensions.transport_cc, 0);
  EXPECT_EQ(a_->core().transceiver(audio)->current_direction, sdp::Direction::kSendOnly);
  // b learned a's SSRCs (media, RTX) from the FID group; a learned b's video SSRCs.
  auto b_state = *b_->core().transceiver(b_video);
  EXPECT_EQ(b_state.remote_ssrcs, (std::vector<uint32_t>{a_video.ssrc, a_video.rtx_ssrc}));
  EXPECT_EQ(a_video.remote_ssrcs, (std::vector<uint32_t>{b_state.ssrc, b_state.rtx_ssrc}));
  EXPECT_EQ(a_->core().signaling_state(), SignalingState::kStable);
  // ontrack: b got both of a's tracks with their msid; a got b's video only.
  ASSERT_EQ(b_->tracks_added.size(), 2u);
  EXPECT_EQ(b_->tracks_added[0].track_id, "cam");
  EXPECT_EQ(b_->tracks_added[0].stream_ids, (std::vector<std::string>{"stream-1"}));
  EXPECT_EQ(b_->tracks_added[1].kind, sdp::MediaType::kAudio);
  ASSERT_EQ(a_->tracks_added.size(), 1u);
  EXPECT_EQ(a_->tracks_added[0].transceiver, video);
  EXPECT_EQ(a_->tracks_added[0].track_id, "b-cam");

  // Renegotiation: b removes its track (sendrecv -> recvonly): a's remote track ends.
  const int needed = b_->negotiation_needed;
  b_->core().RemoveTrack(b_video);
  b_->Drain();
  EXPECT_EQ(b_->negotiation_needed, needed + 1);
  auto reoffer = b_->core().CreateOffer(net_.now(), false);
  ASSERT_TRUE(reoffer.ok());
  ASSERT_FALSE(b_->core().SetLocalDescription(net_.now(), SdpType::kOffer, reoffer.value()));
  ASSERT_FALSE(a_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, reoffer.value()));
  a_->Drain();
  EXPECT_EQ(a_->tracks_ended, (std::vector<TransceiverId>{video}));
  auto reanswer = a_->core().CreateAnswer(net_.now());
  ASSERT_FALSE(a_->core().SetLocalDescription(net_.now(), SdpType::kAnswer, reanswer.value()));
  ASSERT_FALSE(b_->core().SetRemoteDescription(net_.now(), SdpType::kAnswer, reanswer.value()));
  EXPECT_EQ(a_->core().transceiver(video)->current_direction, sdp::Direction::kSendOnly);
  EXPECT_EQ(b_->core().transceiver(b_video)->current_direction, sdp::Direction::kRecvOnly);

  // Stopping a transceiver rejects its section in the next offer; the peer's remote track ends.
  a_->core().StopTransceiver(audio);
  auto third = a_->core().CreateOffer(net_.now(), false);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(sdp::Parse(third.value())->media[1].IsRejected());
  ASSERT_FALSE(a_->core().SetLocalDescription(net_.now(), SdpType::kOffer, third.value()));
  ASSERT_FALSE(b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, third.value()));
  b_->Drain();
  EXPECT_EQ(b_->tracks_ended.size(), 1u);
}

TEST_F(PeerPairTest, AnswersChromiumsAudioVideoDataOffer) {
  Make();
  std::ifstream in(std::string(TANDEM_SDP_TESTDATA) + "/chromium_offer_av_data.sdp");
  ASSERT_TRUE(in) << "test data missing";
  const std::string offer((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(b_->core().SetRemoteDescription(net_.now(), SdpType::kOffer, offer));
  b_->core().AddTrack(sdp::MediaType::kVideo, Track("native-cam"));
  auto answer = b_->core().CreateAnswer(net_.now());
  ASSERT_TRUE(answer.ok());
  auto parsed = sdp::Parse(answer.value());
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  auto chrome = sdp::Parse(offer);
  ASSERT_EQ(parsed->media.size(), chrome->media.size());
  for (size_t i = 0; i < parsed->media.size(); ++i) {
    const auto& m = parsed->media[i];
    EXPECT_EQ(m.mid, chrome->media[i].mid);
    EXPECT_FALSE(m.IsRejected()) << i;
    if (m.type == sdp::MediaType::kVideo) {
      // Our preference first (VP8), with the offer's payload types; its RTX alongside.
      const auto codecs = m.Codecs();
      ASSERT_FALSE(codecs.empty());
      EXPECT_EQ(codecs[0].name, "VP8");
      EXPECT_EQ(codecs[0].payload_type, chrome->media[i].Codecs().front().name == "VP8"
                                            ? chrome->media[i].Codecs().front().payload_type
                                            : codecs[0].payload_type);
      EXPECT_EQ(m.direction, sdp::Direction::kSendRecv);
      EXPECT_FALSE(m.ssrcs.empty());
    }
    if (m.type == sdp::MediaType::kAudio) {
      EXPECT_EQ(m.Codecs().at(0).name, "opus");
      EXPECT_EQ(m.direction, sdp::Direction::kRecvOnly);
    }
  }
}

}  // namespace
}  // namespace tandem::peer
