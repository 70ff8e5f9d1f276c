// End-to-end tests of the TURN service over real loopback sockets: the sans-IO core, the IO layer and the driver
// together, with our own STUN client. (Interop with coturn's clients lives in tests/interop.)
#include "server/turn/turn_service.h"

#include <gtest/gtest.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <chrono>
#include <deque>
#include <set>
#include <thread>

#include "core/crypto.h"
#include "testing/stun_test_client.h"
#include "turn/channel_data.h"

namespace tandem::server {
namespace {

using testing::StunTestClient;
using testing::UdpPeer;

class RunningService {
 public:
  explicit RunningService(TurnServiceConfig config) : service_(std::move(config)) {
    thread_ = std::thread([this] { service_.Run(); });
  }
  ~RunningService() {
    service_.Stop();
    thread_.join();
  }
  TurnService& service() { return service_; }
  SocketAddress udp() const { return SocketAddress(IpAddress::LoopbackV4(), service_.udp_port()); }
  SocketAddress tcp() const { return SocketAddress(IpAddress::LoopbackV4(), service_.tcp_port()); }

 private:
  TurnService service_;
  std::thread thread_;
};

TurnServiceConfig LoopbackConfig(size_t threads = 2) {
  TurnServiceConfig c;
  c.listening_ips = {IpAddress::LoopbackV4()};
  c.listening_port = 0;
  c.tls = false;
  c.threads = threads;
  c.users = {{"alice", "secret"}};
  c.core.realm = "test";
  c.core.peer_policy.allow_loopback = true;
  return c;
}

ByteSpan Bytes(const std::string& s) { return AsBytes(s); }

TEST(TurnService, ListensOnEphemeralPortsAndReportsThem) {
  RunningService s(LoopbackConfig());
  EXPECT_NE(s.service().udp_port(), 0);
  EXPECT_EQ(s.service().tcp_port(), s.service().udp_port());
  EXPECT_NE(s.service().ListeningSummary().find("udp=127.0.0.1:"), std::string::npos);
}

TEST(TurnService, AnswersBindingOverUdpAndTcp) {
  RunningService s(LoopbackConfig());
  for (auto transport : {StunTestClient::Transport::kUdp, StunTestClient::Transport::kTcp}) {
    StunTestClient client(transport, transport == StunTestClient::Transport::kUdp ? s.udp() : s.tcp());
    ASSERT_TRUE(client.connected());
    auto r = client.Request(stun::Method::kBinding, nullptr);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->cls(), stun::MessageClass::kSuccessResponse);
    auto mapped = r->view().GetXorAddress(stun::attr::kXorMappedAddress);
    ASSERT_TRUE(mapped);
    EXPECT_EQ(*mapped, client.local_address());
  }
}

TEST(TurnService, RelaysChannelDataAndIndicationsBothWaysOverUdp) {
  RunningService s(LoopbackConfig());
  StunTestClient client(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
  auto relayed = client.Allocate();
  ASSERT_TRUE(relayed);
  EXPECT_TRUE(relayed->ip().IsLoopback());
  UdpPeer peer;
  ASSERT_TRUE(client.ChannelBind(0x4001, peer.address()));

  client.SendChannelData(0x4001, Bytes("to-peer"));
  auto at_peer = peer.Receive();
  ASSERT_TRUE(at_peer);
  EXPECT_EQ(at_peer->first, *relayed);
  EXPECT_EQ(std::string(at_peer->second.begin(), at_peer->second.end()), "to-peer");

  peer.SendTo(*relayed, Bytes("to-client"));
  auto at_client = client.ReceiveRaw();
  ASSERT_TRUE(at_client);
  auto cd = turn::ParseChannelData(*at_client);
  ASSERT_TRUE(cd);
  EXPECT_EQ(cd->channel, 0x4001);
  EXPECT_EQ(AsStringView(cd->data), "to-client");

  // Send indication to a second peer with a permission.
  UdpPeer peer2;
  ASSERT_TRUE(client.CreatePermission(peer2.address()));
  client.SendIndication(peer2.address(), Bytes("indicated"));
  auto at_peer2 = peer2.Receive();
  ASSERT_TRUE(at_peer2);
  EXPECT_EQ(std::string(at_peer2->second.begin(), at_peer2->second.end()), "indicated");
  peer2.SendTo(*relayed, Bytes("data-ind"));
  auto data_ind = client.ReceiveRaw();
  ASSERT_TRUE(data_ind);
  auto view = stun::MessageView::Parse(*data_ind);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->method(), stun::Method::kData);
  EXPECT_EQ(AsStringView(*view->GetBytes(stun::attr::kData)), "data-ind");
}

TEST(TurnService, RelaysOverTcpWithPaddedChannelData) {
  RunningService s(LoopbackConfig());
  StunTestClient client(StunTestClient::Transport::kTcp, s.tcp(), "alice", "secret");
  auto relayed = client.Allocate();
  ASSERT_TRUE(relayed);
  UdpPeer peer;
  ASSERT_TRUE(client.ChannelBind(0x4002, peer.address()));
  client.SendChannelData(0x4002, Bytes("abcde"));  // 5 bytes: padded to 8 on the stream
  auto at_peer = peer.Receive();
  ASSERT_TRUE(at_peer);
  EXPECT_EQ(std::string(at_peer->second.begin(), at_peer->second.end()), "abcde");
  peer.SendTo(*relayed, Bytes("xyz"));
  auto frame = client.ReceiveRaw();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->size() % 4, 0u) << "ChannelData over TCP must be padded (RFC 8656 §12.5)";
  auto cd = turn::ParseChannelData(*frame);
  ASSERT_TRUE(cd);
  EXPECT_EQ(AsStringView(cd->data), "xyz");
}

