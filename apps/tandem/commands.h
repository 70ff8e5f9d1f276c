// The `tandem` subcommands.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace tandem::cli {

int RunTurnCommand(const std::vector<std::string>& args, bool stun_only);
int RunServeCommand(const std::vector<std::string>& args);
int RunSignalCommand(const std::vector<std::string>& args);
int RunPeerCommand(const std::vector<std::string>& args);
int RunMediaCommand(const std::vector<std::string>& args);

// Blocks SIGINT/SIGTERM in the calling thread (so threads started later inherit the mask) and runs
// `on_signal` on a dedicated thread when one arrives. Call StopSignalWatcher() before exit.
void StartSignalWatcher(std::function<void()> on_signal);
void StopSignalWatcher();

}  // namespace tandem::cli
