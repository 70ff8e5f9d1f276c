// A Runtime owns the event loop threads that peer connections run on. Connections that share a Runtime share
// its threads (each connection stays on one of them); a connection made without one gets its own
// single-thread Runtime.
#pragma once

#include <cstddef>
#include <memory>

namespace tandem {

class Runtime {
 public:
  // Starts `threads` event loop threads (at least one).
  static std::shared_ptr<Runtime> Create(size_t threads = 1);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  size_t threads() const;

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  Runtime();
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem
