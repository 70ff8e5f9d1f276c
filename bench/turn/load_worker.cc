#include "bench/turn/load_worker.h"

#include <time.h>
#include <unistd.h>

#include <cstdio>

namespace tandem::bench {

LoadWorker::LoadWorker(const Config& cfg, size_t steps) : cfg_(cfg), counters_(steps) {}

LoadWorker::~LoadWorker() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

bool LoadWorker::OpenEpoll() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    std::perror("epoll_create1");
    return false;
  }
  return true;
}

void LoadWorker::Watch(int fd, uint64_t tag) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = tag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
}

int LoadWorker::Wait(int64_t timeout_ns) {
  if (timeout_ns < 0) timeout_ns = 0;
  timespec ts{static_cast<time_t>(timeout_ns / kNsPerSec), static_cast<long>(timeout_ns % kNsPerSec)};
  int n = epoll_pwait2(epoll_fd_, events_, kMaxEvents, &ts, nullptr);
  return n < 0 ? 0 : n;
}

}  // namespace tandem::bench
