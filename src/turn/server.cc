#include "turn/server.h"

#include <algorithm>
#include <array>
#include <functional>
#include <unordered_map>

#include "core/log.h"
#include "stun/message.h"
#include "turn/allocation.h"
#include "turn/channel_data.h"
#include "turn/nonce.h"
#include "turn/rate_limiter.h"
#include "turn/tcp_relay.h"

namespace tandem::turn {
namespace {

using stun::MessageBuilder;
using stun::MessageClass;
using stun::MessageView;
using stun::Method;
using stun::PasswordAlgorithm;
namespace attr = stun::attr;
namespace error = stun::error;

constexpr const char* kLog = "turn";

// RFC 8489 §6.3.1 / RFC 8656 §7.2: a server answering a retransmitted Allocate must send the same response; a
// client stops retransmitting after Ti = 39.5 s, so 40 s of caching covers it.
constexpr TimeDelta kRetransmitCacheTime = TimeDelta::Seconds(40);
// RFC 8656 §12: a channel number and peer address are not rebound to something else for 5 minutes after
// expiry.
constexpr TimeDelta kChannelReuseDelay = TimeDelta::Seconds(300);

// PASSWORD-ALGORITHMS offered, in order of preference (RFC 8489 §14.11).
constexpr PasswordAlgorithm kOfferedAlgorithms[] = {PasswordAlgorithm::kSha256, PasswordAlgorithm::kMd5};

constexpr uint8_t kZeros[4] = {0, 0, 0, 0};

// Comprehension-required attributes this server understands in requests (RFC 8489 §14: any other one in a
// request gets 420). ICE's PRIORITY/USE-CANDIDATE are tolerated (and ignored) in Binding requests.
constexpr uint16_t kKnownAttributes[] = {
    attr::kUsername,
    attr::kMessageIntegrity,
    attr::kMessageIntegritySha256,
    attr::kRealm,
    attr::kNonce,
    attr::kPasswordAlgorithm,
    attr::kUserhash,
    attr::kChannelNumber,
    attr::kLifetime,
    attr::kXorPeerAddress,
    attr::kData,
    attr::kRequestedAddressFamily,
    attr::kEvenPort,
    attr::kRequestedTransport,
    attr::kDontFragment,
    attr::kReservationToken,
    attr::kPriority,
    attr::kUseCandidate,
    attr::kConnectionId,
};
// Plus RFC 5780's, when the server has an alternate address.
constexpr uint16_t kRfc5780Attributes[] = {attr::kChangeRequest, attr::kResponsePort, attr::kPadding};
template <size_t A, size_t B>
constexpr std::array<uint16_t, A + B> Concat(const uint16_t (&a)[A], const uint16_t (&b)[B]) {
  std::array<uint16_t, A + B> out{};
  for (size_t i = 0; i < A; ++i) out[i] = a[i];
  for (size_t i = 0; i < B; ++i) out[A + i] = b[i];
  return out;
}
constexpr auto kKnownAttributesRfc5780 = Concat(kKnownAttributes, kRfc5780Attributes);
// In Send indications (RFC 8656 §11.2); anything else comprehension-required makes the indication dropped.
constexpr uint16_t kKnownIndicationAttributes[] = {attr::kXorPeerAddress, attr::kData, attr::kDontFragment};

std::optional<AddressFamily> FamilyFromWire(uint8_t v) {
  if (v == stun::kFamilyIPv4) return AddressFamily::kIPv4;
  if (v == stun::kFamilyIPv6) return AddressFamily::kIPv6;
  return std::nullopt;
}
uint8_t FamilyToWire(AddressFamily f) {
  return f == AddressFamily::kIPv6 ? stun::kFamilyIPv6 : stun::kFamilyIPv4;
}

// Peers are keyed by their plain address: an IPv4-mapped IPv6 address is the IPv4 peer it denotes.
SocketAddress Normalize(const SocketAddress& a) { return SocketAddress(a.ip().Unmapped(), a.port()); }

bool IsStream(const ClientFlow& f) { return f.transport != ClientTransport::kUdp; }

size_t HashCombine(size_t seed, size_t v) {
  return seed ^ (v + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

// Allocation lookup key: UDP flows by their 5-tuple, TCP/TLS flows by connection (RFC 8656 §2.2 / §3.1).
struct FlowKey {
  ClientTransport transport = ClientTransport::kUdp;
  uint64_t connection_id = 0;
  SocketAddress client;
  SocketAddress local;

  static FlowKey Of(const ClientFlow& f) {
    if (IsStream(f)) return FlowKey{f.transport, f.connection_id, {}, {}};
    return FlowKey{ClientTransport::kUdp, 0, f.client, f.local};
  }
  bool operator==(const FlowKey&) const = default;
};
struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const noexcept {
    size_t h = std::hash<uint64_t>()(k.connection_id);
    h = HashCombine(h, static_cast<size_t>(k.transport));
    h = HashCombine(h, SocketAddressHash()(k.client));
    return HashCombine(h, SocketAddressHash()(k.local));
  }
};

enum class TimerKind : uint8_t { kAllocation, kPermission, kChannel, kTcpConnection };

struct TimerEntry {
  Timestamp deadline;
  TimerKind kind = TimerKind::kAllocation;
  uint16_t channel = 0;
  uint64_t id = 0;  // allocation id, or the ConnectionId of a TCP peer connection
  IpAddress ip;     // permission key
};
struct TimerLater {
  bool operator()(const TimerEntry& a, const TimerEntry& b) const { return a.deadline > b.deadline; }
};


// What authentication established for one request.
struct AuthContext {
  bool authenticated = false;  // responses carry MESSAGE-INTEGRITY(-SHA256) with `key`
  bool sha256_mi = false;
  PasswordAlgorithm algorithm = PasswordAlgorithm::kMd5;
  std::string username;
  ByteSpan key;                      // points into `key_storage` or the allocation's cached key
  std::vector<uint8_t> key_storage;  // a freshly looked-up key (new allocations take it over)
};

}  // namespace

size_t ClientFlowHash::operator()(const ClientFlow& f) const noexcept {
  size_t h = std::hash<uint64_t>()(f.connection_id);
  h = HashCombine(h, static_cast<size_t>(f.transport));
  h = HashCombine(h, SocketAddressHash()(f.client));
  return HashCombine(h, SocketAddressHash()(f.local));
}

namespace {

class LocalQuota final : public AllocationQuota {
 public:
  LocalQuota(uint32_t max_total, uint32_t max_per_user)
      : max_total_(max_total), max_per_user_(max_per_user) {}
  bool TryAcquire(std::string_view username) override {
    if (max_total_ != 0 && total_ >= max_total_) return false;
    auto it = per_user_.find(std::string(username));
    if (max_per_user_ != 0 && it != per_user_.end() && it->second >= max_per_user_) return false;
    if (it == per_user_.end()) it = per_user_.emplace(std::string(username), 0).first;
    ++it->second;
    ++total_;
    return true;
  }
  void Release(std::string_view username) override {
    auto it = per_user_.find(std::string(username));
    if (it == per_user_.end()) return;
    if (--it->second == 0) per_user_.erase(it);
    if (total_ > 0) --total_;
  }

 private:
  uint32_t max_total_;
  uint32_t max_per_user_;
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_user_;
};

}  // namespace

std::unique_ptr<AllocationQuota> MakeLocalQuota(uint32_t max_total, uint32_t max_per_user) {
  return std::make_unique<LocalQuota>(max_total, max_per_user);
}

NonceManager MakeNonceManager(const ServerConfig& config, Rng& rng) {
  const uint32_t features =
      config.enable_sha256 ? (kFeaturePasswordAlgorithms | kFeatureUsernameAnonymity) : 0;
  if (config.nonce_secret) return NonceManager(*config.nonce_secret, config.nonce_lifetime, features);
  return NonceManager(rng, config.nonce_lifetime, features);
}

class TurnServer::Impl {
 public:
  Impl(ServerConfig config, CredentialStore& credentials, RelayProvider& relays, AllocationQuota& quota,
       ConnectionRegistry* connections, WallClock& wall_clock, Rng& rng, ServerOutput& output)
      : config_(std::move(config)),
        credentials_(credentials),
        relays_(relays),
        quota_(quota),
        owned_registry_(connections == nullptr ? MakeLocalConnectionRegistry() : nullptr),
        registry_(connections == nullptr ? *owned_registry_ : *connections),
        rng_(rng),
        output_(output),
        nonces_(MakeNonceManager(config_, rng)),
        unauthenticated_limiter_(config_.unauthenticated_requests_per_second_per_ip,
                                 config_.rate_limit_table_size) {
    scratch_.reserve(1024);
    indication_.reserve(64);
  }

