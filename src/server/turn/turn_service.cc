#include "server/turn/turn_service.h"

#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "core/log.h"
#include "core/rng.h"
#include "net/event_loop.h"
#include "net/splice.h"
#include "net/stream_server.h"
#include "net/tcp_connection.h"
#include "net/udp_socket.h"
#include "server/turn/reservation_registry.h"
#include "turn/credentials.h"
#include "turn/framing.h"

namespace tandem::server {
namespace {


class SystemWallClock final : public turn::WallClock {
 public:
  UnixTime Now() override { return net::EventLoop::WallNow(); }
};

// Allocation quota shared by all workers. Touched only when an allocation is created or freed, never per packet,
// so a mutex is fine here.
class SharedQuota final : public turn::AllocationQuota {
 public:
  SharedQuota(uint32_t max_total, uint32_t max_per_user) : max_total_(max_total), max_per_user_(max_per_user) {}
  bool TryAcquire(std::string_view username) override {
    std::lock_guard lock(mutex_);
    if (max_total_ != 0 && total_ >= max_total_) return false;
    auto& count = per_user_[std::string(username)];
    if (max_per_user_ != 0 && count >= max_per_user_) return false;
    ++count;
    ++total_;
    return true;
  }
  void Release(std::string_view username) override {
    std::lock_guard lock(mutex_);
    auto it = per_user_.find(std::string(username));
    if (it == per_user_.end()) return;
    if (--it->second == 0) per_user_.erase(it);
    --total_;
  }

 private:
  std::mutex mutex_;
  uint32_t max_total_, max_per_user_;
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_user_;
};

// RFC 6062: pending peer connections by CONNECTION-ID, shared by the workers (a ConnectionBind may reach any of them).
// Touched when a peer connection is set up or torn down, never per byte: a mutex is fine.
class SharedConnectionRegistry {
 public:
  bool Reserve(turn::ConnectionId id, std::string_view username, uint32_t owner) {
    std::lock_guard lock(mutex_);
    return entries_.try_emplace(id, Entry{std::string(username), false, owner}).second;
  }
  void Publish(turn::ConnectionId id) {
    std::lock_guard lock(mutex_);
    if (auto it = entries_.find(id); it != entries_.end()) it->second.published = true;
  }
  std::optional<uint32_t> Claim(turn::ConnectionId id, std::string_view username) {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end() || !it->second.published || it->second.username != username) return std::nullopt;
    const uint32_t owner = it->second.owner;
    entries_.erase(it);
    return owner;
  }
  bool Withdraw(turn::ConnectionId id) {
    std::lock_guard lock(mutex_);
    return entries_.erase(id) != 0;
  }

 private:
  struct Entry {
    std::string username;
    bool published = false;
    uint32_t owner = 0;  // worker index
  };
  std::mutex mutex_;
  std::unordered_map<turn::ConnectionId, Entry> entries_;
};

// One worker's face of the shared registry: what it reserves is named by its index.
class WorkerConnectionRegistry final : public turn::ConnectionRegistry {
 public:
  WorkerConnectionRegistry(SharedConnectionRegistry& shared, uint32_t index) : shared_(shared), index_(index) {}
  bool Reserve(turn::ConnectionId id, std::string_view username) override {
    return shared_.Reserve(id, username, index_);
  }
  void Publish(turn::ConnectionId id) override { shared_.Publish(id); }
  std::optional<uint32_t> Claim(turn::ConnectionId id, std::string_view username) override {
    return shared_.Claim(id, username);
  }
  bool Withdraw(turn::ConnectionId id) override { return shared_.Withdraw(id); }

 private:
  SharedConnectionRegistry& shared_;
  uint32_t index_;
};

// TCP relayed transport addresses in use. Their listeners need SO_REUSEPORT (connections to peers leave from the same
// address), which would let two allocations on two workers share an address: this set keeps them exclusive.
class TcpRelayAddresses {
 public:
  bool TryAdd(const SocketAddress& a) {
    std::lock_guard lock(mutex_);
    return in_use_.insert(a).second;
  }
  void Remove(const SocketAddress& a) {
    std::lock_guard lock(mutex_);
    in_use_.erase(a);
  }

 private:
  std::mutex mutex_;
  std::unordered_set<SocketAddress> in_use_;
};

// A process-unique name for a peer connection's socket, which outlives CONNECTION-IDs (those may be reused once
// free) while the socket moves between workers.
uint64_t NextPeerHandle() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

constexpr turn::RelayId kTcpRelayBit = 0x80000000u;  // TCP relays' ids, apart from the UDP relays' vector indices

}  // namespace

struct TurnService::Shared {
  SystemWallClock wall_clock;
  std::unique_ptr<turn::StaticCredentialStore> credentials;
  std::unique_ptr<SharedQuota> quota;
  std::shared_ptr<net::TlsServerContext> tls;
  std::unique_ptr<net::WorkerPool> pool;
  ReservationRegistry reservations;
  SharedConnectionRegistry connections;
  TcpRelayAddresses tcp_relay_addresses;
  std::vector<Worker*> workers;  // for posting RFC 6062 hand-overs to another worker's loop
  std::mutex stats_mutex;
  std::vector<TurnServiceStats> worker_stats;
  uint16_t udp_port = 0, tcp_port = 0, tls_port = 0;
};

