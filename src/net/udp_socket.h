// A UDP socket driven by an EventLoop with batched IO: recvmmsg for receive (drains up to kBatch datagrams per
// wake-up) and sendmmsg for send (datagrams queued during one handler are flushed together, by a Post()ed flush or
// when the batch is full). No allocation per packet: receive and send buffers are preallocated.
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
  bool reuse_port = false;      // SO_REUSEPORT: one socket per worker on the same port; the kernel spreads flows
  bool reuse_address = true;
  int receive_buffer_bytes = 4 << 20;
  int send_buffer_bytes = 4 << 20;
  bool ipv6_only = true;        // for [::] binds
};

struct ReceivedDatagram {
  SocketAddress from;
  ByteSpan data;  // valid only during the handler call
};

struct UdpSocketStats {
  uint64_t datagrams_received = 0;
  uint64_t datagrams_sent = 0;
  uint64_t send_errors = 0;        // EAGAIN past the retry, EMSGSIZE, ...
  uint64_t receive_batches = 0;
  uint64_t send_batches = 0;
  uint64_t truncated_dropped = 0;  // MSG_TRUNC: datagram larger than the receive buffer slot
};

class UdpSocket {
 public:
  static constexpr size_t kBatch = 64;
  static constexpr size_t kMaxDatagram = 65536;

  // Binds `local` (port 0: an ephemeral port; read it back with local_address()).
  static Result<std::unique_ptr<UdpSocket>> Bind(EventLoop& loop, const SocketAddress& local,
                                                 const UdpSocketOptions& options = {});
  ~UdpSocket();

  using ReceiveHandler = std::function<void(std::span<const ReceivedDatagram> batch)>;
  // Starts receiving; `handler` runs on the loop's thread with each batch.
  void StartReceiving(ReceiveHandler handler);

  // Queues one datagram: the concatenation a + b + c (copied into the batch buffer; the spans may be reused at
  // once). Sent by the next flush. `dont_fragment` sets IP_PMTUDISC_DO for that datagram where supported.
  void Send(const SocketAddress& to, ByteSpan a, ByteSpan b = {}, ByteSpan c = {});
  // Sends everything queued now.
  void Flush();

  SocketAddress local_address() const;
  const UdpSocketStats& stats() const;
  int native_handle() const;

 private:
  UdpSocket();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::net
