// `tandem serve`: every Tandem service in one process: the signaling server with the web UI (HTTP/WebSocket)
// and STUN/TURN. The two share a TURN REST secret (random per run unless --static-auth-secret/--turn-secret
// gives one): the signaling server hands browsers time-limited TURN credentials in /api/ice-servers and the
// welcome frame, and the TURN server verifies them with the secret alone, so no static TURN password exists.
//
// `--dev` gives loopback-friendly defaults for a laptop: HTTP/WS on 127.0.0.1:8080, STUN/TURN on
// 127.0.0.1:3478 (UDP and TCP), relaying to loopback allowed so two local browsers can call in relay mode,
// open token minting and random per-run secrets. Production mode (no --dev) requires --api-key and
// --token-secret and never relays to loopback/private peers unless configured.
//
// Threads: TURN runs its workers (--threads, default one per core) and the signaling server its single loop
// on the main thread; they share nothing at run time.
#include <algorithm>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "core/log.h"
#include "options.h"
#include "server/turn/turn_service.h"
#include "signal_options.h"

namespace tandem::cli {

void AddTurnOptions(OptionParser& parser, server::TurnServiceConfig& config, bool* stun_only);
void PrintTurnSummary(const server::TurnServiceStats& s);

int RunServeCommand(const std::vector<std::string>& args) {
  server::TurnServiceConfig turn;
  turn.threads = std::max(1u, std::thread::hardware_concurrency());
  bool dev = false, stun_only = false;
  std::string turn_listen;
  SignalFlags signal_flags;
  OptionParser parser(
      "serve",
      "All Tandem services in one process: signaling (HTTP/WebSocket) with the web UI, and "
      "STUN/TURN. --cert/--pkey serve HTTPS/WSS and TURN over TLS with the same certificate.");
  parser.Flag("dev",
              "development defaults: loopback only (127.0.0.1:8080 and :3478), TURN relays to loopback, open "
              "token minting, random per-run secrets",
              &dev);
  parser.String("turn-listen", "HOST:PORT", "STUN/TURN UDP+TCP address (dev default 127.0.0.1:3478)",
                &turn_listen);
  AddSignalOptions(parser, signal_flags, /*standalone=*/false);
  AddTurnOptions(parser, turn, &stun_only);
  if (!parser.Parse(args)) return 0;
  if (stun_only) turn.core.enable_turn = false;

  if (!turn_listen.empty()) {
    auto address = SocketAddress::Parse(turn_listen);
    if (!address)
      throw UsageError("--turn-listen: expected HOST:PORT (an IP address), got '" + turn_listen + "'");
    turn.listening_ips = {address->ip()};
    turn.listening_port = address->port();
  }
  if (dev) {
    if (turn.listening_ips.empty()) turn.listening_ips.push_back(IpAddress::LoopbackV4());
    turn.core.peer_policy.allow_loopback = true;
  }
  // One TURN REST secret shared by both servers: --turn-secret, else the first --static-auth-secret, else a
  // fresh random one (the signaling server is then the only issuer of TURN credentials).
  if (!signal_flags.turn_secret.empty()) {
    if (std::find(turn.auth_secrets.begin(), turn.auth_secrets.end(), signal_flags.turn_secret) ==
        turn.auth_secrets.end())
      turn.auth_secrets.insert(turn.auth_secrets.begin(), signal_flags.turn_secret);
  } else if (!turn.auth_secrets.empty()) {
    signal_flags.turn_secret = turn.auth_secrets.front();
  } else {
    signal_flags.turn_secret = RandomSecret();
    turn.auth_secrets.push_back(signal_flags.turn_secret);
  }
  signal_flags.cert_file = turn.cert_file;
  signal_flags.key_file = turn.key_file;
  // Production mode's required flags are checked before anything binds.
  server::SignalServiceConfig signal = BuildSignalConfig(signal_flags, dev, "serve");

  std::unique_ptr<server::TurnService> turn_service;
  std::unique_ptr<server::SignalService> signal_service;
  try {
    turn_service = std::make_unique<server::TurnService>(turn);
    if (signal.core.ice.urls.empty()) {
      signal.core.ice.urls = turn_service->Urls();
      if (!turn.listening_ips.empty() && turn.listening_ips.front().IsUnspecified() && !dev) {
        LOG_WARN("serve",
                 "STUN/TURN listens on a wildcard address: browsers elsewhere need its public address; "
                 "pass --ice-server turn:HOST:PORT (and stun:) URLs");
      }
    }
    signal_service = std::make_unique<server::SignalService>(std::move(signal));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem serve: %s\n", e.what());
    return 1;
  }
  StartSignalWatcher([&] {
    signal_service->Stop();
    turn_service->Stop();
  });
  std::thread turn_thread([&] { turn_service->Run(); });

  const SocketAddress http = signal_service->local_address();
  IpAddress turn_ip = turn.listening_ips.empty() ? IpAddress::AnyV4() : turn.listening_ips.front();
  const uint16_t turn_port =
      turn_service->udp_port() != 0 ? turn_service->udp_port() : turn_service->tcp_port();
  std::printf("Tandem is running%s.\n", dev ? " (development mode)" : "");
  std::printf("  Web + signaling  %s  (API and WebSocket: %s/ws)\n", signal_service->BaseUrl().c_str(),
              signal_service->BaseUrl().c_str());
  std::printf("  STUN/TURN        %s\n", turn_service->ListeningSummary().c_str());
  for (const auto& url : turn_service->Urls()) std::printf("  ICE server       %s\n", url.c_str());
  std::printf(
      "  TURN credentials are minted per browser by /api/ice-servers (time-limited, TURN REST API).\n");
  if (!signal_flags.no_web && signal_flags.config.web_root.empty() &&
      signal_service->embedded_file_count() == 0)
    std::printf("  (no web UI was built in: web/ was empty at build time)\n");
  std::printf("Open %s\n", signal_service->BaseUrl().c_str());
  std::printf("tandem serve ready: http=%s turn=%s\n", http.ToString().c_str(),
              SocketAddress(turn_ip, turn_port).ToString().c_str());
  std::printf("Press Ctrl-C to stop.\n");
  std::fflush(stdout);

  signal_service->Run();
  turn_service->Stop();  // when the signaling loop ended on its own
  turn_thread.join();
  StopSignalWatcher();
  PrintSignalSummary(signal_service->Stats());
  PrintTurnSummary(turn_service->Stats());
  return 0;
}

}  // namespace tandem::cli
