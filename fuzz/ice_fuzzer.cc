// libFuzzer harness for the ICE agent (src/ice/agent.h) and the candidate parser (src/ice/candidate.h).
//
// Input: byte 0 chooses the mode.
//   - top bit clear: the rest is a candidate line. Candidate::Parse must not crash; what it accepts must
//   print to a
//     line that parses back to the same candidate, and an agent must take or refuse it without crashing.
//   - top bit set: the low bits configure an agent (role, lite, relay-only, STUN server, TURN over UDP and
//   TCP) and
//     the rest is a script of records [op:1][len:1][data:len] driving it: raw datagrams from a handful of
//     sources, authenticated checks the harness signs with the agent's own password (so the fuzzer gets past
//     MESSAGE-INTEGRITY), authenticated responses (success with a fuzzed XOR-MAPPED-ADDRESS, 487, other
//     errors) to requests the agent really sent, clock advances, trickled candidates, end-of-candidates,
//     restarts, data, TURN stream events and mDNS answers.
// Invariants checked after every step: after HandleTimeout(now) no deadline is at or before now; every
// transmit leaves from an endpoint the agent was given or a stream it asked for, and is not empty; limits on
// candidates and pairs hold; a closed agent reports kClosed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "ice/agent.h"
#include "ice/candidate.h"
#include "stun/message.h"

namespace {

using namespace tandem;       // NOLINT(google-build-using-namespace): harness only
using namespace tandem::ice;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

SocketAddress Addr(const char* s) { return *SocketAddress::Parse(s); }

constexpr const char* kRemoteUfrag = "rEmO";
constexpr const char* kRemotePwd = "remotePasswordRemote22";

const char* const kSources[] = {"192.0.2.20:6000",  "192.0.2.21:6001",     "203.0.113.1:3478",
                                "203.0.113.2:3478", "[2001:db8::20]:6000", "198.51.100.9:7000",
                                "192.0.2.20:6002",  "10.0.0.1:1"};

struct SentRequest {
  stun::TransactionId id;
  SocketAddress destination;
  EndpointId endpoint;
};

struct Harness {
  explicit Harness(uint8_t mode) : rng(mode) {
    AgentConfig c;
    c.role = (mode & 0x01) ? Role::kControlled : Role::kControlling;
    c.lite = (mode & 0x02) != 0;
    c.relay_only = (mode & 0x04) != 0;
    if (mode & 0x08) c.servers.push_back(ServerConfig::Stun(Addr("203.0.113.1:3478")));
    if (mode & 0x10) c.servers.push_back(ServerConfig::Turn(Addr("203.0.113.2:3478"), "u", "p"));
    if (mode & 0x20) {
      c.servers.push_back(
          ServerConfig::Turn(Addr("203.0.113.2:3478"), "u", "p", turn_client::Transport::kTcp));
    }
    c.max_remote_candidates = 8;
    c.max_pairs = 16;
    c.max_pending_transactions = 16;
    c.max_pending_hostnames = 4;
    c.max_resolved_hostnames = 4;
    c.max_early_checks = 4;
    c.max_stream_buffer = 4096;
    agent = std::make_unique<Agent>(c, rng);
    ep4 = agent->AddHostEndpoint(now, Addr("192.0.2.10:5000"));
    ep6 = agent->AddHostEndpoint(now, Addr("[2001:db8::10]:5000"));
    endpoints.insert(ep4);
    endpoints.insert(ep6);
    agent->StartGathering(now);
    (void)agent->SetRemoteCredentials(now, kRemoteUfrag, kRemotePwd);
    Candidate r;
    r.foundation = "1";
    r.priority = 2130706431;
    r.address = Addr("192.0.2.20:6000");
    (void)agent->AddRemoteCandidate(now, r);
    Drain();
  }

  void Drain() {
    while (auto t = agent->PollTransmit()) {
      FUZZ_CHECK(!t->data.empty());
      FUZZ_CHECK(endpoints.count(t->endpoint) != 0);
      auto m = stun::MessageView::Parse(t->data);
      if (m.ok() && m->message_class() == stun::MessageClass::kRequest) {
        if (sent.size() >= 16) sent.erase(sent.begin());
        sent.push_back(SentRequest{m->transaction_id(), t->destination, t->endpoint});
      }
    }
    while (auto e = agent->PollEvent()) {
      if (auto* o = std::get_if<OpenStream>(&*e)) {
        endpoints.insert(o->endpoint);
        streams.push_back(o->endpoint);
      }
      if (auto* r = std::get_if<ResolveHostname>(&*e)) names.push_back(r->name);
    }
    if (closed) FUZZ_CHECK(agent->connection_state() == ConnectionState::kClosed);
  }

