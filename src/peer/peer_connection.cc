// tandem::PeerConnection: the public API over the sans-IO PeerCore, and the thin IO driver that runs it on an
// event loop — UDP sockets on the host's interfaces, TCP/TLS streams to TURN servers, an mDNS resolver socket
// and one timer. Everything below runs on the connection's loop thread; public methods called from other
// threads are posted there and wait.
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <unordered_map>

#include "core/log.h"
#include "core/rng.h"
#include "mdns/common.h"
#include "mdns/resolver.h"
#include "net/event_loop.h"
#include "net/stream_client.h"
#include "net/udp_socket.h"
#include "peer/certificate_impl.h"
#include "peer/ice_server_url.h"
#include "peer/media_tracks.h"
#include "peer/peer_core.h"
#include "peer/runtime_impl.h"
#include "tandem/peer_connection.h"

namespace tandem {

namespace {

constexpr char kLog[] = "peer.connection";
constexpr size_t kMaxBufferedBytes = 16 << 20;  // W3C: send() throws OperationError when the buffer is full

double WallMs() {
  return std::chrono::duration<double, std::milli>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<IpAddress> Resolve(const std::string& host) {
  std::vector<IpAddress> out;
  if (auto literal = IpAddress::Parse(host)) return {*literal};
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* result = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &result) != 0) return out;
  for (addrinfo* ai = result; ai; ai = ai->ai_next) {
    if (auto a = SocketAddress::FromSockaddr(ai->ai_addr, ai->ai_addrlen)) {
      if (std::find(out.begin(), out.end(), a->ip()) == out.end()) out.push_back(a->ip());
    }
  }
  freeaddrinfo(result);
  return out;
}

std::vector<ice::ServerConfig> ResolveIceServers(const std::vector<IceServer>& servers) {
  std::vector<ice::ServerConfig> out;
  for (const IceServer& server : servers) {
    for (const std::string& url : server.urls) {
      auto parsed = peer::IceServerUrl::Parse(url);
      if (!parsed.ok()) throw RtcError("SyntaxError", url + ": " + parsed.error().reason);
      if (parsed->is_turn() && (server.username.empty() || server.credential.empty())) {
        throw RtcError("InvalidAccessError", url + ": a TURN server needs a username and a credential");
      }
      const std::vector<IpAddress> addresses = Resolve(parsed->host);
      if (addresses.empty()) {
        LOG_WARN(kLog, "cannot resolve ICE server " << parsed->host << "; skipped");
        continue;
      }
      // One address per family is enough: the agent pairs servers with host sockets of the same family.
      bool have_v4 = false, have_v6 = false;
      for (const IpAddress& ip : addresses) {
        if ((ip.is_v4() && have_v4) || (ip.is_v6() && have_v6)) continue;
        (ip.is_v4() ? have_v4 : have_v6) = true;
        ice::ServerConfig config;
        config.kind = parsed->is_turn() ? ice::ServerConfig::kTurn : ice::ServerConfig::kStun;
        config.address = SocketAddress(ip, parsed->port);
        config.server_name = parsed->host;
        if (parsed->is_turn()) {
          config.username = server.username;
          config.password = server.credential;
          config.transport =
              parsed->transport == peer::IceServerUrl::Transport::kUdp   ? turn_client::Transport::kUdp
              : parsed->transport == peer::IceServerUrl::Transport::kTcp ? turn_client::Transport::kTcp
                                                                         : turn_client::Transport::kTls;
        } else if (parsed->scheme == peer::IceServerUrl::Scheme::kStuns) {
          continue;  // STUN over TLS is not used for gathering (ICE gathers over UDP)
        }
        out.push_back(std::move(config));
      }
    }
  }
  return out;
}

bool IsLinkLocal(const IpAddress& ip) { return ip.IsLinkLocal(); }

// Host candidate addresses (RFC 8445 §5.1.1.1): every address of every interface that is up, except loopback
// and link-local ones — loopback only when nothing else exists (a network namespace with only `lo`).
std::vector<IpAddress> HostAddresses(const RtcConfiguration& config) {
  std::vector<IpAddress> out;
  if (!config.host_addresses.empty()) {
    for (const std::string& text : config.host_addresses) {
      auto ip = IpAddress::Parse(text);
      if (!ip) throw RtcError("SyntaxError", "host address " + text + " is not an IP address");
      out.push_back(*ip);
    }
    return out;
  }
  std::vector<IpAddress> loopback;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next) {
    if (!ifa->ifa_addr || !(ifa->ifa_flags & IFF_UP)) continue;
    const int family = ifa->ifa_addr->sa_family;
    if (family != AF_INET && family != AF_INET6) continue;
    const socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    auto a = SocketAddress::FromSockaddr(ifa->ifa_addr, len);
    if (!a || IsLinkLocal(a->ip()) || a->ip().IsUnspecified()) continue;
    auto& bucket = (ifa->ifa_flags & IFF_LOOPBACK) || a->ip().IsLoopback() ? loopback : out;
    if (std::find(bucket.begin(), bucket.end(), a->ip()) == bucket.end()) bucket.push_back(a->ip());
  }
  freeifaddrs(list);
  if (out.empty() || config.include_loopback) out.insert(out.end(), loopback.begin(), loopback.end());
  return out;
}

void Throw(const peer::JsepError& e) { throw RtcError(e.name, e.message); }

}  // namespace

class DataChannelImpl;
class TransceiverImpl;

struct PeerConnection::Impl : std::enable_shared_from_this<PeerConnection::Impl> {
  Impl(std::shared_ptr<Runtime> rt, net::EventLoop& l) : runtime(std::move(rt)), loop(l) {}

  std::shared_ptr<Runtime> runtime;
  net::EventLoop& loop;
  SecureRng rng;
  double simulated_media_loss = 0;
  std::minstd_rand loss_rng{std::random_device{}()};
  uint64_t simulated_losses = 0;
  std::unique_ptr<peer::PeerCore> core;
  struct HostSocket {
    ice::EndpointId id;
    std::unique_ptr<net::UdpSocket> socket;
  };
  std::vector<HostSocket> hosts;
  std::unordered_map<ice::EndpointId, std::unique_ptr<net::StreamClient>> streams;
  std::unique_ptr<mdns::Resolver> mdns;
  std::unique_ptr<net::UdpSocket> mdns_socket;
  std::unique_ptr<net::Timer> timer;
  std::map<datachannel::ChannelHandle, std::shared_ptr<DataChannelImpl>> channels;
  std::map<peer::TransceiverId, std::shared_ptr<TransceiverImpl>> transceivers;
  bool verify_turns = true;
  bool dispatching = false;
  bool dispatch_scheduled = false;
  bool closed = false;
  std::atomic<size_t> max_message_size{256 * 1024};

