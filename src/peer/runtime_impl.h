// The inside of tandem::Runtime, for the peer library's own files.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "net/event_loop.h"
#include "tandem/runtime.h"

namespace tandem {

struct Runtime::Impl {
  std::vector<std::unique_ptr<net::EventLoop>> loops;
  std::vector<std::thread> threads;
  std::atomic<size_t> next{0};
  // The loop for a new connection (round robin).
  net::EventLoop& NextLoop();
};

}  // namespace tandem
