// Signaling-server flags shared by `tandem signal` and `tandem serve`.
#pragma once

#include <string>
#include <vector>

#include "options.h"
#include "server/signal/signal_service.h"

namespace tandem::cli {

struct SignalFlags {
  std::string http_listen;  // HOST:PORT; default 0.0.0.0:8080, with --dev 127.0.0.1:8080
  std::string api_key;
  std::string token_secret;
  std::string turn_secret;
  std::vector<std::string> ice_servers;
  std::string cert_file, key_file;  // `tandem signal` only (`serve` shares TURN's --cert/--pkey)
  bool no_web = false;
  server::SignalServiceConfig config;  // limits are written here directly
};

// Registers the signaling flags. `standalone` adds --cert, --pkey and --log-level (which `serve` already has from
// the TURN flags).
void AddSignalOptions(OptionParser& parser, SignalFlags& flags, bool standalone);

// Completes flags.config for `dev` or production mode: listen address, secrets (random per run in dev), ICE
// servers. Throws UsageError with a clear message when production mode lacks --api-key or --token-secret.
server::SignalServiceConfig BuildSignalConfig(SignalFlags& flags, bool dev, const std::string& command);

// 32 random bytes, base64url: a per-run secret for development mode.
std::string RandomSecret();

// Logs the final counters at exit.
void PrintSignalSummary(const server::SignalServiceStats& stats);

}  // namespace tandem::cli