  // Handlers: set and called on the loop thread only.
  std::function<void(const std::optional<IceCandidate>&)> on_ice_candidate;
  std::function<void(IceGatheringState)> on_gathering;
  std::function<void(IceConnectionState)> on_ice_state;
  std::function<void(PeerConnectionState)> on_state;
  std::function<void(SignalingState)> on_signaling;
  std::function<void()> on_negotiation_needed;
  std::function<void(std::shared_ptr<DataChannel>)> on_data_channel;
  std::function<void(const TrackEvent&)> on_track;

  Timestamp Now() const { return loop.Now(); }

  // Runs `fn` on the loop and returns its result (exceptions included); inline when already there. Events the
  // call causes are dispatched in a task of their own, after it (W3C: a method's promise resolves before the
  // events it queued fire — an answer is signalled before its candidates).
  template <typename F>
  auto RunSync(F&& fn) -> decltype(fn()) {
    using R = decltype(fn());
    auto run = [this, &fn]() -> R {
      if constexpr (std::is_void_v<R>) {
        fn();
        AfterCall();
      } else {
        R r = fn();
        AfterCall();
        return r;
      }
    };
    if (loop.IsLoopThread()) return run();
    std::packaged_task<R()> task(run);
    std::future<R> result = task.get_future();
    loop.Post([&task] { task(); });
    return result.get();
  }

  void AfterCall() {
    if (!core) return;
    SendTransmits();
    ArmTimer();
    if (dispatch_scheduled) return;
    dispatch_scheduled = true;
    std::weak_ptr<Impl> weak = weak_from_this();
    loop.Post([weak] {
      if (auto self = weak.lock()) {
        self->dispatch_scheduled = false;
        self->Flush();
      }
    });
  }

  void Start(const RtcConfiguration& config) {
    peer::PeerCoreConfig core_config;
    core_config.ice_servers = ResolveIceServers(config.ice_servers);
    core_config.relay_only = config.ice_transport_policy == IceTransportPolicy::kRelay;
    core_config.ice_lite = config.ice_lite;
    core_config.max_message_size = config.max_message_size;
    const Certificate certificate =
        config.certificates.empty() ? Certificate::Generate() : config.certificates.front();
    core_config.certificate = certificate.impl()->certificate;
    verify_turns = config.verify_turns_certificates;
    max_message_size = config.max_message_size;
    simulated_media_loss = std::clamp(config.simulated_media_loss, 0.0, 1.0);
    const std::vector<IpAddress> addresses = HostAddresses(config);
    RunSync([&] {
      core = std::make_unique<peer::PeerCore>(std::move(core_config), rng);
      timer = std::make_unique<net::Timer>(loop);
      for (const IpAddress& ip : addresses) BindHost(ip, config);
      if (hosts.empty()) LOG_WARN(kLog, "no usable host address: only relayed candidates can be gathered");
    });
  }

  void BindHost(const IpAddress& ip, const RtcConfiguration& config) {
    net::UdpSocketOptions options;
    options.receive_buffer_bytes = 2 << 20;
    options.send_buffer_bytes = 2 << 20;
    Result<std::unique_ptr<net::UdpSocket>> socket = MakeError(ErrorCode::kUnavailable, "no port");
    if (config.port_range_begin && config.port_range_end >= config.port_range_begin) {
      for (uint32_t port = config.port_range_begin; port <= config.port_range_end; ++port) {
        socket = net::UdpSocket::Bind(loop, SocketAddress(ip, static_cast<uint16_t>(port)), options);
        if (socket.ok()) break;
      }
    } else {
      socket = net::UdpSocket::Bind(loop, SocketAddress(ip, 0), options);
    }
    if (!socket.ok()) {
      LOG_DEBUG(kLog, "cannot bind " << ip.ToString() << ": " << socket.error().reason);
      return;
    }
    const SocketAddress bound = (*socket)->local_address();
    const ice::EndpointId id = core->AddHostEndpoint(Now(), bound);
    net::UdpSocket* raw = socket->get();
    hosts.push_back(HostSocket{id, std::move(*socket)});
    std::weak_ptr<Impl> weak = weak_from_this();
    raw->StartReceiving([this, id, weak](std::span<const net::ReceivedDatagram> batch) {
      auto self = weak.lock();
      if (!self || !core) return;
      const Timestamp now = Now();
      for (const auto& d : batch) {
        if (SimulateMediaLoss(d.data)) continue;
        core->HandleReceive(now, id, d.from, d.data);
        SendTransmits();
      }
      Flush();
    });
  }

  // RtcConfiguration::simulated_media_loss: RTP/RTCP only (RFC 7983: first byte 128-191).
  bool SimulateMediaLoss(ByteSpan datagram) {
    if (simulated_media_loss <= 0 || datagram.empty() || datagram[0] < 128 || datagram[0] > 191) return false;
    if (std::uniform_real_distribution<double>(0, 1)(loss_rng) >= simulated_media_loss) return false;
    ++simulated_losses;
    return true;
  }

  void SendTransmits() {
    while (auto t = core->PollTransmit()) {
      if (auto s = streams.find(t->endpoint); s != streams.end()) {
        s->second->Send(t->data);
        continue;
      }
      for (auto& h : hosts) {
        if (h.id == t->endpoint) {
          if (!SimulateMediaLoss(t->data)) h.socket->Send(t->destination, t->data);
          break;
        }
      }
    }
  }

  void Flush() {
    if (!core) return;
    SendTransmits();
    if (!dispatching) {
      dispatching = true;
      while (auto e = core->PollEvent()) {
        Dispatch(std::move(*e));
        if (!core) break;
        SendTransmits();
      }
      dispatching = false;
    }
    if (!core) return;
    SyncChannels();
    ArmTimer();
  }

  void ArmTimer() {
    if (!timer) return;
    const Timestamp deadline = core->PollTimeout();
    if (deadline.IsInfinite()) {
      timer->Cancel();
      return;
    }
    timer->ArmAt(deadline, [this] {
      if (!core) return;
      core->HandleTimeout(Now());
      if (mdns && mdns->PollTimeout() <= Now()) {
        mdns->HandleTimeout(Now());
        PumpMdns();
      }
      Flush();
    });
  }

  void Dispatch(peer::PeerEvent event);
  void SyncChannels();
  std::shared_ptr<DataChannelImpl> Adopt(datachannel::ChannelHandle handle);
  // The public object of a core transceiver (made on first use).
  std::shared_ptr<TransceiverImpl> TransceiverFor(peer::TransceiverId id);
  void DispatchMedia(peer::PeerEvent& event);
  void DetachSenders();

