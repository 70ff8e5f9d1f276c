// The load generator's side of the wire: WebSocket client frames (RFC 6455 §5.2, masked as §5.3 requires of a
// client), server frames parsed in place, the HTTP upgrade request (§4.1), and the latency marker that rides
// inside every relayed message.
//
// The marker is plain ASCII that JSON never escapes ("~tl<step>.<send_ns>~"), so it survives any relay that
// parses the frame and serializes it again (tandem re-serializes with nlohmann::json, the Node relay with
// JSON.stringify), whatever the key order. Pure functions, no sockets: sig_load drives them, sig_load_test
// checks them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tandem::bench::sig {

// RFC 6455 §5.2 opcodes.
enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Appends one complete (FIN) client frame carrying `payload`, masked with `mask_key` (RFC 6455 §5.3: every
// frame from a client is masked; the key should be unpredictable, see sig_load's per-connection generator).
void AppendClientFrame(std::string& out, Opcode opcode, std::string_view payload, uint32_t mask_key);

// The same for a payload the caller has already written at the end of `out` starting at `payload_offset`: the
// header is inserted before it and the payload masked in place. Saves a copy of large messages.
void FrameInPlace(std::string& out, size_t payload_offset, Opcode opcode, uint32_t mask_key);

struct ServerFrame {
  Opcode opcode = Opcode::kText;
  bool fin = true;
  std::string_view payload;  // points into the parsed buffer
};

enum class ParseStatus : uint8_t {
  kFrame,     // one frame parsed; `consumed` bytes belong to it
  kNeedMore,  // the buffer ends inside a frame
  kError,     // masked server frame, reserved bits, unknown opcode or payload above the limit
};

// Parses the frame at the start of `data` (RFC 6455 §5.2). A server must not mask (§5.1): a masked frame is
// an error, as is a payload longer than `max_payload`.
ParseStatus ParseServerFrame(std::string_view data, size_t max_payload, ServerFrame& frame, size_t& consumed);

// "GET <target> HTTP/1.1" with the headers of an opening handshake (RFC 6455 §4.1). `key` is the
// Sec-WebSocket-Key (base64 of 16 random bytes).
std::string UpgradeRequest(std::string_view host, std::string_view target, std::string_view key);

// The latency marker: which step a message was sent in and when (CLOCK_MONOTONIC, ns).
struct Marker {
  uint32_t step = 0;
  int64_t send_ns = 0;
};
inline constexpr size_t kMaxMarkerBytes = 40;
// Writes the marker at `out` (room for kMaxMarkerBytes); returns its length.
size_t WriteMarker(char* out, Marker marker);
// The first well-formed marker in `text`.
std::optional<Marker> FindMarker(std::string_view text);

}  // namespace tandem::bench::sig
