// Shared pieces of the TURN/STUN load generator: a monotonic clock, non-blocking UDP sockets, the step schedule,
// single-writer counters that the coordinating thread may read while a worker runs, a latency histogram, and the
// kernel's per-socket UDP drop counters.
//
// This is a driver (it owns sockets and reads the clock), not a protocol core: the STUN encoding is the project's
// codec (stun/message.h); only pacing, batching and counting live here.
#pragma once

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/socket_address.h"

namespace tandem::bench {

// CLOCK_MONOTONIC in nanoseconds (the same clock on every thread, so send times can cross threads).
int64_t NowNs();
void SleepUntilNs(int64_t deadline_ns);
inline constexpr int64_t kNsPerSec = 1'000'000'000;

// A counter written by exactly one thread and read by others: plain load+store, no locked instruction on the
// data path, and no data race for the reader.
class Counter {
 public:
  void Add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Latency in microseconds, log-scaled with four sub-buckets per power of two (about 19% resolution).
class LatencyHistogram {
 public:
  static constexpr int kBuckets = 4 * 40;
  void Add(int64_t us);
  // Merges into a plain array (for aggregation across workers).
  void AddTo(std::array<uint64_t, kBuckets>& out) const;
  static int64_t Percentile(const std::array<uint64_t, kBuckets>& counts, double p);  // lower bound of bucket

 private:
  static int Bucket(uint64_t us);
  static uint64_t BucketLow(int b);
  std::array<Counter, kBuckets> counts_{};
};

// Counters of one direction of one step. For the Binding mode only dir[0] is used: offered = requests sent,
// delivered = valid responses, latency = round trip.
struct DirCounters {
  Counter offered;      // packets handed to the kernel during the measurement window
  Counter delivered;    // packets sent in the measurement window that arrived (whenever they arrived)
  Counter lag;          // packets the schedule asked for but the tool could not send in time (tool too slow)
  Counter send_errors;  // sendmmsg failures (EAGAIN, ECONNREFUSED...), not counted as offered
  LatencyHistogram latency;
};

struct StepCounters {
  DirCounters dir[2];
  Counter timeouts;     // Binding: requests unanswered after --timeout-ms
  Counter invalid;      // responses or packets that failed validation
};

// One rate step: warm-up, then the measurement window, then a drain during which nothing is sent.
struct Step {
  double rate = 0;  // packets/s per direction for the whole tool (Binding: requests/s; 0 = closed loop)
  int64_t warm_start_ns = 0;
  int64_t measure_start_ns = 0;
  int64_t measure_end_ns = 0;
  int64_t end_ns = 0;
};

// The step whose traffic window [warm_start, measure_end) contains `now`, or -1.
int ActiveStep(const std::vector<Step>& steps, int64_t now);

// Non-blocking UDP socket bound to `local` (port 0 = any), optionally connected to `remote`, with a receive buffer
// of `rcvbuf` bytes (SO_RCVBUFFORCE when root, else SO_RCVBUF). Returns -1 and prints the reason on failure.
int OpenUdpSocket(const SocketAddress& local, const SocketAddress* remote, int rcvbuf, SocketAddress* bound);

// The kernel's per-socket receive-queue drops (the "drops" column of /proc/net/udp and /proc/net/udp6) in the
// current network namespace, split into the tool's own sockets (bound to one of `own_ports`, sorted) and all
// others (the server's). Sockets are told apart by inode, so sockets opened or closed in between do not skew it.
struct UdpDrops {
  uint64_t own = 0;
  uint64_t other = 0;
};
struct UdpDropSnapshot {
  std::unordered_map<uint64_t, std::pair<bool, uint64_t>> by_inode;  // inode -> (own, drops)
};
UdpDropSnapshot ReadUdpDrops(const std::vector<uint16_t>& own_ports);
UdpDrops DropsBetween(const UdpDropSnapshot& before, const UdpDropSnapshot& after);

// CPU seconds (user+system) of this process so far.
double ProcessCpuSeconds();

// Minimal JSON object writer for the machine-readable result lines.
class JsonWriter {
 public:
  JsonWriter& Key(const char* k);
  JsonWriter& Num(const char* k, double v);
  JsonWriter& Int(const char* k, int64_t v);
  JsonWriter& Str(const char* k, const std::string& v);
  JsonWriter& Open(const char* k);  // nested object
  JsonWriter& Close();
  std::string Finish();

 private:
  void Sep();
  std::string s_ = "{";
  bool first_ = true;
};

}  // namespace tandem::bench