  void OpenStream(const ice::OpenStream& request) {
    net::StreamClientOptions options;
    options.tls = request.tls;
    options.server_name = request.server_name;
    options.verify_peer = verify_turns;
    const ice::EndpointId id = request.endpoint;
    std::weak_ptr<Impl> weak = weak_from_this();
    net::StreamClientHandlers handlers;
    handlers.on_connected = [this, weak, id](bool ok, const SocketAddress& local, const std::string& error) {
      auto self = weak.lock();
      if (!self || !core) return;
      if (ok) {
        core->HandleStreamOpened(Now(), id, local);
      } else {
        LOG_INFO(kLog, "TURN stream failed: " << error);
        streams.erase(id);
        core->HandleStreamClosed(Now(), id);
      }
      Flush();
    };
    handlers.on_data = [this, weak, id](ByteSpan bytes) {
      auto self = weak.lock();
      if (!self || !core) return;
      core->HandleStreamData(Now(), id, bytes);
      Flush();
    };
    handlers.on_close = [this, weak, id](const std::string& reason) {
      auto self = weak.lock();
      if (!self || !core) return;
      LOG_DEBUG(kLog, "TURN stream closed: " << reason);
      core->HandleStreamClosed(Now(), id);
      Flush();
    };
    streams[id] = net::StreamClient::Connect(loop, request.server, options, std::move(handlers));
  }

  void ResolveHostname(const std::string& name) {
    LOG_DEBUG(kLog, "resolving the mDNS name of a remote candidate");
    if (!mdns) {
      mdns::ResolverConfig config;
      mdns = std::make_unique<mdns::Resolver>(config);
      net::UdpSocketOptions options;
      options.reuse_address = true;
      options.reuse_port = true;
      auto socket = net::UdpSocket::Bind(loop, *SocketAddress::Parse("0.0.0.0:5353"), options);
      if (socket.ok()) {
        // RFC 6762 §3: join the group so that multicast answers reach us.
        ip_mreq membership{};
        membership.imr_multiaddr.s_addr = htonl(0xe00000fbu);
        membership.imr_interface.s_addr = htonl(INADDR_ANY);
        setsockopt((*socket)->native_handle(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership,
                   sizeof(membership));
      } else {
        // Port 5353 taken by a system responder without SO_REUSEPORT: a one-shot querier (RFC 6762 §5.1) on
        // an ephemeral port still gets unicast answers to its QU queries.
        options = {};
        socket = net::UdpSocket::Bind(loop, *SocketAddress::Parse("0.0.0.0:0"), options);
      }
      if (socket.ok()) {
        mdns_socket = std::move(*socket);
        std::weak_ptr<Impl> weak = weak_from_this();
        mdns_socket->StartReceiving([this, weak](std::span<const net::ReceivedDatagram> batch) {
          auto self = weak.lock();
          if (!self || !mdns) return;
          for (const auto& d : batch) mdns->HandleReceive(Now(), d.from, d.data);
          PumpMdns();
          Flush();
        });
      }
    }
    if (!mdns->Resolve(Now(), name).ok()) {
      core->HandleHostnameResolved(Now(), name, std::nullopt);
      return;
    }
    PumpMdns();
  }

  void PumpMdns() {
    if (!mdns) return;
    while (auto t = mdns->PollTransmit()) {
      if (mdns_socket) mdns_socket->Send(t->destination, t->data);
    }
    while (auto e = mdns->PollEvent()) {
      LOG_DEBUG(kLog,
                "mDNS name " << (e->kind == mdns::ResolverEvent::kResolved ? "resolved" : "not resolved"));
      core->HandleHostnameResolved(
          Now(), e->name,
          e->kind == mdns::ResolverEvent::kResolved ? std::optional<IpAddress>(e->ip) : std::nullopt);
    }
    // The resolver's own timer rides on the connection's: arm for whichever is first.
    if (timer && !mdns->PollTimeout().IsInfinite() && mdns->PollTimeout() < core->PollTimeout()) {
      timer->ArmAt(mdns->PollTimeout(), [this] {
        if (!core || !mdns) return;
        mdns->HandleTimeout(Now());
        PumpMdns();
        core->HandleTimeout(Now());
        Flush();
      });
    }
  }

  // Drops every handler of the connection and of its channels (loop thread): after close() no event fires.
  void SilenceHandlers();

  // Stops everything on the loop thread: no handler runs afterwards.
  void Shutdown() {
    if (!core) return;
    if (!closed) {
      closed = true;
      core->Close(Now());
      SendTransmits();
      for (auto& h : hosts) h.socket->Flush();
    }
    SilenceHandlers();
    DetachSenders();
    timer.reset();
    streams.clear();
    mdns_socket.reset();
    hosts.clear();
  }
};

// --- DataChannel
// ----------------------------------------------------------------------------------------------

class DataChannelImpl final : public DataChannel, public std::enable_shared_from_this<DataChannelImpl> {
 public:
  DataChannelImpl(std::weak_ptr<PeerConnection::Impl> pc, datachannel::ChannelHandle handle,
                  const datachannel::ChannelInfo& info)
      : pc_(std::move(pc)), handle_(handle), init_(info.init) {
    state_ = Map(info.state);
    if (info.id) id_ = *info.id;
  }

  std::string label() const override { return init_.label; }
  std::string protocol() const override { return init_.protocol; }
  std::optional<uint16_t> id() const override {
    const int32_t id = id_.load();
    return id < 0 ? std::nullopt : std::optional<uint16_t>(static_cast<uint16_t>(id));
  }
  bool ordered() const override { return init_.reliability.ordered; }
  std::optional<uint16_t> max_packet_life_time() const override {
    return init_.reliability.max_packet_lifetime_ms;
  }
  std::optional<uint16_t> max_retransmits() const override { return init_.reliability.max_retransmits; }
  bool negotiated() const override { return init_.negotiated; }
  DataChannelState ready_state() const override { return state_.load(); }
  size_t buffered_amount() const override { return pending_.load() + sctp_buffered_.load(); }
  size_t buffered_amount_low_threshold() const override { return threshold_.load(); }
  void set_buffered_amount_low_threshold(size_t bytes) override {
    threshold_ = bytes;
    auto pc = pc_.lock();
    if (!pc) return;
    auto self = shared_from_this();
    pc->loop.Post([pc, self, bytes] {
      if (pc->core) pc->core->SetBufferedAmountLowThreshold(self->handle_, bytes);
    });
  }

  void Send(std::string_view text) override { SendBytes(AsBytes(text), false); }
  void Send(std::span<const uint8_t> binary) override { SendBytes(binary, true); }

  void Close() override {
    DataChannelState expected = DataChannelState::kOpen;
    if (!state_.compare_exchange_strong(expected, DataChannelState::kClosing)) {
      expected = DataChannelState::kConnecting;
      if (!state_.compare_exchange_strong(expected, DataChannelState::kClosing)) return;
    }
    auto pc = pc_.lock();
    if (!pc) return;
    auto self = shared_from_this();
    auto close = [pc, self] {
      if (!pc->core) return;
      pc->core->CloseDataChannel(self->handle_);
      pc->Flush();
    };
    if (pc->loop.IsLoopThread()) {
      close();
    } else {
      pc->loop.Post(close);
    }
  }

