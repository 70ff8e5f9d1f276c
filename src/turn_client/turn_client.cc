#include "turn_client/turn_client.h"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/log.h"
#include "turn/channel_data.h"
#include "turn_client/long_term_credentials.h"

namespace tandem::turn_client {

namespace attr = stun::attr;
namespace error = stun::error;
using stun::MessageClass;
using stun::MessageView;
using stun::Method;

namespace {

constexpr const char* kLog = "turn_client";

// RFC 8656 §9: a permission lives 300 s; refresh it a minute early so that a lost request has time to be
// retried.
constexpr TimeDelta kPermissionRefresh = TimeDelta::Seconds(240);
// RFC 8656 §12: a channel binding lives 10 minutes; refresh it a minute early.
constexpr TimeDelta kChannelRefresh = TimeDelta::Seconds(540);
// Allocations: refresh a minute before expiry (RFC 8656 §8 leaves the margin to the client), or at half the
// lifetime when the server grants a short one.
constexpr TimeDelta kAllocationRefreshMargin = TimeDelta::Seconds(60);
// 438 Stale Nonce retries in a row for one request before giving up (a server that keeps rejecting its own
// nonces must not keep us busy forever).
constexpr int kMaxStaleNonceRetries = 3;
// Peer data per message: the 16-bit STUN and ChannelData lengths minus headers, rounded down.
constexpr size_t kMaxPeerData = 65000;
// Messages waiting for PollTransmit; beyond this Send refuses (a driver that never drains must not grow
// memory).
constexpr size_t kMaxQueuedTransmits = 4096;
constexpr size_t kMaxUsernameBytes = 508;  // RFC 8489 §14.3: less than 509 bytes

uint8_t FamilyCode(AddressFamily family) {
  return family == AddressFamily::kIPv6 ? stun::kFamilyIPv6 : stun::kFamilyIPv4;
}

enum class RequestKind : uint8_t { kAllocate, kRefresh, kCreatePermission, kChannelBind };

Method MethodOf(RequestKind kind) {
  switch (kind) {
    case RequestKind::kAllocate:
      return Method::kAllocate;
    case RequestKind::kRefresh:
      return Method::kRefresh;
    case RequestKind::kCreatePermission:
      return Method::kCreatePermission;
    case RequestKind::kChannelBind:
      return Method::kChannelBind;
  }
  return Method::kBinding;
}

// What a request is about: enough to build it again (with a new transaction id) after a 401/438 challenge.
struct RequestParams {
  RequestKind kind = RequestKind::kAllocate;
  IpAddress permission_ip;     // kCreatePermission
  SocketAddress channel_peer;  // kChannelBind
  uint16_t channel = 0;        // kChannelBind
  uint32_t lifetime_s = 0;     // kAllocate, kRefresh (0 on a Refresh: delete the allocation)
};

struct Transaction {
  RequestParams params;
  StunTransaction stun;
  bool signed_request = false;
  int stale_nonce_retries = 0;
};

// FIFO of message buffers that keeps every buffer's capacity: once warmed up, queuing and polling transmits
// allocate nothing (a std::deque would allocate and free a block every few dozen messages).
class TransmitQueue {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // A cleared buffer at the back of the queue, to be filled by the caller.
  std::vector<uint8_t>& PushBack() {
    if (count_ == slots_.size()) Grow();
    std::vector<uint8_t>& b = slots_[(head_ + count_) % slots_.size()];
    ++count_;
    b.clear();
    return b;
  }
  // Moves the front message into `out`; `out`'s previous buffer takes its slot (capacity kept).
  void PopFrontInto(std::vector<uint8_t>& out) {
    std::swap(out, slots_[head_]);
    head_ = (head_ + 1) % slots_.size();
    --count_;
  }