  void CheckLimits() const {
    const Stats s = agent->GetStats();
    FUZZ_CHECK(s.remote_candidates.size() <= 8);
    FUZZ_CHECK(s.pairs.size() <= 16 + 1);  // + the previous generation's path during a restart
  }

  void Advance(TimeDelta d) {
    const Timestamp target = now + d;
    for (int i = 0; i < 10000; ++i) {
      const Timestamp t = agent->PollTimeout();
      if (t > target) break;
      now = t > now ? t : now;
      agent->HandleTimeout(now);
      Drain();
      FUZZ_CHECK(agent->PollTimeout() > now);
    }
    now = target;
  }

  void Receive(EndpointId ep, const SocketAddress& from, ByteSpan data) {
    auto app = agent->HandleReceive(now, ep, from, data);
    if (app) FUZZ_CHECK(!app->empty());
    Drain();
  }

  SeededRng rng;
  Timestamp now = Timestamp::Seconds(1000);
  std::unique_ptr<Agent> agent;
  EndpointId ep4 = 0, ep6 = 0;
  std::set<EndpointId> endpoints;
  std::vector<EndpointId> streams;
  std::vector<std::string> names;
  std::vector<SentRequest> sent;
  bool closed = false;
  uint32_t restarts = 0;
};

uint32_t U32(ByteSpan d, size_t i) {
  uint32_t v = 0;
  for (size_t k = 0; k < 4; ++k) v = (v << 8) | (i + k < d.size() ? d[i + k] : 0);
  return v;
}

void RunScript(uint8_t mode, ByteSpan script) {
  Harness h(mode);
  std::vector<uint8_t> msg;
  ByteReader r(script);
  uint8_t op = 0, len = 0;
  ByteSpan d;
  while (r.ReadU8(op) && r.ReadU8(len) && r.ReadBytes(len, d)) {
    const uint8_t b0 = d.empty() ? 0 : d[0];
    const SocketAddress from = Addr(kSources[(d.size() > 1 ? d[1] : 0) % 8]);
    switch (op % 12) {
      case 0: {  // a raw datagram
        const EndpointId ep = (b0 & 0x80) ? 77 : ((b0 & 1) ? h.ep6 : h.ep4);
        h.Receive(ep, from, d.size() > 2 ? d.subspan(2) : d);
        break;
      }
      case 1: {  // an authenticated check
        stun::TransactionId tid;
        h.rng.Fill(tid);
        const std::string username =
            std::string(h.agent->local_ufrag()) + ":" + (b0 & 0x40 ? "other" : kRemoteUfrag);
        stun::MessageBuilder b(msg, stun::Method::kBinding, stun::MessageClass::kRequest, tid);
        b.AddString(stun::attr::kUsername, username);
        if (!(b0 & 0x01)) b.AddU32(stun::attr::kPriority, U32(d, 2));
        if (b0 & 0x02) b.AddU64(stun::attr::kIceControlling, U32(d, 6));
        if (b0 & 0x04) b.AddU64(stun::attr::kIceControlled, U32(d, 6));
        if (b0 & 0x08) b.AddEmpty(stun::attr::kUseCandidate);
        if (b0 & 0x10) b.AddU32(static_cast<uint16_t>(U32(d, 10) & 0x7fff), 0);
        b.AddMessageIntegrity(AsBytes(h.agent->local_pwd()));
        if (!(b0 & 0x20)) b.AddFingerprint();
        b.Finish();
        h.Receive((b0 & 0x80) ? h.ep6 : h.ep4, from, msg);
        break;
      }
      case 2: {  // an authenticated response to something the agent sent
        if (h.sent.empty()) break;
        const SentRequest& req = h.sent[(d.size() > 1 ? d[1] : 0) % h.sent.size()];
        const bool error = (b0 & 0x03) == 1;
        stun::MessageBuilder b(
            msg, stun::Method::kBinding,
            error ? stun::MessageClass::kErrorResponse : stun::MessageClass::kSuccessResponse, req.id);
        if (error) {
          b.AddErrorCode((b0 & 0x04) ? 487 : 400 + (b0 >> 3));
        } else {
          const uint32_t ip = U32(d, 2);
          const SocketAddress mapped =
              (b0 & 0x04) ? req.destination
                          : SocketAddress(IpAddress::V4(ip | 1), static_cast<uint16_t>(ip | 1));
          b.AddXorAddress(stun::attr::kXorMappedAddress, mapped);
        }
        if (!(b0 & 0x08)) b.AddMessageIntegrity(AsBytes(std::string_view(kRemotePwd)));
        b.AddFingerprint();
        b.Finish();
        const SocketAddress src = (b0 & 0x10) ? from : req.destination;
        if (h.endpoints.count(req.endpoint) && req.endpoint != h.ep4 && req.endpoint != h.ep6) {
          h.agent->HandleStreamData(h.now, req.endpoint, msg);
          h.Drain();
        } else {
          h.Receive(req.endpoint, src, msg);
        }
        break;
      }
      case 3:                                                 // time passes
        h.Advance(TimeDelta::Millis((U32(d, 0) >> 17) + 1));  // up to ~33 s: past consent expiry
        break;
      case 4: {  // a trickled candidate
        auto c = Candidate::Parse(AsStringView(d));
        if (c.ok()) {
          (void)h.agent->AddRemoteCandidate(h.now, *c);
          h.Drain();
        }
        break;
      }
      case 5:
        h.agent->SetRemoteEndOfCandidates(h.now);
        h.Drain();
        break;
      case 6:
        if (++h.restarts > 4) break;
        h.agent->Restart(h.now);
        if (b0 & 1) (void)h.agent->SetRemoteCredentials(h.now, kRemoteUfrag, kRemotePwd);
        h.Drain();
        break;
      case 7:
        if (!d.empty()) (void)h.agent->SendData(h.now, d);
        h.Drain();
        break;
      case 8: {  // TURN stream events
        if (h.streams.empty()) break;
        const EndpointId id = h.streams[b0 % h.streams.size()];
        switch ((d.size() > 1 ? d[1] : 0) % 3) {
          case 0:
            h.agent->HandleStreamOpened(h.now, id, Addr("192.0.2.10:40000"));
            break;
          case 1:
            h.agent->HandleStreamData(h.now, id, d.size() > 2 ? d.subspan(2) : d);
            while (auto p = h.agent->PollStreamPayload()) FUZZ_CHECK(!p->empty());
            break;
          default:
            h.agent->HandleStreamClosed(h.now, id);
        }
        h.Drain();
        break;
      }
      case 9: {  // an mDNS answer
        const std::string name = h.names.empty() ? "x.local" : h.names[b0 % h.names.size()];
        std::optional<IpAddress> ip;
        if (b0 & 0x80) ip = IpAddress::V4(U32(d, 1));
        h.agent->HandleHostnameResolved(h.now, name, ip);
        h.Drain();
        break;
      }
      case 10:
        if (b0 == 0xcc) {
          h.agent->Close(h.now);
          h.closed = true;
          h.Drain();
        }
        break;
      default:
        (void)h.agent->SetRemoteCredentials(h.now, (b0 & 1) ? "zZzZ" : kRemoteUfrag, kRemotePwd);
        h.Drain();
        break;
    }
    h.CheckLimits();
  }
  h.Advance(TimeDelta::Seconds(5));
}

void FuzzCandidate(ByteSpan data) {
  auto c = Candidate::Parse(AsStringView(data));
  if (!c.ok()) return;
  const std::string printed = c->ToString();
  auto again = Candidate::Parse(printed);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *c);
  FUZZ_CHECK(again->ToString() == printed);
  SeededRng rng(1);
  Agent agent(AgentConfig{}, rng);
  const Timestamp now = Timestamp::Seconds(1);
  agent.AddHostEndpoint(now, Addr("192.0.2.10:5000"));
  agent.AddHostEndpoint(now, Addr("[2001:db8::10]:5000"));
  agent.StartGathering(now);
  (void)agent.AddRemoteCandidate(now, *c);
  while (agent.PollEvent()) {
  }
  while (agent.PollTransmit()) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ByteSpan rest(data + 1, size - 1);
  if ((data[0] & 0x80) == 0) {
    FuzzCandidate(rest);
  } else {
    RunScript(data[0] & 0x7f, rest);
  }
  return 0;
}
