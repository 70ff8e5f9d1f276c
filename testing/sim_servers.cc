#include "testing/sim_servers.h"

#include "stun/message.h"
#include "turn/framing.h"

namespace tandem::sim {

// ---------------------------------------------------------------------------------------------------------------
// STUN

SimStunServer::SimStunServer(Network& net, NodeId host, uint16_t port) : net_(net) {
  socket_ = net_.BindUdp(host, port, [this](Timestamp, const SocketAddress& from, ByteSpan data) {
    auto msg = stun::MessageView::Parse(data);
    if (!msg.ok() || msg->method() != stun::Method::kBinding ||
        msg->message_class() != stun::MessageClass::kRequest) {
      return;
    }
    ++requests_;
    // RFC 8489 §7.3.1: the reflexive transport address in XOR-MAPPED-ADDRESS.
    stun::MessageBuilder(buffer_, stun::Method::kBinding, stun::MessageClass::kSuccessResponse,
                         msg->transaction_id())
        .AddXorAddress(stun::attr::kXorMappedAddress, from)
        .AddFingerprint()
        .Finish();
    net_.SendUdp(socket_, from, buffer_);
  });
}

SimStunServer::~SimStunServer() { net_.CloseUdp(socket_); }

SocketAddress SimStunServer::address() const { return net_.LocalAddress(socket_); }

// ---------------------------------------------------------------------------------------------------------------
// TURN

class SimTurnServer::Clock final : public turn::WallClock {
 public:
  explicit Clock(Network& net) : net_(net) {}
  UnixTime Now() override { return UnixTime{1'700'000'000 + net_.now().seconds()}; }

 private:
  Network& net_;
};

class SimTurnServer::Relays final : public turn::RelayProvider {
 public:
  Relays(Network& net, NodeId host) : net_(net), host_(host) {}
  turn::TurnServer* server = nullptr;

  Result<Opened> Open(AddressFamily family, bool even_port, bool reserve_next) override {
    if (family != net_.AddressOf(host_).family()) return MakeError(ErrorCode::kUnsupported, "family");
    const turn::RelayId id = next_id_++;
    const SocketId socket =
        net_.BindUdp(host_, 0, [this, id](Timestamp now, const SocketAddress& from, ByteSpan d) {
          if (server != nullptr) server->HandlePeerPacket(now, id, from, d);
        });
    sockets_[id] = socket;
    Opened o;
    o.relay = Relay{id, net_.LocalAddress(socket)};
    return o;
  }
  Result<Relay> OpenReserved(uint64_t) override { return MakeError(ErrorCode::kNotFound, "no reservations"); }
  void Close(turn::RelayId id) override {
    auto it = sockets_.find(id);
    if (it == sockets_.end()) return;
    net_.CloseUdp(it->second);
    sockets_.erase(it);
  }
  std::optional<SocketId> SocketOf(turn::RelayId id) const {
    auto it = sockets_.find(id);
    if (it == sockets_.end()) return std::nullopt;
    return it->second;
  }

 private:
  Network& net_;
  NodeId host_;
  turn::RelayId next_id_ = 1;
  std::map<turn::RelayId, SocketId> sockets_;
};

class SimTurnServer::Output final : public turn::ServerOutput {
 public:
  explicit Output(SimTurnServer& owner) : owner_(owner) {}

  void SendToClient(const turn::ClientFlow& flow, ByteSpan head, ByteSpan payload, ByteSpan tail) override {
    buffer_.assign(head.begin(), head.end());
    buffer_.insert(buffer_.end(), payload.begin(), payload.end());
    buffer_.insert(buffer_.end(), tail.begin(), tail.end());
    if (flow.transport == turn::ClientTransport::kUdp) {
      owner_.net_.SendUdp(owner_.socket_, flow.client, buffer_);
      return;
    }
    auto it = owner_.tcp_.find(flow.connection_id);
    if (it != owner_.tcp_.end()) owner_.net_.StreamSend(it->second.stream, buffer_);
  }
  void SendToPeer(turn::RelayId relay, const SocketAddress& peer, ByteSpan payload, bool) override {
    if (auto socket = owner_.relays_->SocketOf(relay)) owner_.net_.SendUdp(*socket, peer, payload);
  }
  void CloseClient(const turn::ClientFlow& flow) override {
    auto it = owner_.tcp_.find(flow.connection_id);
    if (it == owner_.tcp_.end()) return;
    owner_.net_.StreamClose(it->second.stream);
    owner_.tcp_.erase(it);
  }

 private:
  SimTurnServer& owner_;
  std::vector<uint8_t> buffer_;
};

SimTurnServer::SimTurnServer(Network& net, NodeId host, SimTurnServerConfig config)
    : net_(net), host_(host), config_(std::move(config)), rng_(net.rng().NextU64()) {
  wall_ = std::make_unique<Clock>(net_);
  credentials_ = std::make_unique<turn::StaticCredentialStore>(*wall_);
  for (const auto& [user, pass] : config_.users) credentials_->AddUser(user, pass);
  relays_ = std::make_unique<Relays>(net_, host_);
  output_ = std::make_unique<Output>(*this);
  quota_ = turn::MakeLocalQuota(0, 0);
  turn::ServerConfig sc;
  sc.realm = config_.realm;
  sc.peer_policy.allow_private = true;
  sc.peer_policy.allow_loopback = true;
  server_ = std::make_unique<turn::TurnServer>(std::move(sc), *credentials_, *relays_, *quota_, *wall_, rng_,
                                               *output_);
  relays_->server = server_.get();
  socket_ =
      net_.BindUdp(host_, config_.port, [this](Timestamp now, const SocketAddress& from, ByteSpan data) {
        server_->HandleClientPacket(now, turn::ClientFlow{turn::ClientTransport::kUdp, from, address(), 0},
                                    data);
      });
  if (config_.listen_tcp) {
    net_.ListenStream(host_, config_.port, [this](Timestamp, StreamId id, const SocketAddress& remote) {
      const uint64_t connection = next_connection_++;
      tcp_[connection] = TcpConnection{id, remote, {}};
      StreamHandlers h;
      h.on_data = [this, connection](Timestamp now, ByteSpan data) { OnTcpData(now, connection, data); };
      h.on_closed = [this, connection](Timestamp now) {
        auto it = tcp_.find(connection);
        if (it == tcp_.end()) return;
        const turn::ClientFlow flow{turn::ClientTransport::kTcp, it->second.remote, address(), connection};
        tcp_.erase(it);
        server_->HandleClientClosed(now, flow);
      };
      return h;
    });
  }
  net_.AddProcess(this);
}

SimTurnServer::~SimTurnServer() {
  net_.RemoveProcess(this);
  net_.CloseUdp(socket_);
}

SocketAddress SimTurnServer::address() const { return net_.LocalAddress(socket_); }

void SimTurnServer::OnTcpData(Timestamp now, uint64_t connection, ByteSpan data) {
  auto it = tcp_.find(connection);
  if (it == tcp_.end()) return;
  it->second.buffer.insert(it->second.buffer.end(), data.begin(), data.end());
  size_t consumed = 0;
  for (;;) {
    auto& buffer = it->second.buffer;
    auto length = turn::NextFrameLength(ByteSpan(buffer).subspan(consumed));
    if (!length.ok()) {
      net_.StreamClose(it->second.stream);
      const turn::ClientFlow flow{turn::ClientTransport::kTcp, it->second.remote, address(), connection};
      tcp_.erase(it);
      server_->HandleClientClosed(now, flow);
      return;
    }
    if (*length == 0 || *length > buffer.size() - consumed) break;
    const std::vector<uint8_t> frame(buffer.begin() + static_cast<std::ptrdiff_t>(consumed),
                                     buffer.begin() + static_cast<std::ptrdiff_t>(consumed + *length));
    consumed += *length;
    const turn::ClientFlow flow{turn::ClientTransport::kTcp, it->second.remote, address(), connection};
    server_->HandleClientPacket(now, flow, frame);
    it = tcp_.find(connection);  // the server may have closed it
    if (it == tcp_.end()) return;
  }
  auto& buffer = it->second.buffer;
  buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(consumed));
}

}  // namespace tandem::sim
