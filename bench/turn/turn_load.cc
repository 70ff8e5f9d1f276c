// turn_load: a TURN relay and STUN Binding load generator that is not the bottleneck of what it measures.
//
//   turn_load relay   --server 127.0.0.1:3478 --user u --password p --allocations 100 --rate 20000,40000 ...
//   turn_load binding --server 127.0.0.1:3478 --sockets 8 --rate 0   (0 = closed loop: the maximum answered rate)
//
// Plain non-blocking sockets, epoll, sendmmsg/recvmmsg; one worker thread per --threads, each owning a disjoint set
// of sockets and allocations. The coordinating thread only sleeps, prints the measurement-window markers
// ("@measure_start K" / "@measure_end K", so that a wrapper can sample the server's CPU time exactly over the
// window), reads the kernel's per-socket drop counters and prints results: a human-readable table on stderr and one
// JSON object per line on stdout.
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench/turn/load_worker.h"
#include "core/crypto.h"

namespace tandem::bench {
namespace {

void Usage() {
  std::fprintf(stderr, R"(usage: turn_load relay|binding [options]
common:
  --server IP:PORT       TURN/STUN server (default 127.0.0.1:3478)
  --local-ip IP          address the tool's sockets bind to (default: loopback of the server's family)
  --rate R[,R...]        relay: offered packets/s in EACH direction; binding: requests/s, 0 = closed loop.
                         Several values run as consecutive steps over the same allocations/sockets.
  --duration S           measurement window per step (default 5)
  --warmup S             traffic before each window, not counted (default 1)
  --drain S              quiet time after each window for packets in flight (default 0.3)
  --threads N            worker threads, each owning a disjoint share (default 1)
  --slice-us US          pacing slice (default 1000)
  --stop-loss PCT        stop stepping after a step loses more than PCT%% (default 0 = run all steps)
  --rcvbuf BYTES         receive buffer of the tool's sockets (default 4194304)
  --quiet                no human-readable table on stderr
relay:
  --user U --password P  long-term credentials (default u / p)
  --secret S             TURN REST credentials instead: user "expiry:loadN", password base64(HMAC-SHA1(S, user))
  --allocations N        allocations, one client socket each (default 100)
  --peers N              peer sockets, shared round-robin by the allocations (default 32)
  --size BYTES           payload per packet, >= 28 (default 200)
  --direction both|c2p|p2c  (default both)
  --setup-window N       allocations being set up concurrently (default 256)
  --setup-timeout S      (default 30)
  --hold S               after set-up, print "@ready" and wait S seconds before traffic (default 0)
  --no-dealloc           do not delete the allocations at the end
  --reuse-nonce          once one allocation has a REALM and NONCE, start the others authenticated with them
                         (no unauthenticated Allocate per allocation; a server that rejects the NONCE answers
                         438 or 401 and the allocation retries with its own)
  --gso                  send the datagrams one socket sends to one address within a slice with UDP GSO: the
                         kernel splits them, the server still receives separate datagrams (unless it enabled
                         UDP_GRO, which would make the comparison unfair: do not use --gso then). Cuts the
                         tool's send cost when allocations get several datagrams per slice.
binding:
  --sockets K            client sockets (default 8)
  --window W             closed loop: outstanding requests per socket (default 16)
  --timeout-ms MS        closed loop: a request unanswered this long counts as lost (default 200)
)");
}

bool ParseDouble(std::string_view s, double& out) {
  std::string tmp(s);
  char* end = nullptr;
  out = std::strtod(tmp.c_str(), &end);
  return end != tmp.c_str() && *end == '\0';
}

bool ParseArgs(int argc, char** argv, Config& cfg) {
  if (argc < 2) return false;
  std::string_view mode = argv[1];
  if (mode == "relay") {
    cfg.mode = Mode::kRelay;
  } else if (mode == "binding") {
    cfg.mode = Mode::kBinding;
  } else {
    return false;
  }
  std::string server = "127.0.0.1:3478", local_ip;
  for (int i = 2; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string value;
    if (arg == "--quiet") {
      cfg.quiet = true;
      continue;
    }
    if (arg == "--reuse-nonce") {
      cfg.reuse_nonce = true;
      continue;
    }
    if (arg == "--gso") {
      cfg.gso = true;
      continue;
    }
    if (arg == "--no-dealloc") {
      cfg.dealloc = false;
      continue;
    }
    if (auto eq = arg.find('='); eq != std::string_view::npos) {
      value = std::string(arg.substr(eq + 1));
      arg = arg.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "missing value for %.*s\n", static_cast<int>(arg.size()), arg.data());
      return false;
    }
    double num = 0;
    const bool is_num = ParseDouble(value, num);
    auto need_num = [&]() {
      if (!is_num) std::fprintf(stderr, "bad number for %.*s: %s\n", static_cast<int>(arg.size()), arg.data(),
                                value.c_str());
      return is_num;
    };
    if (arg == "--server") {
      server = value;
    } else if (arg == "--local-ip") {
      local_ip = value;
    } else if (arg == "--user") {
      cfg.user = value;
    } else if (arg == "--password") {
      cfg.password = value;
    } else if (arg == "--secret") {
      cfg.secret = value;
    } else if (arg == "--rate") {
      cfg.rates.clear();
      size_t pos = 0;
      while (pos <= value.size()) {
        size_t comma = value.find(',', pos);
        if (comma == std::string::npos) comma = value.size();
        double r = 0;
        if (!ParseDouble(std::string_view(value).substr(pos, comma - pos), r) || r < 0) {
          std::fprintf(stderr, "bad --rate %s\n", value.c_str());
          return false;
        }
        cfg.rates.push_back(r);
        pos = comma + 1;
      }
    } else if (arg == "--direction") {
      cfg.c2p = value == "both" || value == "c2p";
      cfg.p2c = value == "both" || value == "p2c";
      if (!cfg.c2p && !cfg.p2c) return false;
    } else if (!need_num()) {
      return false;
    } else if (arg == "--allocations") {
      cfg.allocations = static_cast<uint32_t>(num);
    } else if (arg == "--peers") {
      cfg.peers = static_cast<uint32_t>(num);
    } else if (arg == "--size") {
      cfg.size = static_cast<uint32_t>(num);
    } else if (arg == "--duration") {
      cfg.duration_s = num;
    } else if (arg == "--warmup") {
      cfg.warmup_s = num;
    } else if (arg == "--drain") {
      cfg.drain_s = num;
    } else if (arg == "--threads") {
      cfg.threads = static_cast<uint32_t>(num);
    } else if (arg == "--setup-window") {
      cfg.setup_window = static_cast<uint32_t>(num);
    } else if (arg == "--setup-timeout") {
      cfg.setup_timeout_s = num;
    } else if (arg == "--sockets") {
      cfg.sockets = static_cast<uint32_t>(num);
    } else if (arg == "--window") {
      cfg.window = static_cast<uint32_t>(num);
    } else if (arg == "--slice-us") {
      cfg.slice_ns = static_cast<int64_t>(num * 1000);
    } else if (arg == "--hold") {
      cfg.hold_s = num;
    } else if (arg == "--stop-loss") {
      cfg.stop_loss_pct = num;
    } else if (arg == "--rcvbuf") {
      cfg.rcvbuf = static_cast<int>(num);
    } else if (arg == "--timeout-ms") {
      cfg.timeout_ns = static_cast<int64_t>(num * 1e6);
    } else {
      std::fprintf(stderr, "unknown option %.*s\n", static_cast<int>(arg.size()), arg.data());
      return false;
    }
  }
  auto addr = SocketAddress::Parse(server);
  if (!addr) {
    std::fprintf(stderr, "bad --server %s\n", server.c_str());
    return false;
  }
  cfg.server = *addr;
  if (local_ip.empty()) {
    cfg.local_ip = addr->ip().is_v6() ? *IpAddress::Parse("::1") : IpAddress::LoopbackV4();
  } else if (auto ip = IpAddress::Parse(local_ip)) {
    cfg.local_ip = *ip;
  } else {
    std::fprintf(stderr, "bad --local-ip %s\n", local_ip.c_str());
    return false;
  }
  if (cfg.threads < 1 || cfg.threads > 64 || cfg.duration_s <= 0 || cfg.warmup_s < 0 || cfg.drain_s < 0 ||
      cfg.slice_ns < 50'000 || cfg.rates.empty()) {
    std::fprintf(stderr, "bad threads/duration/warmup/drain/slice/rate\n");
    return false;
  }
  if (cfg.mode == Mode::kRelay) {
    if (cfg.allocations < cfg.threads || cfg.allocations > 60000 || cfg.size < 28 || cfg.size > 1400 ||
        cfg.peers < 1) {
      std::fprintf(stderr, "need allocations in [threads, 60000], size in [28, 1400], peers >= 1\n");
      return false;
    }
    // Permissions live 300 s and are refreshed only by set-up here (RFC 8656 §9): keep runs well below that.
    double total = static_cast<double>(cfg.rates.size()) * (cfg.warmup_s + cfg.duration_s + cfg.drain_s) + cfg.hold_s;
    if (total > 240) {
      std::fprintf(stderr, "a run must stay under 240 s (no Refresh is sent); this one takes %.0f s\n", total);
      return false;
    }
  } else if (cfg.sockets < cfg.threads || cfg.window < 1 || cfg.window > 4096) {
    std::fprintf(stderr, "need sockets >= threads and window in [1, 4096]\n");
    return false;
  }
  return true;
}