  // Handlers set from another thread can come after the event (the loop thread does not wait for the
  // caller): an open that found no handler, and messages that found none (bounded), are delivered as soon as
  // one is set, as a browser delivers them to handlers set in the same task.
  void OnOpen(std::function<void()> h) override {
    bool replay = false;
    {
      std::lock_guard lock(handlers_mutex_);
      on_open_ = std::move(h);
      replay = on_open_ && open_undelivered_;
      if (replay) open_undelivered_ = false;
    }
    if (replay)
      PostToLoop([self = shared_from_this()] {
        if (auto handler = self->Get(self->on_open_)) handler();
      });
  }
  void OnMessage(std::function<void(const DataChannelMessage&)> h) override {
    std::deque<DataChannelMessage> held;
    {
      std::lock_guard lock(handlers_mutex_);
      on_message_ = std::move(h);
      if (on_message_) held.swap(held_messages_);
      held_bytes_ = 0;
    }
    if (!held.empty())
      PostToLoop([self = shared_from_this(), held = std::move(held)] {
        for (const auto& m : held) {
          if (auto handler = self->Get(self->on_message_)) handler(m);
        }
      });
  }
  void OnBufferedAmountLow(std::function<void()> h) override { Set(on_low_, std::move(h)); }
  void OnClosing(std::function<void()> h) override { Set(on_closing_, std::move(h)); }
  void OnClose(std::function<void()> h) override { Set(on_close_, std::move(h)); }
  void OnError(std::function<void(const std::string&)> h) override { Set(on_error_, std::move(h)); }

  // --- Loop thread ---
  void HandleEvent(datachannel::ChannelEvent& e, PeerConnection::Impl& pc) {
    using K = datachannel::ChannelEvent::Kind;
    switch (e.kind) {
      case K::kAnnounced:
      case K::kOpen:
        state_ = DataChannelState::kOpen;
        Refresh(pc);
        if (auto h = TakeOpenHandler()) h();
        break;
      case K::kMessage: {
        DataChannelMessage m;
        m.binary = e.binary;
        m.data = std::move(e.data);
        if (auto h = HoldOrGetMessageHandler(m)) h(m);
        break;
      }
      case K::kBufferedAmountLow:
        Refresh(pc);
        if (buffered_amount() <= threshold_.load()) {
          if (auto h = Get(on_low_)) h();
        }
        break;
      case K::kClosing:
        state_ = DataChannelState::kClosing;
        if (auto h = Get(on_closing_)) h();
        break;
      case K::kClosed:
        state_ = DataChannelState::kClosed;
        sctp_buffered_ = 0;
        if (auto h = Get(on_close_)) h();
        break;
      case K::kError:
        if (auto h = Get(on_error_)) h(std::string(e.data.begin(), e.data.end()));
        break;
    }
  }

  // Mirrors what other threads read: the id and SCTP's buffered amount.
  void Refresh(PeerConnection::Impl& pc) {
    if (const auto* info = pc.core->FindDataChannel(handle_)) {
      if (info->id) id_ = *info->id;
      if (info->state == datachannel::ChannelState::kOpen) sctp_buffered_ = pc.core->buffered_amount(handle_);
    }
  }

  datachannel::ChannelHandle handle() const { return handle_; }

  void ClearHandlers() {
    std::lock_guard lock(handlers_mutex_);
    on_open_ = on_low_ = on_closing_ = on_close_ = nullptr;
    on_message_ = nullptr;
    on_error_ = nullptr;
    closed_handlers_ = true;
    open_undelivered_ = false;
    held_messages_.clear();
    held_bytes_ = 0;
  }
  // The connection closed: the channel is closed too (without events, as for the connection's own).
  void MarkClosed() {
    state_ = DataChannelState::kClosed;
    sctp_buffered_ = 0;
  }

 private:
  static DataChannelState Map(datachannel::ChannelState s) {
    switch (s) {
      case datachannel::ChannelState::kConnecting:
        return DataChannelState::kConnecting;
      case datachannel::ChannelState::kOpen:
        return DataChannelState::kOpen;
      case datachannel::ChannelState::kClosing:
        return DataChannelState::kClosing;
      case datachannel::ChannelState::kClosed:
        return DataChannelState::kClosed;
    }
    return DataChannelState::kClosed;
  }

  std::function<void()> TakeOpenHandler() {
    std::lock_guard lock(handlers_mutex_);
    if (!on_open_) open_undelivered_ = true;
    return on_open_;
  }
  // The handler, or none when the message was held (or dropped past the bound) for a handler to come.
  std::function<void(const DataChannelMessage&)> HoldOrGetMessageHandler(DataChannelMessage& m) {
    std::lock_guard lock(handlers_mutex_);
    if (on_message_ || closed_handlers_) return on_message_;
    if (held_messages_.size() < kMaxHeldMessages && held_bytes_ + m.data.size() <= kMaxHeldBytes) {
      held_bytes_ += m.data.size();
      held_messages_.push_back(std::move(m));
    }
    return nullptr;
  }
  template <typename T>
  void PostToLoop(T task) {
    if (auto pc = pc_.lock()) pc->loop.Post(std::move(task));
  }

  template <typename F>
  void Set(F& slot, F value) {
    std::lock_guard lock(handlers_mutex_);
    slot = std::move(value);
  }
  template <typename F>
  F Get(const F& slot) {
    std::lock_guard lock(handlers_mutex_);
    return slot;
  }

  void SendBytes(ByteSpan data, bool binary) {
    if (state_.load() != DataChannelState::kOpen)
      throw RtcError("InvalidStateError", "the data channel is not open");
    auto pc = pc_.lock();
    if (!pc) throw RtcError("InvalidStateError", "the peer connection is gone");
    if (data.size() > pc->max_message_size.load()) {
      throw RtcError("TypeError", "message larger than the peer's max-message-size (" +
                                      std::to_string(pc->max_message_size.load()) + " bytes)");
    }
    if (buffered_amount() + data.size() > kMaxBufferedBytes) {
      throw RtcError("OperationError", "the send buffer is full (16 MiB): wait for bufferedamountlow");
    }
    if (pc->loop.IsLoopThread()) {
      if (!pc->core) throw RtcError("InvalidStateError", "the peer connection is closed");
      Status s = pc->core->SendData(handle_, data, binary);
      if (!s.ok()) throw RtcError("OperationError", s.error().reason);
      Refresh(*pc);
      pc->Flush();
      return;
    }
    // Another thread: queue without waiting; bufferedAmount counts it at once (W3C send()).
    pending_ += data.size();
    auto self = shared_from_this();
    pc->loop.Post([pc, self, bytes = std::vector<uint8_t>(data.begin(), data.end()), binary] {
      self->pending_ -= bytes.size();
      if (!pc->core) return;
      Status s = pc->core->SendData(self->handle_, bytes, binary);
      if (!s.ok()) {
        if (auto h = self->Get(self->on_error_)) h(std::string("send failed: ") + s.error().reason);
      }
      self->Refresh(*pc);
      pc->Flush();
    });
  }

