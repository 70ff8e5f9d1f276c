// Differential libFuzzer harness for the signaling relay fast path (src/signal/relay_fast_path.h): the input
// is a WebSocket text frame. Whenever ScanRelayFrame takes it, ParseClientFrame must accept it with the same
// type and target, and AppendRelayFrame must produce exactly RelayFrame's bytes. Any disagreement aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "signal/protocol.h"
#include "signal/relay_fast_path.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tandem::signaling;  // NOLINT(google-build-using-namespace): harness only
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<FastRelay> fast = ScanRelayFrame(text);
  if (!fast) return 0;
  const ParsedFrame parsed = ParseClientFrame(text);
  const auto* frame = std::get_if<ClientFrame>(&parsed);
  if (frame == nullptr || frame->type != fast->type || frame->to != std::string(fast->to)) std::abort();
  std::string relayed;
  AppendRelayFrame(relayed, *fast, "p-0123456789ab");
  if (relayed != RelayFrame(frame->type, "p-0123456789ab", frame->body)) std::abort();
  return 0;
}