 private:
  void Grow() {
    std::vector<std::vector<uint8_t>> bigger(std::max<size_t>(8, slots_.size() * 2));
    for (size_t i = 0; i < slots_.size(); ++i) bigger[i] = std::move(slots_[(head_ + i) % slots_.size()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  std::vector<std::vector<uint8_t>> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
};

struct Permission {
  enum class Status : uint8_t { kPending, kInstalled, kFailed };
  Status status = Status::kPending;
  bool explicit_request = false;  // CreatePermission was called (not only implied by a channel)
  bool in_flight = false;
  bool deferred = false;  // asked for before the allocation existed
  bool ever_installed = false;
  Timestamp refresh_at = Timestamp::Infinity();
};

struct Channel {
  enum class Status : uint8_t { kPending, kBound, kFailed };
  uint16_t number = 0;
  Status status = Status::kPending;
  bool in_flight = false;
  bool deferred = false;
  bool ever_bound = false;
  Timestamp refresh_at = Timestamp::Infinity();
};

}  // namespace

const char* ToString(State state) {
  switch (state) {
    case State::kIdle:
      return "idle";
    case State::kAllocating:
      return "allocating";
    case State::kAllocated:
      return "allocated";
    case State::kReleasing:
      return "releasing";
    case State::kReleased:
      return "released";
    case State::kFailed:
      return "failed";
  }
  return "?";
}

class TurnClient::Impl {
 public:
  Impl(Config config, Rng& rng)
      : config_(std::move(config)), rng_(rng), credentials_(config_.username, config_.password) {
    if (config_.username.size() > kMaxUsernameBytes) {
      throw std::invalid_argument("TurnClient: username longer than 508 bytes (RFC 8489 §14.3)");
    }
    if (config_.software.size() > 763)
      throw std::invalid_argument("TurnClient: SOFTWARE longer than 763 bytes");
    if (config_.relay_family != AddressFamily::kIPv4 && config_.relay_family != AddressFamily::kIPv6) {
      throw std::invalid_argument("TurnClient: relay_family must be IPv4 or IPv6");
    }
    config_.max_channels = std::min<size_t>(config_.max_channels, turn::kMaxChannel - turn::kMinChannel + 1);
  }

  // --- Public operations
  // --------------------------------------------------------------------------------------

  void Start(Timestamp now) {
    if (state_ != State::kIdle) return;
    state_ = State::kAllocating;
    RequestParams p;
    p.kind = RequestKind::kAllocate;
    p.lifetime_s = LifetimeSeconds();
    Issue(now, p, 0);
  }

  std::optional<PeerData> HandleReceive(Timestamp now, ByteSpan message) {
    if (message.size() < turn::kChannelDataHeaderSize) {
      ++stats_.dropped_malformed;
      return std::nullopt;
    }
    // RFC 7983 / RFC 8656 §12: 0b01 in the top bits is ChannelData, 0b00 is STUN.
    const uint8_t first = message[0];
    if (first >= 0x40 && first <= 0x7F) return HandleChannelData(message);
    if (first > 0x3F) {
      ++stats_.dropped_malformed;
      return std::nullopt;
    }
    auto parsed = MessageView::Parse(message);
    if (!parsed) {
      ++stats_.dropped_malformed;
      return std::nullopt;
    }
    const MessageView& msg = *parsed;
    // RFC 8489 §7.3: a wrong FINGERPRINT means the message is not STUN.
    if (msg.Has(attr::kFingerprint) && !msg.HasValidFingerprint()) {
      ++stats_.dropped_bad_integrity;
      return std::nullopt;
    }
    switch (msg.message_class()) {
      case MessageClass::kIndication:
        if (msg.method() == Method::kData) return HandleDataIndication(msg);
        ++stats_.dropped_unexpected;
        return std::nullopt;
      case MessageClass::kSuccessResponse:
      case MessageClass::kErrorResponse:
        HandleResponse(now, msg);
        return std::nullopt;
      case MessageClass::kRequest:
        break;
    }
    ++stats_.dropped_unexpected;  // a server sends us no requests
    return std::nullopt;
  }

  void HandleTimeout(Timestamp now) {
    timers_dirty_ = true;
    // Transactions first: retransmissions, and failures of those that ran out of time.
    std::vector<size_t> timed_out;
    for (size_t i = 0; i < transactions_.size(); ++i) {
      switch (transactions_[i].stun.OnTimeout(now)) {
        case StunTransaction::Step::kWait:
          break;
        case StunTransaction::Step::kRetransmit:
          ++stats_.retransmissions;
          Enqueue(transactions_[i].stun.request());
          break;
        case StunTransaction::Step::kTimedOut:
          timed_out.push_back(i);
          break;
      }
    }
    // Handle the timed-out ones from the back so that indices stay valid while we erase.
    for (auto it = timed_out.rbegin(); it != timed_out.rend(); ++it) {
      if (*it >= transactions_.size()) continue;  // a failure above cleared the list
      Transaction t = std::move(transactions_[*it]);
      transactions_.erase(transactions_.begin() + static_cast<ptrdiff_t>(*it));
      ++stats_.transactions_timed_out;
      LOG_DEBUG(kLog, stun::ToString(MethodOf(t.params.kind))
                          << " timed out after " << t.stun.transmissions() << " transmissions");
      OnFailure(now, t, 0, "timeout");
    }

    if (state_ != State::kAllocated) return;
    // RFC 8656 §8: the allocation is gone once its lifetime ran out without a successful Refresh.
    if (now >= allocation_expires_at_) {
      LoseAllocation(0, "allocation expired");
      return;
    }
    if (now >= allocation_refresh_at_) {
      allocation_refresh_at_ = Timestamp::Infinity();
      RequestParams p;
      p.kind = RequestKind::kRefresh;
      p.lifetime_s = LifetimeSeconds();
      Issue(now, p, 0);
    }
    for (auto& [ip, perm] : permissions_) {
      if (!perm.in_flight && now >= perm.refresh_at) {
        perm.refresh_at = Timestamp::Infinity();
        SendCreatePermission(now, ip, perm);
      }
    }
    for (auto& [peer, channel] : channels_) {
      if (!channel.in_flight && now >= channel.refresh_at) {
        channel.refresh_at = Timestamp::Infinity();
        SendChannelBind(now, peer, channel);
      }
    }
  }

  Status CreatePermission(Timestamp now, const IpAddress& peer) {
    if (auto s = CheckPeer(peer); !s) return s;
    auto it = permissions_.find(peer);
    if (it == permissions_.end()) {
      if (permissions_.size() >= config_.max_permissions) {
        return MakeError(ErrorCode::kLimitExceeded, "too many permissions");
      }
      it = permissions_.emplace(peer, Permission{}).first;
    }
    Permission& perm = it->second;
    perm.explicit_request = true;
    if (perm.status == Permission::Status::kFailed) perm.status = Permission::Status::kPending;  // try again
    if (perm.in_flight || perm.status == Permission::Status::kInstalled) return OkStatus();
    timers_dirty_ = true;
    if (state_ == State::kAllocated) {
      SendCreatePermission(now, peer, perm);
    } else {
      perm.deferred = true;
    }
    return OkStatus();
  }

  Status BindChannel(Timestamp now, const SocketAddress& peer) {
    if (auto s = CheckPeer(peer.ip()); !s) return s;
    if (peer.port() == 0) return MakeError(ErrorCode::kInvalidArgument, "peer port 0");
    auto it = channels_.find(peer);
    if (it == channels_.end()) {
      if (channels_.size() >= config_.max_channels)
        return MakeError(ErrorCode::kLimitExceeded, "too many channels");
      auto perm_it = permissions_.find(peer.ip());
      if (perm_it == permissions_.end() && permissions_.size() >= config_.max_permissions) {
        return MakeError(ErrorCode::kLimitExceeded, "too many permissions");
      }
      const uint16_t number = PickChannelNumber();
      if (number == 0) return MakeError(ErrorCode::kLimitExceeded, "no free channel number");
      Channel channel;
      channel.number = number;
      it = channels_.emplace(peer, channel).first;
      peer_by_channel_[number] = peer;
      // RFC 8656 §11.2: a ChannelBind also installs or refreshes the permission for the peer's IP.
      if (perm_it == permissions_.end()) permissions_.emplace(peer.ip(), Permission{});
    }
    Channel& channel = it->second;
    if (channel.status == Channel::Status::kFailed) channel.status = Channel::Status::kPending;
    Permission& perm = permissions_[peer.ip()];
    if (perm.status == Permission::Status::kFailed) perm.status = Permission::Status::kPending;
    if (channel.in_flight || channel.status == Channel::Status::kBound) return OkStatus();
    timers_dirty_ = true;
    if (state_ == State::kAllocated) {
      SendChannelBind(now, peer, channel);
    } else {
      channel.deferred = true;
    }
    return OkStatus();
  }

  Status Send(Timestamp now, const SocketAddress& peer, ByteSpan data) {
    if (state_ != State::kAllocated) return MakeError(ErrorCode::kUnavailable, "no allocation");
    if (data.size() > kMaxPeerData) return MakeError(ErrorCode::kLimitExceeded, "data too large");
    if (!peer.IsSet() || peer.family() != config_.relay_family) {
      return MakeError(ErrorCode::kInvalidArgument, "peer address family differs from the relay's");
    }
    const auto perm = permissions_.find(peer.ip());
    if (perm == permissions_.end() || perm->second.status == Permission::Status::kFailed) {
      return MakeError(ErrorCode::kForbidden, "no permission for the peer (CreatePermission first)");
    }
    if (queue_.size() >= kMaxQueuedTransmits)
      return MakeError(ErrorCode::kLimitExceeded, "transmit queue full");
    std::vector<uint8_t>& out = NewTransmit();
    const auto channel = channels_.find(peer);
    if (channel != channels_.end() && channel->second.status == Channel::Status::kBound) {
      // RFC 8656 §12.4; over TCP/TLS padded to a multiple of 4 (§12.5).
      const size_t padded = reliable() ? (data.size() + 3) & ~size_t{3} : data.size();
      out.resize(turn::kChannelDataHeaderSize + padded);
      turn::WriteChannelDataHeader(out.data(), channel->second.number, static_cast<uint16_t>(data.size()));
      std::copy(data.begin(), data.end(), out.begin() + turn::kChannelDataHeaderSize);
      std::fill(out.begin() + static_cast<ptrdiff_t>(turn::kChannelDataHeaderSize + data.size()), out.end(),
                0);
      ++stats_.channel_data_sent;
    } else {
      // RFC 8656 §10.1: Send indication with XOR-PEER-ADDRESS and DATA; no authentication.
      stun::MessageBuilder b(out, Method::kSend, MessageClass::kIndication, NewTransactionId());
      b.AddXorAddress(attr::kXorPeerAddress, peer);
      b.AddBytes(attr::kData, data);
      b.Finish();  // no FINGERPRINT: nothing requires it here and its CRC would cost more than the rest
      ++stats_.send_indications;
    }
    stats_.bytes_sent += data.size();
    return OkStatus();
  }

  void Release(Timestamp now) {
    switch (state_) {
      case State::kIdle:
        state_ = State::kReleased;
        PushEvent(Event::kReleased);
        return;
      case State::kAllocating:
        transactions_.clear();
        ForgetPeers();
        if (!credentials_.has_key()) {
          // The server cannot have created an allocation for an unauthenticated request.
          state_ = State::kReleased;
          PushEvent(Event::kReleased);
          return;
        }
        // A signed Allocate may have succeeded on the server already: delete it to be sure (a 437 then).
        break;
      case State::kAllocated:
        transactions_.clear();
        ForgetPeers();
        break;
      case State::kReleasing:
      case State::kReleased:
      case State::kFailed:
        return;
    }
    state_ = State::kReleasing;
    timers_dirty_ = true;
    RequestParams p;
    p.kind = RequestKind::kRefresh;
    p.lifetime_s = 0;  // RFC 8656 §8: LIFETIME 0 deletes the allocation
    Issue(now, p, 0);
  }

  std::optional<ByteSpan> PollTransmit() {
    if (queue_.empty()) return std::nullopt;
    // The previous view's buffer goes back to the queue; the front one becomes the current view.
    queue_.PopFrontInto(current_);
    return ByteSpan(current_);
  }

  std::optional<Event> PollEvent() {
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
  }

  Timestamp PollTimeout() const {
    if (!timers_dirty_) return next_timeout_;
    Timestamp t = Timestamp::Infinity();
    for (const auto& tr : transactions_) t = std::min(t, tr.stun.deadline());
    if (state_ == State::kAllocated) {
      t = std::min({t, allocation_refresh_at_, allocation_expires_at_});
      for (const auto& [ip, perm] : permissions_) {
        if (!perm.in_flight) t = std::min(t, perm.refresh_at);
      }
      for (const auto& [peer, channel] : channels_) {
        if (!channel.in_flight) t = std::min(t, channel.refresh_at);
      }
    }
    next_timeout_ = t;
    timers_dirty_ = false;
    return t;
  }

  State state() const { return state_; }
  const Stats& stats() const { return stats_; }
  const Config& config() const { return config_; }
  const SocketAddress& relayed_address() const { return relayed_; }
  const SocketAddress& mapped_address() const { return mapped_; }
  TimeDelta lifetime() const { return lifetime_; }

  bool HasPermission(const IpAddress& peer) const {
    const auto it = permissions_.find(peer);
    return it != permissions_.end() && it->second.status == Permission::Status::kInstalled;
  }
  std::optional<uint16_t> BoundChannel(const SocketAddress& peer) const {
    const auto it = channels_.find(peer);
    if (it == channels_.end() || it->second.status != Channel::Status::kBound) return std::nullopt;
    return it->second.number;
  }

 private:
  bool reliable() const { return config_.transport != Transport::kUdp; }

  uint32_t LifetimeSeconds() const {
    const int64_t s = config_.lifetime.seconds();
    return static_cast<uint32_t>(std::clamp<int64_t>(s, 1, 0xFFFFFFFF));
  }

  Status CheckPeer(const IpAddress& ip) const {
    if (state_ == State::kReleasing || state_ == State::kReleased || state_ == State::kFailed) {
      return MakeError(ErrorCode::kUnavailable, "allocation released or failed");
    }
    if (ip.family() != config_.relay_family) {
      // RFC 8656 §9.1, §11.1: the peer must be of the relayed address's family (else 443).
      return MakeError(ErrorCode::kInvalidArgument, "peer address family differs from the relay's");
    }
    return OkStatus();
  }

  stun::TransactionId NewTransactionId() {
    std::array<uint8_t, 12> bytes;
    rng_.Fill(bytes);
    return stun::MakeTransactionId(bytes);
  }

  // RFC 8656 §12: 0x4000-0x4FFF. Numbers are never given to a second peer in this client's life, which also
  // honours the rule that a number is not rebound to another peer within 5 minutes of its expiry.
  uint16_t PickChannelNumber() {
    constexpr uint32_t kCount = turn::kMaxChannel - turn::kMinChannel + 1;
    const uint32_t start = rng_.Uniform(0, kCount - 1);
    for (uint32_t i = 0; i < kCount; ++i) {
      const auto number = static_cast<uint16_t>(turn::kMinChannel + (start + i) % kCount);
      if (peer_by_channel_.find(number) == peer_by_channel_.end()) return number;
    }
    return 0;
  }

  std::vector<uint8_t>& NewTransmit() { return queue_.PushBack(); }
  void Enqueue(ByteSpan bytes) {
    std::vector<uint8_t>& out = NewTransmit();
    out.assign(bytes.begin(), bytes.end());
  }

  void PushEvent(Event::Kind kind, uint16_t code = 0, std::string reason = {}) {
    Event e;
    e.kind = kind;
    e.relayed = relayed_;
    e.mapped = mapped_;
    e.error_code = code;
    e.reason = std::move(reason);
    e.lifetime = lifetime_;
    events_.push_back(std::move(e));
  }

  // --- Requests
  // ---------------------------------------------------------------------------------------------

  // Builds the request for `p` (signed when we hold a key) and starts its transaction.
  void Issue(Timestamp now, const RequestParams& p, int stale_nonce_retries) {
    timers_dirty_ = true;
    const stun::TransactionId tid = NewTransactionId();
    std::vector<uint8_t> bytes;
    stun::MessageBuilder b(bytes, MethodOf(p.kind), MessageClass::kRequest, tid);
    switch (p.kind) {
      case RequestKind::kAllocate:
        // RFC 8656 §7.1: REQUESTED-TRANSPORT UDP; REQUESTED-ADDRESS-FAMILY only for IPv6 (IPv4 is the
        // default).
        b.AddRequestedTransport(stun::kTransportUdp);
        if (config_.relay_family == AddressFamily::kIPv6) {
          b.AddAddressFamily(attr::kRequestedAddressFamily, FamilyCode(config_.relay_family));
        }
        b.AddU32(attr::kLifetime, p.lifetime_s);
        if (!config_.software.empty()) b.AddString(attr::kSoftware, config_.software);
        break;
      case RequestKind::kRefresh:
        b.AddU32(attr::kLifetime, p.lifetime_s);  // §8.1
        break;
      case RequestKind::kCreatePermission:
        b.AddXorAddress(attr::kXorPeerAddress,
                        SocketAddress(p.permission_ip, 0));  // §9.1: the port is ignored
        break;
      case RequestKind::kChannelBind:
        b.AddChannelNumber(p.channel);  // §11.1
        b.AddXorAddress(attr::kXorPeerAddress, p.channel_peer);
        break;
    }
    const bool signed_request = credentials_.has_key();
    if (signed_request) credentials_.Sign(b);
    if (config_.fingerprint) b.AddFingerprint();
    b.Finish();
    Enqueue(bytes);
    ++stats_.requests_sent;
    transactions_.push_back(
        Transaction{p, StunTransaction(tid, std::move(bytes), reliable(), config_.retransmission, now),
                    signed_request, stale_nonce_retries});
  }

  void SendCreatePermission(Timestamp now, const IpAddress& ip, Permission& perm) {
    perm.in_flight = true;
    perm.deferred = false;
    RequestParams p;
    p.kind = RequestKind::kCreatePermission;
    p.permission_ip = ip;
    Issue(now, p, 0);
  }

  void SendChannelBind(Timestamp now, const SocketAddress& peer, Channel& channel) {
    channel.in_flight = true;
    channel.deferred = false;
    RequestParams p;
    p.kind = RequestKind::kChannelBind;
    p.channel_peer = peer;
    p.channel = channel.number;
    Issue(now, p, 0);
  }

  // --- Responses
  // ----------------------------------------------------------------------------------------------

  void HandleResponse(Timestamp now, const MessageView& msg) {
    const auto it = std::find_if(transactions_.begin(), transactions_.end(),
                                 [&](const Transaction& t) { return t.stun.id() == msg.transaction_id(); });
    if (it == transactions_.end() || MethodOf(it->params.kind) != msg.method()) {
      ++stats_.dropped_unknown_transaction;
      return;
    }
    const bool is_error = msg.message_class() == MessageClass::kErrorResponse;
    const auto error_code = is_error ? msg.GetErrorCode() : std::nullopt;
    const uint16_t code = error_code ? error_code->code : 0;
    // RFC 8489 §9.2.5: once a request was signed, its response must carry a valid MESSAGE-INTEGRITY(-SHA256),
    // else it is discarded as if never received (retransmissions go on). 401 and 438 challenges may come
    // unsigned; when they are signed, the signature must hold.
    if (it->signed_request) {
      const bool has_integrity = msg.Has(attr::kMessageIntegrity) || msg.Has(attr::kMessageIntegritySha256);
      const bool challenge = code == error::kUnauthorized || code == error::kStaleNonce;
      if (has_integrity ? !credentials_.VerifyResponse(msg) : !challenge) {
        ++stats_.dropped_bad_integrity;
        return;
      }
    }
    Transaction t = std::move(*it);
    transactions_.erase(it);
    timers_dirty_ = true;
    ++stats_.responses_received;

    if (!is_error) {
      OnSuccess(now, t, msg);
      return;
    }
    ++stats_.error_responses;
    std::string reason =
        error_code ? std::string(error_code->reason) : std::string("malformed error response");
    if (code == error::kUnauthorized || code == error::kStaleNonce) {
      if (code == error::kStaleNonce) ++stats_.stale_nonces;
      // RFC 8489 §9.2.5: a 401 to an unsigned request brings the realm and nonce: retry signed. A 401 to a
      // signed request means the credentials are wrong. A 438 brings a new nonce: retry with it (a bounded
      // number of times).
      const bool retry =
          code == error::kUnauthorized ? !t.signed_request : t.stale_nonce_retries < kMaxStaleNonceRetries;
      if (retry) {
        const auto learned = credentials_.LearnChallenge(msg);
        if (learned == LongTermCredentials::ChallengeResult::kUsable) {
          LOG_DEBUG(kLog, stun::ToString(msg.method()) << " challenged with " << code << ": retrying signed");
          Issue(now, t.params, t.stale_nonce_retries + (code == error::kStaleNonce ? 1 : 0));
          return;
        }
        reason = learned == LongTermCredentials::ChallengeResult::kNoCommonAlgorithm
                     ? "no common password algorithm"
                     : "malformed challenge";
      }
    }
    std::optional<SocketAddress> alternate;
    if (code == error::kTryAlternate) alternate = msg.GetAddress(attr::kAlternateServer);
    OnFailure(now, t, code, std::move(reason), alternate);
  }

  void OnSuccess(Timestamp now, const Transaction& t, const MessageView& msg) {
    switch (t.params.kind) {
      case RequestKind::kAllocate: {
        if (state_ != State::kAllocating) return;
        // RFC 8656 §7.3: XOR-RELAYED-ADDRESS (of the family we asked for), LIFETIME, XOR-MAPPED-ADDRESS.
        const auto relayed = msg.GetXorAddress(attr::kXorRelayedAddress);
        if (!relayed || relayed->family() != config_.relay_family) {
          Fail(Event::kAllocateFailed, 0, "success response without a usable XOR-RELAYED-ADDRESS");
          return;
        }
        relayed_ = *relayed;
        mapped_ = msg.GetXorAddress(attr::kXorMappedAddress).value_or(SocketAddress());
        SetLifetime(t, msg.GetU32(attr::kLifetime).value_or(t.params.lifetime_s));
        state_ = State::kAllocated;
        LOG_DEBUG(kLog,
                  "allocated " << log::Redact(relayed_.ToString()) << " for " << lifetime_.seconds() << " s");
        PushEvent(Event::kAllocated);
        // Permissions and channels asked for while allocating go out now.
        for (auto& [ip, perm] : permissions_) {
          if (perm.deferred) SendCreatePermission(now, ip, perm);
        }
        for (auto& [peer, channel] : channels_) {
          if (channel.deferred) SendChannelBind(now, peer, channel);
        }
        return;
      }
      case RequestKind::kRefresh:
        if (t.params.lifetime_s == 0) {
          Released();
          return;
        }
        if (state_ != State::kAllocated) return;
        ++stats_.allocate_refreshes;
        SetLifetime(t, msg.GetU32(attr::kLifetime).value_or(t.params.lifetime_s));
        return;
      case RequestKind::kCreatePermission: {
        const auto it = permissions_.find(t.params.permission_ip);
        if (it == permissions_.end() || state_ != State::kAllocated) return;
        Permission& perm = it->second;
        if (perm.ever_installed) ++stats_.permission_refreshes;
        perm.in_flight = false;
        perm.status = Permission::Status::kInstalled;
        perm.ever_installed = true;
        // Measured from when the request was first sent: the server's 300 s started no earlier.
        perm.refresh_at = t.stun.started() + kPermissionRefresh;
        return;
      }
      case RequestKind::kChannelBind: {
        const auto it = channels_.find(t.params.channel_peer);
        if (it == channels_.end() || state_ != State::kAllocated) return;
        Channel& channel = it->second;
        const bool first = !channel.ever_bound;
        if (!first) ++stats_.channel_refreshes;
        channel.in_flight = false;
        channel.status = Channel::Status::kBound;
        channel.ever_bound = true;
        channel.refresh_at = t.stun.started() + kChannelRefresh;
        // RFC 8656 §11.2: the binding installed (or refreshed) the permission for the peer's IP too.
        Permission& perm = permissions_[t.params.channel_peer.ip()];
        perm.status = Permission::Status::kInstalled;
        perm.ever_installed = true;
        if (!perm.in_flight)
          perm.refresh_at = std::min(perm.refresh_at, t.stun.started() + kPermissionRefresh);
        if (first) {
          Event e;
          e.kind = Event::kChannelBound;
          e.relayed = relayed_;
          e.mapped = mapped_;
          e.peer = t.params.channel_peer;
          e.channel = channel.number;
          events_.push_back(std::move(e));
        }
        return;
      }
    }
  }

  void OnFailure(Timestamp now, const Transaction& t, uint16_t code, std::string reason,
                 std::optional<SocketAddress> alternate = std::nullopt) {
    switch (t.params.kind) {
      case RequestKind::kAllocate:
        if (state_ != State::kAllocating) return;
        LOG_DEBUG(kLog, "allocate failed: " << code << " " << reason);
        Fail(Event::kAllocateFailed, code, std::move(reason), alternate);
        return;
      case RequestKind::kRefresh:
        if (t.params.lifetime_s == 0) {
          // Deleting failed or went unanswered: the allocation is gone or will expire; either way we are
          // done.
          Released();
          return;
        }
        if (state_ != State::kAllocated) return;
        LoseAllocation(code, std::move(reason));
        return;
      case RequestKind::kCreatePermission: {
        const auto it = permissions_.find(t.params.permission_ip);
        if (it == permissions_.end() || state_ != State::kAllocated) return;
        it->second.in_flight = false;
        it->second.status = Permission::Status::kFailed;
        it->second.refresh_at = Timestamp::Infinity();
        PushPeerEvent(Event::kPermissionFailed, SocketAddress(t.params.permission_ip, 0), code,
                      std::move(reason));
        return;
      }
      case RequestKind::kChannelBind: {
        const auto it = channels_.find(t.params.channel_peer);
        if (it == channels_.end() || state_ != State::kAllocated) return;
        Channel& channel = it->second;
        channel.in_flight = false;
        channel.status = Channel::Status::kFailed;
        channel.refresh_at = Timestamp::Infinity();
        PushPeerEvent(Event::kChannelBindFailed, t.params.channel_peer, code, reason, channel.number);
        // A permission that only this binding was to install is not there either.
        const auto perm = permissions_.find(t.params.channel_peer.ip());
        if (perm != permissions_.end() && !perm->second.explicit_request && !perm->second.ever_installed &&
            perm->second.status == Permission::Status::kPending) {
          perm->second.status = Permission::Status::kFailed;
          PushPeerEvent(Event::kPermissionFailed, SocketAddress(t.params.channel_peer.ip(), 0), code,
                        std::move(reason));
        }
        return;
      }
    }
  }

  void PushPeerEvent(Event::Kind kind, const SocketAddress& peer, uint16_t code, std::string reason,
                     uint16_t channel = 0) {
    Event e;
    e.kind = kind;
    e.relayed = relayed_;
    e.mapped = mapped_;
    e.peer = peer;
    e.error_code = code;
    e.reason = std::move(reason);
    e.channel = channel;
    events_.push_back(std::move(e));
  }

  // Records the granted lifetime and schedules the next Refresh, counted from when the request was first
  // sent.
  void SetLifetime(const Transaction& t, uint32_t seconds) {
    lifetime_ = TimeDelta::Seconds(std::max<uint32_t>(seconds, 1));
    const TimeDelta margin =
        lifetime_ > kAllocationRefreshMargin * 2 ? kAllocationRefreshMargin : lifetime_ / 2;
    allocation_refresh_at_ = t.stun.started() + (lifetime_ - margin);
    allocation_expires_at_ = t.stun.started() + lifetime_;
    timers_dirty_ = true;
  }

  void Fail(Event::Kind kind, uint16_t code, std::string reason,
            std::optional<SocketAddress> alternate = std::nullopt) {
    state_ = State::kFailed;
    transactions_.clear();
    ForgetPeers();
    timers_dirty_ = true;
    PushEvent(kind, code, std::move(reason));
    if (alternate) events_.back().alternate_server = *alternate;
  }

  void LoseAllocation(uint16_t code, std::string reason) {
    LOG_DEBUG(kLog, "allocation lost: " << code << " " << reason);
    Fail(Event::kAllocationLost, code, std::move(reason));
  }

  void Released() {
    if (state_ != State::kReleasing) return;
    state_ = State::kReleased;
    transactions_.clear();
    ForgetPeers();
    timers_dirty_ = true;
    PushEvent(Event::kReleased);
  }

  void ForgetPeers() {
    permissions_.clear();
    channels_.clear();
    peer_by_channel_.clear();
  }

  // --- Peer data
  // --------------------------------------------------------------------------------------------

  bool PermitsData(const IpAddress& ip) const {
    const auto it = permissions_.find(ip);
    // Pending ones too: over UDP data relayed right after the server installed the permission can overtake
    // the success response.
    return it != permissions_.end() && it->second.status != Permission::Status::kFailed;
  }

  std::optional<PeerData> HandleDataIndication(const MessageView& msg) {
    // RFC 8656 §10.4.
    const auto peer = msg.GetXorAddress(attr::kXorPeerAddress);
    const auto data = msg.GetBytes(attr::kData);
    if (!peer || !data) {
      ++stats_.dropped_malformed;
      return std::nullopt;
    }
    if (state_ != State::kAllocated) {
      ++stats_.dropped_unexpected;
      return std::nullopt;
    }
    if (!PermitsData(peer->ip())) {
      ++stats_.dropped_no_permission;
      return std::nullopt;
    }
    ++stats_.data_indications_received;
    stats_.bytes_received += data->size();
    return PeerData{*peer, *data};
  }

  std::optional<PeerData> HandleChannelData(ByteSpan message) {
    // RFC 8656 §12.6.
    const auto cd = turn::ParseChannelData(message);
    if (!cd) {
      ++stats_.dropped_malformed;
      return std::nullopt;
    }
    if (state_ != State::kAllocated) {
      ++stats_.dropped_unexpected;
      return std::nullopt;
    }
    const auto it = peer_by_channel_.find(cd->channel);
    if (it == peer_by_channel_.end()) {
      ++stats_.dropped_unknown_channel;
      return std::nullopt;
    }
    const auto channel = channels_.find(it->second);
    if (channel == channels_.end() || channel->second.status == Channel::Status::kFailed) {
      ++stats_.dropped_unknown_channel;
      return std::nullopt;
    }
    ++stats_.channel_data_received;
    stats_.bytes_received += cd->data.size();
    return PeerData{it->second, cd->data};
  }

  Config config_;
  Rng& rng_;
  LongTermCredentials credentials_;
  State state_ = State::kIdle;
  Stats stats_;

  SocketAddress relayed_;
  SocketAddress mapped_;
  TimeDelta lifetime_;
  Timestamp allocation_refresh_at_ = Timestamp::Infinity();
  Timestamp allocation_expires_at_ = Timestamp::Infinity();

  std::vector<Transaction>
      transactions_;  // outstanding requests (a handful: one per permission/channel at most)
  std::unordered_map<IpAddress, Permission> permissions_;
  std::unordered_map<SocketAddress, Channel> channels_;
  std::unordered_map<uint16_t, SocketAddress> peer_by_channel_;

  TransmitQueue queue_;           // transmits not yet polled
  std::vector<uint8_t> current_;  // the view PollTransmit returned last
  std::deque<Event> events_;

  mutable Timestamp next_timeout_ = Timestamp::Infinity();
  mutable bool timers_dirty_ = true;
};

TurnClient::TurnClient(Config config, Rng& rng) : impl_(std::make_unique<Impl>(std::move(config), rng)) {}
TurnClient::~TurnClient() = default;

void TurnClient::Start(Timestamp now) { impl_->Start(now); }
std::optional<PeerData> TurnClient::HandleReceive(Timestamp now, ByteSpan message) {
  return impl_->HandleReceive(now, message);
}
void TurnClient::HandleTimeout(Timestamp now) { impl_->HandleTimeout(now); }
Status TurnClient::CreatePermission(Timestamp now, const IpAddress& peer) {
  return impl_->CreatePermission(now, peer);
}
Status TurnClient::BindChannel(Timestamp now, const SocketAddress& peer) {
  return impl_->BindChannel(now, peer);
}
Status TurnClient::Send(Timestamp now, const SocketAddress& peer, ByteSpan data) {
  return impl_->Send(now, peer, data);
}
void TurnClient::Release(Timestamp now) { impl_->Release(now); }
std::optional<ByteSpan> TurnClient::PollTransmit() { return impl_->PollTransmit(); }
std::optional<Event> TurnClient::PollEvent() { return impl_->PollEvent(); }
Timestamp TurnClient::PollTimeout() const { return impl_->PollTimeout(); }
State TurnClient::state() const { return impl_->state(); }
const Stats& TurnClient::stats() const { return impl_->stats(); }
const Config& TurnClient::config() const { return impl_->config(); }
const SocketAddress& TurnClient::relayed_address() const { return impl_->relayed_address(); }
const SocketAddress& TurnClient::mapped_address() const { return impl_->mapped_address(); }
TimeDelta TurnClient::lifetime() const { return impl_->lifetime(); }
bool TurnClient::HasPermission(const IpAddress& peer) const { return impl_->HasPermission(peer); }
std::optional<uint16_t> TurnClient::BoundChannel(const SocketAddress& peer) const {
  return impl_->BoundChannel(peer);
}

}  // namespace tandem::turn_client