  // Destruction calls out to nothing (see server.h): the IO layer that owns the relay sockets and the quota
  // is typically being torn down too.
  ~Impl() = default;

  // ---- Inputs ----

  void HandleClientPacket(Timestamp now, const ClientFlow& flow, ByteSpan packet) {
    if (packet.empty()) {
      ++stats_.dropped_malformed;
      return;
    }
    const uint8_t first = packet[0];
    if (first >= 0x40 && first <= 0x7F) {  // RFC 8656 §12.4 (and RFC 5766's wider range): ChannelData
      HandleClientChannelData(now, flow, packet);
      return;
    }
    if ((first & 0xC0) != 0) {  // RFC 8489 §6: STUN starts with two zero bits
      ++stats_.dropped_malformed;
      return;
    }
    auto parsed = MessageView::Parse(packet);
    if (!parsed.ok()) {
      ++stats_.dropped_malformed;
      return;
    }
    const MessageView& msg = *parsed;
    // RFC 8489 §7.3: a message whose FINGERPRINT is wrong is not STUN; discard it.
    if (msg.Has(attr::kFingerprint) && !msg.HasValidFingerprint()) {
      ++stats_.dropped_malformed;
      return;
    }
    switch (msg.message_class()) {
      case MessageClass::kRequest:
        HandleRequest(now, flow, msg);
        return;
      case MessageClass::kIndication:
        HandleIndication(now, flow, msg);
        return;
      default:
        // RFC 8489 §6.3.3: a server never answers responses; it sent no request.
        ++stats_.dropped_malformed;
        return;
    }
  }

  void HandleClientClosed(Timestamp now, const ClientFlow& flow) {
    if (!IsStream(flow)) return;
    auto it = by_flow_.find(FlowKey::Of(flow));
    if (it == by_flow_.end()) return;
    // RFC 8656 §3.1: over TCP/TLS the allocation lives as long as the control connection.
    ++stats_.allocations_deleted;
    Destroy(it->second);
  }

  // RFC 8656 §11.3 / §12.5: data from a peer to a relayed address goes to the client as ChannelData when a
  // channel is bound to the peer's transport address, as a Data indication otherwise; only with a permission
  // for its IP.
  void HandlePeerPacket(Timestamp now, RelayId relay, const SocketAddress& from, ByteSpan payload) {
    auto it = by_relay_.find(relay);
    if (it == by_relay_.end() || it->second->expiry.at <= now) {
      ++stats_.dropped_no_allocation;
      return;
    }
    Allocation& a = *it->second;
    const SocketAddress peer = Normalize(from);
    auto perm = a.permissions.find(peer.ip());
    if (perm == a.permissions.end() || perm->second.expiry.at <= now) {
      ++stats_.dropped_no_permission;
      return;
    }
    if (payload.size() > 0xFFFF) {
      ++stats_.dropped_malformed;
      return;
    }
    if (a.bandwidth_limited && !a.bandwidth.TryConsume(static_cast<double>(payload.size()), now)) {
      ++stats_.dropped_bandwidth;
      return;
    }
    const size_t pad = (4 - payload.size() % 4) % 4;
    if (auto pc = a.peer_channels.find(peer); pc != a.peer_channels.end()) {
      auto ch = a.channels.find(pc->second);
      if (ch != a.channels.end() && ch->second.bound && ch->second.expiry.at > now) {
        WriteChannelDataHeader(channel_head_, pc->second, static_cast<uint16_t>(payload.size()));
        // RFC 8656 §12.5: over TCP/TLS ChannelData is padded to a multiple of 4; over UDP it need not be.
        output_.SendToClient(a.flow, ByteSpan(channel_head_, kChannelDataHeaderSize), payload,
                             ByteSpan(kZeros, IsStream(a.flow) ? pad : 0));
        CountPeerToClient(payload.size());
        return;
      }
    }
    // RFC 8656 §11.3: Data indication with XOR-PEER-ADDRESS and DATA. The head (header, XOR-PEER-ADDRESS,
    // DATA's TLV header) is built in a reused buffer; the payload and its padding are passed as separate
    // spans.
    const size_t address_len = peer.family() == AddressFamily::kIPv6 ? 24 : 12;
    if (address_len + 4 + payload.size() + pad > 0xFFFF) {
      ++stats_.dropped_malformed;
      return;
    }
    std::array<uint8_t, 12> tid_bytes;
    rng_.Fill(tid_bytes);
    MessageBuilder b(indication_, Method::kData, MessageClass::kIndication,
                     stun::MakeTransactionId(tid_bytes));
    b.AddXorAddress(attr::kXorPeerAddress, peer);
    b.Finish();
    const size_t body_len = indication_.size() - stun::kHeaderSize + 4 + payload.size() + pad;
    uint8_t data_tlv[4];
    StoreBe16(data_tlv, attr::kData);
    StoreBe16(data_tlv + 2, static_cast<uint16_t>(payload.size()));
    indication_.insert(indication_.end(), data_tlv, data_tlv + 4);
    StoreBe16(indication_.data() + 2, static_cast<uint16_t>(body_len));
    output_.SendToClient(a.flow, indication_, payload, ByteSpan(kZeros, pad));
    CountPeerToClient(payload.size());
  }

  // ---- RFC 6062 inputs ----

  // §5.2: the connection attempt of a Connect request finished.
  void HandlePeerConnectResult(Timestamp now, ConnectionId id, bool ok) {
    auto it = tcp_connections_.find(id);
    if (it == tcp_connections_.end() || it->second.state != PeerConnection::State::kConnecting) return;
    PeerConnection& c = it->second;
    Allocation* a = AllocationById(c.allocation_id);
    if (a == nullptr) return;  // cannot happen: Destroy() forgets an allocation's connections
    if (!ok) {
      ++stats_.tcp_connect_failures;
      SendConnectResponse(*a, c, error::kConnectionTimeoutOrFailure);
      DropConnection(*a, it, /*withdraw=*/true, /*close_io=*/false);
      return;
    }
    // The connection becomes a peer data connection that waits for its ConnectionBind (30 s).
    registry_.Publish(id);
    c.state = PeerConnection::State::kPending;
    c.expiry.at = now + config_.tcp_bind_timeout;
    Arm(c.expiry, TimerEntry{c.expiry.at, TimerKind::kTcpConnection, 0, id, {}});
    SendConnectResponse(*a, c, 0);
  }

  // §5.3: an incoming connection on a TCP relayed transport address.
  std::optional<ConnectionId> HandlePeerConnectionAccepted(Timestamp now, RelayId relay, const SocketAddress& from) {
    auto ait = by_tcp_relay_.find(relay);
    if (ait == by_tcp_relay_.end() || ait->second->expiry.at <= now) {
      ++stats_.tcp_connections_refused;
      return std::nullopt;
    }
    Allocation& a = *ait->second;
    const SocketAddress peer = Normalize(from);
    // "If no permission for this peer has been installed for this allocation, the server MUST close the
    // connection with the peer immediately after it has been accepted."
    auto perm = a.permissions.find(peer.ip());
    if (perm == a.permissions.end() || perm->second.expiry.at <= now || a.tcp_peers.count(peer) != 0 ||
        AtConnectionLimit(a)) {
      ++stats_.tcp_connections_refused;
      return std::nullopt;
    }
    const auto id = NewConnectionId(a.username);
    if (!id) {
      ++stats_.tcp_connections_refused;
      return std::nullopt;
    }
    registry_.Publish(*id);
    PeerConnection& c = AddConnection(a, *id, peer, PeerConnection::State::kPending,
                                      now + config_.tcp_bind_timeout);
    ++stats_.tcp_connections_accepted;
    // The ConnectionAttempt indication (§5.3, §6.1) over the control connection.
    std::array<uint8_t, 12> tid_bytes;
    rng_.Fill(tid_bytes);
    MessageBuilder b(indication_, Method::kConnectionAttempt, MessageClass::kIndication,
                     stun::MakeTransactionId(tid_bytes));
    b.AddU32(attr::kConnectionId, c.id);
    b.AddXorAddress(attr::kXorPeerAddress, peer);
    if (!config_.software.empty()) b.AddString(attr::kSoftware, config_.software);
    output_.SendToClient(a.flow, b.Finish());
    LOG_DEBUG(kLog, "allocation " << a.id << ": connection " << c.id << " from peer "
                                  << log::Redact(peer.ToString()));
    return c.id;
  }

