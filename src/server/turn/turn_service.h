// `tandem turn`: the STUN/TURN server process. Wires one sans-IO turn::TurnServer per worker thread to the IO layer
// (UDP listeners with SO_REUSEPORT so the kernel keeps a client's flow on one worker, TCP/TLS listeners, one UDP
// socket per relayed address). Workers share nothing but read-only configuration, the credential store and the
// allocation quota.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/socket_address.h"
#include "turn/server.h"

namespace tandem::server {

struct TurnServiceConfig {
  std::vector<IpAddress> listening_ips;  // default: 0.0.0.0
  uint16_t listening_port = 3478;        // UDP and TCP; 0 = ephemeral (same number for both)
  uint16_t tls_listening_port = 5349;    // 0 = ephemeral; used only when a certificate is given
  std::optional<uint16_t> alt_listening_port;  // RFC 5780 alternate port (with a second listening IP)
  std::vector<IpAddress> relay_ips;      // at most one IPv4 and one IPv6; default: the listening IPs
  uint16_t min_port = 49152;
  uint16_t max_port = 65535;
  bool udp = true;
  bool tcp = true;
  bool tls = true;
  std::string cert_file;
  std::string key_file;
  size_t threads = 1;

  std::vector<std::pair<std::string, std::string>> users;  // static long-term credentials
  std::vector<std::string> auth_secrets;                     // time-limited credentials
  uint32_t total_quota = 0;                                  // 0 = unlimited
  uint32_t user_quota = 0;

  turn::ServerConfig core;  // realm, lifetimes, peer policy, limits
};

// Totals over all workers.
struct TurnServiceStats {
  turn::ServerStats core;
  uint64_t relay_sockets_open = 0;
  uint64_t relay_bind_failures = 0;
  uint64_t stream_connections = 0;
  // RFC 6062.
  uint64_t tcp_relays_open = 0;       // TCP relayed transport addresses (listeners)
  uint64_t tcp_peer_connections = 0;  // peer connections held or handed over, as the owners' cores know them
  uint64_t tcp_pipes_active = 0;      // client data connection <-> peer connection splices
  uint64_t tcp_bytes_piped = 0;       // bytes read from peer connections and client data connections
  uint64_t tcp_pipes_opened = 0;
  uint64_t tcp_pipes_cross_worker = 0;  // of which the peer connection moved from another worker
};

class TurnService {
 public:
  // Binds every listener (throws std::runtime_error with a clear message on failure: a startup error).
  explicit TurnService(TurnServiceConfig config);
  ~TurnService();

  // One line: "udp=IP:PORT tcp=IP:PORT tls=IP:PORT" for the first listening IP.
  std::string ListeningSummary() const;
  std::vector<std::string> Urls() const;  // stun:/turn:/turns: URLs
  uint16_t udp_port() const;
  uint16_t tcp_port() const;
  uint16_t tls_port() const;

  // Runs the workers on the calling thread plus threads-1 others until Stop().
  void Run();
  void Stop();  // thread-safe
  TurnServiceStats Stats() const;  // thread-safe snapshot (relaxed)

 private:
  class Worker;
  struct Shared;
  TurnServiceConfig config_;
  std::unique_ptr<Shared> shared_;
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace tandem::server
