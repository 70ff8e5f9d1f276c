#include "net/event_loop.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <limits>
#include <optional>

namespace tandem::net {

namespace asio = boost::asio;

namespace {

// Timestamp <-> steady_clock: the Timestamp epoch is the steady clock's own, so every loop (and every thread)
// agrees on Now() and a deadline computed on one loop means the same instant on another.
std::chrono::steady_clock::time_point ToTimePoint(Timestamp t) {
  // Clamped so that far-future deadlines (a core's "Infinity() - 1") cannot overflow the clock's nanoseconds.
  constexpr int64_t kMaxMicros = std::numeric_limits<int64_t>::max() / 1000 / 2;
  return std::chrono::steady_clock::time_point(std::chrono::microseconds(std::min(t.us(), kMaxMicros)));
}

Timestamp SteadyNow() {
  auto since_epoch = std::chrono::steady_clock::now().time_since_epoch();
  return Timestamp::Micros(std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// EventLoop

struct EventLoop::State {
  // Concurrency hint 1: exactly one thread runs this context, which lets Asio queue handlers posted from the
  // loop's own thread without taking the scheduler lock. Post() from other threads stays safe.
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  // Set by Stop() so that a Stop() that races ahead of Run() (a pool stopping before a worker thread got
  // going) is not lost when Run() restarts the context.
  std::atomic<bool> stop_requested{false};
};

EventLoop::EventLoop() : state_(std::make_unique<State>()) {}

EventLoop::~EventLoop() = default;

void EventLoop::Run() {
  state_->io.restart();
  if (state_->stop_requested.exchange(false)) return;
  state_->io.run();
  state_->stop_requested.store(false);
}

void EventLoop::Stop() {
  state_->stop_requested.store(true);
  state_->io.stop();
}

void EventLoop::RunFor(TimeDelta duration) {
  if (state_->io.stopped()) state_->io.restart();
  state_->io.run_for(std::chrono::microseconds(duration.us()));
}

bool EventLoop::RunUntil(const std::function<bool()>& done, TimeDelta timeout) {
  if (state_->io.stopped()) state_->io.restart();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(timeout.us());
  while (!done()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    state_->io.run_one_until(deadline);
    if (state_->io.stopped()) state_->io.restart();
  }
  return true;
}

bool EventLoop::IsLoopThread() const { return state_->io.get_executor().running_in_this_thread(); }

void EventLoop::Post(std::function<void()> fn) { asio::post(state_->io, std::move(fn)); }

Timestamp EventLoop::Now() const { return SteadyNow(); }

UnixTime EventLoop::WallNow() {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return UnixTime{std::chrono::duration_cast<std::chrono::seconds>(since_epoch).count()};
}

asio::io_context& EventLoop::context() { return state_->io; }

// ---------------------------------------------------------------------------------------------------------------
// Timer

struct Timer::State {
  explicit State(asio::io_context& io) : timer(io) {}
  asio::steady_timer timer;
  std::function<void()> fn;
  // Bumped by every ArmAt() and Cancel(): a completion that was already queued when the timer was re-armed or
  // cancelled (Asio cannot abort those) sees a stale generation and does nothing.
  uint64_t generation = 0;
};

Timer::Timer(EventLoop& loop) : state_(std::make_shared<State>(loop.context())) {}

Timer::~Timer() {
  // Dropping the only strong reference destroys the steady_timer (which cancels the wait); a completion
  // already queued holds only a weak reference and finds the State gone.
  if (state_) state_->timer.cancel();
}

void Timer::ArmAt(Timestamp deadline, std::function<void()> fn) {
  if (deadline.IsInfinite()) {
    Cancel();
    return;
  }
  State& s = *state_;
  uint64_t generation = ++s.generation;
  s.fn = std::move(fn);
  s.timer.expires_at(ToTimePoint(deadline));
  s.timer.async_wait([weak = std::weak_ptr<State>(state_), generation](const boost::system::error_code& ec) {
    std::shared_ptr<State> s = weak.lock();
    if (!s || ec || s->generation != generation || !s->fn) return;
    // Moved out first: the callback may re-arm (replacing fn) or destroy the Timer; `s` keeps the State alive
    // until we return.
    std::function<void()> fn = std::move(s->fn);
    s->fn = nullptr;
    fn();
  });
}

void Timer::Cancel() {
  ++state_->generation;
  state_->fn = nullptr;
  state_->timer.cancel();
}

bool Timer::armed() const { return static_cast<bool>(state_->fn); }

// ---------------------------------------------------------------------------------------------------------------
// WorkerPool

WorkerPool::WorkerPool(size_t threads) {
  if (threads == 0) threads = 1;
  loops_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) loops_.push_back(std::make_unique<EventLoop>());
}

WorkerPool::~WorkerPool() {
  Stop();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void WorkerPool::Run() {
  for (size_t i = 1; i < loops_.size(); ++i) {
    threads_.emplace_back([loop = loops_[i].get()] { loop->Run(); });
  }
  loops_[0]->Run();
  // Loop 0 ended (Stop() from any thread, or only loop 0 stopped): bring the others down too, then join them
  // here rather than in Stop(), which may be called from a worker thread that cannot join itself.
  Stop();
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void WorkerPool::Stop() {
  for (auto& loop : loops_) loop->Stop();
}

}  // namespace tandem::net