  void HandlePeerConnectionClosed(Timestamp now, ConnectionId id) {
    auto it = tcp_connections_.find(id);
    if (it == tcp_connections_.end()) return;
    Allocation* a = AllocationById(it->second.allocation_id);
    if (a == nullptr) return;
    // A pending connection is still in the registry; a bound one left it with its Claim.
    DropConnection(*a, it, it->second.state != PeerConnection::State::kBound, /*close_io=*/false);
  }

  void HandleTimeout(Timestamp now) {
    while (!timers_.empty() && timers_.front().deadline <= now) {
      std::pop_heap(timers_.begin(), timers_.end(), TimerLater());
      const TimerEntry e = timers_.back();
      timers_.pop_back();
      switch (e.kind) {
        case TimerKind::kAllocation:
          OnAllocationTimer(now, e);
          break;
        case TimerKind::kPermission:
          OnPermissionTimer(now, e);
          break;
        case TimerKind::kChannel:
          OnChannelTimer(now, e);
          break;
        case TimerKind::kTcpConnection:
          OnTcpConnectionTimer(now, e);
          break;
      }
    }
  }

  Timestamp NextTimeout() const { return timers_.empty() ? Timestamp::Infinity() : timers_.front().deadline; }

  const ServerStats& stats() const { return stats_; }
  const ServerConfig& config() const { return config_; }
  size_t allocation_count() const { return allocations_.size(); }

 private:
  // ---- Requests ----

  void HandleRequest(Timestamp now, const ClientFlow& flow, const MessageView& msg) {
    switch (msg.method_value()) {
      case static_cast<uint16_t>(Method::kBinding):
        HandleBinding(now, flow, msg);
        return;
      case static_cast<uint16_t>(Method::kAllocate):
      case static_cast<uint16_t>(Method::kRefresh):
      case static_cast<uint16_t>(Method::kCreatePermission):
      case static_cast<uint16_t>(Method::kChannelBind):
      case static_cast<uint16_t>(Method::kConnect):
      case static_cast<uint16_t>(Method::kConnectionBind):
        HandleTurnRequest(now, flow, msg);
        return;
      default:
        // Unknown methods: 400 (RFC 8489 §6.3.1).
        SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
        return;
    }
  }

  bool Rfc5780Active(const ClientFlow& flow) const {
    return config_.primary_address && config_.alternate_address &&
           config_.primary_address->family() == flow.local.family() &&
           config_.alternate_address->family() == flow.local.family();
  }

  // RFC 8489 §6.3.1 (Binding), RFC 5780 §6.2 (OTHER-ADDRESS, RESPONSE-ORIGIN, CHANGE-REQUEST, RESPONSE-PORT).
  void HandleBinding(Timestamp now, const ClientFlow& flow, const MessageView& msg) {
    ++stats_.binding_requests;
    const bool rfc5780 = Rfc5780Active(flow);
    if (RejectUnknown(now, flow, msg,
                      rfc5780 ? std::span<const uint16_t>(kKnownAttributesRfc5780)
                              : std::span<const uint16_t>(kKnownAttributes))) {
      return;
    }
    ClientFlow reply_flow = flow;
    std::optional<SocketAddress> other;
    if (rfc5780) {
      const SocketAddress& p = *config_.primary_address;
      const SocketAddress& alt = *config_.alternate_address;
      const bool on_alt_ip = flow.local.ip() == alt.ip() && !(alt.ip() == p.ip());
      const bool on_alt_port = flow.local.port() == alt.port() && alt.port() != p.port();
      const IpAddress& other_ip = on_alt_ip ? p.ip() : alt.ip();
      const uint16_t other_port = on_alt_port ? p.port() : alt.port();
      other = SocketAddress(other_ip, other_port);
      if (msg.Has(attr::kChangeRequest)) {
        auto change = msg.GetChangeRequest();
        if (!change) {
          SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
          return;
        }
        if (change->change_ip || change->change_port) {
          // Only a datagram can leave from another address; over a stream the request cannot be honoured.
          if (IsStream(flow)) {
            SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
            return;
          }
          reply_flow.local = SocketAddress(change->change_ip ? other_ip : flow.local.ip(),
                                           change->change_port ? other_port : flow.local.port());
        }
      }
      if (msg.Has(attr::kResponsePort) && !IsStream(flow)) {
        auto port = msg.GetU32(attr::kResponsePort);  // 16-bit port then 2 bytes of padding (RFC 5780 §7.5)
        if (!port) {
          SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
          return;
        }
        reply_flow.client.set_port(static_cast<uint16_t>(*port >> 16));
      }
    }
    MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
    if (flow.client.IsSet()) b.AddXorAddress(attr::kXorMappedAddress, flow.client);
    if (other) {
      // Behaviour-discovery clients predate XOR-MAPPED-ADDRESS often enough (coturn's natdiscovery asks for
      // MAPPED-ADDRESS); RFC 8489 §14.1 keeps it for backward compatibility.
      if (flow.client.IsSet()) b.AddAddress(attr::kMappedAddress, flow.client);
      b.AddAddress(attr::kOtherAddress, *other);
      b.AddAddress(attr::kResponseOrigin, reply_flow.local);
    }
    output_.SendToClient(reply_flow, Finish(b, msg, nullptr, true));
  }

  void HandleTurnRequest(Timestamp now, const ClientFlow& flow, const MessageView& msg) {
    if (!config_.enable_turn) {
      SendUnauthenticatedError(now, flow, msg, error::kForbidden);
      return;
    }
    Allocation* alloc = FindAllocation(now, flow);
    if (alloc != nullptr && !alloc->cached_response.empty()) {
      if (msg.transaction_id() == alloc->cached_tid && now - alloc->cached_at <= kRetransmitCacheTime) {
        output_.SendToClient(flow, alloc->cached_response);
        return;
      }
      std::vector<uint8_t>().swap(alloc->cached_response);
    }
    if (RejectUnknown(now, flow, msg, kKnownAttributes)) return;

    AuthContext auth;
    if (config_.require_auth && !Authenticate(now, flow, msg, alloc, auth)) return;

    switch (msg.method()) {
      case Method::kAllocate:
        HandleAllocate(now, flow, msg, alloc, auth);
        return;
      case Method::kRefresh:
        HandleRefresh(now, flow, msg, alloc, auth);
        return;
      case Method::kCreatePermission:
        HandleCreatePermission(now, flow, msg, alloc, auth);
        return;
      case Method::kChannelBind:
        HandleChannelBind(now, flow, msg, alloc, auth);
        return;
      case Method::kConnect:
        HandleConnect(now, flow, msg, alloc, auth);
        return;
      case Method::kConnectionBind:
        HandleConnectionBind(now, flow, msg, alloc, auth);
        return;
      default:
        return;
    }
  }

