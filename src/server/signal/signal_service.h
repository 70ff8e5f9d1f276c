// `tandem signal`: the signaling server process (docs/signaling.md). Drives the sans-IO signaling::SignalingCore
// with the IO layer's HttpServer (HTTP API, WebSocket endpoint) and serves the web UI's static files.
//
// Threads: one. The signaling state (rooms, peers) is per process and every message crosses it, so the core, the
// listener and every connection live on one event loop: no locks, no cross-thread hops on the message path. One
// loop holds 10k+ idle WebSockets, and a signaling message costs microseconds; TLS is the heavy part, and a
// deployment that needs more puts a TLS terminator in front or shards rooms across processes by room name.
#pragma once

#include <memory>
#include <string>

#include "core/socket_address.h"
#include "net/http_server.h"
#include "signal/signaling_core.h"

namespace tandem::server {

struct SignalServiceConfig {
  SocketAddress listen = SocketAddress(IpAddress::AnyV4(), 8080);
  std::string cert_file;  // TLS (HTTPS/WSS) when both are set
  std::string key_file;
  signaling::SignalConfig core;
  bool serve_web = true;
  std::string web_root;  // empty: the files embedded at build time
  // HTTP limits. Body and WebSocket message limits follow core.max_message_bytes; connection limits are derived
  // from core.limits unless set here (non-zero).
  net::HttpServerOptions http;
};

struct SignalServiceStats {
  signaling::SignalStats core;
  net::HttpServerStats http;
  size_t peers = 0;
  size_t rooms = 0;
  size_t connections = 0;
};

class SignalService {
 public:
  // Binds the listener (throws std::runtime_error with a clear message: a startup error).
  explicit SignalService(SignalServiceConfig config);
  ~SignalService();
  SignalService(const SignalService&) = delete;
  SignalService& operator=(const SignalService&) = delete;

  SocketAddress local_address() const;
  // "http://127.0.0.1:8080" (https with TLS; a wildcard bind shows as loopback, the address a local browser uses).
  std::string BaseUrl() const;
  size_t embedded_file_count() const;

  // Runs the loop on the calling thread until Stop().
  void Run();
  // Thread-safe: closes every WebSocket with 1001 (a short grace for the close frames), then ends Run().
  void Stop();
  // Thread-safe snapshot, refreshed every second and when Run() returns.
  SignalServiceStats Stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::server
