// TcpListener, TcpConnection (connect from a listener's own address, adopt on another loop) and Splice (byte pipe
// with backpressure), over real loopback TCP with ephemeral ports; Splice's bookkeeping also with fakes. Loops are
// driven with RunUntil and a deadline (no sleeping).
#include "net/tcp_connection.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <thread>

#include "net/event_loop.h"
#include "net/splice.h"

namespace tandem::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

constexpr TimeDelta kDeadline = TimeDelta::Seconds(10);

tcp::endpoint ToEndpoint(const SocketAddress& a) {
  return tcp::endpoint(asio::ip::make_address(a.ip().ToString()), a.port());
}
SocketAddress Loopback(uint16_t port = 0) { return SocketAddress(IpAddress::LoopbackV4(), port); }

// An Asio socket on the test loop that collects what it reads (and can stop reading).
struct AsioPeer {
  explicit AsioPeer(EventLoop& loop) : socket(loop.context()) {}
  void StartReading() {
    reading = true;
    socket.async_read_some(asio::buffer(buf), [this](const error_code& ec, size_t n) {
      if (ec) {
        ended = true;
        reading = false;
        return;
      }
      received.append(buf, n);
      if (read_enabled) {
        StartReading();
      } else {
        reading = false;
      }
    });
  }
  void Write(std::string data) {
    auto owned = std::make_shared<std::string>(std::move(data));
    asio::async_write(socket, asio::buffer(*owned), [this, owned](const error_code& ec, size_t n) {
      if (!ec) written += n;
    });
  }
  tcp::socket socket;
  char buf[65536];
  std::string received;
  size_t written = 0;
  bool ended = false;
  bool reading = false;
  bool read_enabled = true;
};