  std::weak_ptr<PeerConnection::Impl> pc_;
  const datachannel::ChannelHandle handle_;
  const datachannel::ChannelInit init_;
  std::atomic<DataChannelState> state_{DataChannelState::kConnecting};
  std::atomic<int32_t> id_{-1};
  std::atomic<size_t> pending_{0};
  std::atomic<size_t> sctp_buffered_{0};
  std::atomic<size_t> threshold_{0};
  std::mutex handlers_mutex_;
  std::function<void()> on_open_, on_low_, on_closing_, on_close_;
  std::function<void(const DataChannelMessage&)> on_message_;
  static constexpr size_t kMaxHeldMessages = 1024;
  static constexpr size_t kMaxHeldBytes = 4 * 1024 * 1024;
  bool open_undelivered_ = false;
  bool closed_handlers_ = false;  // after Close(): nothing is held any more
  std::deque<DataChannelMessage> held_messages_;
  size_t held_bytes_ = 0;
  std::function<void(const std::string&)> on_error_;
};

std::shared_ptr<DataChannelImpl> PeerConnection::Impl::Adopt(datachannel::ChannelHandle handle) {
  auto it = channels.find(handle);
  if (it != channels.end()) return it->second;
  const datachannel::ChannelInfo* info = core->FindDataChannel(handle);
  if (!info) return nullptr;
  auto channel = std::make_shared<DataChannelImpl>(weak_from_this(), handle, *info);
  channels[handle] = channel;
  return channel;
}

void PeerConnection::Impl::SilenceHandlers() {
  on_ice_candidate = nullptr;
  on_gathering = nullptr;
  on_ice_state = nullptr;
  on_state = nullptr;
  on_signaling = nullptr;
  on_negotiation_needed = nullptr;
  on_data_channel = nullptr;
  on_track = nullptr;
  for (auto& [handle, channel] : channels) {
    channel->ClearHandlers();
    channel->MarkClosed();
  }
}

void PeerConnection::Impl::SyncChannels() {
  max_message_size = core->max_message_size();
  for (auto& [handle, channel] : channels) {
    if (channel->ready_state() != DataChannelState::kClosed) channel->Refresh(*this);
  }
}

// Handlers are invoked through copies: a handler may destroy the connection, and with it the stored handler,
// while it runs.
void PeerConnection::Impl::Dispatch(peer::PeerEvent event) {
  std::visit(
      [&](auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, peer::IceCandidateEvent>) {
          if (auto h = on_ice_candidate) h(e.candidate);
        } else if constexpr (std::is_same_v<E, peer::SignalingStateEvent>) {
          if (auto h = on_signaling) h(e.state);
        } else if constexpr (std::is_same_v<E, peer::IceGatheringStateEvent>) {
          if (auto h = on_gathering) h(e.state);
        } else if constexpr (std::is_same_v<E, peer::IceConnectionStateEvent>) {
          if (auto h = on_ice_state) h(e.state);
        } else if constexpr (std::is_same_v<E, peer::ConnectionStateEvent>) {
          if (auto h = on_state) h(e.state);
        } else if constexpr (std::is_same_v<E, peer::NegotiationNeededEvent>) {
          if (auto h = on_negotiation_needed) h();
        } else if constexpr (std::is_same_v<E, peer::DataChannelEvent>) {
          std::shared_ptr<DataChannelImpl> channel = Adopt(e.event.handle);
          if (!channel) return;
          if (e.event.kind == datachannel::ChannelEvent::Kind::kAnnounced) {
            channel->Refresh(*this);
            // W3C "announce the data channel as open": the channel is open when the datachannel event fires;
            // we then also run its open handler (set inside OnDataChannel), as native stacks do.
            if (auto h = on_data_channel) h(channel);
          }
          channel->HandleEvent(e.event, *this);
        } else if constexpr (std::is_same_v<E, peer::OpenStreamRequest>) {
          OpenStream(e.request);
        } else if constexpr (std::is_same_v<E, peer::CloseStreamRequest>) {
          if (auto it = streams.find(e.request.endpoint); it != streams.end()) {
            it->second->Close();
            streams.erase(it);
          }
        } else if constexpr (std::is_same_v<E, peer::ResolveHostnameRequest>) {
          ResolveHostname(e.name);
        } else {
          DispatchMedia(event);
        }
      },
      event);
}

// --- Media: transceivers, senders, receivers
// ------------------------------------------------------------------

namespace {

sdp::MediaType ToSdpKind(MediaKind kind) {
  return kind == MediaKind::kAudio ? sdp::MediaType::kAudio : sdp::MediaType::kVideo;
}

sdp::Direction ToSdpDirection(TransceiverDirection d) {
  switch (d) {
    case TransceiverDirection::kSendRecv:
      return sdp::Direction::kSendRecv;
    case TransceiverDirection::kSendOnly:
      return sdp::Direction::kSendOnly;
    case TransceiverDirection::kRecvOnly:
      return sdp::Direction::kRecvOnly;
    default:
      return sdp::Direction::kInactive;
  }
}

TransceiverDirection FromSdpDirection(sdp::Direction d) {
  switch (d) {
    case sdp::Direction::kSendRecv:
      return TransceiverDirection::kSendRecv;
    case sdp::Direction::kSendOnly:
      return TransceiverDirection::kSendOnly;
    case sdp::Direction::kRecvOnly:
      return TransceiverDirection::kRecvOnly;
    case sdp::Direction::kInactive:
      return TransceiverDirection::kInactive;
  }
  return TransceiverDirection::kInactive;
}

}  // namespace

class TransceiverImpl;

class SenderImpl final : public RtpSender {
 public:
  SenderImpl(std::weak_ptr<PeerConnection::Impl> pc, peer::TransceiverId id, MediaKind kind)
      : pc_(std::move(pc)), id_(id), kind_(kind) {}
  std::shared_ptr<MediaStreamTrack> track() const override {
    std::lock_guard lock(mutex_);
    return track_;
  }
  void ReplaceTrack(std::shared_ptr<MediaStreamTrack> track) override;

  // --- Loop thread ---
  // Sets the track (and a pipeline for it) without telling the core.
  void Attach(PeerConnection::Impl& pc, std::shared_ptr<peer::LocalTrackImpl> track);
  void Pump(PeerConnection::Impl& pc);
  void RequestKeyFrame() {
    if (pipeline_) pipeline_->RequestKeyFrame();
  }
  void SetTargetBitrate(int64_t bps) {
    target_bps_ = bps;
    if (pipeline_) pipeline_->SetTargetBitrate(static_cast<uint32_t>(std::max<int64_t>(bps, 0)));
  }
  void Detach() {
    timer_.reset();
    pipeline_.reset();
    std::lock_guard lock(mutex_);
    track_.reset();
  }
  peer::TransceiverId id() const { return id_; }

