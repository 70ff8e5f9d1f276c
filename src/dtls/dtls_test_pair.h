// Test support (tests, fuzzer, benchmark): two DtlsTransports joined by an in-memory network on a fake clock.
// Datagrams are delivered instantly in send order unless a policy drops, duplicates or holds them.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <stdexcept>
#include <vector>

#include "core/rng.h"
#include "dtls/dtls_transport.h"

namespace tandem::dtls::testing {

// Two certificates made once per process (key generation costs about a millisecond each).
inline const Certificate& TestCertificate(int which) {
  static const Certificate kCertificates[2] = {
      [] {
        SeededRng rng(1);
        return Certificate::Generate(UnixTime{1767225600}, rng).value();
      }(),
      [] {
        SeededRng rng(2);
        return Certificate::Generate(UnixTime{1767225600}, rng).value();
      }(),
  };
  return kCertificates[which & 1];
}

inline DtlsConfig MakeConfig(Role role, const Certificate& local, const Certificate& remote) {
  DtlsConfig config;
  config.role = role;
  config.certificate = local;
  config.remote_fingerprints = {remote.GetFingerprint()};
  return config;
}

class DtlsPair {
 public:
  enum Side { kClient = 0, kServer = 1 };
  enum class Action { kDeliver, kDrop, kDuplicate, kHold };

  struct Datagram {
    Side from = kClient;
    std::vector<uint8_t> bytes;
    Timestamp sent_at;
    size_t index = 0;  // n-th datagram sent by `from` (0-based)
  };

  static DtlsConfig ClientConfig() {
    return MakeConfig(Role::kClient, TestCertificate(0), TestCertificate(1));
  }
  static DtlsConfig ServerConfig() {
    return MakeConfig(Role::kServer, TestCertificate(1), TestCertificate(0));
  }

  explicit DtlsPair(DtlsConfig client = ClientConfig(), DtlsConfig server = ServerConfig(),
                    Timestamp start = Timestamp::Seconds(1000))
      : now(start) {
    transports_[kClient] = std::make_unique<DtlsTransport>(std::move(client));
    transports_[kServer] = std::make_unique<DtlsTransport>(std::move(server));
  }

  DtlsTransport& client() { return *transports_[kClient]; }
  DtlsTransport& server() { return *transports_[kServer]; }
  DtlsTransport& at(Side side) { return *transports_[side]; }

  void StartBoth() {
    client().Start(now);
    server().Start(now);
  }

  // Moves every datagram across (through the policy) until both sides are quiet; collects events and data.
  void Exchange() {
    for (int guard = 0; guard < 100000; ++guard) {
      Drain(kClient);
      Drain(kServer);
      if (wire_.empty()) return;
      Datagram d = std::move(wire_.front());
      wire_.pop_front();
      at(Other(d.from)).HandleReceive(now, d.bytes);
    }
    throw std::runtime_error("DtlsPair::Exchange does not settle");
  }

  // Exchanges, then advances the clock to the earliest deadline of either side, until `done` holds or `limit`
  // of simulated time has passed.
  bool RunUntil(const std::function<bool()>& done, TimeDelta limit) {
    const Timestamp end = now + limit;
    while (true) {
      Exchange();
      if (done()) return true;
      const Timestamp next = std::min(client().PollTimeout(), server().PollTimeout());
      if (next.IsInfinite() || next > end) return done();
      now = std::max(now, next);
      for (Side s : {kClient, kServer}) {
        if (at(s).PollTimeout() <= now) at(s).HandleTimeout(now);
      }
    }
  }

  bool Connected() const {
    return transports_[kClient]->state() == DtlsState::kConnected &&
           transports_[kServer]->state() == DtlsState::kConnected;
  }
  bool Handshake(TimeDelta limit = TimeDelta::Seconds(60)) {
    StartBoth();
    return RunUntil([this] { return Connected(); }, limit);
  }

  // Datagrams held by Action::kHold, delivered in the given order of their positions in held().
  const std::vector<Datagram>& held() const { return held_; }
  void DeliverHeld(const std::vector<size_t>& order) {
    for (size_t i : order) at(Other(held_[i].from)).HandleReceive(now, held_[i].bytes);
    held_.clear();
  }

  static Side Other(Side s) { return s == kClient ? kServer : kClient; }

  Timestamp now;
  std::function<Action(const Datagram&)> policy;  // default: deliver everything
  std::vector<Datagram> sent;                     // every datagram either side emitted, in order
  std::vector<DtlsEvent> events[2];
  std::vector<std::vector<uint8_t>> received[2];  // application records, per receiving side

 private:
  void Drain(Side side) {
    DtlsTransport& t = at(side);
    while (auto bytes = t.PollTransmit()) {
      Datagram d;
      d.from = side;
      d.bytes.assign(bytes->begin(), bytes->end());
      d.sent_at = now;
      d.index = sent_count_[side]++;
      sent.push_back(d);
      const Action action = policy ? policy(d) : Action::kDeliver;
      if (action == Action::kDeliver || action == Action::kDuplicate) wire_.push_back(d);
      if (action == Action::kDuplicate) wire_.push_back(d);
      if (action == Action::kHold) held_.push_back(d);
    }
    while (auto e = t.PollEvent()) events[side].push_back(*e);
    while (auto r = t.PollApplicationData()) received[side].emplace_back(r->begin(), r->end());
  }

  std::unique_ptr<DtlsTransport> transports_[2];
  std::deque<Datagram> wire_;
  std::vector<Datagram> held_;
  size_t sent_count_[2] = {0, 0};
};

}  // namespace tandem::dtls::testing
