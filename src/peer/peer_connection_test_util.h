// Test helpers for the public PeerConnection API over loopback (shared by the API and media tests): a
// mailbox the test thread waits on with deadlines, and a pair of connections whose signaling the test thread
// applies from a queue.
#pragma once

#include <gtest/gtest.h>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "core/log.h"
#include "tandem/peer_connection.h"

namespace tandem::testing_pc {

constexpr auto kTimeout = std::chrono::seconds(20);

// A mailbox that tests wait on: callbacks push facts, the test thread waits for them.
class Recorder {
 public:
  template <typename F>
  void Do(F&& f) {
    {
      std::lock_guard lock(mutex_);
      f();
    }
    cv_.notify_all();
  }
  template <typename P>
  bool WaitFor(P&& pred, std::chrono::milliseconds timeout = kTimeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, pred);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
};

RtcConfiguration Loopback(std::shared_ptr<Runtime> runtime = nullptr) {
  if (getenv("TANDEM_TEST_DEBUG")) log::SetLevel(log::Level::kDebug);
  RtcConfiguration config;
  config.host_addresses = {"127.0.0.1"};
  config.runtime = std::move(runtime);
  return config;
}

// Two connections whose signaling is applied by the test thread from a queue (so that no connection's
// callback blocks on the other's loop).
struct Pair {
  explicit Pair(RtcConfiguration a_config = Loopback(), RtcConfiguration b_config = Loopback())
      : a(std::move(a_config)), b(std::move(b_config)) {
    a.OnIceCandidate(
        [this](const std::optional<IceCandidate>& c) { Queue([this, c] { b.AddIceCandidate(c); }); });
    b.OnIceCandidate(
        [this](const std::optional<IceCandidate>& c) { Queue([this, c] { a.AddIceCandidate(c); }); });
    a.OnConnectionStateChange([this](PeerConnectionState s) { rec.Do([&] { a_states.push_back(s); }); });
    b.OnConnectionStateChange([this](PeerConnectionState s) { rec.Do([&] { b_states.push_back(s); }); });
    b.OnDataChannel(
        [this](std::shared_ptr<DataChannel> channel) { rec.Do([&] { b_channels.push_back(channel); }); });
  }

  void Queue(std::function<void()> fn) {
    rec.Do([&] { work.push_back(std::move(fn)); });
  }
  // Runs queued signaling until `pred` holds.
  bool RunUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout = kTimeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::function<void()> next;
      bool done = false;
      // Some conditions change without a notification (bufferedAmount): look again every 10 ms.
      rec.WaitFor(
          [&] {
            done = pred();
            return done || !work.empty();
          },
          std::chrono::milliseconds(10));
      if (done) return true;
      rec.Do([&] {
        if (!work.empty()) {
          next = std::move(work.front());
          work.pop_front();
        }
      });
      if (next) next();
      if (std::chrono::steady_clock::now() > deadline) return false;
    }
  }
  void Negotiate() {
    a.SetLocalDescription(a.CreateOffer());
    b.SetRemoteDescription(*a.LocalDescription());
    b.SetLocalDescription(b.CreateAnswer());
    a.SetRemoteDescription(*b.LocalDescription());
  }
  bool Connected() {
    return RunUntil([&] {
      return std::find(a_states.begin(), a_states.end(), PeerConnectionState::kConnected) != a_states.end() &&
             std::find(b_states.begin(), b_states.end(), PeerConnectionState::kConnected) != b_states.end();
    });
  }

  // What the callbacks write is declared first, so that it outlives the connections (destroyed first).
  Recorder rec;
  std::deque<std::function<void()>> work;
  std::vector<PeerConnectionState> a_states, b_states;
  std::vector<std::shared_ptr<DataChannel>> b_channels;
  PeerConnection a, b;
};

}  // namespace tandem::testing_pc
