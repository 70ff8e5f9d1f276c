// Real sockets on loopback, ephemeral ports; the loop is driven by RunUntil with a deadline (no sleeping).
#include "net/udp_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <memory>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/udp_socket_testing.h"

namespace tandem::net {
namespace {

constexpr TimeDelta kDeadline = TimeDelta::Seconds(5);

SocketAddress Loopback4() { return SocketAddress(IpAddress::LoopbackV4(), 0); }
SocketAddress Loopback6() { return *SocketAddress::Parse("[::1]:0"); }

std::unique_ptr<UdpSocket> MustBind(EventLoop& loop, const SocketAddress& at,
                                    const UdpSocketOptions& options = {}) {
  auto r = UdpSocket::Bind(loop, at, options);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().ToString());
  return r.ok() ? std::move(r).value() : nullptr;
}

struct Received {
  SocketAddress from;
  std::string data;
};

// Collects every datagram a socket receives.
struct Sink {
  explicit Sink(UdpSocket& socket) {
    socket.StartReceiving([this](std::span<const ReceivedDatagram> batch) {
      ++batches;
      for (const ReceivedDatagram& d : batch) got.push_back({d.from, std::string(AsStringView(d.data))});
    });
  }
  std::vector<Received> got;
  size_t batches = 0;
};

std::string Payload(size_t i) {
  // Distinct content and length per datagram: a 4-digit index, then filler whose length varies.
  std::string s = std::to_string(10000 + i).substr(1);
  s.append(20 + (i * 37) % 1200, static_cast<char>('a' + i % 26));
  return s;
}

TEST(UdpSocketTest, BatchOf500ArrivesIntactFromTheRightSender) {
  EventLoop loop;
  auto a = MustBind(loop, Loopback4());
  auto b = MustBind(loop, Loopback4());
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->local_address().port(), 0);
  Sink sink(*b);

  constexpr size_t kTotal = 500, kRound = 125;  // rounds keep well inside a non-root receive buffer
  for (size_t sent = 0; sent < kTotal; sent += kRound) {
    for (size_t i = sent; i < sent + kRound; ++i) a->Send(b->local_address(), AsBytes(Payload(i)));
    ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() >= sent + kRound; }, kDeadline))
        << "got " << sink.got.size();
  }
  ASSERT_EQ(sink.got.size(), kTotal);
  for (size_t i = 0; i < kTotal; ++i) {
    EXPECT_EQ(sink.got[i].data, Payload(i)) << i;
    EXPECT_EQ(sink.got[i].from, a->local_address());
  }
  const UdpSocketStats& tx = a->stats();
  const UdpSocketStats& rx = b->stats();
  EXPECT_EQ(tx.datagrams_sent, kTotal);
  EXPECT_EQ(tx.send_errors, 0u);
  EXPECT_EQ(rx.datagrams_received, kTotal);
  // Each round of 125 leaves in ceil(125 / 64) = 2 sendmmsg calls.
  EXPECT_LE(tx.send_batches, 4 * 2u);
  EXPECT_GT(tx.datagrams_sent, tx.send_batches);
  EXPECT_LT(rx.receive_batches, kTotal / 4);
  EXPECT_EQ(sink.batches, rx.receive_batches);
  RecordProperty("send_batches", static_cast<int>(tx.send_batches));
  RecordProperty("receive_batches", static_cast<int>(rx.receive_batches));
}

TEST(UdpSocketTest, SendConcatenatesTheGatheredParts) {
  EventLoop loop;
  auto a = MustBind(loop, Loopback4());
  auto b = MustBind(loop, Loopback4());
  ASSERT_TRUE(a && b);
  Sink sink(*b);
  std::string head = "head:", body = "body", tail = ":tail";
  a->Send(b->local_address(), AsBytes(head), AsBytes(body), AsBytes(tail));
  head.assign("XXXXX");  // the spans may be reused at once: the datagram was copied
  a->Send(b->local_address(), AsBytes("only-a"));
  a->Send(b->local_address(), {}, AsBytes("only-b"), {});
  a->Flush();  // explicit flush: no loop iteration needed to send
  EXPECT_EQ(a->stats().datagrams_sent, 3u);
  EXPECT_EQ(a->stats().send_batches, 1u);
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == 3; }, kDeadline));
  EXPECT_EQ(sink.got[0].data, "head:body:tail");
  EXPECT_EQ(sink.got[1].data, "only-a");
  EXPECT_EQ(sink.got[2].data, "only-b");
}

