// The IO layer's event loop: one per worker thread (shared-nothing), wrapping a Boost.Asio io_context. This folder
// is the only code that touches Asio; protocol cores never see it.
#pragma once

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "core/time.h"

namespace boost::asio {
class io_context;
}

namespace tandem::net {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Stop(); the loop keeps running with no pending work.
  void Run();
  // Thread-safe.
  void Stop();
  // Runs `fn` on this loop's thread, after the current handler returns. Thread-safe: the only way to cross threads.
  void Post(std::function<void()> fn);
  // Monotonic now (steady clock, microseconds).
  Timestamp Now() const;
  // Wall clock, seconds since the Unix epoch.
  static UnixTime WallNow();

  boost::asio::io_context& context();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// A one-shot timer on a loop; re-arming replaces the previous deadline. The callback runs on the loop's thread and
// never after the Timer is destroyed.
class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  void ArmAt(Timestamp deadline, std::function<void()> fn);
  void Cancel();

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// N worker threads, each running its own EventLoop.
class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  size_t size() const { return loops_.size(); }
  EventLoop& loop(size_t i) { return *loops_[i]; }
  // Starts threads 1..N-1 and runs loop 0 on the calling thread until Stop().
  void Run();
  void Stop();

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace tandem::net
