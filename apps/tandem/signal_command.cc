// `tandem signal`: the signaling server alone (rooms, tokens, WebSocket signaling, HTTP API, web UI); see
// docs/signaling.md. `tandem serve` runs the same server next to STUN/TURN.
#include <cstdio>

#include "commands.h"
#include "core/crypto.h"
#include "core/log.h"
#include "signal/base64url.h"
#include "signal_options.h"

namespace tandem::cli {
namespace {

uint64_t Positive(const std::string& option, const std::string& value, uint64_t max) {
  const uint64_t v = ParseUnsigned(option, value, max);
  if (v == 0) throw UsageError("--" + option + ": must be at least 1");
  return v;
}

}  // namespace

std::string RandomSecret() {
  uint8_t bytes[32];
  crypto::SecureRandomBytes(bytes);
  return signaling::Base64UrlEncode(bytes);
}

void AddSignalOptions(OptionParser& parser, SignalFlags& flags, bool standalone) {
  auto& core = flags.config.core;
  parser.String(
      "http-listen", "HOST:PORT",
      "HTTP/WebSocket address (default 0.0.0.0:8080; with --dev 127.0.0.1:8080; port 0 = ephemeral)",
      &flags.http_listen);
  parser.String("api-key", "KEY",
                "key for POST /api/token (Authorization: Bearer KEY); required without --dev",
                &flags.api_key);
  parser.String("token-secret", "SECRET",
                "HS256 secret that signs room tokens; required without --dev (dev: random)",
                &flags.token_secret);
  parser.String("turn-secret", "SECRET",
                "TURN REST shared secret for the credentials in /api/ice-servers (as the TURN server's "
                "--static-auth-secret)",
                &flags.turn_secret);
  parser.Add({"ice-server", "URL", "stun:/turn:/turns: URL handed to browsers (repeatable)",
              [&flags](const std::string& v) {
                if (v.rfind("stun:", 0) != 0 && v.rfind("stuns:", 0) != 0 && v.rfind("turn:", 0) != 0 &&
                    v.rfind("turns:", 0) != 0)
                  throw UsageError("--ice-server: expected a stun:, stuns:, turn: or turns: URL, got '" + v +
                                   "'");
                flags.ice_servers.push_back(v);
              }});
  parser.Add({"max-peers-per-room", "N", "peers in one room (default 50)", [&core](const std::string& v) {
                core.limits.max_peers_per_room = Positive("max-peers-per-room", v, 100000);
              }});
  parser.Add({"max-peers", "N", "WebSocket peers in total (default 10000)",
              [&core](const std::string& v) { core.limits.max_peers = Positive("max-peers", v, 10000000); }});
  parser.Add({"max-rooms", "N", "rooms in total (default 10000)",
              [&core](const std::string& v) { core.limits.max_rooms = Positive("max-rooms", v, 10000000); }});
  parser.Add({"max-connections-per-ip", "N", "WebSockets from one client IP (default 20)",
              [&core](const std::string& v) {
                core.limits.max_peers_per_ip = Positive("max-connections-per-ip", v, 1000000);
              }});
  parser.Add({"max-message-bytes", "N", "largest WebSocket frame and HTTP body (default 65536)",
              [&core](const std::string& v) {
                core.max_message_bytes = Positive("max-message-bytes", v, 16 << 20);
              }});
  parser.Add({"messages-per-second", "N", "frames per second per peer; burst is twice that (default 50)",
              [&core](const std::string& v) {
                core.limits.messages_per_second =
                    static_cast<uint32_t>(Positive("messages-per-second", v, 1000000));
                core.limits.message_burst = 2 * core.limits.messages_per_second;
              }});
  parser.String("web-root", "DIR", "serve the web UI from DIR instead of the copy built in (development)",
                &flags.config.web_root);
  parser.Flag("no-web", "do not serve the web UI (API and WebSocket only)", &flags.no_web);
  if (standalone) {
    parser.String("cert", "FILE", "PEM certificate chain: serve HTTPS/WSS", &flags.cert_file);
    parser.String("pkey", "FILE", "PEM private key for --cert", &flags.key_file);
    parser.Add(
        {"log-level", "LEVEL", "trace, debug, info (default), warning, error", [](const std::string& v) {
           auto level = log::ParseLevel(v);
           if (!level) throw UsageError("--log-level: unknown level '" + v + "'");
           log::SetLevel(*level);
         }});
  }
}

server::SignalServiceConfig BuildSignalConfig(SignalFlags& flags, bool dev, const std::string& command) {
  server::SignalServiceConfig config = flags.config;
  const std::string listen = !flags.http_listen.empty() ? flags.http_listen
                             : dev                      ? "127.0.0.1:8080"
                                                        : "0.0.0.0:8080";
  auto address = SocketAddress::Parse(listen);
  if (!address) throw UsageError("--http-listen: expected HOST:PORT (an IP address), got '" + listen + "'");
  config.listen = *address;
  config.core.dev = dev;
  if (!dev) {
    if (flags.api_key.empty() || flags.token_secret.empty()) {
      throw UsageError(
          "production mode needs --api-key KEY (for POST /api/token) and --token-secret SECRET (signs room "
          "tokens); run 'tandem " +
          command + " --dev' for a local development server");
    }
    if (flags.token_secret.size() < 16) throw UsageError("--token-secret: use at least 16 characters");
  }
  config.core.api_key = flags.api_key;
  config.core.token_secret = flags.token_secret.empty() ? RandomSecret() : flags.token_secret;
  config.core.ice.urls = flags.ice_servers;
  config.core.ice.turn_secret = flags.turn_secret;
  config.cert_file = flags.cert_file;
  config.key_file = flags.key_file;
  config.serve_web = !flags.no_web;
  bool has_turn_url = false;
  for (const auto& url : flags.ice_servers) has_turn_url |= url.rfind("turn", 0) == 0;
  if (has_turn_url && flags.turn_secret.empty()) {
    LOG_WARN("signal", "--ice-server turn: URLs need --turn-secret; they are left out of /api/ice-servers");
  }
  return config;
}

int RunSignalCommand(const std::vector<std::string>& args) {
  bool dev = false;
  SignalFlags flags;
  OptionParser parser("signal",
                      "Signaling server: rooms, access tokens (JWT), WebSocket signaling and the HTTP API of "
                      "docs/signaling.md, plus the web UI.");
  parser.Flag("dev", "development defaults: 127.0.0.1:8080, open token minting, random per-run secrets",
              &dev);
  AddSignalOptions(parser, flags, /*standalone=*/true);
  if (!parser.Parse(args)) return 0;
  server::SignalServiceConfig config = BuildSignalConfig(flags, dev, "signal");

  std::unique_ptr<server::SignalService> service;
  try {
    service = std::make_unique<server::SignalService>(std::move(config));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem signal: %s\n", e.what());
    return 1;
  }
  StartSignalWatcher([&service] { service->Stop(); });
  std::printf("tandem signal ready: http=%s\n", service->local_address().ToString().c_str());
  std::printf("Open %s\n", service->BaseUrl().c_str());
  std::fflush(stdout);
  service->Run();
  StopSignalWatcher();
  PrintSignalSummary(service->Stats());
  return 0;
}

void PrintSignalSummary(const server::SignalServiceStats& s) {
  const auto& c = s.core;
  LOG_INFO("signal", "stats: joined=" << c.peers_joined << " left=" << c.peers_left
                                      << " refused_upgrades=" << c.upgrades_refused
                                      << " frames_in=" << c.frames_received << " frames_out=" << c.frames_sent
                                      << " refused_frames=" << c.frames_refused << " rate_limited="
                                      << c.frames_rate_limited << " timeouts=" << c.peers_timed_out
                                      << " api_requests=" << c.api_requests
                                      << " slow_readers_closed=" << s.http.slow_readers_closed);
}

}  // namespace tandem::cli