// One worker: an event loop, its listeners, its relay sockets and its TurnServer core. Everything here runs on the
// worker's thread once Run() starts.
class TurnService::Worker final : public turn::ServerOutput, public turn::RelayProvider {
 public:
  Worker(size_t index, net::EventLoop& loop, const TurnServiceConfig& config, Shared& shared)
      : index_(index),
        loop_(loop),
        config_(config),
        shared_(shared),
        registry_(shared.connections, static_cast<uint32_t>(index)),
        timer_(loop),
        stats_timer_(loop) {
    core_ = std::make_unique<turn::TurnServer>(config.core, *shared.credentials, *this, *shared.quota, registry_,
                                               shared.wall_clock, rng_, *this);
  }

  ~Worker() {
    // Order matters: closing TCP/TLS connections runs HandleClientClosed, which frees allocations and so closes
    // relay sockets and peer connections. Shut the stream servers down while the core, the relay tables and the
    // data connections' splices are still intact.
    for (auto& server : stream_servers_) server->Shutdown();
    stream_servers_.clear();
    data_conns_.clear();
    peers_.clear();
    for (size_t i = 0; i < tcp_relays_.size(); ++i) {
      if (tcp_relays_[i]) shared_.tcp_relay_addresses.Remove(tcp_relay_addrs_[i]);
    }
    tcp_relays_.clear();
    graveyard_.clear();
    udp_listeners_.clear();
    closing_.clear();
    relays_.clear();
  }


  // Binds this worker's listeners on `port` (0 on the first worker: the kernel picks, later workers reuse it).
  void BindUdp(const IpAddress& ip, uint16_t port, uint16_t* bound_port) {
    net::UdpSocketOptions options;
    options.reuse_port = true;
    auto socket = net::UdpSocket::Bind(loop_, SocketAddress(ip, port), options);
    if (!socket.ok()) {
      throw std::runtime_error("cannot bind UDP " + SocketAddress(ip, port).ToString() + ": " +
                               socket.error().ToString());
    }
    net::UdpSocket* raw = socket->get();
    SocketAddress local = raw->local_address();
    *bound_port = local.port();
    raw->StartReceiving([this, local](std::span<const net::ReceivedDatagram> batch) {
      Timestamp now = loop_.Now();
      turn::ClientFlow flow;
      flow.transport = turn::ClientTransport::kUdp;
      flow.local = local;
      for (const auto& d : batch) {
        flow.client = d.from;
        core_->HandleClientPacket(now, flow, d.data);
      }
      AfterInput();
    });
    udp_listeners_.push_back({local, std::move(*socket)});
  }

  void BindStream(const IpAddress& ip, uint16_t port, bool tls, uint16_t* bound_port) {
    net::StreamHandlers handlers;
    const turn::ClientTransport transport = tls ? turn::ClientTransport::kTls : turn::ClientTransport::kTcp;
    handlers.on_open = [this](net::StreamConnection& c) { connections_[c.id()] = &c; };
    handlers.on_data = [this, transport](net::StreamConnection& c, ByteSpan buffered) -> long {
      // RFC 6062 client data connections carry raw bytes, no STUN framing (checked only while some exist).
      if (!data_conns_.empty()) {
        if (auto it = data_conns_.find(c.id()); it != data_conns_.end()) {
          if (!it->second->splice) return 0;  // paused until the peer connection arrives
          tcp_bytes_piped_ += buffered.size();
          return it->second->splice->Forward(c, buffered);
        }
      }
      Timestamp now = loop_.Now();
      turn::ClientFlow flow{transport, c.remote_address(), c.local_address(), c.id()};
      size_t consumed = 0;
      while (consumed < buffered.size()) {
        auto frame = turn::NextFrameLength(buffered.subspan(consumed));
        if (!frame.ok()) return -1;  // not STUN/ChannelData: RFC 8656 gives no way to resync a stream
        if (*frame == 0) break;
        core_->HandleClientPacket(now, flow, buffered.subspan(consumed, *frame));
        consumed += *frame;
        if (diverted_ == c.id()) {
          // A ConnectionBind succeeded: what follows it is data for the peer, held until the peer connection is
          // here (BindDataConnection paused the reading).
          diverted_ = 0;
          break;
        }
      }
      AfterInput();
      return static_cast<long>(consumed);
    };
    handlers.on_close = [this, transport](net::StreamConnection& c) {
      connections_.erase(c.id());
      if (!data_conns_.empty()) OnDataConnectionClosed(c);
      turn::ClientFlow flow{transport, c.remote_address(), c.local_address(), c.id()};
      core_->HandleClientClosed(loop_.Now(), flow);
      AfterInput();
    };
    net::StreamServerOptions options;
    options.reuse_port = true;
    auto server = net::StreamServer::Listen(loop_, SocketAddress(ip, port), tls ? shared_.tls : nullptr,
                                            std::move(handlers), options);
    if (!server.ok()) {
      throw std::runtime_error(std::string("cannot listen on ") + (tls ? "TLS " : "TCP ") +
                               SocketAddress(ip, port).ToString() + ": " + server.error().ToString());
    }
    *bound_port = (*server)->local_address().port();
    stream_servers_.push_back(std::move(*server));
  }

  void Start() {
    ScheduleTimer();
    PublishStats();
  }

