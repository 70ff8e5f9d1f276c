// libFuzzer harness for the IVF reader (src/media/ivf.h): open arbitrary bytes, read every frame (views must
// lie inside the input), replay them paced (with looping) on a fake clock, and write what was read back
// through IvfWriter: the rewrite must read back to the same frames.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "media/ivf.h"

namespace {

using namespace tandem;         // NOLINT(google-build-using-namespace): harness only
using namespace tandem::media;  // NOLINT(google-build-using-namespace)

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ByteSpan input(data, size);
  auto reader = IvfReader::Open(input);
  if (!reader) return 0;
  VectorSink sink;
  IvfWriter writer(sink, reader->header());
  std::vector<std::pair<ByteSpan, uint64_t>> frames;
  while (frames.size() < 10000) {
    auto f = reader->ReadFrame();
    if (!f || !*f) break;
    const ByteSpan d = (*f)->data;
    FUZZ_CHECK(d.data() >= data && d.data() + d.size() <= data + size);
    frames.push_back({d, (*f)->pts});
    if (!d.empty()) FUZZ_CHECK(writer.WriteFrame(d, (*f)->pts).ok());
  }
  FUZZ_CHECK(writer.Finish().ok());
  auto again = IvfReader::Open(sink.bytes());
  FUZZ_CHECK(again.ok());
  for (const auto& [d, pts] : frames) {
    if (d.empty()) continue;
    auto f = again->ReadFrame();
    FUZZ_CHECK(f.ok() && f->has_value());
    FUZZ_CHECK((*f)->pts == pts);
    FUZZ_CHECK((*f)->data.size() == d.size());
  }
  // Paced replay with looping: bounded work per poll, time never goes backwards.
  reader->Rewind();
  reader->set_loop(true);
  Timestamp now = Timestamp::Seconds(1);
  for (int i = 0; i < 200; ++i) {
    int n = 0;
    while (reader->PollFrame(now) && n < 100) ++n;
    const Timestamp next = reader->NextDeadline();
    if (next.IsInfinite()) break;
    now = std::max(now + TimeDelta::Millis(1), std::min(next, now + TimeDelta::Seconds(1)));
  }
  return 0;
}
