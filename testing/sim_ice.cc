#include "testing/sim_ice.h"

#include <algorithm>

namespace tandem::sim {

SimIceAgent::SimIceAgent(Network& net, std::string name, ice::AgentConfig config, uint64_t seed)
    : net_(net), name_(std::move(name)), rng_(seed), agent_(std::move(config), rng_) {
  net_.AddProcess(this);
}

SimIceAgent::~SimIceAgent() {
  net_.RemoveProcess(this);
  for (const auto& [id, socket] : sockets_) net_.CloseUdp(socket);
  for (const auto& [id, stream] : streams_) net_.StreamClose(stream);
}

ice::EndpointId SimIceAgent::AddInterface(NodeId host, uint16_t port) {
  if (first_host_ == kNoNode) first_host_ = host;
  // The endpoint id is known only after AddHostEndpoint, which needs the bound address: bind first, route by
  // a shared slot.
  auto slot = std::make_shared<ice::EndpointId>(0);
  const SocketId socket =
      net_.BindUdp(host, port, [this, slot](Timestamp now, const SocketAddress& from, ByteSpan d) {
        auto app = agent_.HandleReceive(now, *slot, from, d);
        if (app) Deliver(now, *app);
        Drain();
      });
  const ice::EndpointId id = agent_.AddHostEndpoint(net_.now(), net_.LocalAddress(socket));
  *slot = id;
  sockets_[id] = socket;
  Drain();
  return id;
}

void SimIceAgent::StartGathering() {
  agent_.StartGathering(net_.now());
  Drain();
}

Status SimIceAgent::Send(ByteSpan data) {
  Status s = agent_.SendData(net_.now(), data);
  Drain();
  return s;
}

bool SimIceAgent::Reached(ice::ConnectionState s) const {
  return std::find(states.begin(), states.end(), s) != states.end();
}

void SimIceAgent::OnTimeout(Timestamp now) {
  agent_.HandleTimeout(now);
  Drain();
}

void SimIceAgent::Deliver(Timestamp now, ByteSpan payload) {
  received.emplace_back(payload.begin(), payload.end());
  if (on_data) on_data(now, payload);
}

void SimIceAgent::Drain() {
  const Timestamp now = net_.now();
  for (;;) {
    bool any = false;
    while (auto t = agent_.PollTransmit()) {
      any = true;
      if (auto s = sockets_.find(t->endpoint); s != sockets_.end()) {
        net_.SendUdp(s->second, t->destination, t->data);
      } else if (auto st = streams_.find(t->endpoint); st != streams_.end()) {
        net_.StreamSend(st->second, t->data);
      }
    }
    while (auto e = agent_.PollEvent()) {
      any = true;
      HandleEvent(now, *e);
    }
    if (!any) break;
  }
}

void SimIceAgent::HandleEvent(Timestamp now, const ice::Event& event) {
  events.push_back(event);
  if (auto* c = std::get_if<ice::ConnectionStateChanged>(&event)) states.push_back(c->state);
  if (auto* l = std::get_if<ice::LocalCandidate>(&event)) gathered.push_back(l->candidate);
  if (auto* o = std::get_if<ice::OpenStream>(&event)) {
    const ice::EndpointId id = o->endpoint;
    StreamHandlers h;
    h.on_connected = [this, id](Timestamp t, const SocketAddress& local) {
      agent_.HandleStreamOpened(t, id, local);
      Drain();
    };
    h.on_data = [this, id](Timestamp t, ByteSpan data) {
      agent_.HandleStreamData(t, id, data);
      while (auto p = agent_.PollStreamPayload()) Deliver(t, *p);
      Drain();
    };
    h.on_closed = [this, id](Timestamp t) {
      streams_.erase(id);
      agent_.HandleStreamClosed(t, id);
      Drain();
    };
    // The driver opens TCP (TLS is the driver's business and not simulated: a TLS stream is carried in the
    // clear).
    streams_[id] = net_.ConnectStream(first_host_, o->server, std::move(h));
  }
  if (auto* c = std::get_if<ice::CloseStream>(&event)) {
    if (auto it = streams_.find(c->endpoint); it != streams_.end()) {
      net_.StreamClose(it->second);
      streams_.erase(it);
    }
  }
  if (auto* r = std::get_if<ice::ResolveHostname>(&event)) {
    const std::string name = r->name;
    const TimeDelta delay = mdns_ ? mdns_->delay : TimeDelta::Millis(20);
    if (mdns_) ++mdns_->queries;
    net_.Schedule(now + delay, [this, name] {
      std::optional<IpAddress> ip = mdns_ ? mdns_->Lookup(name) : std::nullopt;
      agent_.HandleHostnameResolved(net_.now(), name, ip);
      Drain();
    });
  }
  const auto observers = observers_;
  for (const auto& o : observers) o(event);
}

// ---------------------------------------------------------------------------------------------------------------

SimSignaling::SimSignaling(Network& net, SimIceAgent& a, SimIceAgent& b) : net_(net), a_(a), b_(b) {
  a_.AddObserver([this](const ice::Event& e) { OnEvent(a_, b_, e); });
  b_.AddObserver([this](const ice::Event& e) { OnEvent(b_, a_, e); });
}

void SimSignaling::Deliver(SimIceAgent& to, std::function<void(Timestamp)> fn) {
  TimeDelta d = delay;
  if (jitter > TimeDelta::Zero())
    d = d + TimeDelta::Micros(net_.rng().Uniform(0, static_cast<uint32_t>(jitter.us())));
  net_.Schedule(net_.now() + d, [this, &to, fn = std::move(fn)] {
    fn(net_.now());
    to.Drain();
  });
}

void SimSignaling::OnEvent(SimIceAgent& from, SimIceAgent& to, const ice::Event& event) {
  if (auto* g = std::get_if<ice::GatheringStateChanged>(&event)) {
    if (g->state == ice::GatheringState::kGathering) {
      // A new generation (start or restart): its credentials go first, without jitter (they travel in the
      // SDP).
      const std::string ufrag = from.agent().local_ufrag();
      const std::string pwd = from.agent().local_pwd();
      held_[&from].clear();
      net_.Schedule(net_.now() + delay, [this, &to, ufrag, pwd] {
        (void)to.agent().SetRemoteCredentials(net_.now(), ufrag, pwd);
        to.Drain();
      });
      return;
    }
    if (g->state == ice::GatheringState::kComplete) {
      if (!trickle) {
        for (const auto& line : held_[&from]) {
          Deliver(to, [this, &to, line](Timestamp now) {
            auto c = ice::Candidate::Parse(line);
            if (!c.ok() || !to.agent().AddRemoteCandidate(now, *c).ok()) ++candidates_rejected;
          });
        }
        held_[&from].clear();
      }
      if (end_of_candidates) {
        // After every candidate (the largest possible delay), as a signaling server keeps order.
        const TimeDelta d = delay + jitter + TimeDelta::Millis(1);
        net_.Schedule(net_.now() + d, [this, &to] {
          to.agent().SetRemoteEndOfCandidates(net_.now());
          to.Drain();
        });
      }
    }
    return;
  }
  if (auto* l = std::get_if<ice::LocalCandidate>(&event)) {
    std::optional<std::string> line = l->candidate.ToString();
    if (rewrite) line = rewrite(from, *line);
    if (!line) return;
    ++candidates_sent;
    if (!trickle) {
      held_[&from].push_back(*line);
      return;
    }
    Deliver(to, [this, &to, text = *line](Timestamp now) {
      auto c = ice::Candidate::Parse(text);
      if (!c.ok() || !to.agent().AddRemoteCandidate(now, *c).ok()) ++candidates_rejected;
    });
  }
}

}  // namespace tandem::sim