struct DirResult {
  uint64_t offered = 0, delivered = 0, lag = 0, send_errors = 0;
  std::array<uint64_t, LatencyHistogram::kBuckets> hist{};
  double loss_pct() const {
    return offered ? 100.0 * static_cast<double>(offered - std::min(offered, delivered)) / static_cast<double>(offered)
                   : 0.0;
  }
};

void WriteDir(JsonWriter& j, const char* name, const DirResult& d, double window_s, uint32_t payload) {
  j.Open(name)
      .Int("offered", static_cast<int64_t>(d.offered))
      .Int("delivered", static_cast<int64_t>(d.delivered))
      .Num("loss_pct", d.loss_pct())
      .Num("offered_pps", static_cast<double>(d.offered) / window_s)
      .Num("delivered_pps", static_cast<double>(d.delivered) / window_s)
      .Num("payload_mbps", static_cast<double>(d.delivered) * payload * 8 / window_s / 1e6)
      .Int("lag", static_cast<int64_t>(d.lag))
      .Int("send_errors", static_cast<int64_t>(d.send_errors))
      .Int("latency_p50_us", LatencyHistogram::Percentile(d.hist, 50))
      .Int("latency_p99_us", LatencyHistogram::Percentile(d.hist, 99))
      .Int("latency_max_us", LatencyHistogram::Percentile(d.hist, 100))
      .Close();
}

