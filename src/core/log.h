// Minimal leveled logging to stderr. Logs name the object they come from; addresses and credentials are redacted at
// the default level (use Redact() for addresses); per-packet logs belong at kTrace.
#pragma once

#include <atomic>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace tandem::log {

enum class Level : int { kTrace = 0, kDebug = 1, kInfo = 2, kWarning = 3, kError = 4, kOff = 5 };

void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);
std::optional<Level> ParseLevel(std::string_view name);
void Write(Level level, std::string_view component, std::string_view message);

// At kDebug and below addresses are shown; above they are masked (privacy by default in production logs).
std::string Redact(const std::string& address_text);

}  // namespace tandem::log

#define TANDEM_LOG(level, component, expr)                                  \
  do {                                                                      \
    if (::tandem::log::Enabled(level)) {                                    \
      std::ostringstream tandem_log_os_;                                    \
      tandem_log_os_ << expr;                                               \
      ::tandem::log::Write(level, component, tandem_log_os_.str());         \
    }                                                                       \
  } while (0)

#define LOG_TRACE(component, expr) TANDEM_LOG(::tandem::log::Level::kTrace, component, expr)
#define LOG_DEBUG(component, expr) TANDEM_LOG(::tandem::log::Level::kDebug, component, expr)
#define LOG_INFO(component, expr) TANDEM_LOG(::tandem::log::Level::kInfo, component, expr)
#define LOG_WARN(component, expr) TANDEM_LOG(::tandem::log::Level::kWarning, component, expr)
#define LOG_ERROR(component, expr) TANDEM_LOG(::tandem::log::Level::kError, component, expr)
