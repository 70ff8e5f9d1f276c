// The signaling messages sig_load sends: offers, answers and trickled candidates in the client frame format
// of docs/signaling.md ({"type","to","sdp"} / {"type","to","candidate":{RTCIceCandidateInit}}), with sizes
// drawn per message from configurable ranges and a latency marker (ws_codec.h) at the start of the SDP or
// candidate string. The SDP text is a browser-like offer (audio, video, data channel; RFC 8866 lines) cut to
// length, so a relay that parses and re-serializes the JSON does the work real signaling would cost it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "bench/signaling/ws_codec.h"

namespace tandem::bench::sig {

enum class MessageKind : uint8_t { kOffer, kAnswer, kCandidate };

const char* MessageKindName(MessageKind kind);

struct SizeRange {
  size_t min = 0;
  size_t max = 0;
};

// Relative frequencies and frame sizes (bytes of the JSON text, the WebSocket payload) of the three kinds.
struct MessageMix {
  uint32_t offer_weight = 1;
  uint32_t answer_weight = 1;
  uint32_t candidate_weight = 8;
  SizeRange offer{4000, 6000};
  SizeRange answer{150, 250};
  SizeRange candidate{150, 250};
};

class PayloadFactory {
 public:
  explicit PayloadFactory(const MessageMix& mix);

  // A kind with the mix's frequencies, from a uniform random 64-bit value.
  MessageKind DrawKind(uint64_t random) const;
  // A frame size in the kind's range.
  size_t DrawSize(MessageKind kind, uint64_t random) const;
  // Appends the frame text for peer `to`. It is `size` bytes long when `size` leaves room for the fixed parts
  // (keys, peer id, marker), else as short as those allow; sizes beyond the built-in text are capped.
  void Append(std::string& out, MessageKind kind, std::string_view to, Marker marker, size_t size) const;

  // The largest frame Append can build.
  size_t max_frame_bytes() const;

 private:
  MessageMix mix_;
  std::string sdp_;        // JSON-escaped SDP ("\\r\\n" line ends), longer than any frame
  std::string candidate_;  // candidate-attribute text (RFC 8839 §5.1 grammar), plain ASCII
};

}  // namespace tandem::bench::sig