TEST(TurnService, RefusesLoopbackPeersByDefault) {
  auto config = LoopbackConfig(1);
  config.core.peer_policy.allow_loopback = false;
  RunningService s(config);
  StunTestClient client(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
  ASSERT_TRUE(client.Allocate());
  UdpPeer peer;
  auto r = client.Request(stun::Method::kCreatePermission, [&](stun::MessageBuilder& b) {
    b.AddXorAddress(stun::attr::kXorPeerAddress, peer.address());
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), stun::error::kForbidden);
}

TEST(TurnService, RejectsWrongPassword) {
  RunningService s(LoopbackConfig(1));
  StunTestClient client(StunTestClient::Transport::kUdp, s.udp(), "alice", "wrong");
  auto r = client.Request(stun::Method::kAllocate,
                          [](stun::MessageBuilder& b) { b.AddRequestedTransport(stun::kTransportUdp); });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), stun::error::kUnauthorized);
}

TEST(TurnService, ManyClientsAcrossWorkersAllGetDistinctRelays) {
  RunningService s(LoopbackConfig(2));
  std::vector<std::unique_ptr<StunTestClient>> clients;
  std::set<SocketAddress, bool (*)(const SocketAddress&, const SocketAddress&)> relays(
      [](const SocketAddress& a, const SocketAddress& b) { return a.ToString() < b.ToString(); });
  for (int i = 0; i < 40; ++i) {
    clients.push_back(std::make_unique<StunTestClient>(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret"));
    auto relayed = clients.back()->Allocate();
    ASSERT_TRUE(relayed) << "allocation " << i;
    relays.insert(*relayed);
  }
  EXPECT_EQ(relays.size(), 40u);
}

TEST(TurnService, ReservationTokenWorksFromAnotherSocketOnAnyWorker) {
  // RTP/RTCP clients (coturn's uclient among them) allocate with EVEN-PORT R=1 on one socket and redeem the
  // RESERVATION-TOKEN from another, which SO_REUSEPORT may hash to the other worker.
  RunningService s(LoopbackConfig(2));
  for (int i = 0; i < 12; ++i) {
    StunTestClient rtp(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
    auto first = rtp.Request(stun::Method::kAllocate, [](stun::MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportUdp);
      b.AddEvenPort(true);
    });
    ASSERT_TRUE(first);
    ASSERT_EQ(first->cls(), stun::MessageClass::kSuccessResponse) << first->error_code();
    auto relayed = first->view().GetXorAddress(stun::attr::kXorRelayedAddress);
    auto token = first->view().GetU64(stun::attr::kReservationToken);
    ASSERT_TRUE(relayed && token);
    EXPECT_EQ(relayed->port() % 2, 0);

    StunTestClient rtcp(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
    auto second = rtcp.Request(stun::Method::kAllocate, [&](stun::MessageBuilder& b) {
      b.AddRequestedTransport(stun::kTransportUdp);
      b.AddU64(stun::attr::kReservationToken, *token);
    });
    ASSERT_TRUE(second);
    ASSERT_EQ(second->cls(), stun::MessageClass::kSuccessResponse) << "iteration " << i << ": "
                                                                   << second->error_code();
    auto relayed2 = second->view().GetXorAddress(stun::attr::kXorRelayedAddress);
    ASSERT_TRUE(relayed2);
    EXPECT_EQ(relayed2->port(), relayed->port() + 1);

    // The adopted relay carries traffic.
    UdpPeer peer;
    ASSERT_TRUE(rtcp.CreatePermission(peer.address()));
    peer.SendTo(*relayed2, AsBytes("rtcp"));
    auto data = rtcp.ReceiveRaw();
    ASSERT_TRUE(data);
    auto view = stun::MessageView::Parse(*data);
    ASSERT_TRUE(view.ok());
    EXPECT_EQ(AsStringView(*view->GetBytes(stun::attr::kData)), "rtcp");
  }
}

// --- RFC 6062 TCP relaying over real sockets ----------------------------------------------------------------------

// A blocking TURN client on one TCP connection for RFC 6062: long-term auth (401/438 answered once each), requests
// whose response may come after indications (kept for NextIndication), and, once the connection is a client data
// connection, raw bytes (stream bytes already read past the last message are kept for TakeBuffered).
class TcpTurnClient {
 public:
  TcpTurnClient(SocketAddress server, std::string user, std::string password)
      : user_(std::move(user)), password_(std::move(password)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_storage ss;
    socklen_t len = server.ToSockaddr(&ss);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~TcpTurnClient() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0; }
  // Reuse another connection's realm and nonce (a data connection signing its first request right away).
  void ShareAuth(const TcpTurnClient& other) {
    realm_ = other.realm_;
    nonce_ = other.nonce_;
  }

  std::vector<uint8_t> Build(stun::Method method, const testing::StunTestClient::AttributeAdder& add,
                             stun::TransactionId* tid_out) {
    std::array<uint8_t, 12> tid_bytes;
    rng_.Fill(tid_bytes);
    const auto tid = stun::MakeTransactionId(tid_bytes);
    if (tid_out) *tid_out = tid;
    std::vector<uint8_t> out;
    stun::MessageBuilder b(out, method, stun::MessageClass::kRequest, tid);
    if (add) add(b);
    if (!nonce_.empty()) {
      b.AddString(stun::attr::kUsername, user_);
      b.AddString(stun::attr::kRealm, realm_);
      b.AddString(stun::attr::kNonce, nonce_);
      b.AddMessageIntegrity(stun::LongTermKey(user_, realm_, password_));
    }
    b.AddFingerprint();
    b.Finish();
    return out;
  }

  // Sends the request (prefixed to `trailer`: bytes sent in the same write right after it) and waits for its
  // response, retrying once per 401/438.
  std::optional<testing::StunTestClient::Response> Request(stun::Method method,
                                                           const testing::StunTestClient::AttributeAdder& add,
                                                           const std::string& trailer = {}) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      stun::TransactionId tid;
      auto bytes = Build(method, add, &tid);
      bytes.insert(bytes.end(), trailer.begin(), trailer.end());
      SendAll(bytes.data(), bytes.size());
      auto response = AwaitResponse(tid, 5000);
      if (!response) return std::nullopt;
      const uint16_t code = response->error_code();
      if ((code == stun::error::kUnauthorized && nonce_.empty()) || code == stun::error::kStaleNonce) {
        const auto v = response->view();
        realm_ = std::string(*v.GetString(stun::attr::kRealm));
        nonce_ = std::string(*v.GetString(stun::attr::kNonce));
        continue;
      }
      return response;
    }
    return std::nullopt;
  }

  std::optional<SocketAddress> AllocateTcp() {
    auto r = Request(stun::Method::kAllocate,
                     [](stun::MessageBuilder& b) { b.AddRequestedTransport(stun::kTransportTcp); });
    if (!r || r->cls() != stun::MessageClass::kSuccessResponse) return std::nullopt;
    return r->view().GetXorAddress(stun::attr::kXorRelayedAddress);
  }
  bool CreatePermission(const SocketAddress& peer) {
    auto r = Request(stun::Method::kCreatePermission,
                     [&](stun::MessageBuilder& b) { b.AddXorAddress(stun::attr::kXorPeerAddress, peer); });
    return r && r->cls() == stun::MessageClass::kSuccessResponse;
  }
  // The Connect response (success with CONNECTION-ID, or the error).
  std::optional<testing::StunTestClient::Response> Connect(const SocketAddress& peer) {
    return Request(stun::Method::kConnect,
                   [&](stun::MessageBuilder& b) { b.AddXorAddress(stun::attr::kXorPeerAddress, peer); });
  }
  std::optional<testing::StunTestClient::Response> ConnectionBind(uint32_t id, const std::string& trailer = {}) {
    return Request(
        stun::Method::kConnectionBind, [&](stun::MessageBuilder& b) { b.AddU32(stun::attr::kConnectionId, id); },
        trailer);
  }

  // The next indication (ConnectionAttempt) within the timeout.
  std::optional<std::vector<uint8_t>> NextIndication(int timeout_ms) {
    if (indications_.empty()) AwaitResponse(stun::TransactionId{}, timeout_ms, /*want_indication=*/true);
    if (indications_.empty()) return std::nullopt;
    auto m = std::move(indications_.front());
    indications_.pop_front();
    return m;
  }

  // Raw stream bytes read beyond the last STUN message.
  std::string TakeBuffered() {
    std::string out(buffer_.begin(), buffer_.end());
    buffer_.clear();
    return out;
  }

  void SendAll(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
      ssize_t w = ::send(fd_, p, n, MSG_NOSIGNAL);
      if (w <= 0) return;
      p += w;
      n -= static_cast<size_t>(w);
    }
  }

 private:
  std::optional<testing::StunTestClient::Response> AwaitResponse(const stun::TransactionId& tid, int timeout_ms,
                                                                 bool want_indication = false) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      // Whole STUN messages in the buffer.
      while (buffer_.size() >= 20 && (buffer_[0] & 0xc0) == 0) {
        const size_t need = 20 + LoadBe16(&buffer_[2]);
        if (buffer_.size() < need) break;
        std::vector<uint8_t> msg(buffer_.begin(), buffer_.begin() + static_cast<long>(need));
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>(need));
        auto v = stun::MessageView::Parse(msg);
        if (!v.ok()) continue;
        if (v->message_class() == stun::MessageClass::kIndication) {
          indications_.push_back(std::move(msg));
          if (want_indication) return std::nullopt;
          continue;
        }
        if (!want_indication && v->transaction_id() == tid) {
          return testing::StunTestClient::Response{std::move(msg)};
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                              std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
      uint8_t buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return std::nullopt;
      buffer_.insert(buffer_.end(), buf, buf + n);
      // Bytes that are not STUN (data after a ConnectionBind response) stay for TakeBuffered.
      if (!buffer_.empty() && (buffer_[0] & 0xc0) != 0 && !want_indication) {
        return std::nullopt;
      }
    }
  }

  int fd_ = -1;
  std::string user_, password_, realm_, nonce_;
  SeededRng rng_{77};
  std::vector<uint8_t> buffer_;
  std::deque<std::vector<uint8_t>> indications_;
};