TEST(UdpSocketTest, Ipv6) {
  EventLoop loop;
  auto a_or = UdpSocket::Bind(loop, Loopback6());
  ASSERT_TRUE(a_or.ok()) << "no IPv6 loopback here";
  auto a = std::move(a_or).value();
  auto b = MustBind(loop, Loopback6());
  ASSERT_TRUE(b);
  EXPECT_TRUE(a->local_address().ip().is_v6());
  Sink sink(*b);
  a->Send(b->local_address(), AsBytes("over v6"));
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == 1; }, kDeadline));
  EXPECT_EQ(sink.got[0].data, "over v6");
  EXPECT_EQ(sink.got[0].from, a->local_address());
  // An IPv4 destination cannot be reached from an ipv6_only socket: dropped and counted, not thrown.
  a->Send(SocketAddress(IpAddress::LoopbackV4(), 9), AsBytes("x"));
  a->Flush();
  EXPECT_EQ(a->stats().send_errors, 1u);
}

TEST(UdpSocketTest, DualStackReportsAndReachesIpv4PeersAsIpv4) {
  EventLoop loop;
  UdpSocketOptions dual;
  dual.ipv6_only = false;
  auto v6_or = UdpSocket::Bind(loop, *SocketAddress::Parse("[::]:0"), dual);
  ASSERT_TRUE(v6_or.ok()) << "no IPv6 here";
  auto v6 = std::move(v6_or).value();
  auto v4 = MustBind(loop, Loopback4());
  ASSERT_TRUE(v4);
  Sink at_v6(*v6), at_v4(*v4);
  v4->Send(SocketAddress(IpAddress::LoopbackV4(), v6->local_address().port()), AsBytes("ping"));
  ASSERT_TRUE(loop.RunUntil([&] { return at_v6.got.size() == 1; }, kDeadline));
  EXPECT_EQ(at_v6.got[0].from, v4->local_address());  // 127.0.0.1:port, not ::ffff:127.0.0.1
  v6->Send(at_v6.got[0].from, AsBytes("pong"));
  ASSERT_TRUE(loop.RunUntil([&] { return at_v4.got.size() == 1; }, kDeadline));
  EXPECT_EQ(at_v4.got[0].data, "pong");
}

TEST(UdpSocketTest, ReusePortLetsTwoSocketsBindOnePort) {
  EventLoop loop;
  UdpSocketOptions reuse;
  reuse.reuse_port = true;
  auto first = MustBind(loop, Loopback4(), reuse);
  ASSERT_TRUE(first);
  SocketAddress taken = first->local_address();
  auto second = UdpSocket::Bind(loop, taken, reuse);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(second.value()->local_address(), taken);
  // Without SO_REUSEPORT the port is taken, also with SO_REUSEADDR (the ephemeral port never had it).
  UdpSocketOptions plain;
  auto third = UdpSocket::Bind(loop, taken, plain);
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kAlreadyExists);
  UdpSocketOptions reuse_address;
  reuse_address.reuse_address = true;
  EXPECT_FALSE(UdpSocket::Bind(loop, taken, reuse_address).ok());
  // An explicit port taken by a plain socket stays its own.
  auto explicit_port = MustBind(loop, Loopback4());
  ASSERT_TRUE(explicit_port);
  EXPECT_FALSE(UdpSocket::Bind(loop, explicit_port->local_address(), plain).ok());
}

