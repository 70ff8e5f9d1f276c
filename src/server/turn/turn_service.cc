#include "server/turn/turn_service.h"

#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "core/log.h"
#include "core/rng.h"
#include "net/event_loop.h"
#include "net/stream_server.h"
#include "net/udp_socket.h"
#include "server/turn/reservation_registry.h"
#include "turn/credentials.h"
#include "turn/framing.h"

namespace tandem::server {
namespace {

constexpr const char* kLog = "turn-service";

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

}  // namespace

struct TurnService::Shared {
  SystemWallClock wall_clock;
  std::unique_ptr<turn::StaticCredentialStore> credentials;
  std::unique_ptr<SharedQuota> quota;
  std::shared_ptr<net::TlsServerContext> tls;
  std::unique_ptr<net::WorkerPool> pool;
  ReservationRegistry reservations;
  std::mutex stats_mutex;
  std::vector<TurnServiceStats> worker_stats;
  uint16_t udp_port = 0, tcp_port = 0, tls_port = 0;
};

// One worker: an event loop, its listeners, its relay sockets and its TurnServer core. Everything here runs on the
// worker's thread once Run() starts.
class TurnService::Worker final : public turn::ServerOutput, public turn::RelayProvider {
 public:
  Worker(size_t index, net::EventLoop& loop, const TurnServiceConfig& config, Shared& shared)
      : index_(index), loop_(loop), config_(config), shared_(shared), timer_(loop), stats_timer_(loop) {
    core_ = std::make_unique<turn::TurnServer>(config.core, *shared.credentials, *this, *shared.quota,
                                               shared.wall_clock, rng_, *this);
  }

  ~Worker() {
    // Order matters: closing TCP/TLS connections runs HandleClientClosed, which frees allocations and so closes
    // relay sockets. Shut the stream servers down while the core and the relay table are still intact.
    for (auto& server : stream_servers_) server->Shutdown();
    stream_servers_.clear();
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
    raw->StartReceiving([this, raw, local](std::span<const net::ReceivedDatagram> batch) {
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
      Timestamp now = loop_.Now();
      turn::ClientFlow flow{transport, c.remote_address(), c.local_address(), c.id()};
      size_t consumed = 0;
      while (consumed < buffered.size()) {
        auto frame = turn::NextFrameLength(buffered.subspan(consumed));
        if (!frame.ok()) return -1;  // not STUN/ChannelData: RFC 8656 gives no way to resync a stream
        if (*frame == 0) break;
        core_->HandleClientPacket(now, flow, buffered.subspan(consumed, *frame));
        consumed += *frame;
      }
      AfterInput();
      return static_cast<long>(consumed);
    };
    handlers.on_close = [this, transport](net::StreamConnection& c) {
      connections_.erase(c.id());
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
    relays_[relay]->Send(peer, payload);
  }

  void CloseClient(const turn::ClientFlow& flow) override {
    auto it = connections_.find(flow.connection_id);
    if (it != connections_.end()) it->second->Close();
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

  void Close(turn::RelayId id) override {
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
    return s;
  }

 private:
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
    }
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
  SecureRng rng_;
  std::unique_ptr<turn::TurnServer> core_;
  net::Timer timer_;
  net::Timer stats_timer_;
  Timestamp armed_deadline_ = Timestamp::Infinity();
  std::vector<std::pair<SocketAddress, std::unique_ptr<net::UdpSocket>>> udp_listeners_;
  std::vector<std::unique_ptr<net::StreamServer>> stream_servers_;
  std::unordered_map<uint64_t, net::StreamConnection*> connections_;
  std::vector<std::unique_ptr<net::UdpSocket>> relays_;
  std::vector<turn::RelayId> free_relay_ids_;
  std::vector<std::unique_ptr<net::UdpSocket>> closing_;
  bool close_scheduled_ = false;
  uint64_t relay_sockets_open_ = 0;
  uint64_t relay_bind_failures_ = 0;
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

  for (size_t i = 0; i < config_.threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(i, shared_->pool->loop(i), config_, *shared_));
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
    total.relay_sockets_open += w.relay_sockets_open;
    total.relay_bind_failures += w.relay_bind_failures;
    total.stream_connections += w.stream_connections;
  }
  return total;
}

}  // namespace tandem::server
