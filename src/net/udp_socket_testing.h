// Test seam for UdpSocket: replaces the sendmmsg() the IO layer calls, so tests can make the kernel "refuse"
// datagrams (EAGAIN), which real loopback never does for UDP (loopback frees the send buffer at once).
#pragma once

#include <sys/socket.h>

namespace tandem::net::test_hooks {

using SendmmsgFunction = int (*)(int fd, mmsghdr* messages, unsigned int count, int flags);

// Installs `fn` (nullptr restores the real sendmmsg) and returns the previous one. Not thread-safe: tests
// only.
SendmmsgFunction SetSendmmsgForTesting(SendmmsgFunction fn);

}  // namespace tandem::net::test_hooks