  // Long-term credential mechanism, server side (RFC 8489 §9.2.4). Sends the error response itself and
  // returns false when the request is not authenticated.
  bool Authenticate(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* alloc,
                    AuthContext& auth) {
    const bool has_mi = msg.Has(attr::kMessageIntegrity);
    const bool has_mi256 = msg.Has(attr::kMessageIntegritySha256);
    if (!has_mi && !has_mi256) {
      SendChallenge(now, flow, msg, error::kUnauthorized, /*rate_limited=*/true);
      return false;
    }
    const auto nonce = msg.GetString(attr::kNonce);
    const auto realm = msg.GetString(attr::kRealm);
    const auto username = msg.GetString(attr::kUsername);
    const auto userhash = msg.GetBytes(attr::kUserhash);
    if (!nonce || !realm || (!username && !userhash)) {
      ++stats_.auth_failures;
      SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
      return false;
    }
    // §9.2.4: with the password-algorithms feature in the nonce, PASSWORD-ALGORITHMS must echo our offer and
    // PASSWORD-ALGORITHM be one of it; neither present means MD5.
    const uint32_t features = config_.enable_sha256 ? NonceManager::Features(*nonce) : 0;
    auth.algorithm = PasswordAlgorithm::kMd5;
    if ((features & kFeaturePasswordAlgorithms) != 0) {
      const bool has_pa = msg.Has(attr::kPasswordAlgorithm);
      const bool has_pas = msg.Has(attr::kPasswordAlgorithms);
      if (has_pa || has_pas) {
        const auto chosen = msg.GetPasswordAlgorithm();
        const auto offered = msg.GetPasswordAlgorithms();
        const bool echoed = std::equal(offered.begin(), offered.end(), std::begin(kOfferedAlgorithms),
                                       std::end(kOfferedAlgorithms));
        if (!has_pa || !has_pas || !chosen || !echoed ||
            std::find(offered.begin(), offered.end(), *chosen) == offered.end()) {
          ++stats_.auth_failures;
          SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
          return false;
        }
        auth.algorithm = *chosen;
      }
    }
    if (*realm != config_.realm) {
      ++stats_.auth_failures;
      SendChallenge(now, flow, msg, error::kUnauthorized, true);
      return false;
    }
    // Who is asking: USERNAME, or USERHASH (§14.4) when username anonymity was offered.
    if (username) {
      auth.username = std::string(*username);
    } else if ((features & kFeatureUsernameAnonymity) == 0) {
      ++stats_.auth_failures;
      SendUnauthenticatedError(now, flow, msg, error::kBadRequest);
      return false;
    } else if (alloc != nullptr) {
      const auto expected = stun::UserHash(alloc->username, config_.realm);
      if (!std::equal(expected.begin(), expected.end(), userhash->begin(), userhash->end())) {
        ++stats_.auth_failures;
        SendUnauthenticatedError(now, flow, msg, error::kWrongCredentials);
        return false;
      }
      auth.username = alloc->username;
    } else if (auto name = credentials_.LookupUserHash(*userhash, config_.realm)) {
      auth.username = std::move(*name);
    } else {
      ++stats_.auth_failures;
      SendChallenge(now, flow, msg, error::kUnauthorized, true);
      return false;
    }
    // RFC 8656 §5: requests on an allocation must come from the user who created it.
    if (alloc != nullptr && auth.username != alloc->username) {
      ++stats_.auth_failures;
      SendUnauthenticatedError(now, flow, msg, error::kWrongCredentials);
      return false;
    }
    auto verify = [&](ByteSpan key) {
      return has_mi256 ? msg.VerifyMessageIntegritySha256(key) : msg.VerifyMessageIntegrity(key);
    };
    if (alloc != nullptr && alloc->algorithm == auth.algorithm && !alloc->key.empty()) {
      if (verify(alloc->key)) auth.key = alloc->key;
    } else {
      for (auto& key : credentials_.LookupKeys(auth.username, config_.realm, auth.algorithm)) {
        if (verify(key)) {
          auth.key_storage = std::move(key);
          auth.key = auth.key_storage;
          break;
        }
      }
    }
    if (auth.key.empty()) {
      ++stats_.auth_failures;
      SendChallenge(now, flow, msg, error::kUnauthorized, true);
      return false;
    }
    // The nonce is checked after the integrity so that only a client knowing the key learns it is stale
    // (§9.2.4).
    if (nonces_.Check(*nonce, now, flow.client.ip()) != NonceManager::Validity::kValid) {
      ++stats_.stale_nonces;
      SendChallenge(now, flow, msg, error::kStaleNonce, false);
      return false;
    }
    auth.authenticated = true;
    auth.sha256_mi = has_mi256;
    return true;
  }

