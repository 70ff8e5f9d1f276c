// In-memory fakes for driving turn::TurnServer in unit tests and fuzzers: a RelayProvider that hands out
// addresses and records Open/Close, a ServerOutput that records everything sent, a settable WallClock, and a
// small STUN client that builds (authenticated) requests and parses the server's answers. No sockets, no
// clocks, no threads.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/socket_address.h"
#include "stun/message.h"
#include "turn/credentials.h"
#include "turn/nonce.h"
#include "turn/server.h"

namespace tandem::testing {

class FakeWallClock final : public turn::WallClock {
 public:
  explicit FakeWallClock(int64_t seconds = 1'700'000'000) { now_.seconds = seconds; }
  UnixTime Now() override { return now_; }
  void Set(int64_t seconds) { now_.seconds = seconds; }

 private:
  UnixTime now_;
};

class FakeRelayProvider final : public turn::RelayProvider {
 public:
  bool ipv4 = true;
  bool ipv6 = true;
  size_t capacity = 100000;  // relays open at once; more -> kUnavailable (508)
  IpAddress v4_ip = *IpAddress::Parse("203.0.113.7");
  IpAddress v6_ip = *IpAddress::Parse("2001:db8::7");
  uint16_t next_port = 49153;  // odd on purpose: EVEN-PORT has to skip one

  Result<Opened> Open(AddressFamily family, bool even_port, bool reserve_next) override {
    if ((family == AddressFamily::kIPv4 && !ipv4) || (family == AddressFamily::kIPv6 && !ipv6) ||
        family == AddressFamily::kUnspecified) {
      return MakeError(ErrorCode::kUnsupported, "family");
    }
    if (open.size() + (reserve_next ? 2 : 1) > capacity) return MakeError(ErrorCode::kUnavailable, "full");
    uint16_t port = next_port;
    if ((even_port || reserve_next) && port % 2 != 0) ++port;
    Opened o;
    o.relay = Add(SocketAddress(family == AddressFamily::kIPv6 ? v6_ip : v4_ip, port));
    if (reserve_next) {
      const Relay held = Add(SocketAddress(o.relay.address.ip(), static_cast<uint16_t>(port + 1)));
      const uint64_t token = ++next_token_;
      reservations[token] = Held{held, clock ? clock() + reservation_lifetime : Timestamp::Infinity()};
      o.reservation_token = token;
    }
    next_port = static_cast<uint16_t>(port + (reserve_next ? 2 : 1));
    return o;
  }
  // RFC 6062 TCP relays share the id space; `tcp_open` says which open ids are TCP listeners.
  bool tcp = true;
  Result<Relay> OpenTcp(AddressFamily family) override {
    if (!tcp || (family == AddressFamily::kIPv4 && !ipv4) || (family == AddressFamily::kIPv6 && !ipv6) ||
        family == AddressFamily::kUnspecified) {
      return MakeError(ErrorCode::kUnsupported, "family");
    }
    if (open.size() + 1 > capacity) return MakeError(ErrorCode::kUnavailable, "full");
    const Relay r = Add(SocketAddress(family == AddressFamily::kIPv6 ? v6_ip : v4_ip, next_port++));
    tcp_open.insert(r.id);
    return r;
  }
  Result<Relay> OpenReserved(uint64_t token) override {
    auto it = reservations.find(token);
    if (it == reservations.end()) return MakeError(ErrorCode::kNotFound, "no such reservation");
    const Held held = it->second;
    reservations.erase(it);
    if (clock && clock() >= held.expiry) {  // expired: the held port is released
      Close(held.relay.id);
      return MakeError(ErrorCode::kNotFound, "reservation expired");
    }
    return held.relay;
  }

  void Close(turn::RelayId id) override {
    if (open.erase(id) == 0) ++bad_closes;  // closing what is not open is a server bug
    tcp_open.erase(id);
    closed.push_back(id);
  }

  bool IsOpen(turn::RelayId id) const { return open.count(id) != 0; }
  // The relay id of an advertised address (0 when unknown).
  turn::RelayId IdOf(const SocketAddress& a) const {
    for (const auto& [id, addr] : addresses) {
      if (addr == a) return id;
    }
    return 0;
  }

