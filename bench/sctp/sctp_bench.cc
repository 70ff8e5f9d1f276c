// SCTP association throughput in memory: two associations (a -> z) exchanging packets directly, one reliable
// ordered stream, MTU 1200 (WebRTC's), messages of 64 KiB (what data channel file transfers use) and 1 KiB.
// This measures the whole per-packet path on both sides (chunk building, CRC32c twice, parsing, SACKs,
// reassembly, delivery) without a network. Counters: MB/s of delivered payload and packets/s (a -> z).
#include <benchmark/benchmark.h>

#include <vector>

#include "core/rng.h"
#include "sctp/association.h"

namespace tandem::sctp {
namespace {

struct Pair {
  explicit Pair(bool interleaving)
      : a(MakeOptions(interleaving), rng_a), z(MakeOptions(interleaving), rng_z) {
    a.Connect(now);
    z.Connect(now);
    while (a.state() != State::kEstablished || z.state() != State::kEstablished) Pump();
  }
  static Options MakeOptions(bool interleaving) {
    Options o;
    o.mtu = 1200;
    o.enable_interleaving = interleaving;
    o.max_send_buffer = 64 << 20;
    return o;
  }
  // Moves packets both ways until both are quiet; then lets simulated time reach the next timer.
  void Pump() {
    bool any = false;
    while (auto p = a.PollTransmit(now)) {
      z.HandleReceive(now, *p);
      any = true;
    }
    while (auto p = z.PollTransmit(now)) {
      a.HandleReceive(now, *p);
      any = true;
    }
    while (auto e = z.PollEvent()) {
      if (auto* m = std::get_if<MessageReceivedEvent>(&*e)) delivered_bytes += m->message.payload.size();
    }
    while (a.PollEvent()) {
    }
    if (!any) {
      now = std::max(now, std::min(a.PollTimeout(), z.PollTimeout()));
      if (a.PollTimeout() <= now) a.HandleTimeout(now);
      if (z.PollTimeout() <= now) z.HandleTimeout(now);
    }
  }

  SeededRng rng_a{1}, rng_z{2};
  Timestamp now = Timestamp::Seconds(1);
  Association a, z;
  uint64_t delivered_bytes = 0;
};

void BM_Transfer(benchmark::State& state) {
  const bool interleaving = state.range(0) != 0;
  const size_t message_size = static_cast<size_t>(state.range(1));
  const size_t burst_bytes = 16 << 20;  // per iteration
  Pair pair(interleaving);
  const std::vector<uint8_t> message(message_size, 0x5a);
  const uint64_t packets_before = pair.a.stats().packets_sent;
  uint64_t total = 0;
  for (auto _ : state) {
    const uint64_t target = pair.delivered_bytes + burst_bytes;
    size_t queued = 0;
    while (pair.delivered_bytes < target) {
      // Keep up to 4 MiB queued, as a data channel sender watching bufferedAmount would.
      while (queued < burst_bytes && pair.a.total_buffered_amount() < (4u << 20)) {
        if (!pair.a.Send(pair.now, 1, 53, message).ok()) state.SkipWithError("send failed");
        queued += message_size;
      }
      pair.Pump();
    }
    total += burst_bytes;
  }
  state.SetBytesProcessed(static_cast<int64_t>(total));
  state.counters["packets/s"] = benchmark::Counter(
      static_cast<double>(pair.a.stats().packets_sent - packets_before), benchmark::Counter::kIsRate);
  state.counters["retransmissions"] =
      static_cast<double>(pair.a.stats().retransmissions_fast + pair.a.stats().retransmissions_t3);
}
BENCHMARK(BM_Transfer)
    ->ArgNames({"idata", "msg"})
    ->Args({0, 64 << 10})
    ->Args({1, 64 << 10})
    ->Args({0, 1 << 10})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace tandem::sctp