 private:
  std::weak_ptr<PeerConnection::Impl> pc_;
  const peer::TransceiverId id_;
  const MediaKind kind_;
  mutable std::mutex mutex_;
  std::shared_ptr<peer::LocalTrackImpl> track_;
  std::unique_ptr<peer::SendPipeline> pipeline_;
  std::unique_ptr<net::Timer> timer_;
  std::optional<int64_t> target_bps_;
};

class ReceiverImpl final : public RtpReceiver {
 public:
  explicit ReceiverImpl(MediaKind kind)
      : kind_(kind), track_(std::make_shared<peer::RemoteTrackImpl>(kind, peer::NewTrackId())) {}
  std::shared_ptr<MediaStreamTrack> track() const override {
    std::lock_guard lock(mutex_);
    return track_;
  }
  std::shared_ptr<peer::RemoteTrackImpl> remote_track() const {
    std::lock_guard lock(mutex_);
    return track_;
  }
  // A track that ended is replaced when the peer sends again (a new W3C track event).
  std::shared_ptr<peer::RemoteTrackImpl> Renew() {
    std::lock_guard lock(mutex_);
    if (track_->ended()) track_ = std::make_shared<peer::RemoteTrackImpl>(kind_, peer::NewTrackId());
    return track_;
  }

 private:
  const MediaKind kind_;
  mutable std::mutex mutex_;
  std::shared_ptr<peer::RemoteTrackImpl> track_;
};

class TransceiverImpl final : public RtpTransceiver {
 public:
  TransceiverImpl(std::weak_ptr<PeerConnection::Impl> pc, peer::TransceiverId id, MediaKind kind)
      : pc_(pc),
        id_(id),
        kind_(kind),
        sender_(std::make_shared<SenderImpl>(pc, id, kind)),
        receiver_(std::make_shared<ReceiverImpl>(kind)) {}
  MediaKind kind() const override { return kind_; }
  std::optional<std::string> mid() const override;
  TransceiverDirection direction() const override;
  void SetDirection(TransceiverDirection direction) override;
  std::optional<TransceiverDirection> current_direction() const override;
  std::shared_ptr<RtpSender> sender() const override { return sender_; }
  std::shared_ptr<RtpReceiver> receiver() const override { return receiver_; }
  void Stop() override;

  peer::TransceiverId id() const { return id_; }
  const std::shared_ptr<SenderImpl>& sender_impl() const { return sender_; }
  const std::shared_ptr<ReceiverImpl>& receiver_impl() const { return receiver_; }

 private:
  std::weak_ptr<PeerConnection::Impl> pc_;
  const peer::TransceiverId id_;
  const MediaKind kind_;
  std::shared_ptr<SenderImpl> sender_;
  std::shared_ptr<ReceiverImpl> receiver_;
};

std::shared_ptr<TransceiverImpl> PeerConnection::Impl::TransceiverFor(peer::TransceiverId id) {
  auto it = transceivers.find(id);
  if (it != transceivers.end()) return it->second;
  auto state = core->transceiver(id);
  if (!state) return nullptr;
  const MediaKind kind = state->kind == sdp::MediaType::kAudio ? MediaKind::kAudio : MediaKind::kVideo;
  auto t = std::make_shared<TransceiverImpl>(weak_from_this(), id, kind);
  transceivers[id] = t;
  return t;
}

void SenderImpl::Attach(PeerConnection::Impl& pc, std::shared_ptr<peer::LocalTrackImpl> track) {
  timer_.reset();
  pipeline_.reset();
  {
    std::lock_guard lock(mutex_);
    track_ = track;
  }
  if (!track) return;
  // RFC 3550 §5.1: the RTP timestamp starts at a random value (the session adds its own offset too).
  pipeline_ = track->MakePipeline(pc.rng.NextU32());
  if (!pipeline_) return;
  if (target_bps_) pipeline_->SetTargetBitrate(static_cast<uint32_t>(*target_bps_));
  timer_ = std::make_unique<net::Timer>(pc.loop);
  Pump(pc);
}

void SenderImpl::Pump(PeerConnection::Impl& pc) {
  if (!pipeline_ || !timer_ || !pc.core) return;
  const Timestamp now = pc.Now();
  std::shared_ptr<peer::LocalTrackImpl> track;
  {
    std::lock_guard lock(mutex_);
    track = track_;
  }
  // Frames that are due; a late loop catches up on at most a few.
  for (int i = 0; i < 4 && pipeline_->NextDeadline() <= now; ++i) {
    std::optional<peer::EncodedOutput> out = pipeline_->Poll(now);
    if (!out || !track || track->ended() || !track->enabled()) continue;
    session::EncodedFrame frame;
    frame.data = out->data;
    frame.rtp_timestamp = out->rtp_timestamp;
    frame.key_frame = out->key_frame;
    frame.width = out->width;
    frame.height = out->height;
    if (pc.core->SendMediaFrame(now, id_, frame).ok()) track->Sent(*out);
  }
  pc.Flush();
  const Timestamp next = pipeline_->NextDeadline();
  if (next.IsInfinite() || !timer_) return;
  std::weak_ptr<PeerConnection::Impl> weak = pc_;
  timer_->ArmAt(std::max(next, now), [this, weak] {
    if (auto pc = weak.lock()) Pump(*pc);
  });
}

void SenderImpl::ReplaceTrack(std::shared_ptr<MediaStreamTrack> track) {
  auto local = std::dynamic_pointer_cast<peer::LocalTrackImpl>(track);
  if (track && !local) throw RtcError("TypeError", "not a track of this library (use the media.h factories)");
  if (track && track->kind() != kind_)
    throw RtcError("TypeError", "replaceTrack needs a track of the same kind");
  auto pc = pc_.lock();
  if (!pc) throw RtcError("InvalidStateError", "the peer connection is gone");
  pc->RunSync([&] {
    if (!pc->core) throw RtcError("InvalidStateError", "the peer connection is closed");
    // W3C replaceTrack: no renegotiation; the sender's msid stays what was negotiated.
    std::optional<peer::PeerCore::LocalTrack> spec;
    if (local) spec = peer::PeerCore::LocalTrack{local->id(), {}};
    pc->core->SetSenderTrack(id_, spec);
    Attach(*pc, local);
  });
}

std::optional<std::string> TransceiverImpl::mid() const {
  auto pc = pc_.lock();
  if (!pc) return std::nullopt;
  return pc->RunSync([&]() -> std::optional<std::string> {
    if (!pc->core) return std::nullopt;
    auto state = pc->core->transceiver(id_);
    return state ? state->mid : std::nullopt;
  });
}