// A TCP listener on 127.0.0.1 playing the peer.
class TcpPeerListener {
 public:
  TcpPeerListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_storage ss;
    socklen_t len = SocketAddress(IpAddress::LoopbackV4(), 0).ToSockaddr(&ss);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&ss), len);
    ::listen(fd_, 16);
  }
  ~TcpPeerListener() { ::close(fd_); }
  SocketAddress address() const { return LocalAddress(fd_); }
  // Accepts one connection within the timeout; -1 if none.
  int Accept(SocketAddress* remote, int timeout_ms = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return -1;
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int c = ::accept(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    if (c >= 0 && remote) *remote = *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    return c;
  }
  static SocketAddress LocalAddress(int fd) {
    sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    return *SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  }

 private:
  int fd_ = -1;
};

int ConnectTcp(const SocketAddress& to) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_storage ss;
  socklen_t len = to.ToSockaddr(&ss);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string Payload(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

std::string Sha256Hex(const std::string& s) { return crypto::HexEncode(crypto::Sha256(AsBytes(s))); }

// Writes a_out on `a` and b_out on `b` while reading both ends (non-blocking, poll), until `a` holds a_expect bytes
// in a_in and `b` holds b_expect in b_in (what they had before counts), or the deadline or an end of stream.
bool Exchange(int a, const std::string& a_out, std::string& a_in, size_t a_expect, int b, const std::string& b_out,
              std::string& b_in, size_t b_expect, int timeout_ms = 20000) {
  size_t a_sent = 0, b_sent = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (a_in.size() < a_expect || b_in.size() < b_expect || a_sent < a_out.size() || b_sent < b_out.size()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    pollfd p[2] = {{a, static_cast<short>(POLLIN | (a_sent < a_out.size() ? POLLOUT : 0)), 0},
                   {b, static_cast<short>(POLLIN | (b_sent < b_out.size() ? POLLOUT : 0)), 0}};
    if (::poll(p, 2, 200) < 0) return false;
    if (p[0].revents & POLLOUT) {
      ssize_t n = ::send(a, a_out.data() + a_sent, std::min<size_t>(a_out.size() - a_sent, 65536),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) a_sent += static_cast<size_t>(n);
    }
    if (p[1].revents & POLLOUT) {
      ssize_t n = ::send(b, b_out.data() + b_sent, std::min<size_t>(b_out.size() - b_sent, 65536),
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) b_sent += static_cast<size_t>(n);
    }
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(a, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0) return false;
      if (n > 0) a_in.append(buf, static_cast<size_t>(n));
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::recv(b, buf, sizeof(buf), MSG_DONTWAIT);
      if (n == 0) return false;
      if (n > 0) b_in.append(buf, static_cast<size_t>(n));
    }
  }
  return true;
}

