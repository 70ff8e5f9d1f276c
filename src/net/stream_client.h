// An outgoing TCP or TLS byte stream on an EventLoop: what a TURN client needs to reach its server over TCP
// or TLS (RFC 8656 §3.1). Asio stays in stream_client.cc.
//
// Threading: one loop; handlers run on it, never inside a method call; methods are loop-thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "core/bytes.h"
#include "core/socket_address.h"
#include "core/time.h"

namespace tandem::net {

class EventLoop;

struct StreamClientOptions {
  bool tls = false;
  std::string server_name;  // TLS SNI and the name the certificate must carry (when verify_peer)
  bool verify_peer = true;  // TLS: check the chain against the system CA store and the name
  TimeDelta connect_timeout = TimeDelta::Seconds(10);  // TCP connect and TLS handshake together
  size_t max_send_buffer = 1 << 20;                    // Send() beyond this fails
};

struct StreamClientHandlers {
  // Once: connected (and TLS handshake done) with the local address, or failed with a reason.
  std::function<void(bool ok, const SocketAddress& local, const std::string& error)> on_connected;
  std::function<void(ByteSpan bytes)> on_data;
  // Once, after a successful on_connected, when the stream ends for any reason but Close().
  std::function<void(const std::string& reason)> on_close;
};

class StreamClient {
 public:
  static std::unique_ptr<StreamClient> Connect(EventLoop& loop, const SocketAddress& remote,
                                               const StreamClientOptions& options,
                                               StreamClientHandlers handlers);
  // Closes at once; no handler runs afterwards.
  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Queues bytes (copied). False when not connected, closed, or the queue would exceed max_send_buffer.
  bool Send(ByteSpan bytes);
  // Flushes what is queued, then closes (TLS: close_notify). No handler runs afterwards.
  void Close();
  size_t queued_bytes() const;

  struct State;

 private:
  StreamClient() = default;
  std::shared_ptr<State> state_;
};

}  // namespace tandem::net
