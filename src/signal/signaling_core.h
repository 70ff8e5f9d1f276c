// The signaling server as a sans-IO state machine (docs/signaling.md). The driver feeds it WebSocket upgrade
// requests, frames, pongs, closes, HTTP API requests and timeouts, each with `now`; the core answers HTTP requests
// directly and queues everything else as Outputs (send this text to that connection, ping it, close it), which the
// driver drains with PollOutput() after every input. It opens no sockets and reads no clock: monotonic time
// (liveness, rate limits) and wall time (token and credential expiry) are parameters, randomness is an injected
// Rng.
//
// The composition is thin on purpose: tokens (token.h), frame parsing and building (protocol.h), rooms and
// admission limits (room_registry.h), liveness (liveness.h) and ICE servers (ice_servers.h) are separate pieces.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/rng.h"
#include "core/socket_address.h"
#include "core/time.h"
#include "signal/errors.h"
#include "signal/ice_servers.h"
#include "signal/liveness.h"
#include "signal/room_registry.h"
#include "signal/token.h"

namespace tandem::signaling {

struct SignalConfig {
  // --dev: POST /api/token and GET /api/ice-servers need no credentials.
  bool dev = false;
  std::string token_secret;  // required (the constructor throws std::invalid_argument without one)
  // Bearer key for POST /api/token. Empty outside dev mode: minting is refused (the service refuses to start).
  std::string api_key;
  IceServersConfig ice;
  RegistryLimits limits;
  size_t max_message_bytes = 64 * 1024;  // WebSocket frame and HTTP body
  TimeDelta ping_interval = TimeDelta::Seconds(20);
  TimeDelta liveness_timeout = TimeDelta::Seconds(60);
  int64_t default_token_ttl_seconds = 3600;
  TokenLimits token_limits;  // max_lifetime_seconds caps the ttl a client may ask for
};

struct Output {
  enum class Kind : uint8_t {
    kSend,   // a text frame
    kPing,   // a WebSocket ping (RFC 6455 §5.5.2)
    kClose,  // flush what was queued before, then close with close_code
  };
  Kind kind = Kind::kSend;
  ConnectionId connection = 0;
  // Shared by every recipient of a broadcast: serialized once.
  std::shared_ptr<const std::string> text;
  CloseCode close_code = CloseCode::kPolicy;
  const char* reason = "";  // static; the close frame's reason (≤ 123 bytes, RFC 6455 §5.5)
};

struct ApiRequest {
  std::string_view method;         // "GET", "POST", ...
  std::string_view target;         // path and query, as on the request line
  std::string_view authorization;  // the Authorization header, empty when absent
  std::string_view body;
  IpAddress client;
};

struct ApiResponse {
  int status = 200;
  std::string body;         // JSON
  const char* allow = "";   // Allow header for 405
};

struct SignalStats {
  uint64_t peers_joined = 0;
  uint64_t peers_left = 0;
  uint64_t upgrades_refused = 0;
  uint64_t frames_received = 0;
  uint64_t frames_refused = 0;  // answered with an error frame (rate-limited ones included)
  uint64_t frames_rate_limited = 0;
  uint64_t frames_sent = 0;     // Send outputs, broadcasts counted per recipient
  uint64_t peers_timed_out = 0;
  uint64_t peers_closed_by_server = 0;  // too_large, rate abuse, timeout
  uint64_t api_requests = 0;
  uint64_t api_messages_delivered = 0;
  uint64_t tokens_minted = 0;
};

class SignalingCore {
 public:
  SignalingCore(SignalConfig config, Rng& rng);
  ~SignalingCore();
  SignalingCore(const SignalingCore&) = delete;
  SignalingCore& operator=(const SignalingCore&) = delete;

  // True for paths the core answers through HandleApi (/api/..., /healthz); the driver serves the rest (static
  // files, the /ws upgrade).
  static bool IsApiPath(std::string_view path);

  // A WebSocket upgrade request for `target` ("/ws?token=..."). On success the connection is a peer of the
  // token's room: a welcome is queued for it and peer-joined for the others, and nullopt is returned (the driver
  // completes the handshake and sends the queued frames after it). Otherwise the HTTP refusal to answer with.
  std::optional<ApiResponse> HandleUpgrade(Timestamp now, UnixTime wall, ConnectionId connection,
                                           const IpAddress& client, std::string_view target);
  // One complete WebSocket message.
  void HandleFrame(Timestamp now, ConnectionId connection, std::string_view text, bool binary = false);
  // The IO layer stopped reading a message above max_message_bytes: error frame, close 4009.
  void HandleFrameTooLarge(Timestamp now, ConnectionId connection);
  void HandlePong(Timestamp now, ConnectionId connection);
  // The connection is gone (closed by the client, an IO error, or after a Close output). Unknown ids are ignored.
  void HandleClosed(Timestamp now, ConnectionId connection);
  ApiResponse HandleApi(Timestamp now, UnixTime wall, const ApiRequest& request);

  void HandleTimeout(Timestamp now);
  // Infinity() when nothing is scheduled.
  Timestamp NextTimeout() const;
  std::optional<Output> PollOutput();

  // Shutdown: closes every peer with 1001 (no peer-left: everyone is leaving).
  void CloseAll();

  const SignalStats& stats() const { return stats_; }
  size_t peer_count() const { return registry_.peer_count(); }
  size_t room_count() const { return registry_.room_count(); }
  const SignalConfig& config() const { return config_; }
  // For tests and tools: the codec that mints and verifies this server's tokens.
  const TokenCodec& tokens() const { return tokens_; }

 private:
  void Send(ConnectionId connection, std::shared_ptr<const std::string> text);
  void Send(ConnectionId connection, std::string text);
  void ClosePeer(ConnectionId connection, CloseCode code, const char* reason);
  void RemovePeer(ConnectionId connection, bool announce);
  void RouteFrame(Timestamp now, Peer& from, std::string_view text);

  ApiResponse MintToken(UnixTime wall, const ApiRequest& request);
  ApiResponse IceServers(UnixTime wall, const ApiRequest& request);
  ApiResponse Presence(UnixTime wall, const ApiRequest& request, std::string_view room);
  ApiResponse PostMessage(Timestamp now, UnixTime wall, const ApiRequest& request, std::string_view room);

  SignalConfig config_;
  Rng& rng_;
  TokenCodec tokens_;
  RoomRegistry registry_;
  Liveness liveness_;
  std::deque<Output> outputs_;
  SignalStats stats_;
};

}  // namespace tandem::signaling