TEST(UdpSocketTest, HandlerMayDestroyItsSocketAndQueuedDatagramsStillLeave) {
  EventLoop loop;
  auto a = MustBind(loop, Loopback4());
  auto b = MustBind(loop, Loopback4());
  auto c = MustBind(loop, Loopback4());
  ASSERT_TRUE(a && b && c);
  Sink at_c(*c);
  SocketAddress c_addr = c->local_address();
  bool got = false;
  b->StartReceiving([&](std::span<const ReceivedDatagram> batch) {
    got = true;
    b->Send(c_addr, batch[0].data);  // staged ...
    b.reset();                       // ... and sent on destruction
  });
  a->Send(b->local_address(), AsBytes("forward me"));
  ASSERT_TRUE(loop.RunUntil([&] { return at_c.got.size() == 1; }, kDeadline));
  EXPECT_TRUE(got);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(at_c.got[0].data, "forward me");
}

TEST(UdpSocketTest, HandlerMayReplaceItself) {
  EventLoop loop;
  auto a = MustBind(loop, Loopback4());
  auto b = MustBind(loop, Loopback4());
  ASSERT_TRUE(a && b);
  int first = 0, second = 0;
  b->StartReceiving([&](std::span<const ReceivedDatagram> batch) {
    first += static_cast<int>(batch.size());
    b->StartReceiving(
        [&](std::span<const ReceivedDatagram> later) { second += static_cast<int>(later.size()); });
  });
  a->Send(b->local_address(), AsBytes("1"));
  ASSERT_TRUE(loop.RunUntil([&] { return first == 1; }, kDeadline));
  a->Send(b->local_address(), AsBytes("2"));
  ASSERT_TRUE(loop.RunUntil([&] { return second == 1; }, kDeadline));
  EXPECT_EQ(first, 1);
}

TEST(UdpSocketTest, BadDestinationsAreCountedNotThrown) {
  EventLoop loop;
  auto a = MustBind(loop, Loopback4());
  ASSERT_TRUE(a);
  a->Send(SocketAddress(), AsBytes("nowhere"));  // unspecified
  std::vector<uint8_t> huge(UdpSocket::kMaxDatagram + 1);
  a->Send(SocketAddress(IpAddress::LoopbackV4(), 9), huge);
  std::vector<uint8_t> too_big_for_ip(
      65508);  // fits our buffer, not an IPv4 datagram: EMSGSIZE from the kernel
  a->Send(SocketAddress(IpAddress::LoopbackV4(), 9), too_big_for_ip);
  a->Flush();
  EXPECT_EQ(a->stats().send_errors, 3u);
  EXPECT_EQ(a->stats().datagrams_sent, 0u);
}

TEST(UdpSocketTest, DontFragmentSetsPmtuDiscoveryOnTheSocket) {
  EventLoop loop;
  UdpSocketOptions df;
  df.dont_fragment = true;
  auto a = MustBind(loop, Loopback4(), df);
  ASSERT_TRUE(a);
  int mode = -1;
  socklen_t len = sizeof(mode);
  ASSERT_EQ(getsockopt(a->native_handle(), IPPROTO_IP, IP_MTU_DISCOVER, &mode, &len), 0);
  EXPECT_EQ(mode, IP_PMTUDISC_DO);
  a->SetDontFragment(false);
  ASSERT_EQ(getsockopt(a->native_handle(), IPPROTO_IP, IP_MTU_DISCOVER, &mode, &len), 0);
  EXPECT_EQ(mode, IP_PMTUDISC_WANT);
}

TEST(UdpSocketTest, ManySocketsOnOneLoopShareOneFlush) {
  EventLoop loop;
  auto sink_socket = MustBind(loop, Loopback4());
  ASSERT_TRUE(sink_socket);
  Sink sink(*sink_socket);
  std::vector<std::unique_ptr<UdpSocket>> relays;
  for (int i = 0; i < 50; ++i) relays.push_back(MustBind(loop, Loopback4()));
  for (auto& r : relays) r->Send(sink_socket->local_address(), AsBytes("x"));
  for (auto& r : relays) EXPECT_EQ(r->stats().datagrams_sent, 0u);  // staged, not sent inline
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == relays.size(); }, kDeadline));
  for (auto& r : relays) EXPECT_EQ(r->stats().send_batches, 1u);
}