  // --- turn::ServerOutput ---
  void SendToClient(const turn::ClientFlow& flow, ByteSpan head, ByteSpan payload, ByteSpan tail) override {
    if (flow.transport == turn::ClientTransport::kUdp) {
      net::UdpSocket* socket = ListenerFor(flow.local);
      if (socket != nullptr) socket->Send(flow.client, head, payload, tail);
      return;
    }
    auto it = connections_.find(flow.connection_id);
    if (it != connections_.end()) it->second->Send(head, payload, tail);
  }

  void SendToPeer(turn::RelayId relay, const SocketAddress& peer, ByteSpan payload, bool dont_fragment) override {
    if (relay >= relays_.size() || !relays_[relay]) return;
    // RFC 8656 §7.2/§12: DONT-FRAGMENT asks for DF on what the relay sends. A relay socket serves one allocation,
    // so setting it socket-wide once (IP_PMTUDISC_DO) is exact, and costs no syscall per packet.
    if (dont_fragment && !relay_dont_fragment_[relay]) {
      relays_[relay]->SetDontFragment(true);
      relay_dont_fragment_[relay] = 1;
    }
    relays_[relay]->Send(peer, payload);
  }

  void CloseClient(const turn::ClientFlow& flow) override {
    auto it = connections_.find(flow.connection_id);
    if (it != connections_.end()) it->second->Close();
  }

  // --- RFC 6062 (turn::ServerOutput) ---
  //
  // Peer connections live on the worker whose core owns the allocation, under their CONNECTION-ID, and are not read
  // until bound. The ConnectionBind arrives on a client connection that the kernel gave to any worker (SO_REUSEPORT);
  // that worker's core claims the id in the shared registry and asks for BindDataConnection. The pipe is then built
  // where the client data connection is (it may be TLS, which cannot move): the owner releases the peer socket and
  // posts it over, and the splice runs shared-nothing on that worker. When it ends, the owner's core is told.
  //
  //   worker B (data connection)            worker A (allocation, peer connection)
  //   BindDataConnection -> pause reading
  //        post ------------------------->  OnHandOverRequest: Release() the peer socket
  //   OnPeerArrived: Adopt + Splice  <----- post (socket)
  //   ... bytes both ways on B ...
  //   both sides closed -> post --------->  OnPipeClosed: core HandlePeerConnectionClosed
  //                                         (allocation gone first: ClosePeerConnection -> post ClosePipe to B)

  void ConnectToPeer(turn::ConnectionId id, turn::RelayId relay, const SocketAddress& peer) override {
    const uint32_t index = relay & ~kTcpRelayBit;
    if ((relay & kTcpRelayBit) == 0 || index >= tcp_relays_.size() || !tcp_relays_[index]) {
      PostConnectFailure(id);
      return;
    }
    auto conn = net::TcpConnection::Connect(loop_, tcp_relay_addrs_[index], peer,
                                            [this, id](bool ok) { OnPeerConnected(id, ok); });
    if (!conn.ok()) {
      PostConnectFailure(id);  // the core expects the outcome later, never from inside this call
      return;
    }
    AddPeer(id, std::move(*conn));
  }

  void ClosePeerConnection(turn::ConnectionId id) override {
    auto it = peers_.find(id);
    if (it == peers_.end()) return;
    PeerSlot& slot = it->second;
    if (slot.moved_to >= 0) {
      // Bound and spliced on another worker (or this one): that worker closes both sides.
      const uint64_t handle = slot.handle;
      const auto to = static_cast<size_t>(slot.moved_to);
      Worker* target = shared_.workers[to];
      PostTo(to, [target, handle] { target->ClosePipe(handle); });
    }
    if (slot.conn) Bury(std::move(slot.conn));  // may be inside one of its own callbacks
    peer_by_handle_.erase(slot.handle);
    peers_.erase(it);
  }

  void BindDataConnection(const turn::ClientFlow& flow, turn::ConnectionId id, uint32_t owner) override {
    auto it = connections_.find(flow.connection_id);
    if (it == connections_.end() || owner >= shared_.workers.size()) return;
    it->second->PauseReading();
    diverted_ = flow.connection_id;
    auto dc = std::make_unique<DataConnection>();
    dc->client = it->second;
    dc->owner = owner;
    dc->id = id;
    data_conns_[flow.connection_id] = std::move(dc);
    Worker* target = shared_.workers[owner];
    const size_t me = index_;
    const uint64_t cid = flow.connection_id;
    PostTo(owner, [target, id, me, cid] { target->OnHandOverRequest(id, me, cid); });
  }