// True when `fd` reaches end of stream (or reset) within the timeout, discarding what it still reads.
bool SeesEof(int fd, int timeout_ms = 5000) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0) return true;
  }
  return false;
}

// Polls the published stats (refreshed every second) until `pred` holds or 5 s pass.
bool StatsEventually(TurnService& service, const std::function<bool(const TurnServiceStats&)>& pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(service.Stats())) return true;
    pollfd none{-1, 0, 0};
    ::poll(&none, 0, 100);  // wait a little without a socket
  }
  return pred(service.Stats());
}

uint32_t ConnectionIdOf(const testing::StunTestClient::Response& r) {
  return r.view().GetU32(stun::attr::kConnectionId).value_or(0);
}

TEST(TurnServiceTcpRelay, ActiveOpenRelaysAMebibyteEachWayAcrossWorkers) {
  RunningService s(LoopbackConfig(2));
  constexpr int kRounds = 16;  // control and data connections land on random workers: both cases get exercised
  const std::string up = Payload(1 << 20, 11), down = Payload(1 << 20, 12);
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TcpTurnClient control(s.tcp(), "alice", "secret");
    ASSERT_TRUE(control.connected());
    auto relayed = control.AllocateTcp();
    ASSERT_TRUE(relayed);
    TcpPeerListener peer;
    auto connected = control.Connect(peer.address());
    ASSERT_TRUE(connected);
    ASSERT_EQ(connected->cls(), stun::MessageClass::kSuccessResponse) << connected->error_code();
    const uint32_t id = ConnectionIdOf(*connected);
    ASSERT_NE(id, 0u);
    SocketAddress peer_sees;
    const int peer_fd = peer.Accept(&peer_sees);
    ASSERT_GE(peer_fd, 0);
    EXPECT_EQ(peer_sees, *relayed) << "the connection to the peer must come from the relayed address";

    TcpTurnClient data(s.tcp(), "alice", "secret");
    auto bound = data.ConnectionBind(id);
    ASSERT_TRUE(bound);
    ASSERT_EQ(bound->cls(), stun::MessageClass::kSuccessResponse) << bound->error_code();

    std::string at_client = data.TakeBuffered(), at_peer;
    ASSERT_TRUE(Exchange(data.fd(), up, at_client, down.size(), peer_fd, down, at_peer, up.size()));
    EXPECT_EQ(at_peer.size(), up.size());
    EXPECT_EQ(Sha256Hex(at_peer), Sha256Hex(up));
    EXPECT_EQ(Sha256Hex(at_client), Sha256Hex(down));

    // Either side closing closes the other: here the client data connection first.
    data.Close();
    EXPECT_TRUE(SeesEof(peer_fd));
    ::close(peer_fd);
  }
  EXPECT_TRUE(StatsEventually(s.service(), [&](const TurnServiceStats& st) {
    return st.tcp_pipes_opened == kRounds && st.tcp_pipes_active == 0 && st.core.tcp_connections_active == 0;
  })) << "pipes opened " << s.service().Stats().tcp_pipes_opened << ", active "
      << s.service().Stats().tcp_pipes_active;
  const auto st = s.service().Stats();
  EXPECT_GT(st.tcp_pipes_cross_worker, 0u) << "no data connection landed on the other worker in " << kRounds
                                           << " rounds";
  EXPECT_LT(st.tcp_pipes_cross_worker, static_cast<uint64_t>(kRounds)) << "none landed on the same worker";
  EXPECT_EQ(st.core.tcp_connections_bound, static_cast<uint64_t>(kRounds));
  EXPECT_GE(st.tcp_bytes_piped, 2ull * kRounds * (1 << 20));
}

