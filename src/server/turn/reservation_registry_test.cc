#include "server/turn/reservation_registry.h"

#include <gtest/gtest.h>

#include "net/event_loop.h"

namespace tandem::server {
namespace {

net::UdpPortHold HoldLoopbackPort() {
  auto hold = net::UdpPortHold::Bind(SocketAddress(IpAddress::LoopbackV4(), 0));
  EXPECT_TRUE(hold.ok());
  return std::move(*hold);
}

bool PortIsFree(const SocketAddress& address) { return net::UdpPortHold::Bind(address).ok(); }

TEST(ReservationRegistry, TokenRedeemsTheHeldPortOnce) {
  SeededRng rng(7);
  ReservationRegistry registry(TimeDelta::Seconds(30));
  auto hold = HoldLoopbackPort();
  const SocketAddress address = hold.local_address();
  auto token = registry.Add(Timestamp::Seconds(100), std::move(hold), rng);
  ASSERT_TRUE(token);
  EXPECT_NE(*token, 0u);
  EXPECT_FALSE(PortIsFree(address)) << "the reservation must keep the port bound";

  auto taken = registry.Take(Timestamp::Seconds(110), *token);
  ASSERT_TRUE(taken);
  EXPECT_EQ(taken->local_address(), address);
  EXPECT_FALSE(registry.Take(Timestamp::Seconds(110), *token)) << "a token is good for one Allocate";
  EXPECT_FALSE(registry.Take(Timestamp::Seconds(110), *token + 1));

  // The taken port can be adopted by any loop and then carries traffic.
  net::EventLoop loop;
  auto socket = net::UdpSocket::Adopt(loop, std::move(*taken));
  ASSERT_TRUE(socket.ok());
  EXPECT_EQ((*socket)->local_address(), address);
}

TEST(ReservationRegistry, ExpiredReservationsReleaseTheirPort) {
  SeededRng rng(7);
  ReservationRegistry registry(TimeDelta::Seconds(30));
  auto hold = HoldLoopbackPort();
  const SocketAddress address = hold.local_address();
  auto token = registry.Add(Timestamp::Seconds(100), std::move(hold), rng);
  ASSERT_TRUE(token);
  registry.Expire(Timestamp::Seconds(129));
  EXPECT_EQ(registry.size(), 1u);
  registry.Expire(Timestamp::Seconds(130));
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_TRUE(PortIsFree(address));
  EXPECT_FALSE(registry.Take(Timestamp::Seconds(130), *token));
}

TEST(ReservationRegistry, IsBounded) {
  SeededRng rng(7);
  ReservationRegistry registry(TimeDelta::Seconds(30), 2);
  EXPECT_TRUE(registry.Add(Timestamp::Seconds(1), HoldLoopbackPort(), rng));
  EXPECT_TRUE(registry.Add(Timestamp::Seconds(1), HoldLoopbackPort(), rng));
  EXPECT_FALSE(registry.Add(Timestamp::Seconds(1), HoldLoopbackPort(), rng));
}

}  // namespace
}  // namespace tandem::server
