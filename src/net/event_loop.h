// The IO layer's event loop: one per worker thread (shared-nothing), wrapping a Boost.Asio io_context. This
// folder is the only code that touches Asio; protocol cores never see it.
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
  // Thread-safe. A Stop() that happens before Run() makes that Run() return at once.
  void Stop();
  // Runs handlers on the calling thread for `duration` (tests and tools that drive the loop by hand).
  void RunFor(TimeDelta duration);
  // Runs handlers one at a time until `done()` is true (checked before each) or `timeout` passes. Returns
  // done().
  bool RunUntil(const std::function<bool()>& done, TimeDelta timeout);
  // True on the thread currently running this loop.
  bool IsLoopThread() const;
  // Runs `fn` on this loop's thread, after the current handler returns. Thread-safe: the only way to cross
  // threads.
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

// A one-shot timer on a loop; re-arming replaces the previous deadline. The callback runs on the loop's
// thread and never after the Timer is destroyed (nor after Cancel()). Use a Timer only on its loop's thread.
class Timer {
 public:
  explicit Timer(EventLoop& loop);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  // A deadline in the past fires on the next loop iteration, never inline. Timestamp::Infinity() cancels, so
  // a driver can pass a sans-IO core's PollTimeout() straight through. The callback may re-arm or destroy the
  // Timer.
  void ArmAt(Timestamp deadline, std::function<void()> fn);
  void Cancel();
  // True between ArmAt() and the callback (or Cancel()).
  bool armed() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

// N worker threads, each running its own EventLoop.
class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);  // 0 is treated as 1
  ~WorkerPool();
  size_t size() const { return loops_.size(); }
  EventLoop& loop(size_t i) { return *loops_[i]; }
  // Starts threads 1..N-1 and runs loop 0 on the calling thread until Stop(); joins the other threads before
  // returning.
  void Run();
  // Thread-safe, and callable from a worker's own loop (it only stops the loops; Run() joins).
  void Stop();

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace tandem::net