  // --- turn::RelayProvider ---
  Result<Opened> Open(AddressFamily family, bool even_port, bool reserve_next) override {
    const IpAddress* relay_ip = nullptr;
    for (const auto& ip : config_.relay_ips) {
      if (ip.family() == family) {
        relay_ip = &ip;
        break;
      }
    }
    if (relay_ip == nullptr) return MakeError(ErrorCode::kUnsupported, "no relay address of that family");
    const uint32_t lo = config_.min_port, hi = config_.max_port;
    // Random probing of the range: a fresh allocation's port is unpredictable (RFC 8656 §7.2 recommends random
    // relayed ports), and bind() arbitrates between workers.
    for (int attempt = 0; attempt < 64; ++attempt) {
      uint32_t port = rng_.Uniform(lo, hi);
      if (even_port || reserve_next) port &= ~1u;
      if (port < lo || (reserve_next && port + 1 > hi)) continue;
      auto first = BindRelay(SocketAddress(*relay_ip, static_cast<uint16_t>(port)));
      if (!first.ok()) continue;
      Opened opened;
      opened.relay = *first;
      if (reserve_next) {
        // Hold port+1 in the shared registry: the token may be redeemed on another worker.
        auto held = net::UdpPortHold::Bind(SocketAddress(*relay_ip, static_cast<uint16_t>(port + 1)),
                                           RelaySocketOptions());
        std::optional<uint64_t> token;
        if (held.ok()) token = shared_.reservations.Add(loop_.Now(), std::move(*held), rng_);
        if (!token) {
          Close(first->id);
          continue;
        }
        opened.reservation_token = token;
      }
      return opened;
    }
    ++relay_bind_failures_;
    return MakeError(ErrorCode::kUnavailable, "no free relay port");
  }

  Result<Relay> OpenReserved(uint64_t token) override {
    auto held = shared_.reservations.Take(loop_.Now(), token);
    if (!held) return MakeError(ErrorCode::kNotFound, "unknown or expired reservation token");
    auto socket = net::UdpSocket::Adopt(loop_, std::move(*held));
    if (!socket.ok()) return socket.error();
    return RegisterRelay(std::move(*socket));
  }

  // RFC 6062 §5.1: a TCP relayed transport address, from the same port range.
  Result<Relay> OpenTcp(AddressFamily family) override {
    const IpAddress* relay_ip = nullptr;
    for (const auto& ip : config_.relay_ips) {
      if (ip.family() == family) {
        relay_ip = &ip;
        break;
      }
    }
    if (relay_ip == nullptr) return MakeError(ErrorCode::kUnsupported, "no relay address of that family");
    uint32_t index;
    if (!free_tcp_relay_ids_.empty()) {
      index = free_tcp_relay_ids_.back();
      free_tcp_relay_ids_.pop_back();
    } else {
      index = static_cast<uint32_t>(tcp_relays_.size());
      tcp_relays_.emplace_back();
      tcp_relay_addrs_.emplace_back();
    }
    const turn::RelayId id = kTcpRelayBit | index;
    for (int attempt = 0; attempt < 64; ++attempt) {
      const SocketAddress address(*relay_ip, static_cast<uint16_t>(rng_.Uniform(config_.min_port, config_.max_port)));
      if (!shared_.tcp_relay_addresses.TryAdd(address)) continue;
      auto listener = net::TcpListener::Listen(
          loop_, address, [this, id](net::TcpSocket socket, const SocketAddress& remote) {
            OnPeerAccepted(id, std::move(socket), remote);
          });
      if (!listener.ok()) {
        shared_.tcp_relay_addresses.Remove(address);
        continue;
      }
      tcp_relays_[index] = std::move(*listener);
      tcp_relay_addrs_[index] = address;
      ++tcp_relays_open_;
      return Relay{id, address};
    }
    free_tcp_relay_ids_.push_back(index);
    ++relay_bind_failures_;
    return MakeError(ErrorCode::kUnavailable, "no free TCP relay port");
  }

  void Close(turn::RelayId id) override {
    if ((id & kTcpRelayBit) != 0) {
      const uint32_t index = id & ~kTcpRelayBit;
      if (index >= tcp_relays_.size() || !tcp_relays_[index]) return;
      shared_.tcp_relay_addresses.Remove(tcp_relay_addrs_[index]);
      tcp_relays_[index].reset();  // safe inside its own accept handler
      free_tcp_relay_ids_.push_back(index);
      --tcp_relays_open_;
      return;
    }
    if (id >= relays_.size() || !relays_[id]) return;
    // Destroying the socket from inside its own receive handler would be unsafe; defer to the end of this cycle.
    closing_.push_back(std::move(relays_[id]));
    free_relay_ids_.push_back(id);
    --relay_sockets_open_;
    if (!close_scheduled_) {
      close_scheduled_ = true;
      loop_.Post([this] {
        closing_.clear();
        close_scheduled_ = false;
      });
    }
  }

  TurnServiceStats Snapshot() const {
    TurnServiceStats s;
    s.core = core_->stats();
    s.relay_sockets_open = relay_sockets_open_;
    s.relay_bind_failures = relay_bind_failures_;
    s.stream_connections = connections_.size();
    s.tcp_relays_open = tcp_relays_open_;
    s.tcp_peer_connections = peers_.size();
    size_t pipes = 0;
    for (const auto& [cid, dc] : data_conns_) pipes += dc->splice ? 1 : 0;
    s.tcp_pipes_active = pipes;
    s.tcp_bytes_piped = tcp_bytes_piped_;
    s.tcp_pipes_opened = tcp_pipes_opened_;
    s.tcp_pipes_cross_worker = tcp_pipes_cross_worker_;
    return s;
  }

 private:
  // --- RFC 6062 plumbing ---

  // A peer connection this worker's core knows, by CONNECTION-ID: here (conn), or spliced on worker `moved_to`.
  struct PeerSlot {
    uint64_t handle = 0;
    std::unique_ptr<net::TcpConnection> conn;
    int moved_to = -1;
  };
  // A client data connection on this worker: waiting for its peer connection (no splice yet), then spliced.
  struct DataConnection {
    net::StreamConnection* client = nullptr;  // owned by the stream server; valid until its on_close
    uint32_t owner = 0;                        // the worker whose core owns the peer connection
    turn::ConnectionId id = 0;
    uint64_t handle = 0;
    std::unique_ptr<net::TcpConnection> peer;  // declared before the splice: destroyed after it
    std::unique_ptr<net::Splice> splice;
    bool client_open = true;
  };