  std::set<turn::RelayId> open;
  std::set<turn::RelayId> tcp_open;
  std::vector<turn::RelayId> closed;
  size_t bad_closes = 0;
  std::map<turn::RelayId, SocketAddress> addresses;
  // Reservations (EVEN-PORT R=1) expire lazily, when their token is presented, by `clock` (none: never).
  struct Held {
    Relay relay;
    Timestamp expiry;
  };
  std::map<uint64_t, Held> reservations;
  std::function<Timestamp()> clock;
  TimeDelta reservation_lifetime = TimeDelta::Seconds(30);

 private:
  Relay Add(const SocketAddress& a) {
    const turn::RelayId id = ++next_id_;
    open.insert(id);
    addresses[id] = a;
    return Relay{id, a};
  }
  turn::RelayId next_id_ = 0;
  uint64_t next_token_ = 0x5eed0000;
};

class RecordingOutput final : public turn::ServerOutput {
 public:
  struct ToClient {
    turn::ClientFlow flow;
    std::vector<uint8_t> bytes;  // head + payload + tail
    size_t head_size = 0;
    size_t payload_size = 0;
    size_t tail_size = 0;
    const uint8_t* payload_data = nullptr;  // to check that relayed data was not copied
  };
  struct ToPeer {
    turn::RelayId relay = 0;
    SocketAddress peer;
    std::vector<uint8_t> payload;
    bool dont_fragment = false;
    const uint8_t* payload_data = nullptr;
  };

  void SendToClient(const turn::ClientFlow& flow, ByteSpan head, ByteSpan payload, ByteSpan tail) override {
    ToClient m;
    m.flow = flow;
    m.bytes.assign(head.begin(), head.end());
    m.bytes.insert(m.bytes.end(), payload.begin(), payload.end());
    m.bytes.insert(m.bytes.end(), tail.begin(), tail.end());
    m.head_size = head.size();
    m.payload_size = payload.size();
    m.tail_size = tail.size();
    m.payload_data = payload.data();
    to_client.push_back(std::move(m));
  }
  void SendToPeer(turn::RelayId relay, const SocketAddress& peer, ByteSpan payload,
                  bool dont_fragment) override {
    to_peer.push_back(ToPeer{relay, peer, std::vector<uint8_t>(payload.begin(), payload.end()), dont_fragment,
                             payload.data()});
  }
  void CloseClient(const turn::ClientFlow& flow) override { closed.push_back(flow); }

  // RFC 6062: what the core asked of the IO layer, in order.
  struct Connect {
    turn::ConnectionId id = 0;
    turn::RelayId relay = 0;
    SocketAddress peer;
  };
  struct Bind {
    turn::ClientFlow flow;
    turn::ConnectionId id = 0;
    uint32_t owner = 0;
  };
  void ConnectToPeer(turn::ConnectionId id, turn::RelayId relay, const SocketAddress& peer) override {
    connects.push_back(Connect{id, relay, peer});
  }
  void ClosePeerConnection(turn::ConnectionId id) override { closed_peers.push_back(id); }
  void BindDataConnection(const turn::ClientFlow& flow, turn::ConnectionId id, uint32_t owner) override {
    binds.push_back(Bind{flow, id, owner});
  }

  void Clear() {
    to_client.clear();
    to_peer.clear();
    closed.clear();
    connects.clear();
    closed_peers.clear();
    binds.clear();
  }

