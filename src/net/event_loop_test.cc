#include "net/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace tandem::net {
namespace {

constexpr TimeDelta kDeadline = TimeDelta::Seconds(5);

TEST(EventLoopTest, NowIsMonotonicAndWallNowIsRecent) {
  EventLoop loop;
  Timestamp a = loop.Now();
  Timestamp b = loop.Now();
  EXPECT_LE(a, b);
  EXPECT_GT(EventLoop::WallNow().seconds, 1'600'000'000);  // after 2020
}

TEST(EventLoopTest, PostFromAnotherThreadRunsOnTheLoopThread) {
  EventLoop loop;
  std::atomic<bool> ran{false};
  std::thread::id ran_on;
  bool was_loop_thread = false;
  std::thread poster([&] {
    loop.Post([&] {
      ran_on = std::this_thread::get_id();
      was_loop_thread = loop.IsLoopThread();
      ran = true;
    });
  });
  poster.join();
  EXPECT_FALSE(loop.IsLoopThread());
  ASSERT_TRUE(loop.RunUntil([&] { return ran.load(); }, kDeadline));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_TRUE(was_loop_thread);
}

TEST(EventLoopTest, RunKeepsRunningWithoutWorkUntilStop) {
  EventLoop loop;
  std::atomic<int> ran{0};
  std::thread runner([&] { loop.Run(); });
  // With no work queued the loop must still be running: this post is picked up by it, not lost.
  loop.Post([&] { ran = 1; });
  loop.Post([&] {
    ran = 2;
    loop.Stop();
  });
  runner.join();
  EXPECT_EQ(ran.load(), 2);
}

TEST(EventLoopTest, StopBeforeRunReturnsAtOnceAndRunAgainWorks) {
  EventLoop loop;
  loop.Stop();
  loop.Run();  // returns at once
  bool ran = false;
  loop.Post([&] {
    ran = true;
    loop.Stop();
  });
  loop.Run();
  EXPECT_TRUE(ran);
}

TEST(TimerTest, FiresInDeadlineOrder) {
  EventLoop loop;
  std::vector<int> order;
  Timer t30(loop), t10(loop), t20(loop);
  Timestamp now = loop.Now();
  t30.ArmAt(now + TimeDelta::Millis(30), [&] { order.push_back(30); });
  t10.ArmAt(now + TimeDelta::Millis(10), [&] { order.push_back(10); });
  t20.ArmAt(now + TimeDelta::Millis(20), [&] { order.push_back(20); });
  EXPECT_TRUE(t10.armed());
  ASSERT_TRUE(loop.RunUntil([&] { return order.size() == 3; }, kDeadline));
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
  EXPECT_FALSE(t10.armed());
  EXPECT_GE(loop.Now(), now + TimeDelta::Millis(30));
}

TEST(TimerTest, CancelPreventsTheCallback) {
  EventLoop loop;
  bool cancelled_ran = false, sentinel_ran = false;
  Timer cancelled(loop), sentinel(loop);
  Timestamp now = loop.Now();
  cancelled.ArmAt(now + TimeDelta::Millis(1), [&] { cancelled_ran = true; });
  sentinel.ArmAt(now + TimeDelta::Millis(20), [&] { sentinel_ran = true; });
  cancelled.Cancel();
  EXPECT_FALSE(cancelled.armed());
  ASSERT_TRUE(loop.RunUntil([&] { return sentinel_ran; }, kDeadline));
  EXPECT_FALSE(cancelled_ran);
}

TEST(TimerTest, CancelAfterExpiryButBeforeTheCallbackRan) {
  EventLoop loop;
  bool ran = false, sentinel_ran = false;
  Timer timer(loop), sentinel(loop);
  Timestamp now = loop.Now();
  timer.ArmAt(now, [&] { ran = true; });
  // The first handler to run cancels `timer`, whose completion may already be queued.
  loop.Post([&] { timer.Cancel(); });
  sentinel.ArmAt(now + TimeDelta::Millis(10), [&] { sentinel_ran = true; });
  ASSERT_TRUE(loop.RunUntil([&] { return sentinel_ran; }, kDeadline));
  EXPECT_FALSE(ran);
}

TEST(TimerTest, RearmReplacesTheDeadlineAndCallback) {
  EventLoop loop;
  std::vector<std::string> fired;
  Timer timer(loop);
  Timestamp now = loop.Now();
  timer.ArmAt(now + TimeDelta::Millis(5), [&] { fired.push_back("first"); });
  timer.ArmAt(now + TimeDelta::Millis(15), [&] { fired.push_back("second"); });
  ASSERT_TRUE(loop.RunUntil([&] { return !fired.empty(); }, kDeadline));
  EXPECT_EQ(fired, std::vector<std::string>{"second"});
  EXPECT_GE(loop.Now(), now + TimeDelta::Millis(15));
}

TEST(TimerTest, CallbackMayRearmItsTimer) {
  EventLoop loop;
  Timer timer(loop);
  int count = 0;
  std::function<void()> tick = [&] {
    if (++count < 3) timer.ArmAt(loop.Now() + TimeDelta::Millis(1), tick);
  };
  timer.ArmAt(loop.Now(), tick);
  ASSERT_TRUE(loop.RunUntil([&] { return count == 3; }, kDeadline));
  EXPECT_FALSE(timer.armed());
}

TEST(TimerTest, NeverFiresAfterDestructionOrInline) {
  EventLoop loop;
  bool ran = false, sentinel_ran = false;
  auto timer = std::make_unique<Timer>(loop);
  Timer sentinel(loop);
  timer->ArmAt(loop.Now() - TimeDelta::Millis(5), [&] { ran = true; });  // already due
  EXPECT_FALSE(ran);                                                     // not inline
  timer.reset();
  sentinel.ArmAt(loop.Now() + TimeDelta::Millis(5), [&] { sentinel_ran = true; });
  ASSERT_TRUE(loop.RunUntil([&] { return sentinel_ran; }, kDeadline));
  EXPECT_FALSE(ran);
}

TEST(TimerTest, CallbackMayDestroyItsTimer) {
  EventLoop loop;
  auto timer = std::make_unique<Timer>(loop);
  bool ran = false;
  timer->ArmAt(loop.Now(), [&] {
    ran = true;
    timer.reset();
  });
  ASSERT_TRUE(loop.RunUntil([&] { return ran; }, kDeadline));
  EXPECT_EQ(timer, nullptr);
}

TEST(TimerTest, FarFutureDeadlineDoesNotFire) {
  EventLoop loop;
  Timer far(loop), sentinel(loop);
  bool far_ran = false, sentinel_ran = false;
  far.ArmAt(Timestamp::Micros(std::numeric_limits<int64_t>::max() - 1), [&] { far_ran = true; });
  sentinel.ArmAt(loop.Now() + TimeDelta::Millis(2), [&] { sentinel_ran = true; });
  ASSERT_TRUE(loop.RunUntil([&] { return sentinel_ran; }, kDeadline));
  EXPECT_FALSE(far_ran);
  EXPECT_TRUE(far.armed());
}

TEST(TimerTest, InfiniteDeadlineCancels) {
  EventLoop loop;
  Timer timer(loop);
  timer.ArmAt(loop.Now() + TimeDelta::Millis(1), [] {});
  timer.ArmAt(Timestamp::Infinity(), [] {});
  EXPECT_FALSE(timer.armed());
}

TEST(WorkerPoolTest, RunsEveryLoopOnItsOwnThreadAndStops) {
  WorkerPool pool(3);
  ASSERT_EQ(pool.size(), 3u);
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::atomic<size_t> done{0};
  for (size_t i = 0; i < pool.size(); ++i) {
    EventLoop& loop = pool.loop(i);
    loop.Post([&] {
      EXPECT_TRUE(loop.IsLoopThread());
      {
        std::lock_guard<std::mutex> lock(mu);
        threads.insert(std::this_thread::get_id());
      }
      if (++done == pool.size()) pool.Stop();  // Stop() from a worker thread
    });
  }
  // A safety net so a broken pool fails instead of hanging the test.
  Timer watchdog(pool.loop(0));
  watchdog.ArmAt(pool.loop(0).Now() + kDeadline, [&] { pool.Stop(); });
  pool.Run();  // runs loop 0 here; returns once all are stopped and joined
  EXPECT_EQ(done.load(), 3u);
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 1u);
}

TEST(WorkerPoolTest, ZeroThreadsMeansOne) {
  WorkerPool pool(0);
  EXPECT_EQ(pool.size(), 1u);
  pool.Stop();
  pool.Run();  // stopped before running: returns at once
}

}  // namespace
}  // namespace tandem::net
