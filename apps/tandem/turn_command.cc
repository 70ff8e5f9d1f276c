// `tandem turn` (and `tandem stun`): the STUN/TURN server. Flag names follow coturn's turnserver where they mean
// the same thing, so existing deployments can switch with few changes.
#include <cstdio>
#include <algorithm>
#include <thread>

#include "commands.h"
#include "core/log.h"
#include "options.h"
#include "server/turn/turn_service.h"

namespace tandem::cli {
namespace {

IpAddress ParseIp(const std::string& option, const std::string& value) {
  auto ip = IpAddress::Parse(value);
  if (!ip) throw UsageError("--" + option + ": not an IP address: '" + value + "'");
  return *ip;
}

// "10.0.0.0/8", "fd00::/8" or a single address.
turn::AddressRange ParseRange(const std::string& option, const std::string& value) {
  size_t slash = value.find('/');
  IpAddress ip = ParseIp(option, value.substr(0, slash));
  int max = ip.is_v4() ? 32 : 128;
  int len = max;
  if (slash != std::string::npos) len = static_cast<int>(ParseUnsigned(option, value.substr(slash + 1), max));
  return {ip, len};
}

}  // namespace

// Registers the STUN/TURN options on `parser`, writing into `config`. Shared by `tandem turn` and `tandem serve`.
void AddTurnOptions(OptionParser& parser, server::TurnServiceConfig& config, bool* stun_only) {
  parser.Add({"listening-ip", "IP", "address to listen on (repeatable; default 0.0.0.0)",
              [&](const std::string& v) { config.listening_ips.push_back(ParseIp("listening-ip", v)); }});
  parser.Add({"listening-port", "PORT", "UDP and TCP port for STUN/TURN (default 3478; 0 = ephemeral)",
              [&](const std::string& v) {
                config.listening_port = static_cast<uint16_t>(ParseUnsigned("listening-port", v, 65535));
              }});
  parser.Add({"tls-listening-port", "PORT", "TLS port (default 5349; needs --cert/--pkey; 0 = ephemeral)",
              [&](const std::string& v) {
                config.tls_listening_port = static_cast<uint16_t>(ParseUnsigned("tls-listening-port", v, 65535));
              }});
  parser.Add({"alt-listening-port", "PORT",
              "RFC 5780 alternate port (with two --listening-ip: enables NAT behaviour discovery)",
              [&](const std::string& v) {
                config.alt_listening_port = static_cast<uint16_t>(ParseUnsigned("alt-listening-port", v, 65535));
              }});
  parser.Add({"relay-ip", "IP", "address relayed transport addresses are bound on (one IPv4, one IPv6)",
              [&](const std::string& v) { config.relay_ips.push_back(ParseIp("relay-ip", v)); }});
  parser.Add({"min-port", "PORT", "lowest relay port (default 49152)", [&](const std::string& v) {
                config.min_port = static_cast<uint16_t>(ParseUnsigned("min-port", v, 65535));
              }});
  parser.Add({"max-port", "PORT", "highest relay port (default 65535)", [&](const std::string& v) {
                config.max_port = static_cast<uint16_t>(ParseUnsigned("max-port", v, 65535));
              }});
  parser.Add({"realm", "REALM", "long-term credential realm (default 'tandem')",
              [&](const std::string& v) { config.core.realm = v; }});
  parser.Add({"user", "NAME:PASS", "a static long-term credential (repeatable)", [&](const std::string& v) {
                size_t colon = v.find(':');
                if (colon == std::string::npos || colon == 0)
                  throw UsageError("--user: expected NAME:PASSWORD");
                config.users.emplace_back(v.substr(0, colon), v.substr(colon + 1));
              }});
  parser.Add({"use-auth-secret", "", "accept time-limited credentials (TURN REST API; needs --static-auth-secret)",
              [](const std::string&) {}});
  parser.Add({"static-auth-secret", "SECRET",
              "shared secret for time-limited credentials: user 'expiry:name', password "
              "base64(HMAC-SHA1(secret, user)) (repeatable, for rotation)",
              [&](const std::string& v) {
                if (v.empty()) throw UsageError("--static-auth-secret: empty secret");
                config.auth_secrets.push_back(v);
              }});
  parser.Add({"cert", "FILE", "PEM certificate chain for TLS", [&](const std::string& v) { config.cert_file = v; }});
  parser.Add({"pkey", "FILE", "PEM private key for TLS", [&](const std::string& v) { config.key_file = v; }});
  parser.Add({"threads", "N", "worker threads, one event loop each (default: number of cores)",
              [&](const std::string& v) { config.threads = ParseUnsigned("threads", v, 256); }});
  parser.Alias("relay-threads", "threads");
  parser.Add({"no-udp", "", "do not listen on UDP", [&](const std::string&) { config.udp = false; }});
  parser.Add({"no-tcp", "", "do not listen on TCP", [&](const std::string&) { config.tcp = false; }});
  parser.Add({"no-tls", "", "do not listen on TLS", [&](const std::string&) { config.tls = false; }});
  parser.Add({"allow-loopback-peers", "", "allow relaying to loopback addresses (refused by default)",
              [&](const std::string&) { config.core.peer_policy.allow_loopback = true; }});
  parser.Add({"allow-private-peers", "", "allow relaying to private/ULA/CGNAT addresses (refused by default)",
              [&](const std::string&) { config.core.peer_policy.allow_private = true; }});
  parser.Add({"allowed-peer-ip", "CIDR", "always allow relaying to this range (repeatable)",
              [&](const std::string& v) {
                config.core.peer_policy.allowed.push_back(ParseRange("allowed-peer-ip", v));
              }});
  parser.Add({"denied-peer-ip", "CIDR", "never relay to this range (repeatable)", [&](const std::string& v) {
                config.core.peer_policy.denied.push_back(ParseRange("denied-peer-ip", v));
              }});
  parser.Add({"total-quota", "N", "maximum allocations in total (default unlimited)", [&](const std::string& v) {
                config.total_quota = static_cast<uint32_t>(ParseUnsigned("total-quota", v, UINT32_MAX));
              }});
  parser.Add({"user-quota", "N", "maximum allocations per user (default unlimited)", [&](const std::string& v) {
                config.user_quota = static_cast<uint32_t>(ParseUnsigned("user-quota", v, UINT32_MAX));
              }});
  parser.Add({"max-bps", "BYTES", "bandwidth cap per allocation in bytes/s (default unlimited)",
              [&](const std::string& v) {
                config.core.bandwidth_bytes_per_second_per_allocation = ParseUnsigned("max-bps", v, UINT64_MAX);
              }});
  parser.Add({"max-allocate-lifetime", "SECONDS", "cap on allocation lifetime (default 3600)",
              [&](const std::string& v) {
                config.core.max_lifetime =
                    TimeDelta::Seconds(static_cast<int64_t>(ParseUnsigned("max-allocate-lifetime", v, 86400)));
              }});
  parser.Add({"stale-nonce", "SECONDS", "nonce lifetime (default 600)", [&](const std::string& v) {
                config.core.nonce_lifetime =
                    TimeDelta::Seconds(static_cast<int64_t>(ParseUnsigned("stale-nonce", v, 86400)));
              }});
  parser.Add({"unauth-rate", "N",
              "unauthenticated requests per second per client IP (IPv6: per /64) before dropping (default 50; "
              "raise it when many users share one NAT address; 0 = unlimited)",
              [&](const std::string& v) {
                config.core.unauthenticated_requests_per_second_per_ip =
                    static_cast<uint32_t>(ParseUnsigned("unauth-rate", v, 1000000));
              }});
  parser.Add({"software", "TEXT", "SOFTWARE attribute value (empty to omit)",
              [&](const std::string& v) { config.core.software = v; }});
  parser.Add({"stun-only", "", "answer STUN Binding only; refuse TURN", [stun_only](const std::string&) {
                *stun_only = true;
              }});
  parser.Add({"log-level", "LEVEL", "trace, debug, info (default), warning, error", [](const std::string& v) {
                auto level = log::ParseLevel(v);
                if (!level) throw UsageError("--log-level: unknown level '" + v + "'");
                log::SetLevel(*level);
              }});
  // coturn flags that are our defaults anyway: accepted so that turnserver.conf files load.
  for (const char* noop : {"fingerprint", "lt-cred-mech", "no-cli", "no-dtls"}) {
    parser.Add({noop, "", "accepted for coturn compatibility (always on / not applicable)",
                [](const std::string&) {}});
  }
}

void PrintTurnSummary(const server::TurnServiceStats& s) {
  const auto& c = s.core;
  LOG_INFO("turn", "stats: bindings=" << c.binding_requests << " allocations_created=" << c.allocations_created
                                      << " expired=" << c.allocations_expired << " relayed_c2p="
                                      << c.packets_client_to_peer << " relayed_p2c=" << c.packets_peer_to_client
                                      << " auth_failures=" << c.auth_failures << " dropped_malformed="
                                      << c.dropped_malformed << " peer_refused=" << c.peer_refused);
}

int RunTurnCommand(const std::vector<std::string>& args, bool stun_only) {
  server::TurnServiceConfig config;
  config.threads = std::max(1u, std::thread::hardware_concurrency());
  OptionParser parser(stun_only ? "stun" : "turn",
                      stun_only ? "STUN server (RFC 8489 Binding, RFC 5780 behaviour discovery) over UDP/TCP/TLS."
                                : "STUN/TURN server (RFC 8489, RFC 8656, RFC 6062) over UDP, TCP and TLS.");
  AddTurnOptions(parser, config, &stun_only);
  if (!parser.Parse(args)) return 0;
  if (stun_only) config.core.enable_turn = false;

  std::unique_ptr<server::TurnService> service;
  try {
    service = std::make_unique<server::TurnService>(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem %s: %s\n", stun_only ? "stun" : "turn", e.what());
    return 1;
  }
  StartSignalWatcher([&service] { service->Stop(); });
  std::printf("tandem %s ready: %s\n", stun_only ? "stun" : "turn", service->ListeningSummary().c_str());
  std::fflush(stdout);
  service->Run();
  StopSignalWatcher();
  PrintTurnSummary(service->Stats());
  return 0;
}

}  // namespace tandem::cli
