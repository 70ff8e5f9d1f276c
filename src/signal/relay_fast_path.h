// The signaling server's hot path without a JSON document: an offer, answer or candidate frame
// (docs/signaling.md, "Client → server") recognized by one validating pass over the text, and its relayed
// form written straight from the input bytes.
//
// It is an optimization only, never a second protocol: ScanRelayFrame accepts a strict subset of what
// ParseClientFrame accepts (printable ASCII strings with the escapes nlohmann::json itself writes, integers
// of at most 18 digits, no duplicate key among those it reads, nesting within kMaxJsonDepth) and returns
// nullopt for everything else, including every frame that ParseClientFrame refuses; the caller then takes the
// general path. For every frame it does accept, AppendRelayFrame produces byte for byte what RelayFrame(type,
// from, ParseClientFrame(text).body) produces (keys in nlohmann's sorted order, the same escapes, integers
// re-printed), which the tests and a differential fuzzer (fuzz/signal_relay_fuzzer.cc) check.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "signal/protocol.h"

namespace tandem::signaling {

struct FastRelay {
  // An optional member of the candidate object (RTCIceCandidateInit).
  enum class Presence : uint8_t { kAbsent, kNull, kValue };

  ClientFrame::Type type = ClientFrame::Type::kOffer;  // kOffer, kAnswer or kCandidate
  std::string_view to;                                 // the target peer id (no escapes in it)
  // kOffer / kAnswer: the sdp string's JSON text between its quotes, in nlohmann's own escaping.
  std::string_view sdp;
  // kCandidate: null (end of candidates) or the four relayed members, strings as JSON text between quotes.
  bool candidate_null = false;
  std::string_view candidate;
  Presence sdp_mid = Presence::kAbsent;
  std::string_view sdp_mid_text;
  Presence sdp_mline_index = Presence::kAbsent;
  int64_t sdp_mline_index_value = 0;
  Presence username_fragment = Presence::kAbsent;
  std::string_view username_fragment_text;
};

// The frame when it is a well-formed offer/answer/candidate inside the subset above; nullopt otherwise. The
// views point into `text`.
std::optional<FastRelay> ScanRelayFrame(std::string_view text);

// True when `s` can be written between JSON quotes as it is (printable ASCII, no quote, no backslash).
bool IsPlainJsonText(std::string_view s);

// Appends the relayed frame {"type", "from", <sdp|candidate>} exactly as RelayFrame() would serialize it.
// `from` must satisfy IsPlainJsonText (peer ids always do).
void AppendRelayFrame(std::string& out, const FastRelay& frame, std::string_view from);

}  // namespace tandem::signaling