  void AddPeer(turn::ConnectionId id, std::unique_ptr<net::TcpConnection> conn) {
    PeerSlot slot;
    slot.handle = NextPeerHandle();
    slot.conn = std::move(conn);
    peer_by_handle_[slot.handle] = id;
    peers_[id] = std::move(slot);
  }

  void PostConnectFailure(turn::ConnectionId id) {
    loop_.Post([this, id] {
      core_->HandlePeerConnectResult(loop_.Now(), id, false);
      AfterInput();
    });
  }

  void OnPeerConnected(turn::ConnectionId id, bool ok) {
    if (!ok) {
      if (auto it = peers_.find(id); it != peers_.end()) {
        Bury(std::move(it->second.conn));  // we are inside its callback
        peer_by_handle_.erase(it->second.handle);
        peers_.erase(it);
      }
    }
    core_->HandlePeerConnectResult(loop_.Now(), id, ok);
    AfterInput();
  }

  // RFC 6062 §5.3: a peer connected to a TCP relayed transport address.
  void OnPeerAccepted(turn::RelayId relay, net::TcpSocket socket, const SocketAddress& remote) {
    const Timestamp now = loop_.Now();
    const auto id = core_->HandlePeerConnectionAccepted(now, relay, remote);
    if (id) {
      auto conn = net::TcpConnection::Adopt(loop_, std::move(socket));
      if (conn.ok()) {
        AddPeer(*id, std::move(*conn));
      } else {
        core_->HandlePeerConnectionClosed(now, *id);
      }
    }
    AfterInput();  // a refused socket closes as `socket` goes out of scope
  }

  // On the owner: the worker `to` bound client connection `cid` to peer connection `id`; send the socket over.
  void OnHandOverRequest(turn::ConnectionId id, size_t to, uint64_t cid) {
    std::shared_ptr<net::TcpSocket> socket;  // copyable, for Post(); closes the socket if never adopted
    uint64_t handle = 0;
    auto it = peers_.find(id);
    if (it != peers_.end() && it->second.conn && it->second.moved_to < 0) {
      net::TcpSocket released = it->second.conn->Release();
      if (released.valid()) {
        socket = std::make_shared<net::TcpSocket>(std::move(released));
        handle = it->second.handle;
        it->second.moved_to = static_cast<int>(to);
        Bury(std::move(it->second.conn));
      }
    }
    Worker* target = shared_.workers[to];
    const uint32_t owner = static_cast<uint32_t>(index_);
    PostTo(to, [target, owner, handle, cid, socket] { target->OnPeerArrived(owner, handle, cid, socket); });
  }

  // On the data connection's worker: the peer socket arrived (null: the owner had closed it meanwhile).
  void OnPeerArrived(uint32_t owner, uint64_t handle, uint64_t cid, std::shared_ptr<net::TcpSocket> socket) {
    auto it = data_conns_.find(cid);
    if (it == data_conns_.end()) {
      // The client data connection ended meanwhile: drop the socket and tell the owner.
      if (socket) PostPipeClosed(owner, handle);
      return;
    }
    DataConnection& dc = *it->second;
    std::unique_ptr<net::TcpConnection> peer;
    if (socket && socket->valid()) {
      auto adopted = net::TcpConnection::Adopt(loop_, std::move(*socket));
      if (adopted.ok()) peer = std::move(*adopted);
    }
    if (!peer) {
      if (socket) PostPipeClosed(owner, handle);
      dc.client->Close();  // its on_close removes the entry
      return;
    }
    dc.handle = handle;
    dc.peer = std::move(peer);
    ++tcp_pipes_opened_;
    if (owner != index_) ++tcp_pipes_cross_worker_;
    dc.splice = std::make_unique<net::Splice>(*dc.client, *dc.peer);  // the client's held bytes go first
    net::StreamHandlers h;
    h.on_data = [this, cid](net::StreamConnection& from, ByteSpan bytes) -> long {
      auto d = data_conns_.find(cid);
      if (d == data_conns_.end() || !d->second->splice) return -1;
      tcp_bytes_piped_ += bytes.size();
      return d->second->splice->Forward(from, bytes);
    };
    h.on_close = [this, cid](net::StreamConnection& c) {
      auto d = data_conns_.find(cid);
      if (d == data_conns_.end() || !d->second->splice) return;
      if (d->second->splice->OnClosed(c)) FinishPipe(d);
    };
    dc.peer->Start(std::move(h));
    pipe_by_handle_[handle] = cid;
  }

  // A client connection closed; if it was a data connection, its pipe (or its wait for one) ends.
  void OnDataConnectionClosed(net::StreamConnection& c) {
    auto it = data_conns_.find(c.id());
    if (it == data_conns_.end()) return;
    DataConnection& dc = *it->second;
    dc.client_open = false;
    if (!dc.splice) {
      // Still waiting for the peer socket: OnPeerArrived finds no entry and hands it back.
      data_conns_.erase(it);
      return;
    }
    if (dc.splice->OnClosed(c)) FinishPipe(it);
  }

