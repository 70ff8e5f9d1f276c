// An HTTP/1.1 and WebSocket (RFC 6455) server on Boost.Beast, driven by an EventLoop, over TCP or TLS. Beast and
// Asio stay in http_server.cc: users see requests and responses as plain structs and WebSockets as ids.
//
// Everything is bounded: header block, request body, WebSocket message, per-connection send queue (a client that
// does not read is disconnected, never buffered without limit), connections in total and per client IP, and time
// (TLS handshake, request arrival, keep-alive idle, WebSocket opening/closing handshake). WebSocket liveness
// (pings, silence) is the application's: it calls Ping() and Close() (the signaling core decides when).
//
// Threading: one loop. Every method and every handler runs on the loop's thread. Handlers may call back into the
// server (Send, Ping, Close, even for other connections); on_close is always posted, never run inside a call
// into the server, so a handler never re-enters itself through a close it caused.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/socket_address.h"
#include "core/time.h"

namespace tandem::net {

class EventLoop;
class TlsServerContext;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as on the request line
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  SocketAddress remote;
  // The first header named `name` (case-insensitive), empty when absent.
  std::string_view Header(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Cache-Control, Allow, ...)
};

struct HttpHandlers {
  // An ordinary request.
  std::function<HttpResponse(const HttpRequest&)> on_request;
  // A WebSocket upgrade request (RFC 6455 §4.2.1). nullopt accepts: from now on the connection is WebSocket `id`,
  // and frames sent to it before the handshake completes are queued behind it. A response refuses the upgrade
  // (sent as plain HTTP, then the connection closes).
  std::function<std::optional<HttpResponse>(uint64_t id, const HttpRequest&)> on_upgrade;
  // One complete message (text unless `binary`).
  std::function<void(uint64_t id, std::string_view message, bool binary)> on_message;
  // A message grew past max_message_bytes: the server stopped reading it (the rest is never buffered). The
  // handler decides how to close.
  std::function<void(uint64_t id)> on_message_too_large;
  std::function<void(uint64_t id)> on_pong;
  // Exactly once per accepted WebSocket (on_upgrade returned nullopt), whatever ended it; posted to the loop.
  std::function<void(uint64_t id)> on_close;
  // Builds the errors the HTTP layer answers by itself (400 malformed request, 413 body too large, 431 header too
  // large). Optional: plain text otherwise. Connections over the connection limits are closed at accept, unanswered.
  std::function<HttpResponse(int status, const char* code, const char* message)> error_response;
};

struct HttpServerOptions {
  size_t max_header_bytes = 8 * 1024;
  size_t max_body_bytes = 64 * 1024;
  size_t max_message_bytes = 64 * 1024;     // WebSocket message
  size_t max_send_queue_bytes = 1 << 20;    // per WebSocket; beyond it the connection is closed
  size_t max_connections = 20000;           // beyond it new connections are closed at accept
  size_t max_connections_per_ip = 100;      // TCP connections from one address (HTTP and WebSocket)
  TimeDelta request_timeout = TimeDelta::Seconds(10);   // a whole request must arrive within this
  TimeDelta idle_timeout = TimeDelta::Seconds(30);      // keep-alive wait for the next request
  TimeDelta handshake_timeout = TimeDelta::Seconds(10); // TLS, WebSocket opening and closing handshakes
  bool reuse_port = false;
  bool ipv6_only = true;
};

struct HttpServerStats {
  uint64_t connections_accepted = 0;
  uint64_t connections_refused = 0;  // over max_connections / max_connections_per_ip
  uint64_t requests = 0;
  uint64_t bad_requests = 0;         // malformed, header or body too large, timeouts mid-request
  uint64_t websockets_opened = 0;
  uint64_t websockets_refused = 0;
  uint64_t slow_readers_closed = 0;  // send queue over max_send_queue_bytes
  uint64_t peak_send_queue_bytes = 0;  // the most any one WebSocket had queued (≤ max_send_queue_bytes + 1 message)
};

class HttpServer {
 public:
  // Listens on `local` (port 0: ephemeral); TLS when `tls` is set.
  static Result<std::unique_ptr<HttpServer>> Listen(EventLoop& loop, const SocketAddress& local,
                                                    std::shared_ptr<TlsServerContext> tls, HttpHandlers handlers,
                                                    const HttpServerOptions& options = {});
  ~HttpServer();  // Shutdown()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  SocketAddress local_address() const;

  // Queues a text message. False when `id` is no open WebSocket, is closing, or the message would take its queue
  // past max_send_queue_bytes: then the connection is closed at once (slow reader) and on_close follows.
  bool Send(uint64_t id, std::shared_ptr<const std::string> text);
  // Queues a ping (RFC 6455 §5.5.2) behind the queued messages.
  void Ping(uint64_t id);
  // Sends what is queued, then the close frame (RFC 6455 §5.5.1), then closes. reason: at most 123 bytes.
  void Close(uint64_t id, uint16_t code, std::string_view reason);

  size_t connection_count() const;  // TCP connections, HTTP and WebSocket
  size_t websocket_count() const;
  // Bytes queued for `id` and not yet written (0 when unknown).
  size_t queued_bytes(uint64_t id) const;
  HttpServerStats stats() const;

  // Stops accepting and closes every connection at once; on_close runs for each accepted WebSocket before this
  // returns. Idempotent.
  void Shutdown();

  struct State;

 private:
  HttpServer() = default;
  std::shared_ptr<State> state_;
};

}  // namespace tandem::net
