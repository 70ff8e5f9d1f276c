// Servers for the simulated network: a STUN Binding responder and a TURN server host that runs the project's
// sans-IO turn::TurnServer core with its relays as simulated UDP sockets, over UDP and over simulated TCP
// streams.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "testing/sim_network.h"
#include "turn/credentials.h"
#include "turn/server.h"

namespace tandem::sim {

// Answers STUN Binding requests (RFC 8489 §7.3) with XOR-MAPPED-ADDRESS on a UDP port of a host.
class SimStunServer {
 public:
  SimStunServer(Network& net, NodeId host, uint16_t port = 3478);
  ~SimStunServer();
  SocketAddress address() const;
  uint64_t requests() const { return requests_; }

 private:
  Network& net_;
  SocketId socket_;
  uint64_t requests_ = 0;
  std::vector<uint8_t> buffer_;
};

struct SimTurnServerConfig {
  uint16_t port = 3478;  // UDP and TCP
  std::string realm = "sim";
  std::vector<std::pair<std::string, std::string>> users = {{"user", "pass"}};
  bool listen_tcp = true;
};

// turn::TurnServer on a simulated host: UDP and TCP listeners on one port, relay addresses are UDP sockets
// bound on the same host. Peer policy lets private addresses through (simulated LANs use them; the secure
// default is the server's own business and tested in src/turn).
class SimTurnServer final : public Process {
 public:
  SimTurnServer(Network& net, NodeId host, SimTurnServerConfig config = {});
  ~SimTurnServer() override;
  SocketAddress address() const;
  const turn::ServerStats& stats() const { return server_->stats(); }

  Timestamp NextTimeout() const override { return server_->NextTimeout(); }
  void OnTimeout(Timestamp now) override { server_->HandleTimeout(now); }

 private:
  class Relays;
  class Output;
  class Clock;
  struct TcpConnection {
    StreamId stream = 0;
    SocketAddress remote;
    std::vector<uint8_t> buffer;
  };
  void OnTcpData(Timestamp now, uint64_t connection, ByteSpan data);

  Network& net_;
  NodeId host_;
  SimTurnServerConfig config_;
  SocketId socket_;
  std::unique_ptr<Clock> wall_;
  std::unique_ptr<turn::StaticCredentialStore> credentials_;
  std::unique_ptr<Relays> relays_;
  std::unique_ptr<Output> output_;
  std::unique_ptr<turn::AllocationQuota> quota_;
  SeededRng rng_;
  std::unique_ptr<turn::TurnServer> server_;
  std::map<uint64_t, TcpConnection> tcp_;
  uint64_t next_connection_ = 1;
};

}  // namespace tandem::sim