  // Both sides of a pipe are closed: forget it (deferred: we are inside a callback) and tell the owner's core.
  void FinishPipe(std::unordered_map<uint64_t, std::unique_ptr<DataConnection>>::iterator it) {
    DataConnection& dc = *it->second;
    PostPipeClosed(dc.owner, dc.handle);
    pipe_by_handle_.erase(dc.handle);
    dc.splice.reset();
    if (dc.peer) Bury(std::move(dc.peer));
    data_conns_.erase(it);
  }

  void PostPipeClosed(uint32_t owner, uint64_t handle) {
    Worker* target = shared_.workers[owner];
    PostTo(owner, [target, handle] { target->OnPipeClosed(handle); });
  }

  // Runs `fn` on worker `index`'s loop. Through the pool, not the Worker: while the service is torn down the target
  // may already be gone (then the loops are stopped and `fn` never runs).
  void PostTo(size_t index, std::function<void()> fn) { shared_.pool->loop(index).Post(std::move(fn)); }

  // On the owner: a pipe ended. Unknown handles are connections the core dropped already.
  void OnPipeClosed(uint64_t handle) {
    auto it = peer_by_handle_.find(handle);
    if (it == peer_by_handle_.end()) return;
    const turn::ConnectionId id = it->second;
    peer_by_handle_.erase(it);
    peers_.erase(id);
    core_->HandlePeerConnectionClosed(loop_.Now(), id);
    AfterInput();
  }

  // On the pipe's worker: the owner's core dropped the connection (allocation deleted or expired).
  void ClosePipe(uint64_t handle) {
    auto it = pipe_by_handle_.find(handle);
    if (it == pipe_by_handle_.end()) return;
    auto d = data_conns_.find(it->second);
    if (d == data_conns_.end()) return;
    DataConnection& dc = *d->second;
    if (dc.client_open) dc.client->Close();
    if (dc.peer) dc.peer->Close();  // both on_close handlers follow; the last one finishes the pipe
  }

  // Deferred deletion of a TcpConnection that may be inside one of its own callbacks.
  void Bury(std::unique_ptr<net::TcpConnection> conn) {
    if (!conn) return;
    graveyard_.push_back(std::move(conn));
    if (!graveyard_scheduled_) {
      graveyard_scheduled_ = true;
      loop_.Post([this] {
        graveyard_.clear();
        graveyard_scheduled_ = false;
      });
    }
  }

  static net::UdpSocketOptions RelaySocketOptions() {
    net::UdpSocketOptions options;
    options.reuse_address = false;  // two allocations must never share a relayed address
    options.receive_buffer_bytes = 256 * 1024;
    options.send_buffer_bytes = 256 * 1024;
    return options;
  }

  Result<Relay> BindRelay(const SocketAddress& address) {
    auto socket = net::UdpSocket::Bind(loop_, address, RelaySocketOptions());
    if (!socket.ok()) return socket.error();
    return RegisterRelay(std::move(*socket));
  }

  Relay RegisterRelay(std::unique_ptr<net::UdpSocket> socket) {
    turn::RelayId id;
    if (!free_relay_ids_.empty()) {
      id = free_relay_ids_.back();
      free_relay_ids_.pop_back();
    } else {
      id = static_cast<turn::RelayId>(relays_.size());
      relays_.emplace_back();
      relay_dont_fragment_.emplace_back(0);
    }
    relay_dont_fragment_[id] = 0;
    socket->StartReceiving([this, id](std::span<const net::ReceivedDatagram> batch) {
      Timestamp now = loop_.Now();
      for (const auto& d : batch) core_->HandlePeerPacket(now, id, d.from, d.data);
      AfterInput();
    });
    Relay relay{id, socket->local_address()};
    relays_[id] = std::move(socket);
    ++relay_sockets_open_;
    return relay;
  }

  net::UdpSocket* ListenerFor(const SocketAddress& local) {
    if (udp_listeners_.size() == 1) return udp_listeners_[0].second.get();
    for (auto& [address, socket] : udp_listeners_)
      if (address == local) return socket.get();
    return nullptr;
  }

  // After every input the core's next deadline may have moved earlier; re-arm only then, so the hot path costs no
  // timer syscalls.
  void AfterInput() {
    Timestamp next = core_->NextTimeout();
    if (next < armed_deadline_) ScheduleTimer();
  }

  void ScheduleTimer() {
    Timestamp next = core_->NextTimeout();
    armed_deadline_ = next;
    if (next.IsInfinite()) return;
    timer_.ArmAt(next, [this] {
      armed_deadline_ = Timestamp::Infinity();
      core_->HandleTimeout(loop_.Now());
      ScheduleTimer();
    });
  }

  void PublishStats() {
    {
      std::lock_guard lock(shared_.stats_mutex);
      shared_.worker_stats[index_] = Snapshot();
    }
    stats_timer_.ArmAt(loop_.Now() + TimeDelta::Seconds(1), [this] { PublishStats(); });
  }