TransceiverDirection TransceiverImpl::direction() const {
  auto pc = pc_.lock();
  if (!pc) return TransceiverDirection::kStopped;
  return pc->RunSync([&] {
    if (!pc->core) return TransceiverDirection::kStopped;
    auto state = pc->core->transceiver(id_);
    if (!state || state->stopped) return TransceiverDirection::kStopped;
    return FromSdpDirection(state->direction);
  });
}

std::optional<TransceiverDirection> TransceiverImpl::current_direction() const {
  auto pc = pc_.lock();
  if (!pc) return std::nullopt;
  return pc->RunSync([&]() -> std::optional<TransceiverDirection> {
    if (!pc->core) return std::nullopt;
    auto state = pc->core->transceiver(id_);
    if (!state) return std::nullopt;
    if (state->stopped) return TransceiverDirection::kStopped;
    if (!state->current_direction) return std::nullopt;
    return FromSdpDirection(*state->current_direction);
  });
}

void TransceiverImpl::SetDirection(TransceiverDirection direction) {
  if (direction == TransceiverDirection::kStopped)
    throw RtcError("TypeError", "use Stop() to stop a transceiver");
  auto pc = pc_.lock();
  if (!pc) throw RtcError("InvalidStateError", "the peer connection is gone");
  pc->RunSync([&] {
    if (!pc->core) throw RtcError("InvalidStateError", "the peer connection is closed");
    pc->core->SetDirection(id_, ToSdpDirection(direction));
  });
}

void TransceiverImpl::Stop() {
  auto pc = pc_.lock();
  if (!pc) return;
  pc->RunSync([&] {
    if (!pc->core) return;
    pc->core->StopTransceiver(id_);
    sender_->Detach();
    receiver_->remote_track()->End();
  });
}

void PeerConnection::Impl::DetachSenders() {
  for (auto& [id, t] : transceivers) t->sender_impl()->Detach();
}

void PeerConnection::Impl::DispatchMedia(peer::PeerEvent& event) {
  if (auto* added = std::get_if<peer::TrackAddedEvent>(&event)) {
    auto t = TransceiverFor(added->transceiver);
    if (!t) return;
    TrackEvent e;
    e.track = t->receiver_impl()->Renew();
    e.receiver = t->receiver();
    e.transceiver = t;
    e.stream_ids = added->stream_ids;
    if (auto h = on_track) h(e);
  } else if (auto* ended = std::get_if<peer::TrackEndedEvent>(&event)) {
    if (auto t = TransceiverFor(ended->transceiver)) t->receiver_impl()->remote_track()->End();
  } else if (auto* frame = std::get_if<peer::MediaFrameEvent>(&event)) {
    auto t = TransceiverFor(frame->transceiver);
    if (t && !t->receiver_impl()->remote_track()->HandleFrame(*frame)) {
      core->ReportDecodeError(Now(), frame->transceiver);
    }
  } else if (auto* key = std::get_if<peer::KeyFrameRequestEvent>(&event)) {
    if (auto t = TransceiverFor(key->transceiver)) t->sender_impl()->RequestKeyFrame();
  } else if (auto* bitrate = std::get_if<peer::TargetBitrateEvent>(&event)) {
    if (auto t = TransceiverFor(bitrate->transceiver)) t->sender_impl()->SetTargetBitrate(bitrate->bps);
  }
}

// --- PeerConnection
// -------------------------------------------------------------------------------------------

PeerConnection::PeerConnection(RtcConfiguration configuration) {
  std::shared_ptr<Runtime> runtime = configuration.runtime ? configuration.runtime : Runtime::Create(1);
  net::EventLoop& loop = runtime->impl().NextLoop();
  impl_ = std::make_shared<Impl>(std::move(runtime), loop);
  impl_->Start(configuration);
}

PeerConnection::~PeerConnection() {
  if (!impl_) return;
  std::shared_ptr<Impl> impl = std::move(impl_);
  if (impl->loop.IsLoopThread()) {
    // Destroyed from one of its own callbacks: stop now, free later (the caller's stack still uses it).
    impl->Shutdown();
    impl->loop.Post([impl] {});
    return;
  }
  impl->RunSync([&] { impl->Shutdown(); });
  // Release the core on its loop too: its sockets and timers belong there.
  impl->RunSync([&] {
    impl->channels.clear();
    impl->mdns.reset();
    impl->core.reset();
  });
}

SessionDescription PeerConnection::CreateOffer(const OfferOptions& options) {
  return impl_->RunSync([&] {
    auto r = impl_->core->CreateOffer(impl_->Now(), options.ice_restart);
    if (!r.ok()) Throw(r.error());
    return SessionDescription{SdpType::kOffer, r.value()};
  });
}

SessionDescription PeerConnection::CreateAnswer() {
  return impl_->RunSync([&] {
    auto r = impl_->core->CreateAnswer(impl_->Now());
    if (!r.ok()) Throw(r.error());
    return SessionDescription{SdpType::kAnswer, r.value()};
  });
}

void PeerConnection::SetLocalDescription(const SessionDescription& description) {
  impl_->RunSync([&] {
    if (auto e = impl_->core->SetLocalDescription(impl_->Now(), description.type, description.sdp)) Throw(*e);
  });
}

void PeerConnection::SetLocalDescription() {
  impl_->RunSync([&] {
    peer::PeerCore& core = *impl_->core;
    const SignalingState s = core.signaling_state();
    const bool answer = s == SignalingState::kHaveRemoteOffer || s == SignalingState::kHaveLocalPranswer;
    auto created = answer ? core.CreateAnswer(impl_->Now()) : core.CreateOffer(impl_->Now(), false);
    if (!created.ok()) Throw(created.error());
    if (auto e = core.SetLocalDescription(impl_->Now(), answer ? SdpType::kAnswer : SdpType::kOffer,
                                          created.value())) {
      Throw(*e);
    }
  });
}

void PeerConnection::SetRemoteDescription(const SessionDescription& description) {
  impl_->RunSync([&] {
    if (auto e = impl_->core->SetRemoteDescription(impl_->Now(), description.type, description.sdp))
      Throw(*e);
  });
}

void PeerConnection::AddIceCandidate(const std::optional<IceCandidate>& candidate) {
  impl_->RunSync([&] {
    if (auto e = impl_->core->AddIceCandidate(impl_->Now(), candidate)) Throw(*e);
  });
}

void PeerConnection::RestartIce() {
  impl_->RunSync([&] { impl_->core->RestartIce(impl_->Now()); });
}