  // RFC 8656 §7.2.
  void HandleAllocate(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* existing,
                      AuthContext& auth) {
    if (existing != nullptr) {
      SendError(flow, msg, error::kAllocationMismatch, &auth);
      return;
    }
    // Step 3: REQUESTED-TRANSPORT.
    const auto transport = msg.GetRequestedTransport();
    if (!transport) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    // RFC 6062 §5.1 step 1 (and RFC 8656 §7.2): UDP, or TCP when enabled; anything else 442.
    const bool tcp = *transport == stun::kTransportTcp;
    if ((*transport != stun::kTransportUdp && !tcp) || (tcp && !config_.enable_tcp_relay)) {
      SendError(flow, msg, error::kUnsupportedTransportProtocol, &auth);
      return;
    }
    if (tcp) {
      // §5.1 step 2: a TCP allocation needs a TCP/TLS control connection. Step 3: DONT-FRAGMENT, EVEN-PORT and
      // RESERVATION-TOKEN are UDP notions. A TCP allocation has one address family (no dual allocation).
      if (!IsStream(flow) || msg.Has(attr::kDontFragment) || msg.Has(attr::kEvenPort) ||
          msg.Has(attr::kReservationToken) || msg.Has(attr::kAdditionalAddressFamily)) {
        SendError(flow, msg, error::kBadRequest, &auth);
        return;
      }
    }
    // Step 5-8: EVEN-PORT, RESERVATION-TOKEN and the address families.
    const bool has_even = msg.Has(attr::kEvenPort);
    const auto reserve = msg.GetEvenPortReserve();
    const bool has_token = msg.Has(attr::kReservationToken);
    const auto token = msg.GetU64(attr::kReservationToken);
    const bool has_family = msg.Has(attr::kRequestedAddressFamily);
    const auto family_raw = msg.GetAddressFamily(attr::kRequestedAddressFamily);
    const bool has_additional = msg.Has(attr::kAdditionalAddressFamily);
    const auto additional_raw = msg.GetAddressFamily(attr::kAdditionalAddressFamily);
    if ((has_even && !reserve) || (has_token && !token) || (has_family && !family_raw) ||
        (has_additional && !additional_raw)) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    if ((has_even && has_token) || (has_token && (has_family || has_additional)) ||
        (has_family && has_additional) || (has_additional && *additional_raw != stun::kFamilyIPv6) ||
        (has_even && *reserve && has_additional)) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    AddressFamily family = AddressFamily::kIPv4;
    if (has_family) {
      auto f = FamilyFromWire(*family_raw);
      if (!f) {
        SendError(flow, msg, error::kAddressFamilyNotSupported, &auth);
        return;
      }
      family = *f;
    }
    if (config_.max_allocations_per_worker != 0 &&
        allocations_.size() >= config_.max_allocations_per_worker) {
      SendError(flow, msg, error::kInsufficientCapacity, &auth);
      return;
    }
    // Step 9: quotas.
    if (!quota_.TryAcquire(auth.username)) {
      SendError(flow, msg, error::kAllocationQuotaReached, &auth);
      return;
    }

    auto a = std::make_unique<Allocation>();
    a->quota_held = true;
    a->username = auth.username;
    uint64_t reservation_token = 0;
    uint16_t address_error = 0;  // ADDRESS-ERROR-CODE for the additional family
    AddressFamily address_error_family = AddressFamily::kIPv6;
    if (tcp) {
      // RFC 6062 §5.1 step 4: a TCP relayed transport address.
      auto opened = relays_.OpenTcp(family);
      if (!opened.ok()) {
        quota_.Release(auth.username);
        SendError(flow, msg, RelayErrorCode(opened.error()), &auth);
        return;
      }
      a->relays[a->relay_count++] = RelaySlot{opened->id, opened->address};
      a->tcp = true;
    } else if (has_token) {
      // §7.2: an unknown or expired token cannot be honoured: 508.
      auto reserved = relays_.OpenReserved(*token);
      if (!reserved.ok()) {
        quota_.Release(auth.username);
        SendError(flow, msg, error::kInsufficientCapacity, &auth);
        return;
      }
      a->relays[a->relay_count++] = RelaySlot{reserved->id, reserved->address};
    } else {
      auto opened = relays_.Open(family, has_even, has_even && *reserve);
      uint16_t primary_error = opened.ok() ? 0 : RelayErrorCode(opened.error());
      if (opened.ok()) {
        a->relays[a->relay_count++] = RelaySlot{opened->relay.id, opened->relay.address};
        if (has_even && *reserve) {
          if (!opened->reservation_token) {
            // The provider could not hold port+1: the request cannot be satisfied (§7.2 step 6).
            relays_.Close(opened->relay.id);
            quota_.Release(auth.username);
            SendError(flow, msg, error::kInsufficientCapacity, &auth);
            return;
          }
          reservation_token = *opened->reservation_token;
        }
      }
      if (has_additional) {
        // Dual allocation (RFC 8656 §7.2): IPv4 + IPv6; one family failing is reported in ADDRESS-ERROR-CODE.
        auto v6 = relays_.Open(AddressFamily::kIPv6, false, false);
        if (v6.ok()) {
          a->relays[a->relay_count++] = RelaySlot{v6->relay.id, v6->relay.address};
          if (primary_error != 0) {
            address_error = primary_error;
            address_error_family = AddressFamily::kIPv4;
          }
        } else if (primary_error == 0) {
          address_error = RelayErrorCode(v6.error());
        }
      }
      if (a->relay_count == 0) {
        quota_.Release(auth.username);
        SendError(flow, msg, primary_error, &auth);
        return;
      }
    }

    // Lifetime (§7.2 step "determines the initial value of the time-to-expiry").
    const TimeDelta lifetime = NegotiateLifetime(msg);
    a->id = ++next_allocation_id_;
    a->flow = flow;
    a->algorithm = auth.algorithm;
    a->key = auth.key_storage.empty() ? std::vector<uint8_t>(auth.key.begin(), auth.key.end())
                                      : std::move(auth.key_storage);
    auth.key = a->key;
    a->dont_fragment = msg.Has(attr::kDontFragment);
    a->expiry.at = now + lifetime;
    if (config_.bandwidth_bytes_per_second_per_allocation != 0) {
      const double rate = static_cast<double>(config_.bandwidth_bytes_per_second_per_allocation);
      a->bandwidth_limited = true;
      a->bandwidth = TokenBucket(rate, rate, now);  // one second of burst
    }

    Allocation* raw = a.get();
    allocations_.emplace(raw->id, std::move(a));
    by_flow_[FlowKey::Of(flow)] = raw;
    auto& relay_index = raw->tcp ? by_tcp_relay_ : by_relay_;
    for (uint8_t i = 0; i < raw->relay_count; ++i) relay_index[raw->relays[i].id] = raw;
    Arm(raw->expiry, TimerEntry{raw->expiry.at, TimerKind::kAllocation, 0, raw->id, {}});
    ++stats_.allocations_created;
    ++stats_.allocations_active;
    LOG_DEBUG(kLog, "allocation " << raw->id << " for " << log::Redact(flow.client.ToString()) << " relay "
                                  << log::Redact(raw->relays[0].address.ToString()) << " lifetime "
                                  << lifetime.seconds() << "s");

    MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
    for (uint8_t i = 0; i < raw->relay_count; ++i)
      b.AddXorAddress(attr::kXorRelayedAddress, raw->relays[i].address);
    b.AddU32(attr::kLifetime, static_cast<uint32_t>(lifetime.seconds()));
    if (reservation_token != 0) b.AddU64(attr::kReservationToken, reservation_token);
    if (address_error != 0) b.AddAddressErrorCode(FamilyToWire(address_error_family), address_error);
    if (flow.client.IsSet()) b.AddXorAddress(attr::kXorMappedAddress, flow.client);
    const ByteSpan response = Finish(b, msg, &auth, true);
    raw->cached_tid = msg.transaction_id();
    raw->cached_at = now;
    raw->cached_response.assign(response.begin(), response.end());
    output_.SendToClient(flow, response);
  }

  // RFC 8656 §8.2.
  void HandleRefresh(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* a,
                     AuthContext& auth) {
    if (a == nullptr) {
      SendError(flow, msg, error::kAllocationMismatch, &auth);
      return;
    }
    if (msg.Has(attr::kRequestedAddressFamily)) {
      const auto raw = msg.GetAddressFamily(attr::kRequestedAddressFamily);
      const auto family = raw ? FamilyFromWire(*raw) : std::nullopt;
      if (!family || a->RelayFor(*family) == nullptr) {
        SendError(flow, msg, error::kPeerAddressFamilyMismatch, &auth);
        return;
      }
    }
    if (msg.Has(attr::kLifetime) && !msg.GetU32(attr::kLifetime)) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    if (msg.GetU32(attr::kLifetime) == 0u) {
      // A zero lifetime deletes the allocation. The response is built first: `auth.key` is the allocation's.
      MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
      b.AddU32(attr::kLifetime, 0);
      const ByteSpan response = Finish(b, msg, &auth, true);
      ++stats_.allocations_deleted;
      Destroy(a);
      output_.SendToClient(flow, response);
      return;
    }
    const TimeDelta lifetime = NegotiateLifetime(msg);
    a->expiry.at = now + lifetime;
    Arm(a->expiry, TimerEntry{a->expiry.at, TimerKind::kAllocation, 0, a->id, {}});
    MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
    b.AddU32(attr::kLifetime, static_cast<uint32_t>(lifetime.seconds()));
    output_.SendToClient(flow, Finish(b, msg, &auth, true));
  }

