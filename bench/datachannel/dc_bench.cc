// dc_bench: data channel throughput and connection setup time of libtandem, native ↔ native on loopback.
//
// Two PeerConnections in one process, each on its own Runtime (its own thread, as two processes would have),
// signaling handed over in memory. Measures, like the Chromium side of bench/datachannel/run.mjs:
//   setup      createOffer → the offerer's channel is open (median of --setups runs)
//   throughput one reliable ordered channel, --megabytes in --message-kib messages, the sender keeping
//   bufferedAmount
//              at most 4 MiB (refilled at bufferedamountlow 1 MiB), timed from the first send to the last
//              byte at the receiver; process CPU time over the same window.
// Prints one JSON object per line (setup, throughput) for the wrapper.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "tandem/peer_connection.h"

namespace {

using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Signaling between the two connections, applied on the main thread (a connection's callback must not wait on
// the other connection's loop).
class Mailbox {
 public:
  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_all();
  }
  void Notify() { cv_.notify_all(); }
  // Runs posted work until `done` (checked at least every 5 ms) or the timeout.
  bool RunUntil(const std::function<bool()>& done, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      std::function<void()> next;
      {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(5), [&] { return !queue_.empty() || done(); });
        if (!queue_.empty()) {
          next = std::move(queue_.front());
          queue_.pop_front();
        }
      }
      if (next) {
        next();
        continue;
      }
      if (done()) return true;
    }
    return done();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
};

struct Pair {
  Mailbox mail;
  std::unique_ptr<tandem::PeerConnection> a, b;
  std::shared_ptr<tandem::DataChannel> sender, receiver;
  std::atomic<bool> sender_open{false};

  explicit Pair(size_t max_message_size) {
    tandem::RtcConfiguration config;
    config.host_addresses = {"127.0.0.1"};
    config.max_message_size = max_message_size;
    config.runtime = tandem::Runtime::Create(1);
    a = std::make_unique<tandem::PeerConnection>(config);
    config.runtime = tandem::Runtime::Create(1);
    b = std::make_unique<tandem::PeerConnection>(config);
    a->OnIceCandidate([this](const std::optional<tandem::IceCandidate>& c) {
      mail.Post([this, c] { b->AddIceCandidate(c); });
    });
    b->OnIceCandidate([this](const std::optional<tandem::IceCandidate>& c) {
      mail.Post([this, c] { a->AddIceCandidate(c); });
    });
    b->OnDataChannel(
        [this](std::shared_ptr<tandem::DataChannel> c) { mail.Post([this, c] { receiver = c; }); });
  }

  // createOffer → open; returns milliseconds.
  double Connect() {
    const auto start = Clock::now();
    sender = a->CreateDataChannel("bench");
    sender->OnOpen([this] {
      sender_open = true;
      mail.Notify();
    });
    a->SetLocalDescription(a->CreateOffer());
    b->SetRemoteDescription(*a->LocalDescription());
    b->SetLocalDescription(b->CreateAnswer());
    a->SetRemoteDescription(*b->LocalDescription());
    if (!mail.RunUntil([&] { return sender_open.load(); }, std::chrono::seconds(20))) return -1;
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
};

}  // namespace

int main(int argc, char** argv) {
  size_t megabytes = 64, message_kib = 64, setups = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--megabytes")) megabytes = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--message-kib")) message_kib = std::stoul(argv[i + 1]);
    if (!std::strcmp(argv[i], "--setups")) setups = std::stoul(argv[i + 1]);
  }
  const size_t message_bytes = message_kib * 1024;

  // Setup time.
  std::vector<double> times;
  for (size_t i = 0; i < setups; ++i) {
    Pair pair(256 * 1024);
    const double ms = pair.Connect();
    if (ms < 0) {
      std::fprintf(stderr, "dc_bench: setup %zu did not complete\n", i);
      return 1;
    }
    times.push_back(ms);
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "{\"kind\":\"setup\",\"stack\":\"tandem\",\"runs\":%zu,\"median_ms\":%.2f,\"min_ms\":%.2f,\"max_ms\":%."
      "2f}\n",
      times.size(), times[times.size() / 2], times.front(), times.back());
  std::fflush(stdout);

  // Throughput.
  Pair pair(std::max<size_t>(256 * 1024, message_bytes));
  if (pair.Connect() < 0 ||
      !pair.mail.RunUntil([&] { return pair.receiver != nullptr; }, std::chrono::seconds(10))) {
    std::fprintf(stderr, "dc_bench: no connection\n");
    return 1;
  }
  const uint64_t total = static_cast<uint64_t>(megabytes) << 20;
  std::atomic<uint64_t> received{0};
  pair.receiver->OnMessage([&](const tandem::DataChannelMessage& m) {
    if (received.fetch_add(m.data.size()) + m.data.size() >= total) pair.mail.Notify();
  });
  const std::vector<uint8_t> message(message_bytes, 0xab);
  uint64_t sent = 0;
  constexpr size_t kHighWater = 4 << 20, kLowWater = 1 << 20;
  // The sender refills from its own loop thread at bufferedamountlow, as a browser page does.
  std::mutex pump_mutex;  // the first call runs on this thread, the others on the sender's loop
  std::function<void()> pump = [&] {
    std::lock_guard lock(pump_mutex);
    while (sent < total && pair.sender->buffered_amount() <= kHighWater) {
      pair.sender->Send(message);
      sent += message.size();
    }
  };
  pair.sender->set_buffered_amount_low_threshold(kLowWater);
  pair.sender->OnBufferedAmountLow([&] { pump(); });
  const double cpu_start = CpuSeconds();
  const auto start = Clock::now();
  pair.mail.Post(pump);
  if (!pair.mail.RunUntil([&] { return received.load() >= total; }, std::chrono::seconds(120))) {
    std::fprintf(stderr, "dc_bench: only %llu of %llu bytes arrived\n",
                 static_cast<unsigned long long>(received.load()), static_cast<unsigned long long>(total));
    return 1;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  tandem::StatsReport stats = pair.a->GetStats();
  double retransmissions = 0;
  for (const auto* s : stats.OfType("sctp-transport")) {
    retransmissions = s->Number("retransmissions").value_or(0);
    std::fprintf(stderr, "sender sctp: %s\n", stats.ToJson().c_str());
  }
  std::printf(
      "{\"kind\":\"throughput\",\"stack\":\"tandem\",\"bytes\":%llu,\"message_bytes\":%zu,\"seconds\":%.3f,"
      "\"mb_per_s\":%.1f,\"cpu_seconds\":%.3f,\"sctp_retransmissions\":%.0f}\n",
      static_cast<unsigned long long>(total), message_bytes, seconds, total / seconds / 1e6, cpu,
      retransmissions);
  return 0;
}