  std::vector<ToClient> to_client;
  std::vector<ToPeer> to_peer;
  std::vector<turn::ClientFlow> closed;
  std::vector<Connect> connects;
  std::vector<turn::ConnectionId> closed_peers;
  std::vector<Bind> binds;
};

// A parsed copy of a STUN message the server sent.
struct StunReply {
  std::vector<uint8_t> bytes;
  stun::MessageView view() const { return *stun::MessageView::Parse(bytes); }
  bool ok() const { return stun::MessageView::Parse(bytes).ok(); }
  stun::MessageClass cls() const { return view().message_class(); }
  uint16_t error_code() const {
    auto e = view().GetErrorCode();
    return e ? e->code : 0;
  }
  bool is_success() const { return cls() == stun::MessageClass::kSuccessResponse; }
};

// Test-side TURN client: builds requests (with long-term credentials once it has a nonce) and feeds them to a
// TurnServer, returning the server's answer to this flow.
class TurnTestClient {
 public:
  struct Options {
    std::string username = "alice";
    std::string password = "secret";
    stun::PasswordAlgorithm algorithm = stun::PasswordAlgorithm::kMd5;
    bool send_password_algorithms = false;  // PASSWORD-ALGORITHM(S) per RFC 8489 §9.2.4
    bool use_userhash = false;
    bool sha256_integrity = false;
    bool fingerprint = false;
  };
  using Adder = std::function<void(stun::MessageBuilder&)>;

  TurnTestClient(turn::TurnServer& server, RecordingOutput& out, turn::ClientFlow flow, uint64_t seed = 1)
      : server_(server), out_(out), flow_(flow), rng_(seed) {}

  Options& options() { return options_; }
  const turn::ClientFlow& flow() const { return flow_; }
  void set_nonce(std::string nonce) { nonce_ = std::move(nonce); }
  void set_realm(std::string realm) { realm_ = std::move(realm); }
  const std::string& nonce() const { return nonce_; }
  const std::string& realm() const { return realm_; }

  stun::TransactionId NewTid() {
    std::array<uint8_t, 12> b;
    rng_.Fill(b);
    return stun::MakeTransactionId(b);
  }

  std::vector<uint8_t> Build(stun::Method method, const Adder& add, bool authenticate,
                             std::optional<stun::TransactionId> tid = std::nullopt) {
    std::vector<uint8_t> out;
    stun::MessageBuilder b(out, method, stun::MessageClass::kRequest, tid ? *tid : NewTid());
    if (add) add(b);
    if (authenticate && !nonce_.empty()) {
      if (options_.use_userhash) {
        const auto hash = stun::UserHash(options_.username, realm_);
        b.AddBytes(stun::attr::kUserhash, hash);
      } else {
        b.AddString(stun::attr::kUsername, options_.username);
      }
      b.AddString(stun::attr::kRealm, realm_);
      b.AddString(stun::attr::kNonce, nonce_);
      if (options_.send_password_algorithms) {
        b.AddPasswordAlgorithms(offered_);
        b.AddPasswordAlgorithm(options_.algorithm);
      }
      const auto key = stun::LongTermKey(options_.username, realm_, options_.password, options_.algorithm);
      if (options_.sha256_integrity) {
        b.AddMessageIntegritySha256(key);
      } else {
        b.AddMessageIntegrity(key);
      }
    }
    if (options_.fingerprint) b.AddFingerprint();
    b.Finish();
    return out;
  }

  // Sends raw bytes; returns the last STUN message the server sent to this flow in reaction, if any.
  std::optional<StunReply> SendRaw(Timestamp now, ByteSpan bytes) {
    const size_t before = out_.to_client.size();
    server_.HandleClientPacket(now, flow_, bytes);
    std::optional<StunReply> reply;
    for (size_t i = before; i < out_.to_client.size(); ++i) reply = StunReply{out_.to_client[i].bytes};
    return reply;
  }

  std::optional<StunReply> Request(Timestamp now, stun::Method method, const Adder& add,
                                   bool authenticate = true) {
    const auto bytes = Build(method, add, authenticate);
    auto reply = SendRaw(now, bytes);
    if (reply && reply->ok()) Learn(*reply);
    return reply;
  }

  // Request with the usual 401 / 438 retry (as a real client does).
  std::optional<StunReply> RequestWithRetry(Timestamp now, stun::Method method, const Adder& add) {
    auto reply = Request(now, method, add, true);
    for (int i = 0; i < 2 && reply && reply->ok() &&
                    (reply->error_code() == stun::error::kUnauthorized ||
                     reply->error_code() == stun::error::kStaleNonce) &&
                    !nonce_.empty();
         ++i) {
      reply = Request(now, method, add, true);
    }
    return reply;
  }

