// A UDP socket driven by an EventLoop with batched IO: recvmmsg for receive (drains up to kBatch datagrams
// per call, a few calls per wake-up) and sendmmsg for send (datagrams queued during one loop iteration are
// flushed together, by one Post()ed flush per loop or as soon as a socket has kBatch queued).
//
// Memory: receive buffers and the send staging area belong to the loop, not the socket (handlers on a loop
// run one at a time), so an idle socket costs a few hundred bytes however many there are (TURN relays:
// ~100k). A socket only owns memory while the kernel refuses its datagrams (EAGAIN): those wait in a bounded
// per-socket backlog that is freed once drained. Nothing is allocated per packet in steady state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "core/bytes.h"
#include "core/result.h"
#include "core/socket_address.h"

namespace tandem::net {

class EventLoop;

struct UdpSocketOptions {
  bool reuse_port = false;  // SO_REUSEPORT: one socket per worker on the same port; the kernel spreads flows
  // SO_REUSEADDR. On UDP it buys nothing for servers (no TIME_WAIT) and lets several sockets bind one port,
  // so two relays given the same explicit port would silently share it: off by default, and never applied to
  // port 0 (an ephemeral port must be the socket's own).
  bool reuse_address = false;
  int receive_buffer_bytes = 4 << 20;
  int send_buffer_bytes = 4 << 20;
  bool ipv6_only = true;  // for [::] binds
  // IP_PMTUDISC_DO (IPV6_PMTUDISC_DO) on the whole socket: datagrams are sent with DF and never fragmented
  // locally; one larger than the path MTU fails (counted in send_errors). sendmmsg has no per-datagram DF
  // control, and a TURN relay socket belongs to one allocation, whose DONT-FRAGMENT (RFC 8656 §14.8) is known
  // when it is created.
  bool dont_fragment = false;
  // Datagrams kept while the kernel's send buffer is full; beyond this they are dropped and counted.
  size_t max_send_queue = 1024;
};

struct ReceivedDatagram {
  SocketAddress from;
  ByteSpan data;  // valid only during the handler call
};

struct UdpSocketStats {
  uint64_t datagrams_received = 0;
  uint64_t datagrams_sent = 0;
  uint64_t send_errors = 0;  // every datagram not sent: EMSGSIZE, unreachable, bad address, queue full, ...
  uint64_t send_queue_dropped = 0;  // the subset of send_errors dropped because the EAGAIN backlog was full
  uint64_t receive_batches = 0;
  uint64_t send_batches = 0;
  uint64_t truncated_dropped = 0;  // MSG_TRUNC: datagram larger than the receive buffer slot
  uint64_t would_block = 0;        // times sendmmsg hit EAGAIN and the socket waited for writability
};

// A bound UDP socket registered with no event loop: holds a port (EVEN-PORT reservations, RFC 8656 §7.2) and can be
// handed to any thread, which turns it into a UdpSocket on its own loop with UdpSocket::Adopt.
class UdpPortHold {
 public:
  static Result<UdpPortHold> Bind(const SocketAddress& local, const UdpSocketOptions& options = {});
  UdpPortHold(UdpPortHold&& other) noexcept;
  UdpPortHold& operator=(UdpPortHold&& other) noexcept;
  ~UdpPortHold();
  const SocketAddress& local_address() const { return local_; }

 private:
  friend class UdpSocket;
  UdpPortHold() = default;
  int fd_ = -1;
  int family_ = 0;
  SocketAddress local_;
  UdpSocketOptions options_;
};

class UdpSocket {
 public:
  static constexpr size_t kBatch = 64;
  static constexpr size_t kMaxDatagram = 65536;

  // Binds `local` (port 0: an ephemeral port; read it back with local_address()).
  static Result<std::unique_ptr<UdpSocket>> Bind(EventLoop& loop, const SocketAddress& local,
                                                 const UdpSocketOptions& options = {});
  // Registers a held port with `loop`.
  static Result<std::unique_ptr<UdpSocket>> Adopt(EventLoop& loop, UdpPortHold hold);
  ~UdpSocket();

  using ReceiveHandler = std::function<void(std::span<const ReceivedDatagram> batch)>;
  // Starts receiving; `handler` runs on the loop's thread with each batch (calling again replaces the
  // handler, also from inside it). The handler may Send() on any socket and may destroy this socket.
  // IPv4-mapped senders on a dual-stack socket are reported as plain IPv4 addresses.
  void StartReceiving(ReceiveHandler handler);

  // Queues one datagram: the concatenation a + b + c (copied into the batch buffer; the spans may be reused
  // at once). Sent by the next flush. Loop thread only. An IPv4 destination on an IPv6 socket is sent as
  // IPv4-mapped (which needs ipv6_only = false). Destroying the socket still sends what is queued (best
  // effort).
  void Send(const SocketAddress& to, ByteSpan a, ByteSpan b = {}, ByteSpan c = {});
  // Sends everything queued now.
  void Flush();
  // Switches UdpSocketOptions::dont_fragment on or off for the whole socket.
  void SetDontFragment(bool on);

  SocketAddress local_address() const;
  const UdpSocketStats& stats() const;
  int native_handle() const;

 private:
  UdpSocket();
  struct Impl;
  std::shared_ptr<Impl> impl_;  // shared with pending completions, which outlive the UdpSocket briefly
};

}  // namespace tandem::net