// Deterministic pseudo-random payload.
std::string Payload(size_t n, uint32_t seed) {
  std::string s(n, '\0');
  uint32_t x = seed;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// A listener whose accepted sockets are kept as TcpConnections.
struct Accepting {
  explicit Accepting(EventLoop& loop, SocketAddress at = Loopback()) : loop(loop) {
    auto l = TcpListener::Listen(loop, at, [this](TcpSocket s, const SocketAddress& remote) {
      remotes.push_back(remote);
      auto c = TcpConnection::Adopt(this->loop, std::move(s));
      ASSERT_TRUE(c.ok());
      accepted.push_back(std::move(*c));
    });
    EXPECT_TRUE(l.ok());
    listener = std::move(*l);
  }
  EventLoop& loop;
  std::unique_ptr<TcpListener> listener;
  std::vector<std::unique_ptr<TcpConnection>> accepted;
  std::vector<SocketAddress> remotes;
};

TEST(TcpConnection, ConnectsFromTheAddressOfItsOwnListener) {
  EventLoop loop;
  Accepting relay(loop);  // the relayed transport address
  Accepting peer(loop);   // a peer that accepts
  const SocketAddress relay_addr = relay.listener->local_address();
  int results = 0;
  bool ok = false;
  auto conn = TcpConnection::Connect(loop, relay_addr, peer.listener->local_address(), [&](bool r) {
    ++results;
    ok = r;
  });
  ASSERT_TRUE(conn.ok()) << conn.error().ToString();
  EXPECT_EQ(results, 0);  // never inside Connect()
  ASSERT_TRUE(loop.RunUntil([&] { return results == 1 && !peer.accepted.empty(); }, kDeadline));
  EXPECT_TRUE(ok);
  EXPECT_TRUE((*conn)->connected());
  EXPECT_EQ((*conn)->local_address(), relay_addr);  // the peer sees the relayed address as the source
  EXPECT_EQ(peer.remotes[0], relay_addr);
  EXPECT_EQ((*conn)->remote_address(), peer.listener->local_address());

  // Bytes both ways once started.
  std::string at_peer, at_relay;
  StreamHandlers h;
  h.on_data = [&](StreamConnection&, ByteSpan b) -> long {
    at_relay.append(reinterpret_cast<const char*>(b.data()), b.size());
    return static_cast<long>(b.size());
  };
  (*conn)->Start(h);
  StreamHandlers hp;
  hp.on_data = [&](StreamConnection&, ByteSpan b) -> long {
    at_peer.append(reinterpret_cast<const char*>(b.data()), b.size());
    return static_cast<long>(b.size());
  };
  peer.accepted[0]->Start(hp);
  EXPECT_TRUE((*conn)->Send(AsBytes("ping")));
  EXPECT_TRUE(peer.accepted[0]->Send(AsBytes("pong")));
  ASSERT_TRUE(loop.RunUntil([&] { return at_peer == "ping" && at_relay == "pong"; }, kDeadline));

  // The listener still accepts peers on the shared address.
  AsioPeer other(loop);
  other.socket.connect(ToEndpoint(relay_addr));
  ASSERT_TRUE(loop.RunUntil([&] { return relay.accepted.size() == 1; }, kDeadline));
}

TEST(TcpConnection, RefusedConnectReportsFailure) {
  EventLoop loop;
  // A port with nothing listening: bind one and close it.
  uint16_t dead_port;
  {
    Accepting gone(loop);
    dead_port = gone.listener->local_address().port();
  }
  Accepting relay(loop);
  int results = 0;
  bool ok = true;
  auto conn = TcpConnection::Connect(loop, relay.listener->local_address(), Loopback(dead_port), [&](bool r) {
    ++results;
    ok = r;
  });
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(loop.RunUntil([&] { return results == 1; }, kDeadline));
  EXPECT_FALSE(ok);
  EXPECT_FALSE((*conn)->connected());
}

TEST(TcpConnection, DestroyingAConnectingConnectionCancelsIt) {
  EventLoop loop;
  Accepting relay(loop);
  Accepting peer(loop);
  int results = 0;
  auto conn = TcpConnection::Connect(loop, relay.listener->local_address(), peer.listener->local_address(),
                                     [&](bool) { ++results; });
  ASSERT_TRUE(conn.ok());
  conn->reset();
  loop.RunFor(TimeDelta::Millis(50));
  EXPECT_EQ(results, 0);
}

TEST(TcpConnection, TwoListenersCannotShareAnAddressWithoutReusePortOnBoth) {
  EventLoop loop;
  // A plain socket (no SO_REUSEPORT) holds the port: our listener cannot take it.
  tcp::acceptor plain(loop.context(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const uint16_t port = plain.local_endpoint().port();
  auto l = TcpListener::Listen(loop, Loopback(port), [](TcpSocket, const SocketAddress&) {});
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code, ErrorCode::kAlreadyExists);
}

TEST(TcpConnection, ReleasedSocketIsAdoptedByAnotherLoop) {
  EventLoop loop;
  Accepting relay(loop);
  AsioPeer client(loop);
  client.socket.connect(ToEndpoint(relay.listener->local_address()));
  ASSERT_TRUE(loop.RunUntil([&] { return relay.accepted.size() == 1; }, kDeadline));
  client.Write("sent before the move");  // stays in the kernel until the new owner reads

  TcpSocket moved = relay.accepted[0]->Release();
  ASSERT_TRUE(moved.valid());
  EXPECT_FALSE(relay.accepted[0]->connected());
  EXPECT_FALSE(relay.accepted[0]->Send(AsBytes("x")));

  // The other loop runs on its own thread, as another worker would.
  EventLoop other;
  std::string got;
  std::atomic<bool> done{false};
  std::thread worker([&] {
    auto adopted = TcpConnection::Adopt(other, std::move(moved));
    ASSERT_TRUE(adopted.ok());
    StreamHandlers h;
    h.on_data = [&](StreamConnection& c, ByteSpan b) -> long {
      got.append(reinterpret_cast<const char*>(b.data()), b.size());
      if (got == "sent before the move") c.Send(AsBytes("answer from the other loop"));
      return static_cast<long>(b.size());
    };
    (*adopted)->Start(h);
    other.RunUntil([&] { return got.size() >= 20 && (*adopted)->queued_bytes() == 0; }, kDeadline);
    other.RunFor(TimeDelta::Millis(20));
    done = true;
  });
  client.StartReading();
  loop.RunUntil([&] { return client.received == "answer from the other loop" && done.load(); }, kDeadline);
  worker.join();
  EXPECT_EQ(got, "sent before the move");
  EXPECT_EQ(client.received, "answer from the other loop");
}

TEST(TcpConnection, PeerCloseFlushesQueuedDataThenCloses) {
  EventLoop loop;
  Accepting relay(loop);
  AsioPeer client(loop);
  client.socket.connect(ToEndpoint(relay.listener->local_address()));
  ASSERT_TRUE(loop.RunUntil([&] { return relay.accepted.size() == 1; }, kDeadline));
  int closes = 0;
  StreamHandlers h;
  h.on_data = [&](StreamConnection& c, ByteSpan b) -> long {
    c.Send(b);  // echo
    return static_cast<long>(b.size());
  };
  h.on_close = [&](StreamConnection&) { ++closes; };
  relay.accepted[0]->Start(h);
  client.StartReading();
  client.Write("last words");
  client.socket.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(loop.RunUntil([&] { return client.ended; }, kDeadline));
  EXPECT_EQ(client.received, "last words");
  EXPECT_EQ(closes, 1);
}

// --- StreamServer connections: the flow control a Splice uses ---------------------------------------------------

TEST(StreamFlowControl, PausedConnectionKeepsLeftoverBytesAndOffersThemOnResume) {
  EventLoop loop;
  std::string seen;
  StreamConnection* conn = nullptr;
  int drains = 0;
  bool switched = false;
  StreamHandlers h;
  h.on_open = [&](StreamConnection& c) { conn = &c; };
  h.on_data = [&](StreamConnection& c, ByteSpan b) -> long {
    const std::string text(reinterpret_cast<const char*>(b.data()), b.size());
    if (!switched) {
      // Consume the "header" up to '|', then pause, as the TURN service does after a ConnectionBind.
      const size_t bar = text.find('|');
      if (bar == std::string::npos) return 0;
      seen += text.substr(0, bar + 1);
      switched = true;
      c.PauseReading();
      return static_cast<long>(bar + 1);
    }
    seen += text;
    return static_cast<long>(b.size());
  };
  auto server = StreamServer::Listen(loop, Loopback(), nullptr, h);
  ASSERT_TRUE(server.ok());
  AsioPeer client(loop);
  client.socket.connect(ToEndpoint((*server)->local_address()));
  client.Write("header|body");
  ASSERT_TRUE(loop.RunUntil([&] { return switched; }, kDeadline));
  loop.RunFor(TimeDelta::Millis(20));
  EXPECT_EQ(seen, "header|");  // "body" waits, unconsumed
  client.Write(" and more");
  loop.RunFor(TimeDelta::Millis(20));
  EXPECT_EQ(seen, "header|");  // not read while paused
  conn->SetDrainHandler([&] { ++drains; });
  conn->ResumeReading();
  EXPECT_EQ(seen, "header|");  // never inside ResumeReading()
  ASSERT_TRUE(loop.RunUntil([&] { return seen == "header|body and more"; }, kDeadline));
  EXPECT_TRUE(conn->Send(AsBytes("reply")));
  EXPECT_EQ(conn->queued_bytes(), 5u);
  ASSERT_TRUE(loop.RunUntil([&] { return drains == 1; }, kDeadline));
  EXPECT_EQ(conn->queued_bytes(), 0u);
}

// --- Splice ----------------------------------------------------------------------------------------------------

// A StreamConnection that records what the splice asks of it.
struct FakeStream final : StreamConnection {
  uint64_t id() const override { return 1; }
  SocketAddress remote_address() const override { return {}; }
  SocketAddress local_address() const override { return {}; }
  bool is_tls() const override { return false; }
  bool Send(ByteSpan a, ByteSpan b, ByteSpan c) override {
    if (refuse) return false;
    queued += a.size() + b.size() + c.size();
    return true;
  }
  void Close() override { ++closes; }
  void PauseReading() override { paused = true; }
  void ResumeReading() override {
    paused = false;
    ++resumes;
  }
  size_t queued_bytes() const override { return queued; }
  void SetDrainHandler(std::function<void()> fn) override { drain = std::move(fn); }
  void Drain() {
    queued = 0;
    if (drain) drain();
  }
  size_t queued = 0;
  bool paused = true;
  bool refuse = false;
  int closes = 0;
  int resumes = 0;
  std::function<void()> drain;
};

TEST(Splice, PausesTheReaderWhenTheWriterIsFullAndResumesOnDrain) {
  FakeStream a, b;
  {
    Splice s(a, b, /*high_water=*/100);
    EXPECT_FALSE(a.paused);  // both start reading
    EXPECT_FALSE(b.paused);
    const std::string chunk(60, 'x');
    EXPECT_EQ(s.Forward(a, AsBytes(chunk)), 60);
    EXPECT_FALSE(a.paused);
    EXPECT_EQ(s.Forward(a, AsBytes(chunk)), 60);  // b now holds 120 >= 100
    EXPECT_TRUE(a.paused);
    EXPECT_FALSE(b.paused);
    b.Drain();
    EXPECT_FALSE(a.paused);
    EXPECT_EQ(a.queued, 0u);
    EXPECT_EQ(s.bytes_from(0), 120u);
    // The other direction is independent.
    EXPECT_EQ(s.Forward(b, AsBytes(std::string(150, 'y'))), 150);
    EXPECT_TRUE(b.paused);
    EXPECT_FALSE(a.paused);
    // Data from a stranger is refused.
    FakeStream stranger;
    EXPECT_EQ(s.Forward(stranger, AsBytes(chunk)), -1);
  }
  EXPECT_FALSE(a.drain);  // the destructor removed its handlers
  EXPECT_FALSE(b.drain);
}

TEST(Splice, ClosingOneSideClosesTheOther) {
  FakeStream a, b;
  Splice s(a, b);
  EXPECT_FALSE(s.OnClosed(a));
  EXPECT_EQ(b.closes, 1);
  EXPECT_FALSE(b.drain);
  // Late bytes from the closing side's partner are swallowed; b's own end completes the splice.
  EXPECT_EQ(s.Forward(b, AsBytes("late")), 4);
  EXPECT_TRUE(s.OnClosed(b));
  EXPECT_EQ(a.closes, 0);
  EXPECT_TRUE(s.done());
}

TEST(Splice, ARefusedSendClosesTheSender) {
  FakeStream a, b;
  Splice s(a, b);
  b.refuse = true;
  EXPECT_EQ(s.Forward(a, AsBytes("x")), -1);
}

// Real sockets: client <-> [TcpConnection a | Splice | TcpConnection b] <-> peer, several MiB each way while the
// receivers stall for a while; user-space buffering stays bounded and every byte arrives in order.
TEST(Splice, PipesMegabytesBothWaysWithBoundedBuffers) {
  EventLoop loop;
  Accepting front(loop), back(loop);
  AsioPeer client(loop), peer(loop);
  // Small receive windows, so that a stalled reader backs data up into the splice quickly.
  for (AsioPeer* p : {&client, &peer}) {
    p->socket.open(tcp::v4());
    p->socket.set_option(asio::socket_base::receive_buffer_size(64 * 1024));
  }
  client.socket.connect(ToEndpoint(front.listener->local_address()));
  peer.socket.connect(ToEndpoint(back.listener->local_address()));
  ASSERT_TRUE(loop.RunUntil([&] { return front.accepted.size() == 1 && back.accepted.size() == 1; }, kDeadline));
  TcpConnection& a = *front.accepted[0];
  TcpConnection& b = *back.accepted[0];
  constexpr size_t kHighWater = 64 * 1024;
  auto splice = std::make_unique<Splice>(a, b, kHighWater);
  size_t max_queued = 0;
  int closed = 0;
  StreamHandlers h;
  h.on_data = [&](StreamConnection& from, ByteSpan bytes) -> long {
    const long r = splice->Forward(from, bytes);
    max_queued = std::max({max_queued, a.queued_bytes(), b.queued_bytes()});
    return r;
  };
  h.on_close = [&](StreamConnection& c) {
    ++closed;
    splice->OnClosed(c);
  };
  a.Start(h);
  b.Start(h);

  const std::string up = Payload(12 << 20, 1), down = Payload(10 << 20, 2);
  client.Write(up);
  peer.Write(down);
  // Nobody reads for a while: the splice must stop reading rather than buffer megabytes.
  loop.RunFor(TimeDelta::Millis(300));
  EXPECT_GE(max_queued, kHighWater);  // backpressure was reached...
  EXPECT_LE(max_queued, kHighWater + 64 * 1024);  // ...and held
  client.StartReading();
  peer.StartReading();
  ASSERT_TRUE(loop.RunUntil([&] { return peer.received.size() == up.size() && client.received.size() == down.size(); },
                            kDeadline));
  EXPECT_TRUE(peer.received == up);
  EXPECT_TRUE(client.received == down);
  EXPECT_LE(max_queued, kHighWater + 64 * 1024);
  EXPECT_EQ(splice->bytes_from(0), up.size());

  // The client hangs up: the peer side is closed too (after its queue), and both on_close ran.
  client.socket.shutdown(tcp::socket::shutdown_send);
  ASSERT_TRUE(loop.RunUntil([&] { return peer.ended && closed == 2; }, kDeadline));
  EXPECT_TRUE(splice->done());
}

}  // namespace
}  // namespace tandem::net