std::optional<SessionDescription> PeerConnection::LocalDescription() const {
  return impl_->RunSync([&] { return impl_->core->local_description(); });
}
std::optional<SessionDescription> PeerConnection::RemoteDescription() const {
  return impl_->RunSync([&] { return impl_->core->remote_description(); });
}
SignalingState PeerConnection::signaling_state() const {
  return impl_->RunSync([&] { return impl_->core->signaling_state(); });
}
IceGatheringState PeerConnection::ice_gathering_state() const {
  return impl_->RunSync([&] { return impl_->core->ice_gathering_state(); });
}
IceConnectionState PeerConnection::ice_connection_state() const {
  return impl_->RunSync([&] { return impl_->core->ice_connection_state(); });
}
PeerConnectionState PeerConnection::connection_state() const {
  return impl_->RunSync([&] { return impl_->core->connection_state(); });
}
size_t PeerConnection::max_message_size() const { return impl_->max_message_size.load(); }

std::shared_ptr<DataChannel> PeerConnection::CreateDataChannel(const std::string& label,
                                                               const DataChannelInit& init) {
  return impl_->RunSync([&]() -> std::shared_ptr<DataChannel> {
    if (impl_->closed) throw RtcError("InvalidStateError", "the connection is closed");
    datachannel::ChannelInit ci;
    ci.label = label;
    ci.protocol = init.protocol;
    ci.reliability.ordered = init.ordered;
    ci.reliability.max_retransmits = init.max_retransmits;
    ci.reliability.max_packet_lifetime_ms = init.max_packet_life_time;
    ci.negotiated = init.negotiated;
    ci.id = init.id;
    auto handle = impl_->core->CreateDataChannel(ci);
    if (!handle.ok()) Throw(handle.error());
    return impl_->Adopt(handle.value());
  });
}

std::shared_ptr<RtpSender> PeerConnection::AddTrack(std::shared_ptr<MediaStreamTrack> track,
                                                    const std::vector<std::string>& stream_ids) {
  auto local = std::dynamic_pointer_cast<peer::LocalTrackImpl>(track);
  if (!local) throw RtcError("TypeError", "not a track of this library (use the media.h factories)");
  return impl_->RunSync([&]() -> std::shared_ptr<RtpSender> {
    if (impl_->closed) throw RtcError("InvalidStateError", "the connection is closed");
    for (const auto& [id, t] : impl_->transceivers) {
      if (t->sender()->track() == track) throw RtcError("InvalidAccessError", "the track is already sent");
    }
    const peer::TransceiverId id =
        impl_->core->AddTrack(ToSdpKind(local->kind()), peer::PeerCore::LocalTrack{local->id(), stream_ids});
    auto t = impl_->TransceiverFor(id);
    t->sender_impl()->Attach(*impl_, local);
    return t->sender();
  });
}

void PeerConnection::RemoveTrack(const std::shared_ptr<RtpSender>& sender) {
  auto s = std::dynamic_pointer_cast<SenderImpl>(sender);
  if (!s) throw RtcError("InvalidAccessError", "not a sender of this connection");
  impl_->RunSync([&] {
    if (impl_->closed) throw RtcError("InvalidStateError", "the connection is closed");
    impl_->core->RemoveTrack(s->id());
    s->Detach();
  });
}

std::shared_ptr<RtpTransceiver> PeerConnection::AddTransceiver(std::shared_ptr<MediaStreamTrack> track,
                                                               const TransceiverInit& init) {
  auto local = std::dynamic_pointer_cast<peer::LocalTrackImpl>(track);
  if (!local) throw RtcError("TypeError", "not a track of this library (use the media.h factories)");
  return impl_->RunSync([&]() -> std::shared_ptr<RtpTransceiver> {
    if (impl_->closed) throw RtcError("InvalidStateError", "the connection is closed");
    const peer::TransceiverId id =
        impl_->core->AddTransceiver(ToSdpKind(local->kind()), ToSdpDirection(init.direction),
                                    peer::PeerCore::LocalTrack{local->id(), init.stream_ids});
    auto t = impl_->TransceiverFor(id);
    t->sender_impl()->Attach(*impl_, local);
    return t;
  });
}

std::shared_ptr<RtpTransceiver> PeerConnection::AddTransceiver(MediaKind kind, const TransceiverInit& init) {
  return impl_->RunSync([&]() -> std::shared_ptr<RtpTransceiver> {
    if (impl_->closed) throw RtcError("InvalidStateError", "the connection is closed");
    const peer::TransceiverId id =
        impl_->core->AddTransceiver(ToSdpKind(kind), ToSdpDirection(init.direction), std::nullopt);
    return impl_->TransceiverFor(id);
  });
}

std::vector<std::shared_ptr<RtpTransceiver>> PeerConnection::GetTransceivers() const {
  return impl_->RunSync([&] {
    std::vector<std::shared_ptr<RtpTransceiver>> out;
    if (!impl_->core) return out;
    for (const auto& state : impl_->core->transceivers()) {
      if (auto t = impl_->TransceiverFor(state.id)) out.push_back(t);
    }
    return out;
  });
}

void PeerConnection::OnTrack(std::function<void(const TrackEvent&)> handler) {
  impl_->RunSync([&] { impl_->on_track = std::move(handler); });
}

StatsReport PeerConnection::GetStats() const {
  return impl_->RunSync([&] { return impl_->core->GetStats(impl_->Now(), WallMs()); });
}

void PeerConnection::Close() {
  impl_->RunSync([&] {
    if (impl_->closed) return;
    impl_->closed = true;
    impl_->core->Close(impl_->Now());
    // W3C close(): the connection and its channels are closed at once and fire no more events. Dropping the
    // handlers here also means no handler runs once Close() has returned, so objects they use may go.
    impl_->SilenceHandlers();
  });
}

void PeerConnection::OnIceCandidate(std::function<void(const std::optional<IceCandidate>&)> handler) {
  impl_->RunSync([&] { impl_->on_ice_candidate = std::move(handler); });
}
void PeerConnection::OnIceGatheringStateChange(std::function<void(IceGatheringState)> handler) {
  impl_->RunSync([&] { impl_->on_gathering = std::move(handler); });
}
void PeerConnection::OnIceConnectionStateChange(std::function<void(IceConnectionState)> handler) {
  impl_->RunSync([&] { impl_->on_ice_state = std::move(handler); });
}
void PeerConnection::OnConnectionStateChange(std::function<void(PeerConnectionState)> handler) {
  impl_->RunSync([&] { impl_->on_state = std::move(handler); });
}
void PeerConnection::OnSignalingStateChange(std::function<void(SignalingState)> handler) {
  impl_->RunSync([&] { impl_->on_signaling = std::move(handler); });
}
void PeerConnection::OnNegotiationNeeded(std::function<void()> handler) {
  impl_->RunSync([&] { impl_->on_negotiation_needed = std::move(handler); });
}
void PeerConnection::OnDataChannel(std::function<void(std::shared_ptr<DataChannel>)> handler) {
  impl_->RunSync([&] { impl_->on_data_channel = std::move(handler); });
}

}  // namespace tandem
