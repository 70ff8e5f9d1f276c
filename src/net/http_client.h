// HTTP/1.1 and WebSocket (RFC 6455) clients on Boost.Beast, driven by an EventLoop, over TCP or TLS. What a
// native peer needs to reach a signaling server: fetch a token or ICE servers (HttpFetch) and keep a
// signaling socket open (WebSocketClient). Beast and Asio stay in http_client.cc.
//
// Threading: one loop. Every handler runs on the loop's thread; methods must be called on it too.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"

namespace tandem::net {

class EventLoop;

// An http://, https://, ws:// or wss:// URL, split for a client. IPv6 hosts are written in brackets.
struct Url {
  std::string scheme;  // lower case: "http", "https", "ws", "wss"
  std::string host;    // without brackets
  uint16_t port = 0;   // the scheme's default when the URL has none
  std::string target;  // path and query, "/" when empty
  bool secure() const { return scheme == "https" || scheme == "wss"; }
  // "host:port" as the Host header wants it (brackets for IPv6).
  std::string HostHeader() const;
  static std::optional<Url> Parse(std::string_view text);
};

struct TlsClientOptions {
  // Verify the server's certificate chain against the system's CA store and its name against the host. Off
  // only for development servers with self-signed certificates.
  bool verify_peer = true;
};

struct HttpClientRequest {
  std::string method = "GET";
  Url url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  TimeDelta timeout =
      TimeDelta::Seconds(10);  // the whole exchange: resolve, connect, handshake, request, response
  size_t max_response_bytes = 1 << 20;
  TlsClientOptions tls;
};

struct HttpClientResponse {
  int status = 0;  // 0 when no response arrived; `error` says why
  std::string body;
  std::string error;  // empty on success (any HTTP status counts as success here)
};

// Performs one request (connection: close) and calls `done` once, on the loop, never inside HttpFetch.
void HttpFetch(EventLoop& loop, HttpClientRequest request, std::function<void(HttpClientResponse)> done);

struct WebSocketClientHandlers {
  std::function<void()> on_open;
  std::function<void(std::string_view text)> on_message;  // text and binary messages alike
  // Exactly once, after on_open or instead of it: `code` is the close code the server sent (1006 when the
  // connection dropped without one, 0 when it never opened); `reason` says what happened.
  std::function<void(uint16_t code, std::string reason)> on_close;
};

struct WebSocketClientOptions {
  TimeDelta handshake_timeout = TimeDelta::Seconds(10);
  size_t max_message_bytes = 1 << 20;
  size_t max_send_queue_bytes = 4 << 20;  // Send() beyond it fails
  TlsClientOptions tls;
};

class WebSocketClient {
 public:
  // Starts connecting to `url` (ws:// or wss://); handlers run on `loop`, never inside Connect().
  static std::unique_ptr<WebSocketClient> Connect(EventLoop& loop, const Url& url,
                                                  WebSocketClientHandlers handlers,
                                                  const WebSocketClientOptions& options = {});
  // Closes at once; no handler runs after the destructor returns.
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // Queues a text message (sent once open). False when closed or the queue is full.
  bool Send(std::string text);
  // Sends the close frame after what is queued; on_close follows.
  void Close(uint16_t code = 1000, std::string_view reason = {});
  bool is_open() const;

  struct State;

 private:
  WebSocketClient() = default;
  std::shared_ptr<State> state_;
};

}  // namespace tandem::net
