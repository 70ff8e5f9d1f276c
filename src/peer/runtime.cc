// Runtime: event loop threads for peer connections (see include/tandem/runtime.h).
#include "peer/runtime_impl.h"

#include <algorithm>

namespace tandem {

Runtime::Runtime() : impl_(std::make_unique<Impl>()) {}

std::shared_ptr<Runtime> Runtime::Create(size_t threads) {
  std::shared_ptr<Runtime> runtime(new Runtime());
  threads = std::max<size_t>(threads, 1);
  for (size_t i = 0; i < threads; ++i) runtime->impl_->loops.push_back(std::make_unique<net::EventLoop>());
  for (size_t i = 0; i < threads; ++i) {
    net::EventLoop* loop = runtime->impl_->loops[i].get();
    runtime->impl_->threads.emplace_back([loop] { loop->Run(); });
  }
  return runtime;
}

Runtime::~Runtime() {
  for (auto& loop : impl_->loops) loop->Stop();
  for (auto& thread : impl_->threads) {
    // The last owner may be a task on one of these loops (a connection released on its own thread): that
    // thread cannot join itself; it ends on its own once its handler returns.
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
  // A detached thread still runs the loop it belongs to: leave that loop alive (released at exit).
  for (size_t i = 0; i < impl_->threads.size(); ++i) {
    if (!impl_->threads[i].joinable() && impl_->loops[i]->IsLoopThread()) (void)impl_->loops[i].release();
  }
}

size_t Runtime::threads() const { return impl_->loops.size(); }

net::EventLoop& Runtime::Impl::NextLoop() {
  const size_t i = next.fetch_add(1) % loops.size();
  return *loops[i];
}

}  // namespace tandem
