// Plain TCP for relaying (RFC 6062 TURN-TCP): a listener on a relayed transport address, outbound connections
// opened FROM that same address, and connected sockets that move from one event loop to another.
//
// A TURN TCP allocation's relayed address is a listening socket (peers connect to it, §5.3) that is also the source
// address of the connections the server opens to peers (§5.2). Linux lets a connecting socket bind the address of a
// listener only when both set SO_REUSEPORT, so TcpListener and TcpConnection::Connect set SO_REUSEADDR and
// SO_REUSEPORT. SO_REUSEPORT would also let a second listener share the address: whoever hands out relayed
// addresses must keep them exclusive itself (the TURN service keeps a set).
//
// Like StreamServer's connections, a TcpConnection reads only when asked (Start), into a buffer that belongs to the
// loop, and queues what it sends; it is a StreamConnection, so a Splice can join it to a client connection.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "core/bytes.h"
#include "core/result.h"
#include "core/socket_address.h"
#include "net/stream_server.h"

namespace tandem::net {

class EventLoop;

// A connected TCP socket registered with no event loop: it can be handed to another thread, which registers it
// with TcpConnection::Adopt. Closes the socket when destroyed. Move-only.
class TcpSocket {
 public:
  TcpSocket() = default;
  explicit TcpSocket(int fd) : fd_(fd) {}  // takes ownership
  TcpSocket(TcpSocket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  TcpSocket& operator=(TcpSocket&& other) noexcept;
  TcpSocket(const TcpSocket&) = delete;
  TcpSocket& operator=(const TcpSocket&) = delete;
  ~TcpSocket();
  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// A listening TCP socket on an event loop.
class TcpListener {
 public:
  // Runs on the loop for each accepted connection; the socket is not registered with any loop yet.
  using AcceptHandler = std::function<void(TcpSocket socket, const SocketAddress& remote)>;
  // Listens on `local` (port 0: ephemeral) with SO_REUSEADDR and SO_REUSEPORT. kAlreadyExists when the address is
  // taken by a socket without SO_REUSEPORT (or another user's).
  static Result<std::unique_ptr<TcpListener>> Listen(EventLoop& loop, const SocketAddress& local,
                                                     AcceptHandler on_accept, int backlog = 128);
  // Stops accepting (connections not yet accepted are reset by the kernel). Safe inside the accept handler.
  ~TcpListener();
  SocketAddress local_address() const;

 private:
  TcpListener() = default;
  struct State;
  std::shared_ptr<State> state_;
};

class TcpConnection final : public StreamConnection {
 public:
  // Send() refuses data beyond this many unsent bytes; a Splice applies backpressure well before.
  static constexpr size_t kMaxSendBuffer = 4 << 20;

  // Connects from `local` to `remote`. The socket is bound to `local` first (SO_REUSEADDR and SO_REUSEPORT: it may
  // share the address of a TcpListener). `on_connected(ok)` runs once on the loop, never inside Connect(); after a
  // failure the connection is closed. There is no timeout here: the caller gives up by destroying the connection.
  // An error when the socket cannot even be bound (kAlreadyExists: that 4-tuple or address is in use).
  static Result<std::unique_ptr<TcpConnection>> Connect(EventLoop& loop, const SocketAddress& local,
                                                        const SocketAddress& remote,
                                                        std::function<void(bool ok)> on_connected);
  // Registers a connected socket (accepted by a TcpListener, or Release()d on another loop) with `loop`.
  static Result<std::unique_ptr<TcpConnection>> Adopt(EventLoop& loop, TcpSocket socket);
  // Closes at once: queued data is dropped and on_close does not run. Safe inside this connection's handlers.
  ~TcpConnection() override;

  // Starts reading: on_data and on_close as for a StreamServer's connections (on_open is not used). Until then
  // nothing is read; the kernel buffers and the peer's TCP window closes. Once connected only.
  void Start(StreamHandlers handlers);
  // Takes the socket off this loop, for Adopt() on another one. Only while connected and not started (nothing was
  // read, nothing is queued). The connection is closed afterwards, without on_close.
  TcpSocket Release();
  bool connected() const;

  // StreamConnection. is_tls() is false; id() is unique in the process (a new one after Adopt()).
  uint64_t id() const override;
  SocketAddress remote_address() const override;
  SocketAddress local_address() const override;
  bool is_tls() const override { return false; }
  bool Send(ByteSpan a, ByteSpan b = {}, ByteSpan c = {}) override;
  void Close() override;
  void PauseReading() override;
  void ResumeReading() override;
  size_t queued_bytes() const override;
  void SetDrainHandler(std::function<void()> fn) override;

  struct Impl;

 private:
  TcpConnection() = default;
  std::shared_ptr<Impl> impl_;  // shared with pending operations, which may outlive this object briefly
};

}  // namespace tandem::net
