// What the Multicast DNS resolver and responder share: the well-known group addresses and port (RFC 6762 §3,
// §22) and the shape of what they ask the driver to send.
#pragma once

#include <cstdint>

#include "core/bytes.h"
#include "core/socket_address.h"

namespace tandem::mdns {

inline constexpr uint16_t kMdnsPort = 5353;

// 224.0.0.251:5353 and [ff02::fb]:5353 (RFC 6762 §3).
inline SocketAddress MulticastGroupV4() { return SocketAddress(IpAddress::V4({224, 0, 0, 251}), kMdnsPort); }
inline SocketAddress MulticastGroupV6() {
  return SocketAddress(IpAddress::V6({0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb}), kMdnsPort);
}

// A datagram to send: to a group above (on the driver's socket of that family, joined to the group, port
// 5353) or unicast to a querier.
struct Transmit {
  SocketAddress destination;
  ByteSpan data;  // valid until the next non-const call on the object that returned it
};

}  // namespace tandem::mdns