int Main(int argc, char** argv) {
  Config cfg;
  if (!ParseArgs(argc, argv, cfg)) {
    Usage();
    return 2;
  }
  // Many sockets; precise sleeps for pacing.
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);

  uint32_t tid_prefix = 0;
  crypto::SecureRandomBytes(MutableByteSpan(reinterpret_cast<uint8_t*>(&tid_prefix), sizeof(tid_prefix)));
  const bool relay = cfg.mode == Mode::kRelay;
  const size_t n_steps = cfg.rates.size();
  std::vector<std::unique_ptr<LoadWorker>> workers;
  const uint32_t units = relay ? cfg.allocations : cfg.sockets;
  for (uint32_t t = 0; t < cfg.threads; ++t) {
    const uint32_t first = units * t / cfg.threads;
    const uint32_t count = units * (t + 1) / cfg.threads - first;
    if (relay) {
      const uint32_t peers = std::max<uint32_t>(1, std::min(cfg.peers / cfg.threads, count));
      workers.push_back(std::make_unique<RelayWorker>(cfg, n_steps, first, count, peers, tid_prefix));
    } else {
      workers.push_back(std::make_unique<BindingWorker>(cfg, n_steps, first, count, tid_prefix));
    }
  }

  std::vector<Step> steps(n_steps);
  std::atomic<int> last_step{static_cast<int>(n_steps) - 1};
  std::latch setup_done(cfg.threads);
  std::latch go(1);
  std::atomic<bool> fatal{false};
  const int64_t setup_start = NowNs();
  const int64_t setup_deadline = setup_start + static_cast<int64_t>(cfg.setup_timeout_s * 1e9);
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([&, worker = w.get()] {
      if (!worker->Setup(setup_deadline)) fatal = true;
      setup_done.count_down();
      go.wait();
      if (!fatal) worker->Run(steps, last_step);
      worker->Teardown(NowNs() + 3 * kNsPerSec);
    });
  }
  setup_done.wait();
  const double setup_s = static_cast<double>(NowNs() - setup_start) / 1e9;
  SetupStats setup;
  std::vector<uint16_t> own_ports;
  for (auto& w : workers) {
    const SetupStats& s = w->setup_stats();
    setup.ready += s.ready;
    setup.failed += s.failed;
    setup.requests += s.requests;
    setup.retransmits += s.retransmits;
    setup.stale_nonces += s.stale_nonces;
    setup.integrity_failures += s.integrity_failures;
    setup.reopened += s.reopened;
    for (const auto& [reason, n] : s.failures) setup.failures[reason] += n;
    w->AppendPorts(own_ports);
  }
  std::sort(own_ports.begin(), own_ports.end());
  const char* mode_name = relay ? "relay" : "binding";
  if (relay) {
    JsonWriter j;
    j.Str("type", "setup").Str("mode", mode_name).Int("allocations", cfg.allocations).Int("ready", setup.ready)
        .Int("failed", setup.failed).Num("setup_s", setup_s).Int("requests", static_cast<int64_t>(setup.requests))
        .Int("retransmits", static_cast<int64_t>(setup.retransmits))
        .Int("stale_nonces", static_cast<int64_t>(setup.stale_nonces))
        .Int("integrity_failures", static_cast<int64_t>(setup.integrity_failures))
        .Int("reopened", static_cast<int64_t>(setup.reopened));
    j.Open("failures");
    for (const auto& [reason, n] : setup.failures) j.Int(reason.c_str(), n);
    j.Close();
    std::printf("%s\n", j.Finish().c_str());
    if (!cfg.quiet) {
      std::fprintf(stderr, "setup: %u/%u allocations ready in %.2f s (%llu requests, %llu retransmits, %u failed)\n",
                   setup.ready, cfg.allocations, setup_s, static_cast<unsigned long long>(setup.requests),
                   static_cast<unsigned long long>(setup.retransmits), setup.failed);
    }
  }
  if (fatal || (relay && setup.ready == 0)) {
    std::fprintf(stderr, "turn_load: set-up failed\n");
    fatal = true;
    go.count_down();
    for (auto& t : threads) t.join();
    return 1;
  }
  std::printf("@ready\n");
  if (cfg.hold_s > 0) SleepUntilNs(NowNs() + static_cast<int64_t>(cfg.hold_s * 1e9));

  const auto warm = static_cast<int64_t>(cfg.warmup_s * 1e9);
  const auto dur = static_cast<int64_t>(cfg.duration_s * 1e9);
  const auto drain = static_cast<int64_t>(cfg.drain_s * 1e9);
  int64_t t = NowNs() + 20'000'000;
  for (size_t k = 0; k < n_steps; ++k) {
    steps[k] = {cfg.rates[k], t, t + warm, t + warm + dur, t + warm + dur + drain};
    t = steps[k].end_ns;
  }
  go.count_down();

  if (!cfg.quiet) {
    if (relay) {
      std::fprintf(stderr, "%10s %8s %10s %8s %9s %9s | %10s %8s %9s %9s | %6s %9s %9s\n", "rate/dir", "dir",
                   "offered/s", "loss%", "p50us", "p99us", "p2c off/s", "loss%", "p50us", "p99us", "tool%",
                   "drop:tool", "drop:srv");
    } else {
      std::fprintf(stderr, "%10s %12s %12s %8s %9s %9s %9s | %6s %9s %9s\n", "rate", "sent/s", "answered/s",
                   "loss%", "timeouts", "p50us", "p99us", "tool%", "drop:tool", "drop:srv");
    }
  }
  int best_step = -1;
  for (size_t k = 0; k < n_steps; ++k) {
    SleepUntilNs(steps[k].measure_start_ns);
    const UdpDropSnapshot drops0 = ReadUdpDrops(own_ports);
    const double cpu0 = ProcessCpuSeconds();
    std::printf("@measure_start %zu\n", k);
    SleepUntilNs(steps[k].measure_end_ns);
    const double cpu1 = ProcessCpuSeconds();
    std::printf("@measure_end %zu\n", k);
    SleepUntilNs(steps[k].end_ns);
    const UdpDrops drops = DropsBetween(drops0, ReadUdpDrops(own_ports));

    const double window_s = cfg.duration_s;
    DirResult dir[2];
    uint64_t timeouts = 0, invalid = 0;
    for (auto& w : workers) {
      StepCounters& c = w->counters()[k];
      for (int d = 0; d < 2; ++d) {
        dir[d].offered += c.dir[d].offered.Get();
        dir[d].delivered += c.dir[d].delivered.Get();
        dir[d].lag += c.dir[d].lag.Get();
        dir[d].send_errors += c.dir[d].send_errors.Get();
        c.dir[d].latency.AddTo(dir[d].hist);
      }
      timeouts += c.timeouts.Get();
      invalid += c.invalid.Get();
    }
    const uint64_t offered = dir[0].offered + dir[1].offered;
    const uint64_t delivered = dir[0].delivered + dir[1].delivered;
    const double loss = offered ? 100.0 * static_cast<double>(offered - std::min(offered, delivered)) /
                                      static_cast<double>(offered)
                                : 0.0;
    const double tool_cpu = (cpu1 - cpu0) / window_s;
    JsonWriter j;
    j.Str("type", "step").Str("mode", mode_name).Int("step", static_cast<int64_t>(k)).Num("rate", cfg.rates[k])
        .Num("duration_s", window_s);
    if (relay) {
      j.Int("allocations", setup.ready).Int("size", cfg.size);
      WriteDir(j, "c2p", dir[0], window_s, cfg.size);
      WriteDir(j, "p2c", dir[1], window_s, cfg.size);
    } else {
      j.Int("sockets", cfg.sockets).Int("window", cfg.rates[k] > 0 ? 0 : cfg.window);
      WriteDir(j, "binding", dir[0], window_s, 0);
      j.Int("timeouts", static_cast<int64_t>(timeouts));
    }
    j.Int("offered", static_cast<int64_t>(offered)).Int("delivered", static_cast<int64_t>(delivered))
        .Num("loss_pct", loss).Num("offered_pps", static_cast<double>(offered) / window_s)
        .Num("delivered_pps", static_cast<double>(delivered) / window_s).Int("invalid", static_cast<int64_t>(invalid))
        .Num("tool_cpu", tool_cpu).Int("drops_tool", static_cast<int64_t>(drops.own))
        .Int("drops_other", static_cast<int64_t>(drops.other));
    std::printf("%s\n", j.Finish().c_str());
    if (!cfg.quiet) {
      if (relay) {
        std::fprintf(stderr, "%10.0f %8s %10.0f %8.3f %9lld %9lld | %10.0f %8.3f %9lld %9lld | %5.0f%% %9llu %9llu\n",
                     cfg.rates[k], cfg.c2p && cfg.p2c ? "both" : (cfg.c2p ? "c2p" : "p2c"),
                     static_cast<double>(dir[0].offered) / window_s, dir[0].loss_pct(),
                     static_cast<long long>(LatencyHistogram::Percentile(dir[0].hist, 50)),
                     static_cast<long long>(LatencyHistogram::Percentile(dir[0].hist, 99)),
                     static_cast<double>(dir[1].offered) / window_s, dir[1].loss_pct(),
                     static_cast<long long>(LatencyHistogram::Percentile(dir[1].hist, 50)),
                     static_cast<long long>(LatencyHistogram::Percentile(dir[1].hist, 99)), tool_cpu * 100,
                     static_cast<unsigned long long>(drops.own),
                     static_cast<unsigned long long>(drops.other));
      } else {
        std::fprintf(stderr, "%10.0f %12.0f %12.0f %8.3f %9llu %9lld %9lld | %5.0f%% %9llu %9llu\n", cfg.rates[k],
                     static_cast<double>(dir[0].offered) / window_s, static_cast<double>(dir[0].delivered) / window_s,
                     loss, static_cast<unsigned long long>(timeouts),
                     static_cast<long long>(LatencyHistogram::Percentile(dir[0].hist, 50)),
                     static_cast<long long>(LatencyHistogram::Percentile(dir[0].hist, 99)), tool_cpu * 100,
                     static_cast<unsigned long long>(drops.own),
                     static_cast<unsigned long long>(drops.other));
      }
    }
    if (loss < 1.0) best_step = static_cast<int>(k);
    if (cfg.stop_loss_pct > 0 && loss > cfg.stop_loss_pct && k + 1 < n_steps) {
      last_step = static_cast<int>(k);
      break;
    }
  }
  for (auto& th : threads) th.join();
  uint64_t other = 0;
  uint32_t released = 0;
  for (auto& w : workers) {
    other += w->other_packets();
    released += w->setup_stats().released;
  }
  JsonWriter j;
  j.Str("type", "summary").Str("mode", mode_name).Int("steps_run", last_step.load() + 1)
      .Num("max_rate_loss_lt_1pct", best_step >= 0 ? cfg.rates[best_step] : 0.0)
      .Int("unexpected_packets", static_cast<int64_t>(other));
  if (relay) j.Int("released", released);
  std::printf("%s\n", j.Finish().c_str());
  if (!cfg.quiet && other > 0) {
    std::fprintf(stderr, "note: %llu unexpected packets (Data indications, late or malformed responses)\n",
                 static_cast<unsigned long long>(other));
  }
  return 0;
}

}  // namespace
}  // namespace tandem::bench

int main(int argc, char** argv) { return tandem::bench::Main(argc, argv); }
