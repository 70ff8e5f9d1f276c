// Runtime: event loop threads for peer connections (see include/tandem/runtime.h).
#include "peer/runtime_impl.h"

#include <algorithm>

namespace tandem {

Runtime::Runtime() : impl_(std::make_shared<Impl>()) {}

std::shared_ptr<Runtime> Runtime::Create(size_t threads) {
  std::shared_ptr<Runtime> runtime(new Runtime());
  threads = std::max<size_t>(threads, 1);
  for (size_t i = 0; i < threads; ++i) runtime->impl_->loops.push_back(std::make_unique<net::EventLoop>());
  for (size_t i = 0; i < threads; ++i) {
    // Each thread keeps the loops alive while it runs (see ~Runtime).
    runtime->impl_->threads.emplace_back([impl = runtime->impl_, i] { impl->loops[i]->Run(); });
  }
  return runtime;
}

Runtime::~Runtime() {
  for (auto& loop : impl_->loops) loop->Stop();
  for (auto& thread : impl_->threads) {
    // The last owner may be a task on one of these loops (a connection released on its own thread): that
    // thread cannot join itself. It is detached; its handler returns, its loop's Run() returns, and the
    // thread drops its reference to the loops, the last one.
    if (thread.get_id() == std::this_thread::get_id()) {
      thread.detach();
    } else {
      thread.join();
    }
  }
}

size_t Runtime::threads() const { return impl_->loops.size(); }

net::EventLoop& Runtime::Impl::NextLoop() {
  const size_t i = next.fetch_add(1) % loops.size();
  return *loops[i];
}

}  // namespace tandem