TEST(TurnServiceTcpRelay, PassiveOpenWithPermissionGetsConnectionAttempt) {
  RunningService s(LoopbackConfig(2));
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TcpTurnClient control(s.tcp(), "alice", "secret");
    auto relayed = control.AllocateTcp();
    ASSERT_TRUE(relayed);

    // No permission yet: the relay accepts and closes at once, and the client hears nothing.
    const int early = ConnectTcp(*relayed);
    ASSERT_GE(early, 0);
    EXPECT_TRUE(SeesEof(early));
    ::close(early);
    EXPECT_FALSE(control.NextIndication(200));

    ASSERT_TRUE(control.CreatePermission(SocketAddress(IpAddress::LoopbackV4(), 0)));
    const int peer_fd = ConnectTcp(*relayed);
    ASSERT_GE(peer_fd, 0);
    const SocketAddress peer_addr = TcpPeerListener::LocalAddress(peer_fd);
    // The peer talks first: its bytes wait in the server until the connection is bound.
    const std::string hello = "peer speaks first";
    ASSERT_EQ(::send(peer_fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));

    auto attempt = control.NextIndication(5000);
    ASSERT_TRUE(attempt);
    auto v = stun::MessageView::Parse(*attempt);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->method(), stun::Method::kConnectionAttempt);
    EXPECT_EQ(v->GetXorAddress(stun::attr::kXorPeerAddress), peer_addr);
    const auto id = v->GetU32(stun::attr::kConnectionId);
    ASSERT_TRUE(id);

    // The data connection signs with the control connection's nonce (valid on every worker) and sends its first
    // bytes in the same write as the ConnectionBind.
    TcpTurnClient data(s.tcp(), "alice", "secret");
    data.ShareAuth(control);
    const std::string pipelined = "client bytes right behind the ConnectionBind";
    auto bound = data.ConnectionBind(*id, pipelined);
    ASSERT_TRUE(bound);
    ASSERT_EQ(bound->cls(), stun::MessageClass::kSuccessResponse) << bound->error_code();

    std::string at_client = data.TakeBuffered(), at_peer;
    const std::string up = Payload(256 << 10, 21 + round), down = Payload(256 << 10, 31 + round);
    ASSERT_TRUE(Exchange(data.fd(), up, at_client, hello.size() + down.size(), peer_fd, down, at_peer,
                         pipelined.size() + up.size()));
    EXPECT_TRUE(at_peer == pipelined + up);
    EXPECT_TRUE(at_client == hello + down);

    // The peer closes first: the client data connection follows.
    ::close(peer_fd);
    EXPECT_TRUE(SeesEof(data.fd()));
  }
  EXPECT_TRUE(StatsEventually(s.service(), [](const TurnServiceStats& st) {
    return st.tcp_pipes_active == 0 && st.core.tcp_connections_active == 0 && st.core.tcp_connections_accepted == 6;
  }));
  EXPECT_GE(s.service().Stats().core.tcp_connections_refused, 6u);
}