// A kernel whose send buffer is full until told otherwise: takes `budget` datagrams, then EAGAIN.
struct FullKernel {
  static inline bool full = false;
  static inline size_t budget = 0;
  static inline size_t calls_refused = 0;
  static int Sendmmsg(int fd, mmsghdr* messages, unsigned int count, int flags) {
    if (!full) return ::sendmmsg(fd, messages, count, flags);
    if (budget == 0) {
      ++calls_refused;
      errno = EAGAIN;
      return -1;
    }
    unsigned int n = std::min<unsigned int>(count, static_cast<unsigned int>(budget));
    int r = ::sendmmsg(fd, messages, n, flags);
    if (r > 0) budget -= static_cast<size_t>(r);
    return r;
  }
};

class UdpBacklogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FullKernel::full = true;
    FullKernel::budget = 10;
    FullKernel::calls_refused = 0;
    previous_ = test_hooks::SetSendmmsgForTesting(&FullKernel::Sendmmsg);
  }
  void TearDown() override { test_hooks::SetSendmmsgForTesting(previous_); }
  test_hooks::SendmmsgFunction previous_ = nullptr;
};

TEST_F(UdpBacklogTest, RefusedDatagramsWaitInOrderAndLeaveWhenWritable) {
  EventLoop loop;
  auto a = MustBind(loop, Loopback4());
  auto b = MustBind(loop, Loopback4());
  ASSERT_TRUE(a && b);
  Sink sink(*b);
  constexpr size_t kTotal = 200;
  for (size_t i = 0; i < kTotal; ++i) a->Send(b->local_address(), AsBytes(Payload(i)));
  // The first chain of 64 went out at once: 10 taken, the rest refused and kept.
  EXPECT_EQ(a->stats().datagrams_sent, 10u);
  EXPECT_GE(a->stats().would_block, 1u);
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == 10; }, kDeadline));
  // Writable again ("the kernel drained"): the backlog leaves, in order, on the writability wake-up.
  FullKernel::full = false;
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == kTotal; }, kDeadline)) << sink.got.size();
  for (size_t i = 0; i < kTotal; ++i) ASSERT_EQ(sink.got[i].data, Payload(i)) << i;
  EXPECT_EQ(a->stats().send_errors, 0u);
  EXPECT_GT(FullKernel::calls_refused, 0u);
}

TEST_F(UdpBacklogTest, BacklogIsBoundedAndDropsAreCounted) {
  EventLoop loop;
  UdpSocketOptions options;
  options.max_send_queue = 50;
  auto a = MustBind(loop, Loopback4(), options);
  auto b = MustBind(loop, Loopback4());
  ASSERT_TRUE(a && b);
  Sink sink(*b);
  constexpr size_t kTotal = 300;
  for (size_t i = 0; i < kTotal; ++i) a->Send(b->local_address(), AsBytes(Payload(i)));
  EXPECT_EQ(a->stats().send_queue_dropped, kTotal - 10 - 50);
  EXPECT_EQ(a->stats().send_errors, a->stats().send_queue_dropped);
  FullKernel::full = false;
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == 60; }, kDeadline)) << sink.got.size();
  for (size_t i = 0; i < 60; ++i) ASSERT_EQ(sink.got[i].data, Payload(i)) << i;
  // Drained: later datagrams take the normal batched path again.
  a->Send(b->local_address(), AsBytes("after"));
  ASSERT_TRUE(loop.RunUntil([&] { return sink.got.size() == 61; }, kDeadline));
  EXPECT_EQ(sink.got.back().data, "after");
}

}  // namespace
}  // namespace tandem::net