  // RFC 8656 §10.2: all XOR-PEER-ADDRESSes are installed, or none.
  void HandleCreatePermission(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* a,
                              AuthContext& auth) {
    if (a == nullptr) {
      SendError(flow, msg, error::kAllocationMismatch, &auth);
      return;
    }
    std::array<SocketAddress, stun::kMaxAttributes> peers;
    bool malformed = false;
    const size_t n = msg.GetAllXorAddresses(attr::kXorPeerAddress, peers, &malformed);
    if (malformed || n == 0) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    for (size_t i = 0; i < n; ++i) {
      peers[i] = Normalize(peers[i]);
      if (a->RelayFor(peers[i].family()) == nullptr) {
        SendError(flow, msg, error::kPeerAddressFamilyMismatch, &auth);
        return;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (!config_.peer_policy.IsAllowed(peers[i].ip())) {
        ++stats_.peer_refused;
        SendError(flow, msg, error::kForbidden, &auth);
        return;
      }
    }
    size_t added = 0;
    for (size_t i = 0; i < n; ++i) {
      bool seen = a->permissions.count(peers[i].ip()) != 0;
      for (size_t j = 0; j < i && !seen; ++j) seen = peers[j].ip() == peers[i].ip();
      if (!seen) ++added;
    }
    if (config_.max_permissions_per_allocation != 0 &&
        a->permissions.size() + added > config_.max_permissions_per_allocation) {
      SendError(flow, msg, error::kInsufficientCapacity, &auth);
      return;
    }
    for (size_t i = 0; i < n; ++i) InstallPermission(now, *a, peers[i].ip());
    MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
    output_.SendToClient(flow, Finish(b, msg, &auth, true));
  }

  // RFC 8656 §12.2.
  void HandleChannelBind(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* a,
                         AuthContext& auth) {
    if (a == nullptr) {
      SendError(flow, msg, error::kAllocationMismatch, &auth);
      return;
    }
    // RFC 6062: a TCP allocation relays over peer connections, never through channels.
    if (a->tcp) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    const auto channel = msg.GetChannelNumber();
    auto peer_opt = msg.GetXorAddress(attr::kXorPeerAddress);
    if (!channel || !IsAcceptedChannel(*channel) || !peer_opt) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    const SocketAddress peer = Normalize(*peer_opt);
    if (a->RelayFor(peer.family()) == nullptr) {
      SendError(flow, msg, error::kPeerAddressFamilyMismatch, &auth);
      return;
    }
    if (!config_.peer_policy.IsAllowed(peer.ip())) {
      ++stats_.peer_refused;
      SendError(flow, msg, error::kForbidden, &auth);
      return;
    }
    auto ch = a->channels.find(*channel);
    auto pc = a->peer_channels.find(peer);
    // The channel is bound (or cooling down) to another peer, or the peer to another channel.
    if ((ch != a->channels.end() && !(ch->second.peer == peer)) ||
        (pc != a->peer_channels.end() && pc->second != *channel)) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    const bool new_permission = a->permissions.count(peer.ip()) == 0;
    if ((ch == a->channels.end() && config_.max_channels_per_allocation != 0 &&
         a->channels.size() >= config_.max_channels_per_allocation) ||
        (new_permission && config_.max_permissions_per_allocation != 0 &&
         a->permissions.size() >= config_.max_permissions_per_allocation)) {
      SendError(flow, msg, error::kInsufficientCapacity, &auth);
      return;
    }
    if (ch == a->channels.end()) {
      ch = a->channels.emplace(*channel, ChannelBinding{peer, {}, false}).first;
      a->peer_channels.emplace(peer, *channel);
    }
    if (!ch->second.bound) {
      ch->second.bound = true;
      ++a->bound_channels;
      ++stats_.channels_active;
    }
    ch->second.expiry.at = now + config_.channel_lifetime;
    Arm(ch->second.expiry, TimerEntry{ch->second.expiry.at, TimerKind::kChannel, *channel, a->id, {}});
    InstallPermission(now, *a, peer.ip());
    MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
    output_.SendToClient(flow, Finish(b, msg, &auth, true));
  }

  // RFC 6062 §5.2.
  void HandleConnect(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* a,
                     AuthContext& auth) {
    if (a == nullptr) {
      SendError(flow, msg, error::kAllocationMismatch, &auth);
      return;
    }
    const auto peer_opt = msg.GetXorAddress(attr::kXorPeerAddress);
    // Connect belongs to TCP allocations only; a peer address is required and needs a port to connect to.
    if (!a->tcp || !peer_opt || peer_opt->port() == 0) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    const SocketAddress peer = Normalize(*peer_opt);
    const RelaySlot* relay = a->RelayFor(peer.family());
    if (relay == nullptr) {
      SendError(flow, msg, error::kPeerAddressFamilyMismatch, &auth);
      return;
    }
    // "If the new connection is forbidden by local policy, the server MUST reject the request with a 403".
    if (!config_.peer_policy.IsAllowed(peer.ip())) {
      ++stats_.peer_refused;
      SendError(flow, msg, error::kForbidden, &auth);
      return;
    }
    // A Connect to this peer in progress, or its connections pending or active: 446.
    if (a->tcp_peers.count(peer) != 0) {
      SendError(flow, msg, error::kConnectionAlreadyExists, &auth);
      return;
    }
    if (AtConnectionLimit(*a)) {
      SendError(flow, msg, error::kInsufficientCapacity, &auth);
      return;
    }
    const auto id = NewConnectionId(a->username);
    if (!id) {
      SendError(flow, msg, error::kInsufficientCapacity, &auth);
      return;
    }
    PeerConnection& c =
        AddConnection(*a, *id, peer, PeerConnection::State::kConnecting, now + config_.tcp_connect_timeout);
    c.tid = msg.transaction_id();
    c.authenticated = auth.authenticated;
    c.sha256_integrity = auth.sha256_mi;
    c.fingerprint = msg.Has(attr::kFingerprint);
    ++stats_.tcp_connects;
    // No permission is needed for a Connect nor installed by it: RFC 6062 §5.2 has no such step (permissions
    // only filter incoming connections, §5.3).
    output_.ConnectToPeer(c.id, relay->id, peer);
  }

  // RFC 6062 §5.4. Arrives on a new client connection, the future client data connection, which may be on any
  // worker: the registry finds the pending connection whichever worker holds it.
  void HandleConnectionBind(Timestamp now, const ClientFlow& flow, const MessageView& msg, Allocation* a,
                            AuthContext& auth) {
    // Over TCP/TLS only; and a control connection (one with an allocation) cannot become a data connection.
    const auto id = msg.GetU32(attr::kConnectionId);
    std::optional<uint32_t> owner;
    if (IsStream(flow) && a == nullptr && id) owner = registry_.Claim(*id, auth.username);
    if (!owner) {
      SendError(flow, msg, error::kBadRequest, &auth);
      return;
    }
    ++stats_.tcp_connections_bound;
    if (auto it = tcp_connections_.find(*id); it != tcp_connections_.end()) {
      it->second.state = PeerConnection::State::kBound;  // its bind timer finds nothing to do
      it->second.expiry.at = Timestamp::Infinity();
    }
    MessageBuilder b = Begin(msg, MessageClass::kSuccessResponse);
    output_.SendToClient(flow, Finish(b, msg, &auth, true));
    output_.BindDataConnection(flow, *id, *owner);
  }

  // ---- RFC 6062 peer connections ----

  bool AtConnectionLimit(const Allocation& a) const {
    return config_.max_tcp_connections_per_allocation != 0 &&
           a.tcp_peers.size() >= config_.max_tcp_connections_per_allocation;
  }

  // A fresh CONNECTION-ID: random (unguessable), non-zero, reserved in the shared registry.
  std::optional<ConnectionId> NewConnectionId(const std::string& username) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      const ConnectionId id = rng_.NextU32();
      if (id != 0 && tcp_connections_.count(id) == 0 && registry_.Reserve(id, username)) return id;
    }
    return std::nullopt;
  }

  PeerConnection& AddConnection(Allocation& a, ConnectionId id, const SocketAddress& peer,
                                PeerConnection::State state, Timestamp deadline) {
    PeerConnection& c = tcp_connections_[id];
    c.id = id;
    c.allocation_id = a.id;
    c.peer = peer;
    c.state = state;
    c.expiry.at = deadline;
    Arm(c.expiry, TimerEntry{deadline, TimerKind::kTcpConnection, 0, id, {}});
    a.tcp_peers[peer] = id;
    ++stats_.tcp_connections_active;
    return c;
  }

  // Forgets a connection: `withdraw` takes its id out of the registry (not for one a Claim took), `close_io` asks
  // the IO layer to close what it holds under the id.
  void DropConnection(Allocation& a, std::unordered_map<ConnectionId, PeerConnection>::iterator it, bool withdraw,
                      bool close_io) {
    const ConnectionId id = it->first;
    a.tcp_peers.erase(it->second.peer);
    tcp_connections_.erase(it);
    --stats_.tcp_connections_active;
    if (withdraw) registry_.Withdraw(id);
    if (close_io) output_.ClosePeerConnection(id);
  }

  // The deferred Connect response: success with CONNECTION-ID (code 0), or an error.
  void SendConnectResponse(const Allocation& a, const PeerConnection& c, uint16_t code) {
    MessageBuilder b(scratch_, Method::kConnect,
                     code == 0 ? MessageClass::kSuccessResponse : MessageClass::kErrorResponse, c.tid);
    if (code == 0) {
      b.AddU32(attr::kConnectionId, c.id);
    } else {
      ++stats_.error_responses;
      b.AddErrorCode(code);
    }
    if (!config_.software.empty()) b.AddString(attr::kSoftware, config_.software);
    if (c.authenticated && !a.key.empty()) {
      if (c.sha256_integrity) {
        b.AddMessageIntegritySha256(a.key);
      } else {
        b.AddMessageIntegrity(a.key);
      }
    }
    if (c.fingerprint) b.AddFingerprint();
    output_.SendToClient(a.flow, b.Finish());
  }

