// `tandem serve`: every Tandem service in one process. `--dev` gives loopback-friendly defaults for a laptop:
// STUN/TURN on 127.0.0.1:3478 (UDP and TCP), relaying to loopback allowed so two local browsers can call in relay
// mode, and a development TURN credential printed at start. Production mode (no --dev) requires explicit
// credentials and never relays to loopback/private peers unless configured.
#include <algorithm>
#include <cstdio>
#include <thread>

#include "commands.h"
#include "core/crypto.h"
#include "options.h"
#include "server/turn/turn_service.h"

namespace tandem::cli {

void AddTurnOptions(OptionParser& parser, server::TurnServiceConfig& config, bool* stun_only);
void PrintTurnSummary(const server::TurnServiceStats& s);

int RunServeCommand(const std::vector<std::string>& args) {
  server::TurnServiceConfig turn;
  turn.threads = std::max(1u, std::thread::hardware_concurrency());
  bool dev = false, stun_only = false;
  std::string turn_listen;
  OptionParser parser("serve",
                      "All Tandem services in one process. Landed so far: STUN/TURN. The signaling server, web "
                      "pages and media server join this command as they land.");
  parser.Flag("dev", "development defaults: loopback only, TURN relays to loopback, a printed dev credential", &dev);
  parser.String("turn-listen", "HOST:PORT", "STUN/TURN UDP+TCP address (dev default 127.0.0.1:3478)", &turn_listen);
  AddTurnOptions(parser, turn, &stun_only);
  if (!parser.Parse(args)) return 0;
  if (stun_only) turn.core.enable_turn = false;

  if (!turn_listen.empty()) {
    auto address = SocketAddress::Parse(turn_listen);
    if (!address) {
      std::fprintf(stderr, "tandem serve: --turn-listen: expected HOST:PORT, got '%s'\n", turn_listen.c_str());
      return 2;
    }
    turn.listening_ips = {address->ip()};
    turn.listening_port = address->port();
  }
  std::string dev_user, dev_password;
  if (dev) {
    if (turn.listening_ips.empty()) turn.listening_ips.push_back(IpAddress::LoopbackV4());
    turn.core.peer_policy.allow_loopback = true;
    if (turn.users.empty() && turn.auth_secrets.empty()) {
      // A fresh random password per run: dev mode is convenient, not open.
      uint8_t random[9];
      crypto::SecureRandomBytes(random);
      dev_user = "tandem";
      dev_password = crypto::Base64Encode(random);
      turn.users.emplace_back(dev_user, dev_password);
    }
  }

  std::unique_ptr<server::TurnService> service;
  try {
    service = std::make_unique<server::TurnService>(turn);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tandem serve: %s\n", e.what());
    return 1;
  }
  StartSignalWatcher([&service] { service->Stop(); });
  std::printf("Tandem is running%s.\n", dev ? " (development mode)" : "");
  std::printf("  STUN/TURN   %s\n", service->ListeningSummary().c_str());
  for (const auto& url : service->Urls()) std::printf("  ICE server  %s\n", url.c_str());
  if (!dev_user.empty()) {
    std::printf("  TURN credential (this run only): username %s  password %s\n", dev_user.c_str(),
                dev_password.c_str());
  }
  std::printf("Press Ctrl-C to stop.\n");
  std::fflush(stdout);
  service->Run();
  StopSignalWatcher();
  PrintTurnSummary(service->Stats());
  return 0;
}

}  // namespace tandem::cli
