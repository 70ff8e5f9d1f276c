// libFuzzer harness for the SDP codec (src/sdp/session_description.h): parse arbitrary text; on success
// serialize, re-parse and require the same model and a stable text, and exercise the helpers. Any mismatch
// aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sdp/session_description.h"

namespace {

using namespace tandem::sdp;  // NOLINT(google-build-using-namespace): harness only

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

void ExerciseHelpers(const SessionDescription& d) {
  volatile size_t sink = 0;
  for (const Group& g : d.groups) {
    for (const std::string& mid : g.mids) FUZZ_CHECK(d.FindMedia(mid) != nullptr);
  }
  for (const MediaDescription& m : d.media) {
    sink = sink + m.media().size() + m.IsRtp() + m.IsSctp() + m.IsRejected();
    for (const RtpCodec& c : m.Codecs()) {
      FUZZ_CHECK(c.payload_type <= 127);
      FUZZ_CHECK(c.clock_rate > 0);
      sink = sink + c.parameters.size() + c.feedback.size();
      sink = sink + FormatFmtpParameters(c.parameters).size();
    }
    for (uint8_t pt : m.PayloadTypes()) FUZZ_CHECK(pt <= 127);
    for (uint32_t ssrc : m.Ssrcs()) sink = sink + m.SsrcAttributeValue(ssrc, "cname").has_value();
    const IceParameters ice = GetIceParameters(d, m);
    FUZZ_CHECK(ice.ufrag.empty() || (ice.ufrag.size() >= 4 && ice.ufrag.size() <= 256));
    FUZZ_CHECK(ice.pwd.empty() || (ice.pwd.size() >= 22 && ice.pwd.size() <= 256));
    for (const Fingerprint& fp : GetFingerprints(d, m)) {
      FUZZ_CHECK(!fp.bytes.empty() && fp.bytes.size() <= Fingerprint::kMaxBytes);
      auto again = Fingerprint::Parse(fp.ToString());
      FUZZ_CHECK(again.ok() && *again == fp);
    }
    sink = sink + static_cast<size_t>(GetDirection(d, m)) + GetSetup(d, m).has_value() +
           GetConnection(d, m).has_value();
    if (!m.mid.empty()) FUZZ_CHECK(d.FindMedia(m.mid) == &m);
  }
  (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const ParseLimits limits;
  auto parsed = Parse(text, limits);
  if (!parsed.ok()) {
    FUZZ_CHECK(!parsed.error().reason.empty());
    FUZZ_CHECK(parsed.error().line_text.size() <= ParseError::kMaxLineText + 3);
    return 0;
  }
  ExerciseHelpers(*parsed);

  // LF becomes CRLF and "msid-semantic:WMS" gains Chromium's space: at most 2 bytes per line, 1 per line
  // length.
  const std::string once = Serialize(*parsed);
  ParseLimits relaxed = limits;
  relaxed.max_size = limits.max_size + 2 * limits.max_lines + 2;
  relaxed.max_line_length = limits.max_line_length + 1;
  auto reparsed = Parse(once, relaxed);
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(*reparsed == *parsed);
  FUZZ_CHECK(Serialize(*reparsed) == once);
  FUZZ_CHECK(!Validate(*parsed, relaxed).has_value());
  return 0;
}