  void OnTcpConnectionTimer(Timestamp now, const TimerEntry& e) {
    auto it = tcp_connections_.find(static_cast<ConnectionId>(e.id));
    if (it == tcp_connections_.end() || !Due(now, it->second.expiry, e)) return;
    PeerConnection& c = it->second;
    Allocation* a = AllocationById(c.allocation_id);
    if (a == nullptr) return;
    switch (c.state) {
      case PeerConnection::State::kConnecting:
        // §5.2: "If the connection attempt fails or times out, the server MUST return a 447".
        ++stats_.tcp_connect_failures;
        SendConnectResponse(*a, c, error::kConnectionTimeoutOrFailure);
        DropConnection(*a, it, /*withdraw=*/true, /*close_io=*/true);
        return;
      case PeerConnection::State::kPending:
        // §5.2, §5.3: not bound within 30 s: close. Unless a ConnectionBind on another worker claimed it just
        // now; then it is bound, and its end will be reported like any bound connection's.
        if (!registry_.Withdraw(c.id)) {
          c.state = PeerConnection::State::kBound;
          c.expiry.at = Timestamp::Infinity();
          return;
        }
        ++stats_.tcp_bind_timeouts;
        DropConnection(*a, it, /*withdraw=*/false, /*close_io=*/true);
        return;
      case PeerConnection::State::kBound:
        return;
    }
  }

  // ---- Client data ----

  void HandleIndication(Timestamp now, const ClientFlow& flow, const MessageView& msg) {
    if (msg.method() == Method::kBinding) return;  // RFC 8489 §6.3.2: a keepalive; nothing to do
    if (msg.method() != Method::kSend) {
      ++stats_.dropped_malformed;
      return;
    }
    // RFC 8656 §11.2.
    Allocation* a = FindAllocation(now, flow);
    if (a == nullptr || a->tcp) {  // a TCP allocation (RFC 6062) has no datagram relay to send from
      ++stats_.dropped_no_allocation;
      return;
    }
    if (!msg.UnknownComprehensionRequired(kKnownIndicationAttributes).empty()) {
      ++stats_.dropped_malformed;
      return;
    }
    const auto peer_opt = msg.GetXorAddress(attr::kXorPeerAddress);
    const auto data = msg.GetBytes(attr::kData);
    if (!peer_opt || !data) {
      ++stats_.dropped_malformed;
      return;
    }
    RelayToPeer(now, *a, Normalize(*peer_opt), *data, a->dont_fragment || msg.Has(attr::kDontFragment));
  }

  // RFC 8656 §12.6.
  void HandleClientChannelData(Timestamp now, const ClientFlow& flow, ByteSpan packet) {
    const auto cd = ParseChannelData(packet);
    if (!cd) {
      ++stats_.dropped_malformed;
      return;
    }
    auto it = by_flow_.find(FlowKey::Of(flow));
    if (it == by_flow_.end() || it->second->expiry.at <= now) {
      ++stats_.dropped_no_allocation;
      return;
    }
    Allocation& a = *it->second;
    auto ch = a.channels.find(cd->channel);
    if (ch == a.channels.end() || !ch->second.bound || ch->second.expiry.at <= now) {
      ++stats_.dropped_unknown_channel;
      return;
    }
    RelayToPeer(now, a, ch->second.peer, cd->data, a.dont_fragment);
  }

  void RelayToPeer(Timestamp now, Allocation& a, const SocketAddress& peer, ByteSpan data,
                   bool dont_fragment) {
    auto perm = a.permissions.find(peer.ip());
    const RelaySlot* relay = a.RelayFor(peer.family());
    if (perm == a.permissions.end() || perm->second.expiry.at <= now || relay == nullptr) {
      ++stats_.dropped_no_permission;
      return;
    }
    if (a.bandwidth_limited && !a.bandwidth.TryConsume(static_cast<double>(data.size()), now)) {
      ++stats_.dropped_bandwidth;
      return;
    }
    output_.SendToPeer(relay->id, peer, data, dont_fragment);
    ++stats_.packets_client_to_peer;
    stats_.bytes_client_to_peer += data.size();
  }

  void CountPeerToClient(size_t bytes) {
    ++stats_.packets_peer_to_client;
    stats_.bytes_peer_to_client += bytes;
  }

  // ---- Allocation state ----

  Allocation* FindAllocation(Timestamp now, const ClientFlow& flow) {
    auto it = by_flow_.find(FlowKey::Of(flow));
    if (it == by_flow_.end()) return nullptr;
    Allocation* a = it->second;
    if (a->expiry.at <= now) {  // expired, the timer just has not run yet
      Expire(a);
      return nullptr;
    }
    return a;
  }

  void InstallPermission(Timestamp now, Allocation& a, const IpAddress& ip) {
    auto [it, inserted] = a.permissions.try_emplace(ip);
    if (inserted) ++stats_.permissions_active;
    it->second.expiry.at = now + config_.permission_lifetime;
    Arm(it->second.expiry, TimerEntry{it->second.expiry.at, TimerKind::kPermission, 0, a.id, ip});
  }

  TimeDelta NegotiateLifetime(const MessageView& msg) const {
    // RFC 8656 §7.2 / §8.2: min(requested, maximum), but never below the default.
    const auto requested = msg.GetU32(attr::kLifetime);
    if (!requested) return config_.default_lifetime;
    const TimeDelta wanted = std::min(TimeDelta::Seconds(*requested), config_.max_lifetime);
    return std::max(wanted, config_.default_lifetime);
  }

  static uint16_t RelayErrorCode(const Error& e) {
    return e.code == ErrorCode::kUnsupported ? error::kAddressFamilyNotSupported
                                             : error::kInsufficientCapacity;
  }

  void Expire(Allocation* a) {
    ++stats_.allocations_expired;
    const ClientFlow flow = a->flow;
    Destroy(a);
    // Over a stream the connection exists for the allocation (RFC 8656 §3.1); with it gone, close the
    // connection.
    if (IsStream(flow)) output_.CloseClient(flow);
  }

  void Destroy(Allocation* a) {
    // RFC 6062: the allocation's peer connections (and the data connections bound to them) go with it.
    for (const auto& [peer, id] : a->tcp_peers) {
      auto it = tcp_connections_.find(id);
      if (it == tcp_connections_.end()) continue;
      if (it->second.state != PeerConnection::State::kBound) registry_.Withdraw(id);
      output_.ClosePeerConnection(id);
      tcp_connections_.erase(it);
      --stats_.tcp_connections_active;
    }
    auto& relay_index = a->tcp ? by_tcp_relay_ : by_relay_;
    for (uint8_t i = 0; i < a->relay_count; ++i) {
      relays_.Close(a->relays[i].id);
      relay_index.erase(a->relays[i].id);
    }
    by_flow_.erase(FlowKey::Of(a->flow));
    if (a->quota_held) quota_.Release(a->username);
    stats_.permissions_active -= a->permissions.size();
    stats_.channels_active -= a->bound_channels;
    --stats_.allocations_active;
    allocations_.erase(a->id);
  }

  // ---- Timers: a min-heap with lazy deletion; at most one live entry per entity (see Expiry). ----

  void PushTimer(const TimerEntry& e) {
    timers_.push_back(e);
    std::push_heap(timers_.begin(), timers_.end(), TimerLater());
  }

  // Makes sure a heap entry fires no later than `expiry.at`.
  void Arm(Expiry& expiry, TimerEntry e) {
    if (expiry.at >= expiry.armed) return;  // the armed entry fires first and re-arms
    e.deadline = expiry.at;
    expiry.armed = expiry.at;
    PushTimer(e);
  }

  // True when `e` is the live entry of `expiry` and the entity is due; re-arms it when it was refreshed.
  bool Due(Timestamp now, Expiry& expiry, const TimerEntry& e) {
    if (expiry.armed != e.deadline) return false;  // superseded by an earlier entry
    expiry.armed = Timestamp::Infinity();
    if (expiry.at > now) {
      Arm(expiry, e);
      return false;
    }
    return true;
  }

  Allocation* AllocationById(uint64_t id) {
    auto it = allocations_.find(id);
    return it == allocations_.end() ? nullptr : it->second.get();
  }

  void OnAllocationTimer(Timestamp now, const TimerEntry& e) {
    Allocation* a = AllocationById(e.id);
    if (a != nullptr && Due(now, a->expiry, e)) Expire(a);
  }

