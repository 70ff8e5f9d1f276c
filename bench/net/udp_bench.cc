// UDP IO-layer micro-benchmark on loopback, bounded in count and time.
//
//   net_udp_bench relay [datagrams] [payload_bytes]   A -> relay B -> C, the TURN data path shape
//   net_udp_bench sockets [count]                      heap bytes per bound, receiving, idle UdpSocket
//
// Prints the socket statistics, from which syscalls per datagram follow (each send batch is one sendmmsg,
// each receive batch one recvmmsg). Cross-check with `strace -f -c -e
// trace=sendmmsg,recvmmsg,epoll_wait,epoll_ctl`.
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "net/event_loop.h"
#include "net/udp_socket.h"

using namespace tandem;
using namespace tandem::net;

namespace {

std::unique_ptr<UdpSocket> Bind(EventLoop& loop) {
  auto r = UdpSocket::Bind(loop, SocketAddress(IpAddress::LoopbackV4(), 0));
  if (!r.ok()) {
    std::fprintf(stderr, "bind: %s\n", r.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

int Relay(size_t total, size_t payload) {
  EventLoop loop;
  auto a = Bind(loop), b = Bind(loop), c = Bind(loop);
  SocketAddress c_addr = c->local_address();
  size_t relayed = 0, arrived = 0;
  b->StartReceiving([&](std::span<const ReceivedDatagram> batch) {
    for (const ReceivedDatagram& d : batch) b->Send(c_addr, d.data);
    relayed += batch.size();
  });
  c->StartReceiving([&](std::span<const ReceivedDatagram> batch) { arrived += batch.size(); });

  // A sends bursts of 128 per loop iteration, paced by what has arrived so no receive buffer overflows.
  std::vector<uint8_t> data(payload, 0x5a);
  constexpr size_t kBurst = 128, kWindow = 1024;
  size_t sent = 0;
  auto start = std::chrono::steady_clock::now();
  std::function<void()> pump = [&] {
    while (sent < total && sent - arrived < kWindow) {
      for (size_t i = 0; i < kBurst && sent < total; ++i, ++sent) a->Send(b->local_address(), data);
    }
    if (sent < total) loop.Post(pump);
  };
  loop.Post(pump);
  bool done = loop.RunUntil([&] { return arrived >= total; }, TimeDelta::Seconds(20));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const UdpSocketStats &sa = a->stats(), &sb = b->stats(), &sc = c->stats();
  std::printf("relay: %zu datagrams of %zu bytes, %s, %.3f s, %.0f datagrams/s through the relay\n", total,
              payload, done ? "all arrived" : "TIMED OUT", secs, static_cast<double>(arrived) / secs);
  std::printf("  A  sent %lu in %lu sendmmsg (%.1f per call)\n", (unsigned long)sa.datagrams_sent,
              (unsigned long)sa.send_batches, double(sa.datagrams_sent) / double(sa.send_batches));
  std::printf("  B  received %lu in %lu recvmmsg (%.1f per call), sent %lu in %lu sendmmsg (%.1f per call)\n",
              (unsigned long)sb.datagrams_received, (unsigned long)sb.receive_batches,
              double(sb.datagrams_received) / double(sb.receive_batches), (unsigned long)sb.datagrams_sent,
              (unsigned long)sb.send_batches, double(sb.datagrams_sent) / double(sb.send_batches));
  std::printf("  C  received %lu in %lu recvmmsg (%.1f per call)\n", (unsigned long)sc.datagrams_received,
              (unsigned long)sc.receive_batches, double(sc.datagrams_received) / double(sc.receive_batches));
  std::printf("  relay B: %.4f data syscalls per relayed datagram\n",
              double(sb.receive_batches + sb.send_batches) / double(relayed));
  return done ? 0 : 1;
}

int Sockets(size_t count) {
  EventLoop loop;
  // Warm the loop's shared pieces (receive arena, send staging) so they are not charged to the sockets.
  auto warm = Bind(loop);
  auto warm_peer = Bind(loop);
  warm->StartReceiving([](std::span<const ReceivedDatagram>) {});
  warm_peer->Send(warm->local_address(), AsBytes("warm"));
  loop.RunUntil([&] { return warm->stats().datagrams_received > 0; }, TimeDelta::Seconds(5));

  size_t before = mallinfo2().uordblks;
  std::vector<std::unique_ptr<UdpSocket>> sockets;
  sockets.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    sockets.push_back(Bind(loop));
    sockets.back()->StartReceiving([](std::span<const ReceivedDatagram>) {});
  }
  loop.RunFor(TimeDelta::Millis(10));
  size_t after = mallinfo2().uordblks;
  std::printf("sockets: %zu bound and receiving: %.0f heap bytes per socket (plus the kernel's own)\n", count,
              double(after - before) / double(count));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "relay";
  if (mode == "relay") {
    size_t total = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 200000;
    size_t payload = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 200;
    return Relay(total, payload);
  }
  if (mode == "sockets") return Sockets(argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 10000);
  std::fprintf(stderr, "usage: %s relay [datagrams] [payload] | sockets [count]\n", argv[0]);
  return 2;
}