  size_t index_;
  net::EventLoop& loop_;
  const TurnServiceConfig& config_;
  Shared& shared_;
  WorkerConnectionRegistry registry_;
  SecureRng rng_;
  std::unique_ptr<turn::TurnServer> core_;
  net::Timer timer_;
  net::Timer stats_timer_;
  Timestamp armed_deadline_ = Timestamp::Infinity();
  std::vector<std::pair<SocketAddress, std::unique_ptr<net::UdpSocket>>> udp_listeners_;
  std::vector<std::unique_ptr<net::StreamServer>> stream_servers_;
  std::unordered_map<uint64_t, net::StreamConnection*> connections_;
  std::vector<std::unique_ptr<net::UdpSocket>> relays_;
  std::vector<uint8_t> relay_dont_fragment_;  // parallel to relays_: DF already set on that socket
  std::vector<turn::RelayId> free_relay_ids_;
  std::vector<std::unique_ptr<net::UdpSocket>> closing_;
  bool close_scheduled_ = false;
  uint64_t relay_sockets_open_ = 0;
  uint64_t relay_bind_failures_ = 0;
  // RFC 6062.
  std::vector<std::unique_ptr<net::TcpListener>> tcp_relays_;  // by RelayId & ~kTcpRelayBit
  std::vector<SocketAddress> tcp_relay_addrs_;
  std::vector<uint32_t> free_tcp_relay_ids_;
  std::unordered_map<turn::ConnectionId, PeerSlot> peers_;
  std::unordered_map<uint64_t, turn::ConnectionId> peer_by_handle_;
  std::unordered_map<uint64_t, std::unique_ptr<DataConnection>> data_conns_;  // by client connection id
  std::unordered_map<uint64_t, uint64_t> pipe_by_handle_;                     // peer handle -> client connection id
  std::vector<std::unique_ptr<net::TcpConnection>> graveyard_;
  bool graveyard_scheduled_ = false;
  uint64_t diverted_ = 0;  // the client connection a ConnectionBind just turned into a data connection
  uint64_t tcp_relays_open_ = 0;
  uint64_t tcp_bytes_piped_ = 0;
  uint64_t tcp_pipes_opened_ = 0;
  uint64_t tcp_pipes_cross_worker_ = 0;
};

TurnService::TurnService(TurnServiceConfig config) : config_(std::move(config)), shared_(std::make_unique<Shared>()) {
  if (config_.threads == 0) config_.threads = 1;
  if (config_.listening_ips.empty()) config_.listening_ips.push_back(IpAddress::AnyV4());
  if (config_.relay_ips.empty()) {
    for (const auto& ip : config_.listening_ips) {
      bool have_family = false;
      for (const auto& r : config_.relay_ips) have_family |= r.family() == ip.family();
      if (!have_family) config_.relay_ips.push_back(ip);
    }
  }
  if (config_.min_port > config_.max_port) throw std::runtime_error("--min-port is greater than --max-port");
  if (config_.core.enable_turn && config_.core.require_auth && config_.users.empty() &&
      config_.auth_secrets.empty()) {
    throw std::runtime_error(
        "TURN needs credentials: give --user NAME:PASS or --use-auth-secret --static-auth-secret SECRET "
        "(or --stun-only)");
  }
  const bool want_tls = config_.tls && !config_.cert_file.empty();
  if (config_.tls && config_.cert_file.empty() != config_.key_file.empty()) {
    throw std::runtime_error("--cert and --pkey must be given together");
  }
  if (want_tls) shared_->tls = net::TlsServerContext::FromFiles(config_.cert_file, config_.key_file);

  shared_->credentials = std::make_unique<turn::StaticCredentialStore>(shared_->wall_clock);
  for (const auto& [user, pass] : config_.users) shared_->credentials->AddUser(user, pass);
  for (const auto& secret : config_.auth_secrets) shared_->credentials->AddSharedSecret(secret);
  shared_->quota = std::make_unique<SharedQuota>(config_.total_quota, config_.user_quota);
  shared_->pool = std::make_unique<net::WorkerPool>(config_.threads);
  shared_->worker_stats.resize(config_.threads);

  // RFC 5780 needs the two addresses the server answers from.
  if (config_.alt_listening_port && config_.listening_ips.size() >= 2) {
    config_.core.primary_address = SocketAddress(config_.listening_ips[0], config_.listening_port);
    config_.core.alternate_address = SocketAddress(config_.listening_ips[1], *config_.alt_listening_port);
  }

  // One nonce secret for all workers: an RFC 6062 data connection may reach another worker than its control
  // connection and reuse the control connection's nonce.
  if (!config_.core.nonce_secret) {
    SecureRng rng;
    std::array<uint8_t, 32> secret;
    rng.Fill(secret);
    config_.core.nonce_secret = secret;
  }
  for (size_t i = 0; i < config_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, shared_->pool->loop(i), config_, *shared_));
    shared_->workers.push_back(workers_.back().get());
  }
  // The first worker binds with the configured port (0: ephemeral) and the rest reuse the number it got, so every
  // worker serves the same address with SO_REUSEPORT.
  uint16_t udp_port = config_.listening_port, tcp_port = config_.listening_port, tls_port = config_.tls_listening_port;
  for (const auto& ip : config_.listening_ips) {
    for (auto& worker : workers_) {
      uint16_t bound = 0;
      if (config_.udp) {
        worker->BindUdp(ip, udp_port, &bound);
        udp_port = bound;
        if (config_.alt_listening_port) {
          uint16_t alt_bound = 0;
          worker->BindUdp(ip, *config_.alt_listening_port, &alt_bound);
        }
      }
      if (config_.tcp) {
        // TCP follows the UDP port number when UDP chose it.
        if (config_.udp && tcp_port == 0) tcp_port = udp_port;
        worker->BindStream(ip, tcp_port, false, &bound);
        tcp_port = bound;
      }
      if (want_tls) {
        worker->BindStream(ip, tls_port, true, &bound);
        tls_port = bound;
      }
    }
  }
  shared_->udp_port = config_.udp ? udp_port : 0;
  shared_->tcp_port = config_.tcp ? tcp_port : 0;
  shared_->tls_port = want_tls ? tls_port : 0;
  for (auto& worker : workers_) worker->Start();
}

