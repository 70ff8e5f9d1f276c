// Shared fixture for the TurnServer unit tests: a server wired to in-memory fakes, a fake monotonic clock and
// a helper client per flow.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "testing/fake_clock.h"
#include "testing/turn_fakes.h"
#include "turn/server.h"

namespace tandem::turn {

inline SocketAddress Addr(const char* text) { return *SocketAddress::Parse(text); }

inline ClientFlow UdpFlow(const char* client = "198.51.100.20:40000", const char* local = "192.0.2.1:3478") {
  return ClientFlow{ClientTransport::kUdp, Addr(client), Addr(local), 0};
}
inline ClientFlow TcpFlow(uint64_t id, const char* client = "198.51.100.30:50000") {
  return ClientFlow{ClientTransport::kTcp, Addr(client), Addr("192.0.2.1:3478"), id};
}

class TurnServerTest : public ::testing::Test {
 protected:
  static constexpr const char* kPeer = "93.184.216.34:5000";

  TurnServerTest() { credentials_.AddUser("alice", "secret"); }
  void TearDown() override { EXPECT_EQ(relays_.bad_closes, 0u) << "a relay was closed twice"; }

  static ServerConfig DefaultConfig() {
    ServerConfig c;
    c.realm = "example.org";
    return c;
  }

  void Start(ServerConfig config = DefaultConfig()) {
    clients_.clear();
    relays_.clock = [this] { return now(); };
    server_ =
        std::make_unique<TurnServer>(std::move(config), credentials_, relays_, *quota_, wall_, rng_, out_);
  }

  Timestamp now() const { return clock_.now(); }
  void Advance(TimeDelta d) {
    clock_.Advance(d);
    server_->HandleTimeout(clock_.now());
  }

  testing::TurnTestClient& Client(const ClientFlow& flow = UdpFlow()) {
    clients_.push_back(std::make_unique<testing::TurnTestClient>(*server_, out_, flow, clients_.size() + 1));
    return *clients_.back();
  }

  // A client with a fresh allocation; the test fails if it cannot get one.
  testing::TurnTestClient& Allocated(const ClientFlow& flow = UdpFlow()) {
    auto& c = Client(flow);
    auto reply = c.Allocate(now());
    EXPECT_TRUE(reply && reply->is_success()) << (reply ? reply->error_code() : 0);
    return c;
  }

  static SocketAddress RelayedAddress(const testing::StunReply& r) {
    return r.view().GetXorAddress(stun::attr::kXorRelayedAddress).value_or(SocketAddress());
  }
  RelayId RelayIdOf(const testing::StunReply& r) const { return relays_.IdOf(RelayedAddress(r)); }

  // The last message sent to a client, parsed as STUN.
  testing::StunReply LastToClient() const { return testing::StunReply{out_.to_client.back().bytes}; }

  testing::FakeClock clock_;
  testing::FakeWallClock wall_;
  StaticCredentialStore credentials_{wall_};
  testing::FakeRelayProvider relays_;
  std::unique_ptr<AllocationQuota> quota_ = MakeLocalQuota(0, 0);
  SeededRng rng_{42};
  testing::RecordingOutput out_;
  std::unique_ptr<TurnServer> server_;
  std::vector<std::unique_ptr<testing::TurnTestClient>> clients_;
};

}  // namespace tandem::turn
