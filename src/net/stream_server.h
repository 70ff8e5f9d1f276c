// TCP and TLS listeners and connections driven by an EventLoop. A listener per worker binds with SO_REUSEPORT
// so the kernel spreads connections across workers; each connection lives on the loop that accepted it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/result.h"
#include "core/socket_address.h"

namespace tandem::net {

class EventLoop;

// A server-side TLS configuration (OpenSSL), loaded once at startup and shared read-only by all workers.
class TlsServerContext {
 public:
  // Throws std::runtime_error with a clear message when the files cannot be loaded (startup/config error).
  static std::shared_ptr<TlsServerContext> FromFiles(const std::string& cert_chain_pem,
                                                     const std::string& key_pem);
  ~TlsServerContext();
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  TlsServerContext();
  std::unique_ptr<Impl> impl_;
};

class StreamConnection {
 public:
  virtual ~StreamConnection() = default;
  virtual uint64_t id() const = 0;  // unique in the process
  virtual SocketAddress remote_address() const = 0;
  virtual SocketAddress local_address() const = 0;
  virtual bool is_tls() const = 0;
  // Queues a + b + c for sending (copied; written out by a flush posted to the loop, so several Send()s in
  // one handler leave in one syscall). Returns false (and drops the data) when it would take the connection's
  // unsent bytes past max_send_buffer (a message larger than the limit is accepted only into an empty
  // buffer): a slow reader cannot grow server memory without bound. Also false once closing. Loop thread
  // only.
  virtual bool Send(ByteSpan a, ByteSpan b = {}, ByteSpan c = {}) = 0;
  // Closes after flushing what is queued (TLS: then sends close_notify). No more on_data. OnClose still runs
  // once, later on the loop, never inside Close() itself.
  virtual void Close() = 0;

  // Flow control, for splicing two connections into one byte pipe (RFC 6062 data connections, see splice.h).
  // Stops reading from the socket: the kernel buffers and the peer's TCP window closes. Bytes received and not
  // consumed stay buffered (at most one read's worth beyond what on_data declined). Loop thread only.
  virtual void PauseReading() = 0;
  // Reads again. Bytes left unconsumed are offered to on_data first (posted to the loop, never inside this call).
  virtual void ResumeReading() = 0;
  // Bytes queued by Send() and not yet handed to the kernel.
  virtual size_t queued_bytes() const = 0;
  // `fn` runs on the loop each time the send queue becomes empty after a write; an empty function removes it. It
  // is dropped when the connection closes.
  virtual void SetDrainHandler(std::function<void()> fn) = 0;
};

// A process-unique id for a stream connection (StreamConnection::id()): stream servers and TcpConnection draw from
// one counter.
uint64_t NextStreamConnectionId();

// All handlers run on the listening loop's thread. A handler may Send(), Close(), or shut the server down.
struct StreamHandlers {
  // For TLS, after the handshake: a connection that never completes it is never opened (nor closed).
  std::function<void(StreamConnection&)> on_open;
  // All bytes received and not yet consumed. Returns how many bytes it consumed (whole frames), or a negative
  // value to close the connection (unframeable stream).
  std::function<long(StreamConnection&, ByteSpan buffered)> on_data;
  // Runs exactly once per opened connection (peer closed, error, limit, Close(), Shutdown()); the reference
  // is invalid afterwards.
  std::function<void(StreamConnection&)> on_close;
};

struct StreamServerOptions {
  bool reuse_port = false;
  size_t max_receive_buffer = 256 * 1024;  // unconsumed bytes beyond this close the connection
  size_t max_send_buffer = 1 << 20;
  size_t max_connections = 100000;
  // 0 = none; the protocol core handles its own lifetimes. Idle = nothing received for that long.
  int idle_timeout_seconds = 0;
  // TLS: a connection that has not finished its handshake by then is dropped.
  int handshake_timeout_seconds = 10;
  bool ipv6_only = true;  // for [::] binds, as UdpSocketOptions::ipv6_only
};

class StreamServer {
 public:
  // Listens on `local` (port 0: ephemeral) — TCP when `tls` is null, TLS otherwise.
  static Result<std::unique_ptr<StreamServer>> Listen(EventLoop& loop, const SocketAddress& local,
                                                      std::shared_ptr<TlsServerContext> tls,
                                                      StreamHandlers handlers,
                                                      const StreamServerOptions& options = {});
  // Shuts down. Loop thread only (as is everything here).
  ~StreamServer();
  SocketAddress local_address() const;
  // Accepted connections not yet closed, including TLS handshakes in progress.
  size_t connection_count() const;
  // Stops accepting and closes every connection at once (queued data is dropped); on_close runs for each
  // opened connection before Shutdown() returns.
  void Shutdown();

 private:
  StreamServer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::net