TEST(TurnServiceTcpRelay, ControlConnectionCloseTearsDownPipesOnAnyWorker) {
  RunningService s(LoopbackConfig(2));
  for (int round = 0; round < 8; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto control = std::make_unique<TcpTurnClient>(s.tcp(), "alice", "secret");
    ASSERT_TRUE(control->AllocateTcp());
    TcpPeerListener peer;
    auto connected = control->Connect(peer.address());
    ASSERT_TRUE(connected && connected->cls() == stun::MessageClass::kSuccessResponse);
    const int peer_fd = peer.Accept(nullptr);
    ASSERT_GE(peer_fd, 0);
    TcpTurnClient data(s.tcp(), "alice", "secret");
    auto bound = data.ConnectionBind(ConnectionIdOf(*connected));
    ASSERT_TRUE(bound && bound->cls() == stun::MessageClass::kSuccessResponse);
    std::string a, b;
    ASSERT_TRUE(Exchange(data.fd(), "ping", a, 4, peer_fd, "pong", b, 4));
    EXPECT_EQ(a, "pong");
    EXPECT_EQ(b, "ping");
    // The allocation ends with its control connection (RFC 8656 §3.1); its connections end with it (RFC 6062).
    control.reset();
    EXPECT_TRUE(SeesEof(data.fd()));
    EXPECT_TRUE(SeesEof(peer_fd));
    ::close(peer_fd);
  }
  EXPECT_TRUE(StatsEventually(s.service(), [](const TurnServiceStats& st) {
    return st.core.tcp_connections_bound == 8 && st.core.allocations_deleted == 8 && st.tcp_pipes_active == 0 &&
           st.tcp_relays_open == 0 && st.tcp_peer_connections == 0 && st.core.tcp_connections_active == 0;
  }));
}

