// STUN codec micro-benchmarks: the per-packet work of a TURN server (parse + MESSAGE-INTEGRITY check of an
// authenticated Allocate) and of a STUN server (build a Binding success response).
#include <benchmark/benchmark.h>

#include <vector>

#include "stun/message.h"

namespace tandem::stun {
namespace {

const TransactionId kTid = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

std::vector<uint8_t> AllocateRequest(const std::vector<uint8_t>& key) {
  std::vector<uint8_t> out;
  MessageBuilder(out, Method::kAllocate, MessageClass::kRequest, kTid)
      .AddRequestedTransport(kTransportUdp)
      .AddU32(attr::kLifetime, 600)
      .AddString(attr::kSoftware, "tandem-bench")
      .AddString(attr::kUsername, "1700000000:alice")
      .AddString(attr::kRealm, "example.org")
      .AddString(attr::kNonce, "obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA")
      .AddMessageIntegrity(key)
      .AddFingerprint();
  return out;
}

void BM_ParseAndVerifyAllocate(benchmark::State& state) {
  const std::vector<uint8_t> key = LongTermKey("1700000000:alice", "example.org", "secret");
  const std::vector<uint8_t> msg = AllocateRequest(key);
  for (auto _ : state) {
    auto m = MessageView::Parse(msg);
    bool ok = m.ok() && m->HasValidFingerprint() && m->VerifyMessageIntegrity(key) &&
              m->GetRequestedTransport() == kTransportUdp;
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * msg.size()));
}
BENCHMARK(BM_ParseAndVerifyAllocate);

void BM_ParseOnly(benchmark::State& state) {
  const std::vector<uint8_t> key = LongTermKey("1700000000:alice", "example.org", "secret");
  const std::vector<uint8_t> msg = AllocateRequest(key);
  for (auto _ : state) {
    auto m = MessageView::Parse(msg);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_ParseOnly);

void BM_BuildBindingSuccess(benchmark::State& state) {
  const SocketAddress mapped(IpAddress::V4(0xC6336407u), 49152);
  std::vector<uint8_t> out;
  out.reserve(128);
  for (auto _ : state) {
    ByteSpan b = MessageBuilder(out, Method::kBinding, MessageClass::kSuccessResponse, kTid)
                     .AddXorAddress(attr::kXorMappedAddress, mapped)
                     .AddFingerprint()
                     .Finish();
    benchmark::DoNotOptimize(b.data());
  }
}
BENCHMARK(BM_BuildBindingSuccess);

}  // namespace
}  // namespace tandem::stun
