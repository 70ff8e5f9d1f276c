// `tandem`: one binary, one subcommand per service.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "options.h"

namespace {

void PrintUsage() {
  std::printf(
      "Usage: tandem <command> [options]\n\n"
      "Commands:\n"
      "  serve     every Tandem service in one process (--dev for loopback defaults)\n"
      "  turn      STUN/TURN server (RFC 8489, RFC 8656) over UDP, TCP and TLS\n"
      "  stun      STUN-only server (Binding, RFC 5780 behaviour discovery)\n"
      "  signal    signaling server: rooms, tokens, WebSocket signaling, HTTP API, web UI\n"
      "  peer      native participant in a room: send/recv files, chat, echo (test peer), call "
      "(audio/video)\n"
      "  media     inspect recordings: decode IVF (VP8) and Ogg Opus files, print what they hold\n"
      "  version   print the version\n\n"
      "Run 'tandem <command> --help' for the options of a command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage();
    return 2;
  }
  std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  try {
    if (command == "turn") return tandem::cli::RunTurnCommand(args, false);
    if (command == "stun") return tandem::cli::RunTurnCommand(args, true);
    if (command == "serve") return tandem::cli::RunServeCommand(args);
    if (command == "signal") return tandem::cli::RunSignalCommand(args);
    if (command == "peer") return tandem::cli::RunPeerCommand(args);
    if (command == "media") return tandem::cli::RunMediaCommand(args);
    if (command == "version" || command == "--version") {
      std::printf("tandem %s\n", TANDEM_VERSION);
      return 0;
    }
    if (command == "help" || command == "--help" || command == "-h") {
      PrintUsage();
      return 0;
    }
    std::fprintf(stderr, "tandem: unknown command '%s'\n\n", command.c_str());
    PrintUsage();
    return 2;
  } catch (const tandem::cli::UsageError& e) {
    std::fprintf(stderr, "tandem %s: %s\nRun 'tandem %s --help' for usage.\n", command.c_str(), e.what(),
                 command.c_str());
    return 2;
  }
}