  // Allocate (UDP relay) with auth; returns the reply.
  std::optional<StunReply> Allocate(Timestamp now, const Adder& extra = {}) {
    return RequestWithRetry(now, stun::Method::kAllocate, [&](stun::MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportUdp);
      if (extra) extra(b);
    });
  }
  // RFC 6062: a TCP allocation (on a TCP/TLS flow), Connect (the answer comes once the core learns the outcome)
  // and ConnectionBind (on a new flow: usually challenged first, hence the retry).
  std::optional<StunReply> AllocateTcp(Timestamp now, const Adder& extra = {}) {
    return RequestWithRetry(now, stun::Method::kAllocate, [&](stun::MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportTcp);
      if (extra) extra(b);
    });
  }
  std::optional<StunReply> Connect(Timestamp now, const SocketAddress& peer) {
    return Request(now, stun::Method::kConnect,
                   [&](stun::MessageBuilder& b) { b.AddXorAddress(stun::attr::kXorPeerAddress, peer); });
  }
  std::optional<StunReply> ConnectionBind(Timestamp now, uint32_t connection_id) {
    return RequestWithRetry(now, stun::Method::kConnectionBind,
                            [&](stun::MessageBuilder& b) { b.AddU32(stun::attr::kConnectionId, connection_id); });
  }
  std::optional<StunReply> CreatePermission(Timestamp now, const SocketAddress& peer) {
    return Request(now, stun::Method::kCreatePermission,
                   [&](stun::MessageBuilder& b) { b.AddXorAddress(stun::attr::kXorPeerAddress, peer); });
  }
  std::optional<StunReply> ChannelBind(Timestamp now, uint16_t channel, const SocketAddress& peer) {
    return Request(now, stun::Method::kChannelBind, [&](stun::MessageBuilder& b) {
      b.AddChannelNumber(channel);
      b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
    });
  }
  std::optional<StunReply> Refresh(Timestamp now, std::optional<uint32_t> lifetime) {
    return Request(now, stun::Method::kRefresh, [&](stun::MessageBuilder& b) {
      if (lifetime) b.AddU32(stun::attr::kLifetime, *lifetime);
    });
  }
  void SendIndication(Timestamp now, const SocketAddress& peer, ByteSpan data, bool dont_fragment = false) {
    std::vector<uint8_t> out;
    stun::MessageBuilder b(out, stun::Method::kSend, stun::MessageClass::kIndication, NewTid());
    b.AddXorAddress(stun::attr::kXorPeerAddress, peer);
    b.AddBytes(stun::attr::kData, data);
    if (dont_fragment) b.AddEmpty(stun::attr::kDontFragment);
    b.Finish();
    server_.HandleClientPacket(now, flow_, out);
  }
  void SendChannelData(Timestamp now, uint16_t channel, ByteSpan data, size_t padding = 0) {
    std::vector<uint8_t> out(4);
    StoreBe16(out.data(), channel);
    StoreBe16(out.data() + 2, static_cast<uint16_t>(data.size()));
    out.insert(out.end(), data.begin(), data.end());
    out.insert(out.end(), padding, 0);
    server_.HandleClientPacket(now, flow_, out);
  }

  std::vector<uint8_t> Key() const {
    return stun::LongTermKey(options_.username, realm_, options_.password, options_.algorithm);
  }

 private:
  void Learn(const StunReply& reply) {
    const auto v = reply.view();
    if (auto n = v.GetString(stun::attr::kNonce)) nonce_ = std::string(*n);
    if (auto r = v.GetString(stun::attr::kRealm)) realm_ = std::string(*r);
    if (v.Has(stun::attr::kPasswordAlgorithms)) offered_ = v.GetPasswordAlgorithms();
  }

  turn::TurnServer& server_;
  RecordingOutput& out_;
  turn::ClientFlow flow_;
  SeededRng rng_;
  Options options_;
  std::string nonce_;
  std::string realm_;
  std::vector<stun::PasswordAlgorithm> offered_;
};

}  // namespace tandem::testing