  void OnPermissionTimer(Timestamp now, const TimerEntry& e) {
    Allocation* a = AllocationById(e.id);
    if (a == nullptr) return;
    auto it = a->permissions.find(e.ip);
    if (it == a->permissions.end() || !Due(now, it->second.expiry, e)) return;
    a->permissions.erase(it);
    --stats_.permissions_active;
  }

  void OnChannelTimer(Timestamp now, const TimerEntry& e) {
    Allocation* a = AllocationById(e.id);
    if (a == nullptr) return;
    auto it = a->channels.find(e.channel);
    if (it == a->channels.end() || !Due(now, it->second.expiry, e)) return;
    ChannelBinding& ch = it->second;
    if (ch.bound) {
      // RFC 8656 §12: unbound now, but reserved to this peer for 5 more minutes.
      ch.bound = false;
      --a->bound_channels;
      --stats_.channels_active;
      ch.expiry.at = ch.expiry.at + kChannelReuseDelay;
      Arm(ch.expiry, e);
      return;
    }
    a->peer_channels.erase(ch.peer);
    a->channels.erase(it);
  }


  // ---- Responses ----

  MessageBuilder Begin(const MessageView& req, MessageClass cls) {
    return MessageBuilder(scratch_, static_cast<Method>(req.method_value()), cls, req.transaction_id());
  }

  // SOFTWARE, then integrity with the request's key and algorithm (RFC 8489 §9.2.4), then FINGERPRINT when
  // the request had one (§7.3).
  ByteSpan Finish(MessageBuilder& b, const MessageView& req, const AuthContext* auth, bool software) {
    if (software && !config_.software.empty()) b.AddString(attr::kSoftware, config_.software);
    if (auth != nullptr && auth->authenticated) {
      if (auth->sha256_mi) {
        b.AddMessageIntegritySha256(auth->key);
      } else {
        b.AddMessageIntegrity(auth->key);
      }
    }
    if (req.Has(attr::kFingerprint)) b.AddFingerprint();
    return b.Finish();
  }

  void SendError(const ClientFlow& flow, const MessageView& req, uint16_t code, const AuthContext* auth) {
    ++stats_.error_responses;
    MessageBuilder b = Begin(req, MessageClass::kErrorResponse);
    b.AddErrorCode(code);
    output_.SendToClient(flow, Finish(b, req, auth, true));
  }

  // Errors to requests nobody authenticated: rate-limited per source IP and kept small (no SOFTWARE), so the
  // server is no amplifier.
  bool AllowUnauthenticated(Timestamp now, const ClientFlow& flow) {
    if (unauthenticated_limiter_.Allow(flow.client.ip(), now)) return true;
    ++stats_.dropped_rate_limited;
    return false;
  }

  void SendUnauthenticatedError(Timestamp now, const ClientFlow& flow, const MessageView& req,
                                uint16_t code) {
    if (!AllowUnauthenticated(now, flow)) return;
    ++stats_.error_responses;
    MessageBuilder b = Begin(req, MessageClass::kErrorResponse);
    b.AddErrorCode(code);
    output_.SendToClient(flow, Finish(b, req, nullptr, false));
  }

  // 420 with UNKNOWN-ATTRIBUTES (RFC 8489 §6.3.1.1). True when the request was rejected.
  bool RejectUnknown(Timestamp now, const ClientFlow& flow, const MessageView& msg,
                     std::span<const uint16_t> known) {
    const auto unknown = msg.UnknownComprehensionRequired(known);
    if (unknown.empty()) return false;
    if (!AllowUnauthenticated(now, flow)) return true;
    ++stats_.error_responses;
    MessageBuilder b = Begin(msg, MessageClass::kErrorResponse);
    b.AddErrorCode(error::kUnknownAttribute);
    b.AddUnknownAttributes(unknown);
    output_.SendToClient(flow, Finish(b, msg, nullptr, false));
    return true;
  }

  // 401 or 438 with REALM, a fresh NONCE and, when offered, PASSWORD-ALGORITHMS (RFC 8489 §9.2.4).
  void SendChallenge(Timestamp now, const ClientFlow& flow, const MessageView& req, uint16_t code,
                     bool rate_limited) {
    if (rate_limited && !AllowUnauthenticated(now, flow)) return;
    ++stats_.error_responses;
    const std::string nonce = nonces_.Make(now, flow.client.ip());
    MessageBuilder b = Begin(req, MessageClass::kErrorResponse);
    b.AddErrorCode(code);
    b.AddString(attr::kRealm, config_.realm);
    b.AddString(attr::kNonce, nonce);
    if (config_.enable_sha256) b.AddPasswordAlgorithms(kOfferedAlgorithms);
    output_.SendToClient(flow, Finish(b, req, nullptr, false));
  }

  ServerConfig config_;
  CredentialStore& credentials_;
  RelayProvider& relays_;
  AllocationQuota& quota_;
  std::unique_ptr<ConnectionRegistry> owned_registry_;
  ConnectionRegistry& registry_;
  Rng& rng_;
  ServerOutput& output_;
  ServerStats stats_;
  NonceManager nonces_;
  IpRateLimiter unauthenticated_limiter_;

  uint64_t next_allocation_id_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Allocation>> allocations_;
  std::unordered_map<FlowKey, Allocation*, FlowKeyHash> by_flow_;
  std::unordered_map<RelayId, Allocation*> by_relay_;      // UDP relays
  std::unordered_map<RelayId, Allocation*> by_tcp_relay_;  // RFC 6062 TCP relays
  std::unordered_map<ConnectionId, PeerConnection> tcp_connections_;
  std::vector<TimerEntry> timers_;

  std::vector<uint8_t> scratch_;     // STUN responses
  std::vector<uint8_t> indication_;  // Data indication heads
  uint8_t channel_head_[kChannelDataHeaderSize] = {};
};

TurnServer::TurnServer(ServerConfig config, CredentialStore& credentials, RelayProvider& relays,
                       AllocationQuota& quota, WallClock& wall_clock, Rng& rng, ServerOutput& output)
    : impl_(std::make_unique<Impl>(std::move(config), credentials, relays, quota, nullptr, wall_clock, rng,
                                   output)) {}
TurnServer::TurnServer(ServerConfig config, CredentialStore& credentials, RelayProvider& relays,
                       AllocationQuota& quota, ConnectionRegistry& connections, WallClock& wall_clock, Rng& rng,
                       ServerOutput& output)
    : impl_(std::make_unique<Impl>(std::move(config), credentials, relays, quota, &connections, wall_clock, rng,
                                   output)) {}
TurnServer::~TurnServer() = default;

void TurnServer::HandleClientPacket(Timestamp now, const ClientFlow& flow, ByteSpan packet) {
  impl_->HandleClientPacket(now, flow, packet);
}
void TurnServer::HandleClientClosed(Timestamp now, const ClientFlow& flow) {
  impl_->HandleClientClosed(now, flow);
}
void TurnServer::HandlePeerPacket(Timestamp now, RelayId relay, const SocketAddress& peer, ByteSpan payload) {
  impl_->HandlePeerPacket(now, relay, peer, payload);
}
void TurnServer::HandlePeerConnectResult(Timestamp now, ConnectionId id, bool ok) {
  impl_->HandlePeerConnectResult(now, id, ok);
}
std::optional<ConnectionId> TurnServer::HandlePeerConnectionAccepted(Timestamp now, RelayId relay,
                                                                     const SocketAddress& peer) {
  return impl_->HandlePeerConnectionAccepted(now, relay, peer);
}
void TurnServer::HandlePeerConnectionClosed(Timestamp now, ConnectionId id) {
  impl_->HandlePeerConnectionClosed(now, id);
}
void TurnServer::HandleTimeout(Timestamp now) { impl_->HandleTimeout(now); }
Timestamp TurnServer::NextTimeout() const { return impl_->NextTimeout(); }
const ServerStats& TurnServer::stats() const { return impl_->stats(); }
const ServerConfig& TurnServer::config() const { return impl_->config(); }
size_t TurnServer::allocation_count() const { return impl_->allocation_count(); }

}  // namespace tandem::turn
