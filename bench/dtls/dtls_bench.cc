// DtlsTransport throughput: one application record is Send() on one transport, its datagram handed to the
// other's HandleReceive() and read back with PollApplicationData() — encryption, record framing and
// decryption, no I/O.
#include <benchmark/benchmark.h>

#include <vector>

#include "dtls/dtls_test_pair.h"

namespace {

using tandem::dtls::DtlsTransport;
using tandem::dtls::testing::DtlsPair;

void BM_RecordRoundTrip(benchmark::State& state) {
  DtlsPair pair;
  if (!pair.Handshake()) {
    state.SkipWithError("handshake failed");
    return;
  }
  const std::vector<uint8_t> payload(static_cast<size_t>(state.range(0)), 0x42);
  DtlsTransport& a = pair.client();
  DtlsTransport& b = pair.server();
  for (auto _ : state) {
    if (!a.Send(payload).ok()) state.SkipWithError("send failed");
    auto datagram = a.PollTransmit();
    b.HandleReceive(pair.now, *datagram);
    auto record = b.PollApplicationData();
    benchmark::DoNotOptimize(record);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel(a.negotiated()->cipher_suite);
}
BENCHMARK(BM_RecordRoundTrip)->Arg(100)->Arg(1200)->Arg(16384);

void BM_Handshake(benchmark::State& state) {
  for (auto _ : state) {
    DtlsPair pair;
    if (!pair.Handshake()) state.SkipWithError("handshake failed");
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Handshake)->Unit(benchmark::kMicrosecond);

}  // namespace