TEST(TurnServiceTcpRelay, ConnectErrorsAndBadConnectionBind) {
  RunningService s(LoopbackConfig(2));
  TcpTurnClient control(s.tcp(), "alice", "secret");
  ASSERT_TRUE(control.AllocateTcp());
  // Nothing listens there: 447, well before the 30 s timeout.
  uint16_t dead_port;
  {
    TcpPeerListener gone;
    dead_port = gone.address().port();
  }
  auto refused = control.Connect(SocketAddress(IpAddress::LoopbackV4(), dead_port));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->error_code(), stun::error::kConnectionTimeoutOrFailure);
  // A second Connect to a peer with a connection pending: 446.
  TcpPeerListener peer;
  auto first = control.Connect(peer.address());
  ASSERT_TRUE(first && first->cls() == stun::MessageClass::kSuccessResponse);
  auto second = control.Connect(peer.address());
  ASSERT_TRUE(second);
  EXPECT_EQ(second->error_code(), stun::error::kConnectionAlreadyExists);
  // An unknown CONNECTION-ID: 400, and the connection stays a normal client connection.
  TcpTurnClient data(s.tcp(), "alice", "secret");
  auto bad = data.ConnectionBind(ConnectionIdOf(*first) ^ 0x01010101u);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->error_code(), stun::error::kBadRequest);
  auto good = data.ConnectionBind(ConnectionIdOf(*first));
  ASSERT_TRUE(good);
  EXPECT_EQ(good->cls(), stun::MessageClass::kSuccessResponse);
  // TCP allocations over UDP: 400.
  StunTestClient udp(StunTestClient::Transport::kUdp, s.udp(), "alice", "secret");
  auto r = udp.Request(stun::Method::kAllocate,
                       [](stun::MessageBuilder& b) { b.AddRequestedTransport(stun::kTransportTcp); });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), stun::error::kBadRequest);
}

TEST(TurnServiceTcpRelay, ForbiddenPeerIs403) {
  auto config = LoopbackConfig(1);
  config.core.peer_policy.allow_loopback = false;
  RunningService s(config);
  TcpTurnClient control(s.tcp(), "alice", "secret");
  ASSERT_TRUE(control.AllocateTcp());
  TcpPeerListener peer;
  auto r = control.Connect(peer.address());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error_code(), stun::error::kForbidden);
}

TEST(TurnService, RefusesToStartWithoutCredentials) {
  auto config = LoopbackConfig(1);
  config.users.clear();
  EXPECT_THROW(TurnService{config}, std::runtime_error);
}

}  // namespace
}  // namespace tandem::server
