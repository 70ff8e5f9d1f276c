#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <ctime>
#include <thread>

#include "commands.h"

namespace tandem::cli {
namespace {
std::thread g_watcher;
std::atomic<bool> g_stop{false};
}  // namespace

void StartSignalWatcher(std::function<void()> on_signal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a peer closing a TCP connection must not kill the server
  g_watcher = std::thread([set, on_signal = std::move(on_signal)] {
    // sigtimedwait in a loop so StopSignalWatcher can end the thread without sending a signal.
    timespec timeout{0, 200 * 1000 * 1000};
    while (!g_stop.load()) {
      if (sigtimedwait(&set, nullptr, &timeout) > 0) {
        on_signal();
        return;
      }
    }
  });
}

void StopSignalWatcher() {
  g_stop.store(true);
  if (g_watcher.joinable()) g_watcher.join();
}

}  // namespace tandem::cli