TurnService::~TurnService() {
  // Workers' sockets belong to the loops; destroy workers before the pool.
  workers_.clear();
  shared_->pool.reset();
}

uint16_t TurnService::udp_port() const { return shared_->udp_port; }
uint16_t TurnService::tcp_port() const { return shared_->tcp_port; }
uint16_t TurnService::tls_port() const { return shared_->tls_port; }

std::string TurnService::ListeningSummary() const {
  const IpAddress& ip = config_.listening_ips.front();
  std::string out;
  auto add = [&](const char* name, uint16_t port) {
    if (port == 0) return;
    if (!out.empty()) out += ' ';
    out += std::string(name) + "=" + SocketAddress(ip, port).ToString();
  };
  add("udp", shared_->udp_port);
  add("tcp", shared_->tcp_port);
  add("tls", shared_->tls_port);
  return out;
}

std::vector<std::string> TurnService::Urls() const {
  std::vector<std::string> urls;
  IpAddress ip = config_.listening_ips.front();
  if (ip.IsUnspecified()) ip = ip.is_v6() ? *IpAddress::Parse("::1") : IpAddress::LoopbackV4();
  std::string host = ip.is_v6() ? "[" + ip.ToString() + "]" : ip.ToString();
  if (shared_->udp_port) urls.push_back("stun:" + host + ":" + std::to_string(shared_->udp_port));
  if (config_.core.enable_turn) {
    if (shared_->udp_port)
      urls.push_back("turn:" + host + ":" + std::to_string(shared_->udp_port) + "?transport=udp");
    if (shared_->tcp_port)
      urls.push_back("turn:" + host + ":" + std::to_string(shared_->tcp_port) + "?transport=tcp");
    if (shared_->tls_port)
      urls.push_back("turns:" + host + ":" + std::to_string(shared_->tls_port) + "?transport=tcp");
  }
  return urls;
}

void TurnService::Run() {
  shared_->pool->Run();
  // The loops have stopped: workers can be read directly for a final, exact snapshot.
  std::lock_guard lock(shared_->stats_mutex);
  for (size_t i = 0; i < workers_.size(); ++i) shared_->worker_stats[i] = workers_[i]->Snapshot();
}
void TurnService::Stop() { shared_->pool->Stop(); }

TurnServiceStats TurnService::Stats() const {
  std::lock_guard lock(shared_->stats_mutex);
  TurnServiceStats total;
  for (const auto& w : shared_->worker_stats) {
    const auto& c = w.core;
    auto& t = total.core;
    t.binding_requests += c.binding_requests;
    t.allocations_created += c.allocations_created;
    t.allocations_expired += c.allocations_expired;
    t.allocations_deleted += c.allocations_deleted;
    t.allocations_active += c.allocations_active;
    t.permissions_active += c.permissions_active;
    t.channels_active += c.channels_active;
    t.packets_client_to_peer += c.packets_client_to_peer;
    t.packets_peer_to_client += c.packets_peer_to_client;
    t.bytes_client_to_peer += c.bytes_client_to_peer;
    t.bytes_peer_to_client += c.bytes_peer_to_client;
    t.error_responses += c.error_responses;
    t.auth_failures += c.auth_failures;
    t.stale_nonces += c.stale_nonces;
    t.dropped_malformed += c.dropped_malformed;
    t.dropped_no_allocation += c.dropped_no_allocation;
    t.dropped_no_permission += c.dropped_no_permission;
    t.dropped_rate_limited += c.dropped_rate_limited;
    t.dropped_bandwidth += c.dropped_bandwidth;
    t.dropped_unknown_channel += c.dropped_unknown_channel;
    t.peer_refused += c.peer_refused;
    t.tcp_connections_active += c.tcp_connections_active;
    t.tcp_connects += c.tcp_connects;
    t.tcp_connect_failures += c.tcp_connect_failures;
    t.tcp_connections_accepted += c.tcp_connections_accepted;
    t.tcp_connections_refused += c.tcp_connections_refused;
    t.tcp_connections_bound += c.tcp_connections_bound;
    t.tcp_bind_timeouts += c.tcp_bind_timeouts;
    total.tcp_relays_open += w.tcp_relays_open;
    total.tcp_peer_connections += w.tcp_peer_connections;
    total.tcp_pipes_active += w.tcp_pipes_active;
    total.tcp_bytes_piped += w.tcp_bytes_piped;
    total.tcp_pipes_opened += w.tcp_pipes_opened;
    total.tcp_pipes_cross_worker += w.tcp_pipes_cross_worker;
    total.relay_sockets_open += w.relay_sockets_open;
    total.relay_bind_failures += w.relay_bind_failures;
    total.stream_connections += w.stream_connections;
  }
  return total;
}

}  // namespace tandem::server
